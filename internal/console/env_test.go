package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/console"
	"github.com/kcred/kcred/internal/httpapi"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/pki"
	"github.com/kcred/kcred/internal/sqlite"
	"golang.org/x/crypto/bcrypt"
)

// clock is a time source tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is kcred's API and console on a real loopback HTTP server over SQLite
// in a temporary directory, wired as `kcred server` wires them, with a
// project "demo" seeded by accounts of every role.
type env struct {
	t     testing.TB
	URL   string
	M     *lifecycle.Manager
	Store kcred.Store
	Clock *clock
	// Accounts by role; each has the password "password-<email>".
	Admin, Operator, Developer, ReadOnly, Outsider *kcred.Account
}

const (
	superToken = "kcred_test_superuser_token_0123456789abcdef"
	project    = "demo"
	service    = "kafka1"
)

// start is the time every test starts at.
var start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func password(a *kcred.Account) string { return "password-" + a.Email }

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.GenerateMasterKey()
	sealer, err := pki.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: start}
	m := lifecycle.New(lifecycle.Config{Store: store, Sealer: sealer, Now: clk.Now})
	// The superuser logs in by token only: no slow password hash.
	if _, _, err := m.Bootstrap(ctx, "admin@kcred.local", "", superToken); err != nil {
		t.Fatal(err)
	}
	// As cmd/kcred/server.go mounts them.
	api := httpapi.NewServer(m, nil)
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	mux.Handle("/healthz", api)
	mux.Handle("/readyz", api)
	mux.Handle("/", console.New(m, console.Options{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		m.Close()
		store.Close()
	})
	e := &env{t: t, URL: srv.URL, M: m, Store: store, Clock: clk}
	e.seed()
	return e
}

// super is the superuser as an actor.
func (e *env) super() lifecycle.Actor {
	e.t.Helper()
	a, err := e.Store.FindAccountByEmail(context.Background(), "admin@kcred.local")
	if err != nil {
		e.t.Fatal(err)
	}
	return lifecycle.Actor{Account: a, Source: "test"}
}

// account makes an account straight in the store, with a bcrypt hash of
// the lowest cost: logins check it as they check any other, and tests under
// the race detector do not spend seconds hashing.
func (e *env) account(email string) *kcred.Account {
	e.t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("password-"+email), bcrypt.MinCost)
	if err != nil {
		e.t.Fatal(err)
	}
	a := &kcred.Account{ID: kcred.NewID(), Email: email, PasswordHash: string(h), CreateTime: e.M.Now()}
	if err := e.Store.CreateAccount(context.Background(), a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// tick moves the clock a second, so that events sort in the order they
// were made.
func (e *env) tick() { e.Clock.Add(time.Second) }

// seed makes the project demo (admin alice) with members of every role,
// the service kafka1 with avnadmin, and the users app1 and app2.
func (e *env) seed() {
	e.t.Helper()
	ctx := context.Background()
	e.Admin = e.account("alice@example.com")
	e.Operator = e.account("oscar@example.com")
	e.Developer = e.account("dana@example.com")
	e.ReadOnly = e.account("rita@example.com")
	e.Outsider = e.account("mallory@example.com")
	admin := lifecycle.Actor{Account: e.Admin, Source: "192.0.2.10:5000"}
	must(e.t, func() error {
		_, err := e.M.CreateProject(ctx, admin, project, []string{"kafka-team@example.com"}, kcred.CertPolicy{})
		return err
	}())
	e.tick()
	for _, m := range []struct {
		a    *kcred.Account
		role kcred.Role
	}{{e.Operator, kcred.RoleOperator}, {e.Developer, kcred.RoleDeveloper}, {e.ReadOnly, kcred.RoleReadOnly}} {
		must(e.t, e.M.Invite(ctx, admin, project, m.a.Email, m.role))
		e.tick()
	}
	must(e.t, func() error {
		_, err := e.M.CreateService(ctx, admin, project, lifecycle.ServiceSpec{Name: service, URI: "kafka.example.com:9093"})
		return err
	}())
	e.tick()
	for _, u := range []string{"app1", "app2"} {
		must(e.t, func() error { _, err := e.M.CreateUser(ctx, admin, project, service, u); return err }())
		e.tick()
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// creds reads a user's credentials with secrets, as the superuser.
func (e *env) creds(username string) *lifecycle.UserView {
	e.t.Helper()
	v, _, err := e.M.GetUser(context.Background(), e.super(), project, service, username, true)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// pendingRenewal gives username a renewed certificate that waits for
// acknowledgement, the way the renewal engine leaves it: a new generation
// and an open renewal pointing from the old one to it. The clock then moves
// past the Manager's cache so that every page sees it.
func (e *env) pendingRenewal(username string) {
	e.t.Helper()
	ctx := context.Background()
	old := e.creds(username).Current
	e.tick()
	if _, err := e.M.ConsoleReset(ctx, e.super(), project, service, username); err != nil {
		e.t.Fatal(err)
	}
	e.tick()
	cur := e.creds(username).Current
	r := &kcred.Renewal{
		ID: kcred.NewID(), UserID: cur.UserID, OldCertID: old.ID, NewCertID: cur.ID,
		OldNotAfter: old.NotAfter, CreateTime: e.M.Now(),
	}
	if err := e.Store.CreateRenewal(ctx, r); err != nil {
		e.t.Fatal(err)
	}
	e.Clock.Add(3 * time.Second)
}

// client is a cookie-keeping HTTP client of the console.
type client struct {
	e    *env
	hc   *http.Client
	csrf string // of the session's forms, after login
}

// newClient returns a client that follows no redirects, so tests see them.
func (e *env) newClient() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	Status int
	Header http.Header
	Body   string
}

func (c *client) get(path string) response {
	c.e.t.Helper()
	return c.do("GET", path, nil, nil)
}

func (c *client) post(path string, form url.Values) response {
	c.e.t.Helper()
	return c.do("POST", path, form, nil)
}

func (c *client) do(method, path string, form url.Values, header http.Header) response {
	c.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

// csrfOf returns the CSRF token of the first form of a page.
func csrfOf(t testing.TB, p response) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("page has no CSRF field: %.300s", p.Body)
	}
	return m[1]
}

// login logs c in as a through the login form and returns the CSRF token
// of the session's forms.
func (c *client) login(a *kcred.Account) string {
	c.e.t.Helper()
	lp := c.get("/login")
	if lp.Status != 200 {
		c.e.t.Fatalf("GET /login: %d", lp.Status)
	}
	res := c.post("/login", url.Values{"csrf": {csrfOf(c.e.t, lp)}, "email": {a.Email}, "password": {password(a)}, "next": {"/projects"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/projects" {
		c.e.t.Fatalf("login as %s: %d %s: %.500s", a.Email, res.Status, res.Header.Get("Location"), res.Body)
	}
	p := c.get("/projects")
	if p.Status != 200 {
		c.e.t.Fatalf("GET /projects after login: %d", p.Status)
	}
	c.csrf = csrfOf(c.e.t, p)
	return c.csrf
}

// formWith is a form with c's CSRF token and the page to return to.
func formWith(c *client, ret string) url.Values {
	return url.Values{"csrf": {c.csrf}, "return": {ret}}
}
