package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kcred/kcred"
)

// pageTemplate is one page: the layout, the shared partials and the page's
// own "content".
type pageTemplate struct {
	t *template.Template
}

// pageNames lists the page templates, each templates/<name>.html.
var pageNames = []string{
	"login", "error", "projects", "project", "events", "notifications",
	"service", "users", "user", "confirm",
}

func loadTemplates(funcs template.FuncMap) map[string]*pageTemplate {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html"))
	out := map[string]*pageTemplate{}
	for _, name := range pageNames {
		t := template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html"))
		out[name] = &pageTemplate{t: t}
	}
	return out
}

// pageData is what every page gets; Data is the page's own.
type pageData struct {
	Title   string
	Account *kcred.Account
	CSRF    string
	Flash   *flash
	Nav     nav
	Crumbs  []crumb
	Data    any
	Version string
}

// nav says where a page is, for the header and the tabs.
type nav struct {
	Project string // project name, "" outside a project
	Service string // service name, "" outside a service
	Tab     string // active tab
	Role    kcred.Role
}

type crumb struct {
	Label string
	URL   string // "" for the current page
}

// render executes page name into a buffer first, so that a template error
// becomes a clean 500 page and never half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) {
	pt := h.pages[name]
	if d.Flash == nil {
		d.Flash = h.takeFlash(w, r)
	}
	d.Version = h.version
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.Error("render console page", "page", name, "err", err)
		if name != "error" {
			h.errorPage(w, r, nil, http.StatusInternalServerError, "")
		} else {
			http.Error(w, "Internal error.", http.StatusInternalServerError)
		}
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// sessionPage fills the parts of pageData that come from the session.
func sessionPage(s *session, title string, n nav, crumbs []crumb, data any) *pageData {
	d := &pageData{Title: title, Nav: n, Crumbs: crumbs, Data: data}
	if s != nil {
		d.Account, d.CSRF = s.Actor.Account, s.CSRF
	}
	return d
}

// errorData is what an error page shows.
type errorData struct {
	Status  int
	Heading string
	Message string
}

// errorPage answers with an error page of status. msg is shown as it is;
// an empty msg gets the status's standard text.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	heading := map[int]string{
		http.StatusBadRequest:          "That did not work",
		http.StatusForbidden:           "You may not do this",
		http.StatusNotFound:            "Page not found",
		http.StatusMethodNotAllowed:    "Not allowed here",
		http.StatusConflict:            "That did not work",
		http.StatusTooManyRequests:     "Too many attempts",
		http.StatusInternalServerError: "Something went wrong",
	}[status]
	if heading == "" {
		heading = http.StatusText(status)
	}
	if msg == "" {
		msg = map[int]string{
			http.StatusNotFound:            "There is nothing here, or you are not a member of the project it belongs to.",
			http.StatusInternalServerError: "kcred could not complete the request. The error was logged; try again in a moment.",
		}[status]
	}
	if wantsJSON(r) {
		writeJSON(w, status, map[string]string{"message": msg})
		return
	}
	h.render(w, r, status, "error", sessionPage(s, heading, nav{}, nil, errorData{Status: status, Heading: heading, Message: msg}))
}

var statusOf = map[string]int{
	kcred.EINVALID:   http.StatusBadRequest,
	kcred.EFORBIDDEN: http.StatusForbidden,
	kcred.ENOTFOUND:  http.StatusNotFound,
	kcred.ECONFLICT:  http.StatusConflict,
	kcred.ETOOMANY:   http.StatusTooManyRequests,
	kcred.EINTERNAL:  http.StatusInternalServerError,
}

// fail answers with the page for err's code. Internal errors are logged and
// shown without detail.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code := kcred.ErrorCode(err)
	if code == kcred.EUNAUTHORIZED {
		h.clearCookie(w, r, sessionCookie)
		h.toLogin(w, r, "Your session has ended. Log in again.")
		return
	}
	status, ok := statusOf[code]
	if !ok || code == kcred.EINTERNAL {
		h.log.Error("console internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		h.errorPage(w, r, s, http.StatusInternalServerError, "")
		return
	}
	// Non-members get the same ENOTFOUND message as for a project that
	// does not exist, so showing it leaks nothing.
	h.errorPage(w, r, s, status, kcred.ErrorMessage(err))
}

// formFail is fail for a form that has a page to go back to: mistakes in
// what was typed (EINVALID, ECONFLICT, ETOOMANY) go back to that page with
// the message, other errors get their error page.
func (h *Handler) formFail(w http.ResponseWriter, r *http.Request, s *session, err error, back string) error {
	switch kcred.ErrorCode(err) {
	case kcred.EINVALID, kcred.ECONFLICT, kcred.ETOOMANY:
		h.setFlash(w, r, flashError, kcred.ErrorMessage(err))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
	return err
}

// done ends a successful form post: a message for the next page, and there.
func (h *Handler) done(w http.ResponseWriter, r *http.Request, to, msg string) error {
	h.setFlash(w, r, flashSuccess, msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// Flash messages live for one page view in a cookie. They are never
// secret, and templates escape them.
const flashCookie = "kcred_flash"

const (
	flashInfo    = "info"
	flashSuccess = "success"
	flashError   = "error"
)

type flash struct {
	Kind string `json:"k"`
	Text string `json:"t"`
}

func (h *Handler) setFlash(w http.ResponseWriter, r *http.Request, kind, text string) {
	if len(text) > 600 {
		text = text[:600]
	}
	b, _ := json.Marshal(flash{Kind: kind, Text: text})
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
}

func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	h.clearCookie(w, r, flashCookie)
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(b, &f) != nil || f.Text == "" || !utf8.ValidString(f.Text) {
		return nil
	}
	switch f.Kind {
	case flashInfo, flashSuccess, flashError:
	default:
		f.Kind = flashInfo
	}
	f.Text = strings.TrimSpace(f.Text)
	return &f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}
