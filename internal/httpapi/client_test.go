package httpapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/httpapi"
)

// TestClient drives every call of the client against a real server on
// loopback over SQLite.
func TestClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := httpapi.NewClient(e.URL+"/", e.Token, nil) // a trailing slash is dropped

	me, err := c.Me(ctx)
	if err != nil || me.Email != "admin@kcred.local" || !me.Superuser {
		t.Fatalf("Me = %+v, %v", me, err)
	}

	validity := kcred.Duration(400 * 24 * time.Hour)
	p, err := c.CreateProject(ctx, httpapi.ProjectCreateRequest{
		Project: "p1", TechEmails: []httpapi.TechEmail{{Email: "ops@example.com"}},
		CertPolicy: &httpapi.CertPolicy{KeyType: kcred.KeyTypeRSA2048, Validity: &validity},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.ProjectName != "p1" || p.CertPolicy.KeyType != kcred.KeyTypeRSA2048 || p.CertPolicy.Validity.String() != "400d" ||
		p.CertPolicy.RenewBefore.String() != "90d" || len(p.TechEmails) != 1 || !strings.Contains(p.CACert, "BEGIN CERTIFICATE") {
		t.Errorf("CreateProject = %+v", p)
	}
	if ps, err := c.ListProjects(ctx); err != nil || len(ps) != 1 || ps[0].ProjectName != "p1" {
		t.Errorf("ListProjects = %+v, %v", ps, err)
	}
	if got, err := c.GetProject(ctx, "p1"); err != nil || got.CACert != p.CACert {
		t.Errorf("GetProject = %+v, %v", got, err)
	}
	ca, err := c.ProjectCA(ctx, "p1")
	if err != nil || ca != p.CACert {
		t.Errorf("ProjectCA = %q, %v", ca, err)
	}

	svc, err := c.CreateService(ctx, "p1", httpapi.ServiceCreateRequest{ServiceName: "kafka-1", ServiceURI: "127.0.0.1:9093"})
	if err != nil {
		t.Fatal(err)
	}
	if svc.ServiceType != "kafka" || svc.ServiceURI != "127.0.0.1:9093" || svc.FindUser("avnadmin") == nil || svc.FindUser("avnadmin").AccessKey == nil {
		t.Errorf("CreateService = %+v", svc)
	}
	if ss, err := c.ListServices(ctx, "p1"); err != nil || len(ss) != 1 || ss[0].Users[0].AccessKey != nil {
		t.Errorf("ListServices = %+v, %v (want no keys)", ss, err)
	}

	u, err := c.CreateServiceUser(ctx, "p1", "kafka-1", "app1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "app1" || u.Type != "normal" || u.AccessKey == nil || u.Password == nil || u.ExpiringCertNotValidAfterTime != nil {
		t.Errorf("CreateServiceUser = %+v", u)
	}
	noSecrets, err := c.GetServiceUser(ctx, "p1", "kafka-1", "app1", false)
	if err != nil || noSecrets.AccessKey != nil || noSecrets.Password != nil || noSecrets.AccessCert != u.AccessCert {
		t.Errorf("GetServiceUser without secrets = %+v, %v", noSecrets, err)
	}
	withSecrets, err := c.GetServiceUser(ctx, "p1", "kafka-1", "app1", true)
	if err != nil || withSecrets.AccessKey == nil || *withSecrets.AccessKey != *u.AccessKey {
		t.Errorf("GetServiceUser with secrets = %+v, %v", withSecrets, err)
	}
	if s, err := c.GetService(ctx, "p1", "kafka-1", false); err != nil || len(s.Users) != 2 || s.FindUser("app1").AccessKey != nil {
		t.Errorf("GetService without secrets = %+v, %v", s, err)
	}
	if s, err := c.GetService(ctx, "p1", "kafka-1", true); err != nil || s.FindUser("app1").AccessKey == nil {
		t.Errorf("GetService with secrets = %+v, %v", s, err)
	}

	// Acknowledging with nothing pending changes nothing.
	s, err := c.AcknowledgeRenewal(ctx, "p1", "kafka-1", "app1")
	if err != nil || s.FindUser("app1") == nil || s.FindUser("app1").AccessCert != u.AccessCert {
		t.Errorf("AcknowledgeRenewal = %+v, %v", s, err)
	}
	// Both ways of resetting give a new certificate.
	s, err = c.ResetCredentials(ctx, "p1", "kafka-1", "app1")
	if err != nil || s.FindUser("app1").AccessCert == u.AccessCert {
		t.Errorf("ResetCredentials did not change the certificate: %v", err)
	}
	pw := "a-new-password-1"
	s, err = c.ModifyServiceUser(ctx, "p1", "kafka-1", "app1", httpapi.ModifyRequest{Operation: httpapi.OpResetCredentials, NewPassword: &pw})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetServiceUser(ctx, "p1", "kafka-1", "app1", true); got == nil || got.Password == nil || *got.Password != pw {
		t.Errorf("password after reset-credentials with new_password = %v", got)
	}

	if err := c.DeleteServiceUser(ctx, "p1", "kafka-1", "app1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetServiceUser(ctx, "p1", "kafka-1", "app1", false); httpapi.ErrorStatus(err) != http.StatusNotFound {
		t.Errorf("user after delete: %v", err)
	}
	if err := c.DeleteService(ctx, "p1", "kafka-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetService(ctx, "p1", "kafka-1", false); httpapi.ErrorStatus(err) != http.StatusNotFound {
		t.Errorf("service after delete: %v", err)
	}
}

func TestClientLogin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	anon := httpapi.NewClient(e.URL, "", nil)
	res, err := anon.Login(ctx, "admin@kcred.local", "admin-password")
	if err != nil || res.Token == "" || res.UserEmail != "admin@kcred.local" || res.State != "active" {
		t.Fatalf("Login = %+v, %v", res, err)
	}
	if me, err := httpapi.NewClient(e.URL, res.Token, nil).Me(ctx); err != nil || me.Email != "admin@kcred.local" {
		t.Errorf("Me with the login token = %+v, %v", me, err)
	}
	_, err = anon.Login(ctx, "admin@kcred.local", "wrong-password")
	var ae *httpapi.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Message != "Invalid email or password." {
		t.Errorf("Login with a wrong password: %#v", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("the error quotes the password: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	e := setup(t)
	ctx := context.Background()

	_, err := httpapi.NewClient(e.URL, "not-a-token", nil).ListProjects(ctx)
	var ae *httpapi.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Message != "Invalid token." || ae.Code != kcred.EUNAUTHORIZED {
		t.Errorf("wrong token: %#v", err)
	}
	if strings.Contains(err.Error(), "not-a-token") {
		t.Errorf("the error quotes the token: %v", err)
	}

	c := httpapi.NewClient(e.URL, e.Token, nil)
	_, err = c.GetServiceUser(ctx, "p1", "kafka-1", "nobody", true)
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Message != `Service user "nobody" does not exist.` || ae.Code != kcred.ENOTFOUND {
		t.Errorf("unknown user: %#v", err)
	}
	if _, err := c.GetService(ctx, "p1", "nope", false); httpapi.ErrorStatus(err) != http.StatusNotFound {
		t.Errorf("unknown service: %v", err)
	}
	if _, err := c.GetProject(ctx, "nope"); httpapi.ErrorStatus(err) != http.StatusNotFound {
		t.Errorf("unknown project: %v", err)
	}
	// Path segments are escaped, so a name cannot reach another route.
	if _, err := c.GetServiceUser(ctx, "p1", "kafka-1", "../../../kafka-1", false); httpapi.ErrorStatus(err) != http.StatusNotFound {
		t.Errorf("username with slashes: %v", err)
	}
	if _, err := c.CreateServiceUser(ctx, "p1", "kafka-1", "app1"); httpapi.ErrorStatus(err) != http.StatusConflict {
		t.Errorf("duplicate user: %v", err)
	}
	if _, err := c.CreateProject(ctx, httpapi.ProjectCreateRequest{Project: "Bad Name"}); httpapi.ErrorStatus(err) != http.StatusBadRequest {
		t.Errorf("bad project name: %v", err)
	}
	if _, err := c.ModifyServiceUser(ctx, "p1", "kafka-1", "app1", httpapi.ModifyRequest{Operation: "explode"}); httpapi.ErrorStatus(err) != http.StatusBadRequest {
		t.Errorf("bad operation: %v", err)
	}

	// Nothing listens: the error is the connection's, not an APIError.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = httpapi.NewClient("http://"+addr, e.Token, nil).ListProjects(ctx)
	if err == nil || errors.As(err, &ae) || httpapi.ErrorStatus(err) != 0 {
		t.Errorf("server not reachable: %#v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.ListProjects(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestClientWire checks what the client sends and how it treats answers
// that are not kcred's, with a stand-in server.
func TestClientWire(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		b := make([]byte, 1024)
		n, _ := r.Body.Read(b)
		gotBody = string(b[:n])
		switch r.URL.Path {
		case "/v1/project/p%201/kms/ca", "/v1/project/p 1/kms/ca":
			w.Write([]byte(`{"certificate": "PEM"}`))
		case "/v1/project/p1/service/s1/user/u1":
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html><body>Bad gateway from the proxy</body></html>"))
		default:
			w.Write([]byte(`not json`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := httpapi.NewClient(srv.URL+"/v1/", "tok-123", nil)

	if ca, err := c.ProjectCA(ctx, "p 1"); err != nil || ca != "PEM" {
		t.Fatalf("ProjectCA = %q, %v", ca, err)
	}
	if got.URL.RawPath != "/v1/project/p%201/kms/ca" && got.URL.EscapedPath() != "/v1/project/p%201/kms/ca" {
		t.Errorf("path = %q", got.URL.EscapedPath())
	}
	if a := got.Header.Get("Authorization"); a != "Bearer tok-123" {
		t.Errorf("Authorization = %q", a)
	}
	if got.Header.Get("Content-Type") != "" || gotBody != "" {
		t.Errorf("a GET sent a body or a Content-Type: %q %q", got.Header.Get("Content-Type"), gotBody)
	}

	_, err := c.AcknowledgeRenewal(ctx, "p1", "s1", "u1")
	var ae *httpapi.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || strings.Contains(ae.Message, "<html>") {
		t.Errorf("HTML error page: %#v", err)
	}
	if got.Method != "PUT" || got.Header.Get("Content-Type") != "application/json" || gotBody != `{"operation":"acknowledge-renewal"}` {
		t.Errorf("acknowledge sent %s %q %q", got.Method, got.Header.Get("Content-Type"), gotBody)
	}

	_, err = c.ListProjects(ctx)
	if err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Errorf("non-JSON 200: %v", err)
	}
}

// TestClientRetries checks that only GETs are sent again after the
// connection dropped, and a POST never.
func TestClientRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method == http.MethodGet && n >= 3 {
			w.Write([]byte(`{"projects": []}`))
			return
		}
		// Drop the connection after reading the request, as a server
		// that crashes mid-request does.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := httpapi.NewClient(srv.URL, "tok", nil)

	if _, err := c.CreateServiceUser(ctx, "p1", "s1", "u1"); err == nil {
		t.Error("POST on a dropped connection succeeded")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("POST was sent %d times, want 1", n)
	}
	calls.Store(0)
	if _, err := c.ResetCredentials(ctx, "p1", "s1", "u1"); err == nil {
		t.Error("PUT on a dropped connection succeeded")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("PUT was sent %d times, want 1", n)
	}
	calls.Store(0)
	if ps, err := c.ListProjects(ctx); err != nil || ps == nil {
		t.Errorf("GET after two dropped connections: %v, %v", ps, err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("GET was sent %d times, want 3", n)
	}
}
