package httpapi_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// setup makes project p1 with service kafka-1 (and its avnadmin) and user
// app1 as the superuser.
func setup(t testing.TB) *env { return setupOn(t, newEnv(t)) }

// setupOn does what setup does in e.
func setupOn(t testing.TB, e *env) *env {
	e.must(200, "POST", "/v1/project?limit=999", e.Token, map[string]any{
		"project": "p1", "tech_emails": []map[string]string{{"email": "ops@example.com"}},
		"some_unknown_field": true,
	})
	e.must(200, "POST", "/v1/project/p1/service?limit=999", e.Token, map[string]any{
		"service_name": "kafka-1", "service_type": "kafka", "service_uri": "127.0.0.1:9093",
		"plan": "business-4", "cloud": "google-europe-north1", "user_config": map[string]any{},
	})
	e.must(200, "POST", "/v1/project/p1/service/kafka-1/user?limit=999", e.Token, map[string]any{"username": "app1"})
	return e
}

func TestUserRoundTrip(t *testing.T) {
	e := setup(t)
	r := e.must(200, "GET", "/v1/project/p1/service/kafka-1/user/app1?limit=999", e.Token, nil)
	if strings.Contains(string(r.Body), `"access_control":null`) {
		t.Errorf("body has access_control null: %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var body struct {
		User struct {
			Username   string  `json:"username"`
			Type       string  `json:"type"`
			Password   string  `json:"password"`
			AccessCert string  `json:"access_cert"`
			AccessKey  string  `json:"access_key"`
			NotAfter   string  `json:"access_cert_not_valid_after_time"`
			Expiring   *string `json:"expiring_cert_not_valid_after_time"`
		}
	}
	r.Decode(t, &body)
	u := body.User
	if u.Username != "app1" || u.Type != "normal" || len(u.Password) < 16 {
		t.Errorf("user = %+v", u)
	}
	if u.Expiring != nil {
		t.Errorf("expiring set without a renewal: %v", *u.Expiring)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(u.NotAfter) {
		t.Errorf("not after %q is not RFC 3339 UTC", u.NotAfter)
	}
	ca := e.must(200, "GET", "/v1/project/p1/kms/ca", e.Token, nil).JSON(t)["certificate"].(string)
	leaf := verifyLeaf(t, ca, u.AccessCert)
	if leaf.Subject.CommonName != "app1" || leaf.Subject.Organization[0] != "kafka-1" {
		t.Errorf("subject = %v", leaf.Subject)
	}
	if got := leaf.NotAfter.UTC().Format(time.RFC3339); got != u.NotAfter {
		t.Errorf("not after %s in cert, %s in API", got, u.NotAfter)
	}
	if !strings.HasPrefix(u.AccessKey, "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("key is not PKCS#8 PEM: %.40q", u.AccessKey)
	}
	// The read of the key is an event, and the event holds no secret.
	evs := e.must(200, "GET", "/v1/project/p1/events", e.Token, nil)
	if !strings.Contains(string(evs.Body), kcred.ActionCredentialsRead) {
		t.Errorf("no credentials read event: %s", evs.Body)
	}
	if strings.Contains(string(evs.Body), u.Password) || strings.Contains(string(evs.Body), "PRIVATE KEY") {
		t.Errorf("events hold a secret")
	}
}

func verifyLeaf(t *testing.T, caPEM, certPEM string) *x509.Certificate {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatalf("no CA in %q", caPEM)
	}
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		t.Fatalf("no PEM in %q", certPEM)
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)}); err != nil {
		t.Fatalf("leaf does not verify against the CA: %v", err)
	}
	return leaf
}

func TestBothAuthSchemes(t *testing.T) {
	e := newEnv(t)
	for _, scheme := range []string{"aivenv1", "Bearer", "bearer"} {
		req, _ := http.NewRequest("GET", e.URL+"/v1/project", nil)
		req.Header.Set("Authorization", scheme+" "+e.Token)
		req.Header.Set("Content-Type", "application/octet-stream") // avn's on bodiless requests
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: status %d", scheme, res.StatusCode)
		}
	}
}

