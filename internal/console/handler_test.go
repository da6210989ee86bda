package console_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/console"
)

const svcPath = "/projects/demo/services/kafka1"

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()

	// Pages need a session, and come back after login.
	r := c.get("/projects/demo")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Fprojects%2Fdemo" {
		t.Fatalf("without a session: %d %s", r.Status, r.Header.Get("Location"))
	}

	lp := c.get("/login?next=/projects/demo")
	token := csrfOf(t, lp)
	if !strings.Contains(lp.Body, `<label for="email">Email</label>`) || !strings.Contains(lp.Body, `<label for="password">Password</label>`) {
		t.Error("login form without labels")
	}

	bad := c.post("/login", url.Values{"csrf": {token}, "email": {e.Admin.Email}, "password": {"wrong-password"}})
	if bad.Status != http.StatusUnauthorized || !strings.Contains(bad.Body, "Invalid email or password.") {
		t.Errorf("wrong password: %d %.300s", bad.Status, bad.Body)
	}
	if strings.Contains(bad.Body, "wrong-password") {
		t.Error("the login page repeats the password")
	}

	// A login form from elsewhere (no pre-session cookie token) is refused.
	other := e.newClient()
	r = other.post("/login", url.Values{"csrf": {token}, "email": {e.Admin.Email}, "password": {password(e.Admin)}})
	if r.Status != http.StatusForbidden {
		t.Errorf("login without the form's cookie: %d", r.Status)
	}

	lp = c.get("/login")
	r = c.post("/login", url.Values{"csrf": {csrfOf(t, lp)}, "email": {e.Admin.Email}, "password": {password(e.Admin)}, "next": {"/projects/demo"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/projects/demo" {
		t.Fatalf("login: %d %s", r.Status, r.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == "kcred_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure {
		t.Errorf("session cookie over plain HTTP: %+v", session)
	}
	if session.MaxAge != 12*3600 {
		t.Errorf("session lasts %d s, want 12 h", session.MaxAge)
	}
	if p := c.get("/projects/demo"); p.Status != 200 {
		t.Errorf("project after login: %d", p.Status)
	}
	// The login page sends a logged-in browser on.
	lp = c.get("/login")
	if lp.Status != http.StatusSeeOther {
		t.Errorf("login page when logged in: %d", lp.Status)
	}
}

func TestLoginWithToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	lp := c.get("/login")
	r := c.post("/login/token", url.Values{"csrf": {csrfOf(t, lp)}, "token": {"kcred_not_a_token"}})
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "Invalid or expired token.") {
		t.Errorf("bad token: %d", r.Status)
	}
	lp = c.get("/login")
	r = c.post("/login/token", url.Values{"csrf": {csrfOf(t, lp)}, "token": {superToken}, "next": {"//evil.example/"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/projects" {
		t.Fatalf("token login: %d %s", r.Status, r.Header.Get("Location"))
	}
	p := c.get("/projects")
	if p.Status != 200 || !strings.Contains(p.Body, "admin@kcred.local") {
		t.Fatalf("projects as the superuser: %d", p.Status)
	}
	// The cookie holds a session of its own: logging out leaves the
	// pasted token working.
	if strings.Contains(p.Header.Get("Set-Cookie"), superToken) {
		t.Error("the pasted token became the cookie")
	}
	r = c.post("/logout", url.Values{"csrf": {csrfOf(t, p)}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %s", r.Status, r.Header.Get("Location"))
	}
	if c.get("/projects").Status != http.StatusSeeOther {
		t.Error("still logged in after logout")
	}
	req, _ := http.NewRequest("GET", e.URL+"/v1/project", nil)
	req.Header.Set("Authorization", "aivenv1 "+superToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("the pasted token after logout: %d, want 200", res.StatusCode)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pendingRenewal("app1")
	c := e.newClient()
	token := c.login(e.Admin)
	ack := svcPath + "/users/app1/acknowledge"
	for name, form := range map[string]url.Values{
		"no token":    {"return": {svcPath + "/users"}},
		"wrong token": {"csrf": {strings.Repeat("ab", 32)}},
		"other user":  {"csrf": {csrfOf(t, loginAs(e, e.Developer))}},
	} {
		if r := c.post(ack, form); r.Status != http.StatusForbidden || !strings.Contains(r.Body, "security token") {
			t.Errorf("%s: %d", name, r.Status)
		}
	}
	// Browsers say where a request comes from; cross-site posts are
	// refused even with the right token.
	r := c.do("POST", ack, url.Values{"csrf": {token}}, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if r.Status != http.StatusForbidden {
		t.Errorf("cross-site post: %d", r.Status)
	}
	if !e.creds("app1").Pending() {
		t.Fatal("a refused post acknowledged")
	}
	r = c.post(ack, url.Values{"csrf": {token}, "return": {svcPath + "/users"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != svcPath+"/users" {
		t.Fatalf("acknowledge: %d %s", r.Status, r.Header.Get("Location"))
	}
	if e.creds("app1").Pending() {
		t.Error("not acknowledged")
	}
	// "return" only goes back to pages of the service.
	r = c.post(ack, url.Values{"csrf": {token}, "return": {"https://evil.example/"}})
	if r.Header.Get("Location") != svcPath+"/users" {
		t.Errorf("return to elsewhere: %s", r.Header.Get("Location"))
	}
}

// loginAs returns a page of a fresh session of a.
func loginAs(e *env, a *kcred.Account) response {
	c := e.newClient()
	c.login(a)
	return c.get("/projects")
}

func TestErrorPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.newClient()
	out.login(e.Outsider)
	// Non-members get 404 for everything of a project, as if it did not exist.
	for _, p := range []string{"/projects/demo", "/projects/demo/ca.pem", "/projects/demo/events", svcPath, svcPath + "/users", svcPath + "/users/app1", "/projects/nope"} {
		r := out.get(p)
		if r.Status != http.StatusNotFound || !strings.Contains(r.Body, "Page not found") {
			t.Errorf("outsider GET %s: %d", p, r.Status)
		}
	}
	r := out.post(svcPath+"/users/app1/reveal", url.Values{"csrf": {out.csrf}, "what": {"key"}})
	if r.Status != http.StatusNotFound {
		t.Errorf("outsider reveal: %d", r.Status)
	}

	dev := e.newClient()
	dev.login(e.Developer)
	for _, confirm := range []string{"", "yes"} {
		r = dev.post(svcPath+"/users/app1/reset", url.Values{"csrf": {dev.csrf}, "confirm": {confirm}})
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "does not allow this; it needs operator") {
			t.Errorf("developer reset (confirm=%q): %d %.300s", confirm, r.Status, r.Body)
		}
	}
	if r := dev.get("/nowhere"); r.Status != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.Status)
	}
	if r := dev.do("DELETE", "/projects", nil, nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /projects: %d", r.Status)
	}
	if r := dev.get(svcPath + "/users/app1/reset"); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET on a POST route: %d", r.Status)
	}

	// Mistakes in a form go back to the form's page with the message.
	r = dev.post("/projects", url.Values{"csrf": {dev.csrf}, "name": {"Bad Name"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/projects" {
		t.Fatalf("bad project name: %d %s", r.Status, r.Header.Get("Location"))
	}
	if p := dev.get("/projects"); !strings.Contains(p.Body, "Invalid project name") || !strings.Contains(p.Body, `class="flash flash-error"`) {
		t.Errorf("no error message after a bad project name")
	}

	// Security headers on every page.
	p := dev.get("/projects")
	for h, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
	} {
		if !strings.Contains(p.Header.Get(h), want) {
			t.Errorf("%s: %q", h, p.Header.Get(h))
		}
	}
}

func TestAPIBesideConsole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/v1/project": 401} {
		if r := c.get(path); r.Status != want || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %d %s", path, r.Status, r.Header.Get("Content-Type"))
		}
	}
	css := c.get("/static/kcred.css")
	if css.Status != 200 || css.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("stylesheet: %d %s", css.Status, css.Header.Get("Content-Type"))
	}
	if r := c.get("/static/nope.js"); r.Status != 404 {
		t.Errorf("missing static file: %d", r.Status)
	}
}

