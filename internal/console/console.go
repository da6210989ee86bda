// Package console serves kcred's web console: server-rendered pages from
// html/template files, a small stylesheet and script, all embedded in the
// binary. Every action goes through internal/lifecycle, so the console has
// exactly the API's roles and audit events. Sessions are API tokens (stored
// hashed in the database, so any replica serves them) held in an HttpOnly
// cookie; every form carries a CSRF token derived from the session.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"time"

	"github.com/kcred/kcred/internal/lifecycle"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DefaultSessionAge is how long a console login lasts.
const DefaultSessionAge = 12 * time.Hour

// maxFormBytes bounds a form body; forms are small.
const maxFormBytes = 1 << 20

// Options tune a Handler; the zero value is fine.
type Options struct {
	Logger *slog.Logger
	// SessionAge is how long a login lasts; DefaultSessionAge when zero.
	SessionAge time.Duration
}

// Handler is the web console. Mount it at "/" beside the API.
type Handler struct {
	m          *lifecycle.Manager
	log        *slog.Logger
	mux        *http.ServeMux
	pages      map[string]*pageTemplate
	sessionAge time.Duration
	static     map[string]staticFile // by file name
	version    string                // of the static files, for cache busting
	cop        *http.CrossOriginProtection
}

type staticFile struct {
	body        []byte
	contentType string
}

// New returns the console over m.
func New(m *lifecycle.Manager, opts Options) *Handler {
	h := &Handler{
		m:          m,
		log:        opts.Logger,
		mux:        http.NewServeMux(),
		sessionAge: opts.SessionAge,
		static:     map[string]staticFile{},
		cop:        http.NewCrossOriginProtection(),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.sessionAge <= 0 {
		h.sessionAge = DefaultSessionAge
	}
	h.loadStatic()
	h.pages = loadTemplates(h.funcs())
	h.routes()
	return h
}

func (h *Handler) loadStatic() {
	types := map[string]string{
		".css": "text/css; charset=utf-8",
		".js":  "text/javascript; charset=utf-8",
		".svg": "image/svg+xml",
	}
	sum := sha256.New()
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err) // embedded at build time; cannot fail
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		h.static[e.Name()] = staticFile{body: b, contentType: types[path.Ext(e.Name())]}
		sum.Write(b)
	}
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]
}

func (h *Handler) routes() {
	const (
		p = "/projects/{project}"
		s = p + "/services/{service}"
		u = s + "/users/{username}"
	)
	h.mux.HandleFunc("GET /{$}", h.authed(h.home))
	h.mux.HandleFunc("GET /static/{file}", h.serveStatic)
	h.mux.HandleFunc("GET /favicon.ico", h.favicon)

	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /login/token", h.loginToken)
	h.mux.HandleFunc("POST /logout", h.authed(h.logout))

	h.mux.HandleFunc("GET /projects", h.authed(h.projects))
	h.mux.HandleFunc("POST /projects", h.authed(h.createProject))
	h.mux.HandleFunc("GET "+p, h.authed(h.project))
	h.mux.HandleFunc("GET "+p+"/ca.pem", h.authed(h.caPEM))
	h.mux.HandleFunc("POST "+p+"/contacts", h.authed(h.updateContacts))
	h.mux.HandleFunc("POST "+p+"/members", h.authed(h.addMember))
	h.mux.HandleFunc("POST "+p+"/members/role", h.authed(h.setMemberRole))
	h.mux.HandleFunc("POST "+p+"/members/remove", h.authed(h.removeMember))
	h.mux.HandleFunc("GET "+p+"/events", h.authed(h.events))
	h.mux.HandleFunc("GET "+p+"/notifications", h.authed(h.notifications))
	h.mux.HandleFunc("POST "+p+"/services", h.authed(h.createService))

	h.mux.HandleFunc("GET "+s, h.authed(h.service))
	h.mux.HandleFunc("POST "+s+"/delete", h.authed(h.deleteService))
	h.mux.HandleFunc("GET "+s+"/users", h.authed(h.users))
	h.mux.HandleFunc("POST "+s+"/users", h.authed(h.createUser))
	h.mux.HandleFunc("POST "+s+"/java.zip", h.authed(h.javaZipForm))

	h.mux.HandleFunc("GET "+u, h.authed(h.user))
	h.mux.HandleFunc("POST "+u+"/reveal", h.authed(h.reveal))
	h.mux.HandleFunc("POST "+u+"/acknowledge", h.authed(h.acknowledge))
	h.mux.HandleFunc("POST "+u+"/reset", h.authed(h.reset))
	h.mux.HandleFunc("POST "+u+"/delete", h.authed(h.deleteUser))
	h.mux.HandleFunc("POST "+u+"/credentials.zip", h.authed(h.credentialsZip))
	h.mux.HandleFunc("POST "+u+"/java.zip", h.authed(h.javaZip))
}

// ServeHTTP serves the console with its security headers, limits and error
// pages.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("panic serving console request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !rw.wrote {
				h.errorPage(rw, r, nil, http.StatusInternalServerError, "")
			}
		}
		h.log.Debug("console request", "method", r.Method, "path", r.URL.Path, "status", rw.status,
			"duration", time.Since(start), "remote", r.RemoteAddr)
	}()
	hd := rw.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	// A second line of defence besides the CSRF tokens: browsers say
	// where a request comes from, and cross-site writes are refused.
	if err := h.cop.Check(r); err != nil {
		h.errorPage(rw, r, nil, http.StatusForbidden, "This request came from another site and was refused.")
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, maxFormBytes)
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.notFound(rw, r)
		return
	}
	h.mux.ServeHTTP(rw, r)
}

// notFound answers a path that no route matches, or a method a route does
// not take.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "" {
			if r.Method == http.MethodHead && m == http.MethodGet {
				break
			}
			w.Header().Set("Allow", m)
			h.errorPage(w, r, nil, http.StatusMethodNotAllowed, "This page does not accept "+r.Method+" requests.")
			return
		}
	}
	h.errorPage(w, r, nil, http.StatusNotFound, "")
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := h.static[r.PathValue("file")]
	if !ok {
		h.errorPage(w, r, nil, http.StatusNotFound, "")
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	if r.URL.Query().Get("v") == h.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(f.body)
}

func (h *Handler) favicon(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, h.asset("kcred.svg"), http.StatusMovedPermanently)
}

// asset returns the URL of a static file with its version.
func (h *Handler) asset(name string) string { return "/static/" + name + "?v=" + h.version }

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}
