// Package httpapi serves kcred's REST API under /v1, compatible with Aiven's
// API as its official Go client and the avn CLI use it, plus /healthz and
// /readyz. It is the only place besides the console where error codes become
// HTTP statuses.
package httpapi

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/kcred/kcred/internal/lifecycle"
)

// MaxBodyBytes is the largest request body accepted; larger ones get 413.
const MaxBodyBytes = 1 << 20

// Server is the HTTP API.
type Server struct {
	m   *lifecycle.Manager
	log *slog.Logger
	mux *http.ServeMux
}

// NewServer returns the API over m.
func NewServer(m *lifecycle.Manager, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{m: m, log: log, mux: http.NewServeMux()}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)

	s.mux.HandleFunc("POST /v1/userauth", s.userauth)
	s.mux.HandleFunc("POST /v1/access_token", s.authed(s.createAccessToken))
	s.mux.HandleFunc("POST /v1/user", s.authed(s.createUser))
	s.mux.HandleFunc("GET /v1/me", s.authed(s.me))
	s.mux.HandleFunc("POST /v1/me/logout", s.authed(s.logout))

	s.mux.HandleFunc("GET /v1/project", s.authed(s.listProjects))
	s.mux.HandleFunc("POST /v1/project", s.authed(s.createProject))
	s.mux.HandleFunc("GET /v1/project/{project}", s.authed(s.getProject))
	s.mux.HandleFunc("PUT /v1/project/{project}", s.authed(s.updateProject))
	s.mux.HandleFunc("DELETE /v1/project/{project}", s.authed(s.deleteProject))
	s.mux.HandleFunc("GET /v1/project/{project}/kms/ca", s.authed(s.getCA))
	s.mux.HandleFunc("POST /v1/project/{project}/kms/server-certificate", s.authed(s.issueServerCertificate))
	s.mux.HandleFunc("GET /v1/project/{project}/events", s.authed(s.listEvents))

	s.mux.HandleFunc("GET /v1/project/{project}/users", s.authed(s.listMembers))
	s.mux.HandleFunc("POST /v1/project/{project}/invite", s.authed(s.invite))
	s.mux.HandleFunc("PUT /v1/project/{project}/user/{email}", s.authed(s.setMemberRole))
	s.mux.HandleFunc("DELETE /v1/project/{project}/user/{email}", s.authed(s.removeMember))

	s.mux.HandleFunc("GET /v1/project/{project}/service", s.authed(s.listServices))
	s.mux.HandleFunc("POST /v1/project/{project}/service", s.authed(s.createService))
	s.mux.HandleFunc("GET /v1/project/{project}/service/{service}", s.authed(s.getService))
	s.mux.HandleFunc("DELETE /v1/project/{project}/service/{service}", s.authed(s.deleteService))

	s.mux.HandleFunc("POST /v1/project/{project}/service/{service}/user", s.authed(s.createServiceUser))
	s.mux.HandleFunc("GET /v1/project/{project}/service/{service}/user/{username}", s.authed(s.getServiceUser))
	s.mux.HandleFunc("PUT /v1/project/{project}/service/{service}/user/{username}", s.authed(s.modifyServiceUser))
	s.mux.HandleFunc("DELETE /v1/project/{project}/service/{service}/user/{username}", s.authed(s.deleteServiceUser))
	s.mux.HandleFunc("PUT /v1/project/{project}/service/{service}/user/{username}/credentials/reset", s.authed(s.resetCredentials))

	// kcred's additions.
	s.mux.HandleFunc("GET /v1/project/{project}/service/{service}/user/{username}/certificates", s.authed(s.certificateHistory))
	s.mux.HandleFunc("GET /v1/project/{project}/renewals", s.authed(s.openRenewals))
	s.mux.HandleFunc("GET /v1/project/{project}/notifications", s.authed(s.listNotifications))
	s.mux.HandleFunc("GET /v1/project/{project}/webhooks", s.authed(s.listWebhooks))
	s.mux.HandleFunc("POST /v1/project/{project}/webhooks", s.authed(s.createWebhook))
	s.mux.HandleFunc("DELETE /v1/project/{project}/webhooks/{id}", s.authed(s.deleteWebhook))
	s.mux.HandleFunc("POST /v1/project/{project}/webhooks/{id}/test", s.authed(s.testWebhook))
}

// ServeHTTP serves the API with its limits, logging and error format.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK, req: r}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !rw.wrote {
				writeError(rw, s.log, errInternal)
			}
		}
		if s.log.Enabled(r.Context(), slog.LevelDebug) { // spares every request the boxing of the arguments
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rw.status,
				"duration", time.Since(start), "remote", r.RemoteAddr)
		}
	}()
	if r.ContentLength > MaxBodyBytes {
		writeStatus(rw, http.StatusRequestEntityTooLarge, "Request body is larger than 1 MiB.")
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, MaxBodyBytes)
	s.mux.ServeHTTP(rw, r)
}

// statusWriter records the status of an answer, and puts the mux's own
// 404 and 405 (no route) in the API's error format.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	req    *http.Request
	drop   bool // the body written is the mux's text, already replaced
}

func (w *statusWriter) WriteHeader(code int) {
	// The mux sets the request's pattern before it calls a route's
	// handler; it is still empty when the mux answers for itself. (Its
	// redirects, which clean paths like "//v1/x", go through.)
	if !w.wrote && w.req.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.status, w.wrote, w.drop = code, true, true
		msg := "Not found: " + w.req.URL.Path
		if code == http.StatusMethodNotAllowed { // the mux has set Allow
			msg = "Method " + w.req.Method + " is not allowed here."
		}
		writeStatus(w.ResponseWriter, code, msg)
		return
	}
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.drop {
		return len(b), nil
	}
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.m.Store().Ping(r.Context()); err != nil {
		s.log.Warn("not ready", "err", err)
		writeStatus(w, http.StatusServiceUnavailable, "Database is not reachable.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
