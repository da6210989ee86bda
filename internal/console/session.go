package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

const (
	// sessionCookie holds the session's token secret.
	sessionCookie = "kcred_session"
	// loginCookie holds a random value that the login forms' CSRF tokens
	// are derived from, since there is no session yet.
	loginCookie = "kcred_login"
	// csrfField is the name of the hidden field of every form.
	csrfField = "csrf"
)

// session is a logged-in request: who, and the CSRF token of their forms.
type session struct {
	Actor  lifecycle.Actor
	secret string
	CSRF   string
}

// csrfToken derives a form token from a secret: HMAC-SHA256(secret,
// "csrf") in hex. Nothing is stored; a page from another site cannot read
// the cookie, so it cannot make the token.
func csrfToken(secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("csrf"))
	return hex.EncodeToString(mac.Sum(nil))
}

// validCSRF reports whether r's form carries the token of secret,
// comparing in constant time.
func validCSRF(r *http.Request, secret string) bool {
	got := r.PostFormValue(csrfField)
	return secret != "" && got != "" && hmac.Equal([]byte(got), []byte(csrfToken(secret)))
}

// sessionHandler is a console handler for a logged-in account.
type sessionHandler func(w http.ResponseWriter, r *http.Request, s *session) error

// authed loads the session of r, checks the CSRF token of every POST, and
// turns what h returns into a page. Without a valid session the browser
// goes to the login page and comes back afterwards.
func (h *Handler) authed(fn sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			h.toLogin(w, r, "")
			return
		}
		acct, err := h.m.Authenticate(r.Context(), c.Value)
		if kcred.ErrorCode(err) == kcred.EUNAUTHORIZED {
			h.clearCookie(w, r, sessionCookie)
			h.toLogin(w, r, "Your session has ended. Log in again.")
			return
		} else if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		s := &session{Actor: lifecycle.Actor{Account: acct, Source: r.RemoteAddr}, secret: c.Value, CSRF: csrfToken(c.Value)}
		if r.Method == http.MethodPost && !validCSRF(r, c.Value) {
			h.log.Warn("console request without a valid CSRF token", "path", r.URL.Path, "account", acct.Email, "remote", r.RemoteAddr)
			h.errorPage(w, r, s, http.StatusForbidden, "The form was missing its security token or came from an old page. Reload the page and try again.")
			return
		}
		if err := fn(w, r, s); err != nil {
			h.fail(w, r, s, err)
		}
	}
}

// toLogin sends the browser to the login page, to come back to r's page
// after logging in when r was a page view.
func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request, msg string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if wantsJSON(r) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Your session has ended. Reload the page and log in again."})
			return
		}
		if msg != "" {
			h.setFlash(w, r, flashError, msg)
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if msg != "" {
		h.setFlash(w, r, flashError, msg)
	}
	target := "/login"
	if r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// loginData is what the login page shows.
type loginData struct {
	Next  string
	Email string
	Error string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if _, err := h.m.Authenticate(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
	}
	h.renderLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// renderLogin shows the login forms with a fresh pre-session CSRF secret.
func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	// Keep the browser's value, so that a second login tab does not make
	// the first one's form stale.
	var pre string
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 43 {
		pre = c.Value
	} else {
		var b [32]byte
		rand.Read(b[:])
		pre = base64.RawURLEncoding.EncodeToString(b[:])
	}
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: pre, Path: "/", MaxAge: 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
	h.render(w, r, status, "login", &pageData{Title: "Log in", CSRF: csrfToken(pre), Data: d})
}

// preSessionOK checks the CSRF token of a login form.
func preSessionOK(r *http.Request) bool {
	c, err := r.Cookie(loginCookie)
	return err == nil && validCSRF(r, c.Value)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: safeNext(r.PostFormValue("next")), Email: strings.TrimSpace(r.PostFormValue("email"))}
	if !preSessionOK(r) {
		d.Error = "The login form had expired. Please try again."
		h.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	secret, t, _, err := h.m.ConsoleLogin(r.Context(), d.Email, r.PostFormValue("password"), r.RemoteAddr, h.sessionAge)
	h.finishLogin(w, r, d, secret, t, err)
}

func (h *Handler) loginToken(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: safeNext(r.PostFormValue("next"))}
	if !preSessionOK(r) {
		d.Error = "The login form had expired. Please try again."
		h.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	secret, t, _, err := h.m.ConsoleExchangeToken(r.Context(), r.PostFormValue("token"), r.RemoteAddr, h.sessionAge)
	h.finishLogin(w, r, d, secret, t, err)
}

func (h *Handler) finishLogin(w http.ResponseWriter, r *http.Request, d loginData, secret string, t *kcred.Token, err error) {
	if err != nil {
		code := kcred.ErrorCode(err)
		status := map[string]int{kcred.EUNAUTHORIZED: http.StatusUnauthorized, kcred.ETOOMANY: http.StatusTooManyRequests}[code]
		if status == 0 {
			h.fail(w, r, nil, err)
			return
		}
		d.Error = kcred.ErrorMessage(err)
		h.renderLogin(w, r, status, d)
		return
	}
	maxAge := int(h.sessionAge / time.Second)
	if !t.ExpiryTime.IsZero() {
		maxAge = int(t.ExpiryTime.Sub(t.CreateTime) / time.Second)
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: secret, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
	h.clearCookie(w, r, loginCookie)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := h.m.RevokeToken(r.Context(), s.secret); err != nil && kcred.ErrorCode(err) != kcred.ENOTFOUND {
		return err
	}
	h.clearCookie(w, r, sessionCookie)
	h.setFlash(w, r, flashInfo, "You have logged out.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
}

// safeNext returns next when it is a path on this site, and "/projects"
// otherwise, so that a login link cannot send people elsewhere.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/projects"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/projects"
	}
	return next
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}