func TestAuthFailures(t *testing.T) {
	e := setup(t)
	// A token that expires in a minute, then the clock moves past it.
	short := e.must(200, "POST", "/v1/access_token", e.Token, map[string]any{"description": "ci", "max_age_seconds": 60}).JSON(t)
	if short["expiry_time"] == nil || !strings.HasPrefix(short["full_token"].(string), short["token_prefix"].(string)) {
		t.Fatalf("token = %v", short)
	}
	expiring := short["full_token"].(string)
	e.must(200, "GET", "/v1/project", expiring, nil)
	e.Clock.Add(61 * time.Second)

	for name, tc := range map[string]struct{ token, header string }{
		"missing":     {},
		"bad":         {token: "kcred_not-a-real-token-at-all-000000000000000"},
		"expired":     {token: expiring},
		"wrongscheme": {header: "Basic " + e.Token},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.URL+"/v1/project/p1/service/kafka-1/user/app1", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != 401 {
				t.Errorf("status %d, want 401", res.StatusCode)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	e := setup(t)
	long := strings.Repeat("a", 65)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		message            string
	}{
		{"malformed json", "POST", "/v1/project/p1/service/kafka-1/user", `{"username": `, 400, "Invalid JSON"},
		{"wrong json type", "POST", "/v1/project/p1/service/kafka-1/user", `{"username": 5}`, 400, "username"},
		{"unknown operation", "PUT", "/v1/project/p1/service/kafka-1/user/app1", map[string]any{"operation": "explode"}, 400, "Invalid operation"},
		{"missing operation", "PUT", "/v1/project/p1/service/kafka-1/user/app1", map[string]any{}, 400, "Invalid operation"},
		{"65-character username", "POST", "/v1/project/p1/service/kafka-1/user", map[string]any{"username": long}, 400, "Invalid username"},
		{"dot-dot username", "POST", "/v1/project/p1/service/kafka-1/user", map[string]any{"username": "../x"}, 400, "Invalid username"},
		{"slash username", "POST", "/v1/project/p1/service/kafka-1/user", map[string]any{"username": "a/b"}, 400, "Invalid username"},
		{"dots in username", "POST", "/v1/project/p1/service/kafka-1/user", map[string]any{"username": "a..b"}, 400, "Invalid username"},
		{"get slash username", "GET", "/v1/project/p1/service/kafka-1/user/a%2Fb", nil, 404, "does not exist"},
		{"get dot-dot username", "GET", "/v1/project/p1/service/kafka-1/user/..%2Fx", nil, 404, "does not exist"},
		{"duplicate user", "POST", "/v1/project/p1/service/kafka-1/user", map[string]any{"username": "app1"}, 409, "already exists"},
		{"duplicate project", "POST", "/v1/project", map[string]any{"project": "p1"}, 409, "already exists"},
		{"bad project name", "POST", "/v1/project", map[string]any{"project": "P 1"}, 400, "Invalid project name"},
		{"bad service type", "POST", "/v1/project/p1/service", map[string]any{"service_name": "pg", "service_type": "pg"}, 400, "service_type"},
		{"bad service uri", "POST", "/v1/project/p1/service", map[string]any{"service_name": "k2", "service_type": "kafka", "service_uri": "nope"}, 400, "service_uri"},
		{"bad tech email", "POST", "/v1/project", map[string]any{"project": "p2", "tech_emails": []map[string]string{{"email": "not an email"}}}, 400, "email"},
		{"bad key type", "POST", "/v1/project", map[string]any{"project": "p3", "cert_policy": map[string]any{"key_type": "ed25519"}}, 400, "key type"},
		{"bad duration", "POST", "/v1/project", map[string]any{"project": "p4", "cert_policy": map[string]any{"validity": "forever"}}, 400, "duration"},
		{"unknown user", "GET", "/v1/project/p1/service/kafka-1/user/nobody", nil, 404, "Service user \"nobody\" does not exist"},
		{"unknown service", "GET", "/v1/project/p1/service/nope", nil, 404, "Service \"nope\" not found"},
		{"unknown project", "GET", "/v1/project/nope/service", nil, 404, "does not exist"},
		{"delete primary", "DELETE", "/v1/project/p1/service/kafka-1/user/avnadmin", nil, 400, "primary"},
		{"short new password", "PUT", "/v1/project/p1/service/kafka-1/user/app1", map[string]any{"operation": "reset-credentials", "new_password": "short"}, 400, "new_password"},
		{"access control not object", "PUT", "/v1/project/p1/service/kafka-1/user/app1", map[string]any{"operation": "set-access-control", "access_control": []int{1}}, 400, "access_control"},
		{"unknown route", "GET", "/v1/nothing-here", nil, 404, "Not found"},
		{"wrong method", "PATCH", "/v1/project/p1", nil, 405, "not allowed"},
		{"invite unknown account", "POST", "/v1/project/p1/invite", map[string]any{"user_email": "ghost@example.com", "member_type": "developer"}, 404, "does not exist"},
		{"invite bad role", "POST", "/v1/project/p1/invite", map[string]any{"user_email": "admin@kcred.local", "member_type": "owner"}, 400, "member_type"},
		{"demote last admin", "PUT", "/v1/project/p1/user/admin@kcred.local", map[string]any{"member_type": "developer"}, 409, "at least one admin"},
		{"remove last admin", "DELETE", "/v1/project/p1/user/admin@kcred.local", nil, 409, "at least one admin"},
		{"role of non-member", "PUT", "/v1/project/p1/user/ghost@example.com", map[string]any{"member_type": "developer"}, 404, "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, e.Token, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			var body struct {
				Message string
				Errors  []struct {
					Message string
					Status  int
				}
			}
			r.Decode(t, &body)
			if !strings.Contains(body.Message, tc.message) {
				t.Errorf("message %q does not contain %q", body.Message, tc.message)
			}
			if len(body.Errors) != 1 || body.Errors[0].Status != tc.status || body.Errors[0].Message != body.Message {
				t.Errorf("errors = %+v", body.Errors)
			}
		})
	}
	// Nothing that failed changed anything: still one normal user.
	var svc struct {
		Service struct{ Users []struct{ Username string } }
	}
	e.must(200, "GET", "/v1/project/p1/service/kafka-1", e.Token, nil).Decode(t, &svc)
	if len(svc.Service.Users) != 2 {
		t.Errorf("users after failures: %+v", svc.Service.Users)
	}
}