func TestReveal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	want := e.creds("app1")
	dev := e.newClient()
	dev.login(e.Developer)
	reveal := func(c *client, what string) (int, map[string]string) {
		r := c.do("POST", svcPath+"/users/app1/reveal", url.Values{"csrf": {c.csrf}, "what": {what}}, http.Header{"Accept": {"application/json"}})
		var body map[string]string
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatalf("reveal answered %d %q", r.Status, r.Body)
		}
		return r.Status, body
	}
	if st, body := reveal(dev, "password"); st != 200 || body["value"] != want.Password {
		t.Errorf("password: %d %v", st, body)
	}
	if st, body := reveal(dev, "key"); st != 200 || body["value"] != want.KeyPEM {
		t.Errorf("key: %d", st)
	}
	if st, _ := reveal(dev, "everything"); st != 400 {
		t.Errorf("unknown secret: %d", st)
	}
	ro := e.newClient()
	ro.login(e.ReadOnly)
	if st, body := reveal(ro, "key"); st != 403 || body["value"] != "" {
		t.Errorf("read_only reveal: %d %v", st, body)
	}
	for _, path := range []string{"/users/app1/credentials.zip", "/users/app1/java.zip"} {
		r := ro.post(svcPath+path, url.Values{"csrf": {ro.csrf}, "password": {"changeit"}})
		if r.Status != 403 || strings.Contains(r.Body, "PRIVATE KEY") {
			t.Errorf("read_only %s: %d", path, r.Status)
		}
	}
	evs, err := e.M.ListEvents(context.Background(), e.super(), project, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == kcred.ActionCredentialsRead && ev.Actor == e.Developer.Email {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d reads by the developer recorded, want 2", n)
	}
}

func TestDownloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	want := e.creds("app1")
	dev := e.newClient()
	dev.login(e.Developer)

	r := dev.post(svcPath+"/users/app1/credentials.zip", url.Values{"csrf": {dev.csrf}})
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/zip" || r.Header.Get("Content-Disposition") != `attachment; filename=kafka1-app1-credentials.zip` {
		t.Fatalf("credentials zip: %d %v", r.Status, r.Header)
	}
	zr, err := zip.NewReader(strings.NewReader(r.Body), int64(len(r.Body)))
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]uint32{}
	for _, f := range zr.File {
		modes[f.Name] = uint32(f.Mode().Perm())
	}
	if len(zr.File) != 3 || modes["service.key"] != 0o600 || modes["service.cert"] != 0o644 || modes["ca.pem"] != 0o644 {
		t.Errorf("zip files and modes: %v", modes)
	}

	// The Java stores: too short a password goes back with a message.
	r = dev.post(svcPath+"/java.zip", url.Values{"csrf": {dev.csrf}, "username": {"app1"}, "password": {"short"}, "return": {svcPath + "/users"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != svcPath+"/users" {
		t.Fatalf("short store password: %d %s", r.Status, r.Header.Get("Location"))
	}
	if p := dev.get(svcPath + "/users"); !strings.Contains(p.Body, "at least 6 characters") {
		t.Error("no message about the short store password")
	}
	r = dev.post(svcPath+"/java.zip", url.Values{"csrf": {dev.csrf}, "username": {"app1"}, "password": {"p=ss word!"}})
	if r.Status != 200 {
		t.Fatalf("Java zip: %d %.300s", r.Status, r.Body)
	}
	zr, err = zip.NewReader(strings.NewReader(r.Body), int64(len(r.Body)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = b
	}
	key, leaf, chain, err := pkcs12.DecodeChain(files["client.keystore.p12"], "p=ss word!")
	if err != nil {
		t.Fatalf("keystore: %v", err)
	}
	if leaf.SerialNumber.Text(16) != want.Current.Serial || len(chain) != 1 || key == nil {
		t.Errorf("keystore holds serial %s with %d CAs", leaf.SerialNumber.Text(16), len(chain))
	}
	if !bytes.HasPrefix(files["client.truststore.jks"], []byte{0xfe, 0xed, 0xfe, 0xed}) {
		t.Error("truststore is not JKS")
	}
	props := string(files["client.properties"])
	for _, line := range []string{"bootstrap.servers=kafka.example.com:9093", "security.protocol=SSL", `ssl.keystore.password=p\=ss word\!`, "ssl.truststore.type=JKS"} {
		if !strings.Contains(props, line+"\n") {
			t.Errorf("client.properties lacks %q:\n%s", line, props)
		}
	}
}

// TestConfirmWithoutScript: without the page's script, a destructive post
// first shows a confirmation page, whose form then does it.
func TestConfirmWithoutScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.creds("app2").Current.Serial
	op := e.newClient()
	op.login(e.Operator)
	r := op.post(svcPath+"/users/app2/reset", url.Values{"csrf": {op.csrf}, "return": {svcPath + "/users/app2"}})
	if r.Status != 200 || !strings.Contains(r.Body, "Reset the credentials of app2?") || !strings.Contains(r.Body, `name="confirm" value="yes"`) {
		t.Fatalf("confirmation page: %d", r.Status)
	}
	if e.creds("app2").Current.Serial != before {
		t.Fatal("reset before confirming")
	}
	r = op.post(svcPath+"/users/app2/reset", url.Values{"csrf": {op.csrf}, "confirm": {"yes"}, "return": {svcPath + "/users/app2"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != svcPath+"/users/app2" {
		t.Fatalf("reset: %d %s", r.Status, r.Header.Get("Location"))
	}
	if e.creds("app2").Current.Serial == before {
		t.Error("serial unchanged after reset")
	}

	// Deleting: the primary user cannot go; another user can.
	r = op.post(svcPath+"/users/avnadmin/delete", url.Values{"csrf": {op.csrf}, "confirm": {"yes"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("delete avnadmin: %d", r.Status)
	}
	if p := op.get(svcPath + "/users"); !strings.Contains(p.Body, "deleted only with its service") {
		t.Error("no message when deleting the primary user")
	}
	r = op.post(svcPath+"/users/app2/delete", url.Values{"csrf": {op.csrf}, "confirm": {"yes"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != svcPath+"/users" {
		t.Fatalf("delete app2: %d %s", r.Status, r.Header.Get("Location"))
	}
	if p := op.get(svcPath + "/users/app2"); p.Status != 404 {
		t.Errorf("deleted user's page: %d", p.Status)
	}
	// Creating a user.
	r = op.post(svcPath+"/users", url.Values{"csrf": {op.csrf}, "username": {"app3"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create user: %d", r.Status)
	}
	if p := op.get(svcPath + "/users"); !strings.Contains(p.Body, `id="user-app3"`) || !strings.Contains(p.Body, "Service user app3 created") {
		t.Error("new user not listed")
	}
	r = op.post(svcPath+"/users", url.Values{"csrf": {op.csrf}, "username": {"../etc"}})
	if p := op.get(svcPath + "/users"); r.Status != http.StatusSeeOther || !strings.Contains(p.Body, "Invalid username") {
		t.Error("no message for a bad username")
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.newClient()
	admin.login(e.Admin)
	base := "/projects/demo"
	post := func(path string, form url.Values) response {
		form.Set("csrf", admin.csrf)
		r := admin.post(base+path, form)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("POST %s: %d %.300s", path, r.Status, r.Body)
		}
		return admin.get(base)
	}
	p := post("/members", url.Values{"email": {e.Outsider.Email}, "role": {"developer"}})
	if !strings.Contains(p.Body, "mallory@example.com is now a member with the role Developer.") {
		t.Error("no message after adding a member")
	}
	p = post("/members/role", url.Values{"email": {e.Outsider.Email}, "role": {"read_only"}})
	if !strings.Contains(p.Body, "The role of mallory@example.com is now Read only.") {
		t.Error("no message after changing a role")
	}
	p = post("/members/remove", url.Values{"email": {e.Outsider.Email}, "confirm": {"yes"}})
	if strings.Contains(p.Body, "<th scope=\"row\" data-label=\"Email\">mallory@example.com") {
		t.Error("removed member still listed")
	}
	p = post("/members/remove", url.Values{"email": {e.Admin.Email}, "confirm": {"yes"}})
	if !strings.Contains(p.Body, "A project needs at least one admin.") {
		t.Error("no message when removing the last admin")
	}
	p = post("/contacts", url.Values{"tech_emails": {"ops@example.com, kafka@example.com"}})
	if !strings.Contains(p.Body, "<li>ops@example.com</li><li>kafka@example.com</li>") {
		t.Error("contacts not saved")
	}

	// Only admins see member management.
	op := e.newClient()
	op.login(e.Operator)
	p = op.get(base)
	if strings.Contains(p.Body, `action="/projects/demo/members"`) || strings.Contains(p.Body, "Edit contacts") {
		t.Error("an operator sees member management")
	}
	if !strings.Contains(p.Body, "New service") {
		t.Error("an operator does not see the new service form")
	}
	r := op.post(base+"/members", url.Values{"csrf": {op.csrf}, "email": {e.Outsider.Email}, "role": {"admin"}})
	if r.Status != http.StatusForbidden {
		t.Errorf("operator adds a member: %d", r.Status)
	}
	ro := e.newClient()
	ro.login(e.ReadOnly)
	if p := ro.get(base); strings.Contains(p.Body, "New service") {
		t.Error("read_only sees the new service form")
	}
}

func TestCreateProjectAndService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.login(e.Outsider)
	r := c.post("/projects", url.Values{"csrf": {c.csrf}, "name": {"payments"}, "tech_emails": {"pay@example.com"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/projects/payments" {
		t.Fatalf("create project: %d %s", r.Status, r.Header.Get("Location"))
	}
	r = c.post("/projects/payments/services", url.Values{"csrf": {c.csrf}, "name": {"events"}, "service_uri": {"kafka.pay:9093"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/projects/payments/services/events" {
		t.Fatalf("create service: %d %s", r.Status, r.Header.Get("Location"))
	}
	p := c.get("/projects/payments/services/events/users")
	if !strings.Contains(p.Body, `id="user-avnadmin"`) {
		t.Error("new service has no avnadmin")
	}
	ca := c.get("/projects/payments/ca.pem")
	if ca.Status != 200 || !strings.HasPrefix(ca.Body, "-----BEGIN CERTIFICATE-----") || ca.Header.Get("Content-Disposition") != "attachment; filename=ca.pem" {
		t.Errorf("ca.pem: %d %v", ca.Status, ca.Header)
	}
	r = c.post("/projects/payments/services/events/delete", url.Values{"csrf": {c.csrf}, "confirm": {"yes"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/projects/payments" {
		t.Fatalf("delete service: %d %s", r.Status, r.Header.Get("Location"))
	}
	if p := c.get("/projects/payments/services/events"); p.Status != 404 {
		t.Errorf("deleted service: %d", p.Status)
	}
}

// TestSessionExpiry: a session ends after 12 hours; the next page asks to
// log in again and comes back.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.login(e.Developer)
	e.Clock.Add(11 * time.Hour)
	if r := c.get("/projects/demo"); r.Status != 200 {
		t.Fatalf("after 11 h: %d", r.Status)
	}
	e.Clock.Add(time.Hour)
	r := c.get("/projects/demo")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Fprojects%2Fdemo" {
		t.Fatalf("after 12 h: %d %s", r.Status, r.Header.Get("Location"))
	}
	if lp := c.get("/login?next=%2Fprojects%2Fdemo"); !strings.Contains(lp.Body, "Your session has ended. Log in again.") {
		t.Error("no message about the ended session")
	}
	// A reveal after expiry answers in JSON for the page's script.
	r = c.do("POST", svcPath+"/users/app1/reveal", url.Values{"csrf": {c.csrf}, "what": {"key"}}, http.Header{"Accept": {"application/json"}})
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("reveal after expiry: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
}

// TestInternalErrorPage: a failure inside a handler is a plain 500 page,
// never a stack trace.
func TestInternalErrorPage(t *testing.T) {
	t.Parallel()
	h := console.New(nil, console.Options{}) // no Manager: every session check panics
	req := httptest.NewRequest("GET", "/projects", nil)
	req.AddCookie(&http.Cookie{Name: "kcred_session", Value: "kcred_anything"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != 500 || !strings.Contains(body, "Something went wrong") {
		t.Fatalf("%d %.300s", rec.Code, body)
	}
	for _, leak := range []string{"goroutine", "panic", "nil pointer", ".go:"} {
		if strings.Contains(body, leak) {
			t.Errorf("the 500 page shows %q", leak)
		}
	}
}
