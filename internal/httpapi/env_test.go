package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/httpapi"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/pki"
	"github.com/kcred/kcred/internal/sqlite"
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

// env is a kcred API on a real loopback HTTP server over SQLite in a
// temporary directory, with a superuser whose token is Token.
type env struct {
	t     testing.TB
	URL   string
	Token string
	M     *lifecycle.Manager
	Store kcred.Store
	Clock *clock
}

const superToken = "kcred_test_superuser_token_0123456789abcdef"

func newEnv(t testing.TB) *env {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, store)
}

// newEnvOn is newEnv on a given store, which it closes at the end.
func newEnvOn(t testing.TB, store kcred.Store) *env {
	t.Helper()
	ctx := context.Background()
	key, _ := pki.GenerateMasterKey()
	sealer, err := pki.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	m := lifecycle.New(lifecycle.Config{Store: store, Sealer: sealer, Now: clk.Now})
	if _, _, err := m.Bootstrap(ctx, "admin@kcred.local", "admin-password", superToken); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewServer(m, nil))
	t.Cleanup(func() {
		srv.Close()
		m.Close()
		store.Close()
	})
	return &env{t: t, URL: srv.URL, Token: superToken, M: m, Store: store, Clock: clk}
}

// response is what a request got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map, failing the test when it is not
// a JSON object.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Decode decodes the body into v.
func (r response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode body: %v: %s", err, r.Body)
	}
}

// do sends a request with the token (none when token is "") as
// "Authorization: aivenv1 <token>", the way Aiven's clients do. body may be
// nil, a []byte sent as is, or a value encoded as JSON.
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "aivenv1 "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must is do that fails the test unless the status is want.
func (e *env) must(want int, method, path, token string, body any) response {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// account makes an account through the API and returns a token for it.
func (e *env) account(email string) string {
	e.t.Helper()
	e.must(200, "POST", "/v1/user", e.Token, map[string]any{"email": email, "password": "password-" + email})
	r := e.must(200, "POST", "/v1/userauth", "", map[string]any{"email": email, "password": "password-" + email})
	return r.JSON(e.t)["token"].(string)
}