// TestUnrouted checks what the mux answers for itself, with no route's
// handler: 404 and 405 in the API's error format (405 with Allow), and the
// redirect that cleans a path.
func TestUnrouted(t *testing.T) {
	e := setup(t)
	r := e.do("PATCH", "/v1/project/p1", e.Token, nil)
	if r.Status != http.StatusMethodNotAllowed || !strings.Contains(r.Header.Get("Allow"), "GET") {
		t.Fatalf("PATCH: status %d, Allow %q, want 405 with the methods there are", r.Status, r.Header.Get("Allow"))
	}
	for _, r := range []response{r, e.do("GET", "/v1/nothing-here", e.Token, nil)} {
		if ct := r.Header.Get("Content-Type"); ct != "application/json" || !json.Valid(r.Body) || bytes.Contains(r.Body, []byte("page not found")) {
			t.Errorf("status %d: %s body %q, want the API's JSON error alone", r.Status, ct, r.Body)
		}
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest("GET", e.URL+"//v1/project", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 3 || res.Header.Get("Location") != "/v1/project" {
		t.Fatalf("GET //v1/project: status %d, Location %q, want a redirect to /v1/project", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestBodyLimit(t *testing.T) {
	e := setup(t)
	big := `{"username": "big", "pad": "` + strings.Repeat("x", 2<<20) + `"}`
	r := e.do("POST", "/v1/project/p1/service/kafka-1/user", e.Token, big)
	if r.Status != 413 {
		t.Fatalf("status %d, want 413: %.200s", r.Status, r.Body)
	}
	if r.JSON(t)["message"] == nil {
		t.Error("413 without a message")
	}
	e.must(404, "GET", "/v1/project/p1/service/kafka-1/user/big", e.Token, nil)
}

// TestMembers covers roles: a non-member sees 404 for everything of the
// project, read_only gets users without secrets, developer reads secrets
// and acknowledges but cannot create users, operator can.
func TestMembers(t *testing.T) {
	e := setup(t)
	tokens := map[string]string{}
	for _, who := range []string{"reader", "dev", "op", "outsider"} {
		tokens[who] = e.account(who + "@example.com")
	}
	for who, role := range map[string]string{"reader": "read_only", "dev": "developer", "op": "operator"} {
		e.must(200, "POST", "/v1/project/p1/invite", e.Token, map[string]any{"user_email": who + "@example.com", "member_type": role})
	}
	// The outsider's own project, to show it is not everyone's.
	e.must(200, "POST", "/v1/project", tokens["outsider"], map[string]any{"project": "elsewhere"})

	userPath := "/v1/project/p1/service/kafka-1/user/app1"
	for _, path := range []string{"/v1/project/p1", userPath, "/v1/project/p1/service/kafka-1", "/v1/project/p1/kms/ca", "/v1/project/p1/events", "/v1/project/p1/users"} {
		r := e.must(404, "GET", path, tokens["outsider"], nil)
		if !strings.Contains(string(r.Body), "does not exist") {
			t.Errorf("outsider GET %s: %s", path, r.Body)
		}
	}
	e.must(404, "PUT", userPath, tokens["outsider"], map[string]any{"operation": "acknowledge-renewal"})
	e.must(404, "GET", "/v1/project/elsewhere", tokens["reader"], nil)

	// read_only: no password, no key, in the user and in the service.
	for _, path := range []string{userPath, "/v1/project/p1/service/kafka-1"} {
		r := e.must(200, "GET", path, tokens["reader"], nil)
		if strings.Contains(string(r.Body), "PRIVATE KEY") || strings.Contains(string(r.Body), `"password"`) || strings.Contains(string(r.Body), `"access_key"`) {
			t.Errorf("read_only got a secret from %s: %.300s", path, r.Body)
		}
		if !strings.Contains(string(r.Body), "BEGIN CERTIFICATE") {
			t.Errorf("read_only got no certificate from %s", path)
		}
	}
	e.must(403, "PUT", userPath, tokens["reader"], map[string]any{"operation": "acknowledge-renewal"})
	e.must(403, "POST", "/v1/project/p1/service/kafka-1/user", tokens["reader"], map[string]any{"username": "x"})

	// developer: secrets and acknowledge, not user management.
	r := e.must(200, "GET", userPath, tokens["dev"], nil)
	if !strings.Contains(string(r.Body), "PRIVATE KEY") {
		t.Error("developer got no key")
	}
	e.must(200, "PUT", userPath, tokens["dev"], map[string]any{"operation": "acknowledge-renewal"})
	e.must(403, "POST", "/v1/project/p1/service/kafka-1/user", tokens["dev"], map[string]any{"username": "x"})
	e.must(403, "PUT", userPath, tokens["dev"], map[string]any{"operation": "reset-credentials"})

	// operator: users and services, not members.
	e.must(200, "POST", "/v1/project/p1/service/kafka-1/user", tokens["op"], map[string]any{"username": "by-op"})
	e.must(200, "DELETE", "/v1/project/p1/service/kafka-1/user/by-op", tokens["op"], nil)
	e.must(403, "POST", "/v1/project/p1/invite", tokens["op"], map[string]any{"user_email": "outsider@example.com", "member_type": "admin"})
	e.must(403, "PUT", "/v1/project/p1", tokens["op"], map[string]any{"tech_emails": []any{}})

	// The member list shows roles; a demoted admin stays listed.
	var ms struct {
		Users []struct {
			UserEmail  string `json:"user_email"`
			MemberType string `json:"member_type"`
		} `json:"users"`
	}
	e.must(200, "GET", "/v1/project/p1/users", tokens["reader"], nil).Decode(t, &ms)
	got := map[string]string{}
	for _, u := range ms.Users {
		got[u.UserEmail] = u.MemberType
	}
	if got["reader@example.com"] != "read_only" || got["op@example.com"] != "operator" || got["admin@kcred.local"] != "admin" || len(got) != 4 {
		t.Errorf("members = %v", got)
	}
	e.must(200, "PUT", "/v1/project/p1/user/op@example.com", e.Token, map[string]any{"member_type": "read_only"})
	e.must(403, "POST", "/v1/project/p1/service/kafka-1/user", tokens["op"], map[string]any{"username": "again"})
	e.must(200, "DELETE", "/v1/project/p1/user/reader@example.com", e.Token, nil)
	e.must(404, "GET", "/v1/project/p1", tokens["reader"], nil)

	// Listing shows only one's own projects.
	var ps struct {
		Projects []struct {
			ProjectName string `json:"project_name"`
		}
	}
	e.must(200, "GET", "/v1/project", tokens["outsider"], nil).Decode(t, &ps)
	if len(ps.Projects) != 1 || ps.Projects[0].ProjectName != "elsewhere" {
		t.Errorf("outsider's projects = %+v", ps.Projects)
	}
	// The outsider is the only admin of its project and cannot leave it adminless.
	r = e.do("PUT", "/v1/project/elsewhere/user/outsider@example.com", tokens["outsider"], map[string]any{"member_type": "developer"})
	if r.Status != 409 {
		t.Errorf("demoting the last admin: %d %s", r.Status, r.Body)
	}
	// Only the superuser makes accounts.
	e.must(403, "POST", "/v1/user", tokens["outsider"], map[string]any{"email": "x@example.com", "password": "password-x"})
}

func TestResetAndAcknowledge(t *testing.T) {
	e := setup(t)
	path := "/v1/project/p1/service/kafka-1/user/app1"
	var before, after struct {
		User struct {
			AccessCert string `json:"access_cert"`
		}
	}
	e.must(200, "GET", path, e.Token, nil).Decode(t, &before)

	// Acknowledge with nothing pending succeeds and returns the service.
	r := e.must(200, "PUT", path, e.Token, map[string]any{"operation": "acknowledge-renewal"})
	if _, ok := r.JSON(t)["service"].(map[string]any); !ok {
		t.Fatalf("no service in %s", r.Body)
	}
	e.must(200, "PUT", path, e.Token, map[string]any{"operation": "reset-credentials", "new_password": "a-new-password"})
	e.must(200, "GET", path, e.Token, nil).Decode(t, &after)
	if before.User.AccessCert == after.User.AccessCert {
		t.Error("reset-credentials kept the certificate")
	}
	var pw struct{ User struct{ Password string } }
	e.must(200, "GET", path, e.Token, nil).Decode(t, &pw)
	if pw.User.Password != "a-new-password" {
		t.Errorf("password = %q", pw.User.Password)
	}
	r = e.must(200, "PUT", path+"/credentials/reset", e.Token, nil)
	if !strings.Contains(string(r.Body), `"service_name":"kafka-1"`) {
		t.Errorf("credentials/reset body: %.200s", r.Body)
	}
	certs, err := e.Store.ListCertificates(context.Background(), userID(t, e, "kafka-1", "app1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 3 || certs[0].Generation != 3 || certs[0].Reason != kcred.ReasonReset {
		t.Errorf("certificates after two resets: %d, newest %+v", len(certs), certs[0])
	}

	// set-access-control is stored and shown as an object.
	e.must(200, "PUT", path, e.Token, map[string]any{"operation": "set-access-control", "access_control": map[string]any{"kafka_acl": []string{"t1"}}})
	r = e.must(200, "GET", path, e.Token, nil)
	if !strings.Contains(string(r.Body), `"access_control":{"kafka_acl":["t1"]}`) {
		t.Errorf("access control not stored: %.400s", r.Body)
	}
}

// TestPendingRenewal opens a renewal by hand (the renewal engine is its own
// package) and checks what the API shows before and after acknowledgement.
func TestPendingRenewal(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	path := "/v1/project/p1/service/kafka-1/user/app1"
	uid := userID(t, e, "kafka-1", "app1")
	old, _ := e.Store.ListCertificates(ctx, uid)
	e.must(200, "PUT", path+"/credentials/reset", e.Token, nil)
	cur, _ := e.Store.ListCertificates(ctx, uid)
	r := &kcred.Renewal{ID: kcred.NewID(), UserID: uid, OldCertID: old[0].ID, NewCertID: cur[0].ID, OldNotAfter: old[0].NotAfter, CreateTime: e.Clock.Now()}
	if err := e.Store.CreateRenewal(ctx, r); err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(3 * time.Second) // past the Manager's cache of credentials
	var body struct {
		User struct {
			Expiring *string `json:"expiring_cert_not_valid_after_time"`
		}
	}
	e.must(200, "GET", path, e.Token, nil).Decode(t, &body)
	if body.User.Expiring == nil || *body.User.Expiring != old[0].NotAfter.Format(time.RFC3339) {
		t.Fatalf("expiring = %v, want %v", body.User.Expiring, old[0].NotAfter)
	}
	e.must(200, "PUT", path, e.Token, map[string]any{"operation": "acknowledge-renewal"})
	body.User.Expiring = nil
	e.must(200, "GET", path, e.Token, nil).Decode(t, &body)
	if body.User.Expiring != nil {
		t.Errorf("expiring still set after acknowledgement: %s", *body.User.Expiring)
	}
	got, err := e.Store.FindOpenRenewal(ctx, uid)
	if err != nil || got.AcknowledgedBy != "admin@kcred.local" || got.AcknowledgedAt.IsZero() {
		t.Errorf("renewal after ack = %+v, %v", got, err)
	}
	// A second acknowledgement is a no-op success that changes nothing.
	e.must(200, "PUT", path, e.Token, map[string]any{"operation": "acknowledge-renewal"})
	again, _ := e.Store.FindOpenRenewal(ctx, uid)
	if !again.AcknowledgedAt.Equal(got.AcknowledgedAt) {
		t.Errorf("second ack moved the time: %v -> %v", got.AcknowledgedAt, again.AcknowledgedAt)
	}
}

func userID(t *testing.T, e *env, service, username string) string {
	t.Helper()
	svc, err := e.Store.FindService(context.Background(), "p1", service)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.Store.FindServiceUser(context.Background(), svc.ID, username)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestProjectAndPolicy(t *testing.T) {
	e := newEnv(t)
	r := e.must(200, "POST", "/v1/project", e.Token, map[string]any{
		"project":     "short",
		"cert_policy": map[string]any{"key_type": "rsa-2048", "validity": "40s", "renew_before": "30s", "reminders": []string{"20s", "12s"}},
	})
	var p struct {
		Project struct {
			CACert     string `json:"ca_cert"`
			CertPolicy struct {
				KeyType     string   `json:"key_type"`
				Validity    string   `json:"validity"`
				RenewBefore string   `json:"renew_before"`
				Reminders   []string `json:"reminders"`
			} `json:"cert_policy"`
		}
	}
	r.Decode(t, &p)
	pol := p.Project.CertPolicy
	if pol.KeyType != "rsa-2048" || pol.Validity != "40s" || strings.Join(pol.Reminders, ",") != "20s,12s" {
		t.Errorf("policy = %+v", pol)
	}
	if !strings.Contains(p.Project.CACert, "BEGIN CERTIFICATE") {
		t.Error("no ca_cert")
	}
	svc := e.must(200, "POST", "/v1/project/short/service", e.Token, map[string]any{"service_name": "k", "service_type": "kafka"})
	var s struct {
		Service struct {
			Users []struct {
				AccessCert string `json:"access_cert"`
			}
			Components []any
		}
	}
	svc.Decode(t, &s)
	if len(s.Service.Components) != 0 {
		t.Errorf("components without a service_uri: %v", s.Service.Components)
	}
	leaf := verifyLeaf(t, p.Project.CACert, s.Service.Users[0].AccessCert)
	if leaf.PublicKeyAlgorithm != x509.RSA || leaf.NotAfter.Sub(e.Clock.Now()) != 40*time.Second {
		t.Errorf("leaf: %v, valid for %v", leaf.PublicKeyAlgorithm, leaf.NotAfter.Sub(e.Clock.Now()))
	}
	// PUT changes contacts and policy; renew_before >= validity is refused.
	e.must(200, "PUT", "/v1/project/short", e.Token, map[string]any{"tech_emails": []map[string]string{{"email": "Team@Example.com"}}})
	r = e.must(200, "GET", "/v1/project/short", e.Token, nil)
	if !strings.Contains(string(r.Body), `"team@example.com"`) {
		t.Errorf("tech emails not updated: %s", r.Body)
	}
	e.must(400, "PUT", "/v1/project/short", e.Token, map[string]any{"cert_policy": map[string]any{"renew_before": "50s"}})
	e.must(200, "DELETE", "/v1/project/short", e.Token, nil)
	e.must(404, "GET", "/v1/project/short", e.Token, nil)
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 10; i++ {
		e.must(401, "POST", "/v1/userauth", "", map[string]any{"email": "admin@kcred.local", "password": "wrong"})
	}
	r := e.do("POST", "/v1/userauth", "", map[string]any{"email": "admin@kcred.local", "password": "admin-password"})
	if r.Status != 429 {
		t.Fatalf("after 10 failures: %d %s", r.Status, r.Body)
	}
	e.Clock.Add(6 * time.Minute)
	r = e.must(200, "POST", "/v1/userauth", "", map[string]any{"email": "admin@kcred.local", "password": "admin-password"})
	tok := r.JSON(t)["token"].(string)
	e.must(200, "GET", "/v1/me", tok, nil)
	e.must(200, "POST", "/v1/me/logout", tok, nil)
	e.must(401, "GET", "/v1/me", tok, nil)
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	if r := e.must(200, "GET", "/healthz", "", nil); r.JSON(t)["status"] != "ok" {
		t.Errorf("healthz: %s", r.Body)
	}
	if r := e.must(200, "GET", "/readyz", "", nil); r.JSON(t)["status"] != "ready" {
		t.Errorf("readyz: %s", r.Body)
	}
	e.Store.Close()
	e.must(503, "GET", "/readyz", "", nil)
}
