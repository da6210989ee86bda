package main

// End-to-end tests of the client commands: the real kcred binary (built
// once, see e2eBinary) runs as a subprocess against a real API server on
// loopback over SQLite. Most tests run the server in this process, so they
// can move its clock and open a renewal by hand; TestCLIAgainstServerBinary
// runs `kcred server` itself.

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/httpapi"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/pki"
	"github.com/kcred/kcred/internal/sqlite"
)

var updateGolden = flag.Bool("update", false, "rewrite cmd/kcred/testdata/help/*.golden from the kcred binary")

// cliToken is the superuser's token of the test servers.
const cliToken = "kcred_cli_test_superuser_token_0123456789abcdef"

// cliClock is the in-process server's clock, moved by hand.
type cliClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *cliClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *cliClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// cliServer is the kcred API in this process on a loopback port, over
// SQLite in a temporary directory.
type cliServer struct {
	URL   string
	Store kcred.Store
	Clock *cliClock
}

func cliNewServer(t *testing.T) *cliServer {
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
	clk := &cliClock{t: time.Now().UTC()}
	m := lifecycle.New(lifecycle.Config{Store: store, Sealer: sealer, Now: clk.Now})
	if _, _, err := m.Bootstrap(ctx, "admin@kcred.local", "admin-password", cliToken); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewServer(m, nil))
	t.Cleanup(func() {
		srv.Close()
		m.Close()
		store.Close()
	})
	return &cliServer{URL: srv.URL, Store: store, Clock: clk}
}

// cliResult is how a run of kcred ended.
type cliResult struct {
	Code           int
	Stdout, Stderr string
}

// cliEnv runs the kcred binary with an environment of its own: no KCRED_
// or AIVEN_ variable of the developer, HOME and the config directory in a
// temporary directory, which is also the working directory.
type cliEnv struct {
	t    *testing.T
	Dir  string
	vars []string
}

func newCLIEnv(t *testing.T, vars ...string) *cliEnv {
	t.Helper()
	e2eBinary(t)
	dir := t.TempDir()
	base := e2eEnviron("HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "xdg"), "KCRED_CONFIG="+filepath.Join(dir, "config.json"))
	return &cliEnv{t: t, Dir: dir, vars: append(base, vars...)}
}

// with returns a copy of e with more variables; a later one wins.
func (e *cliEnv) with(vars ...string) *cliEnv {
	c := *e
	c.vars = append(slices.Clone(e.vars), vars...)
	return &c
}

// without returns a copy of e without the variable name.
func (e *cliEnv) without(name string) *cliEnv {
	c := *e
	c.vars = slices.DeleteFunc(slices.Clone(e.vars), func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
	return &c
}

// runIn runs kcred args with stdin in the environment's directory.
func (e *cliEnv) runIn(stdin string, args ...string) cliResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2eBinary(e.t), args...)
	cmd.Env = e.vars
	cmd.Dir = e.Dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		e.t.Fatalf("kcred %q did not exit within 60 s; stderr:\n%s", args, stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatal(err)
	}
	r := cliResult{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
	for _, bad := range []string{"goroutine ", "panic:", cliToken} {
		if strings.Contains(r.Stderr, bad) || (bad != cliToken && strings.Contains(r.Stdout, bad)) {
			e.t.Errorf("kcred %q printed %q:\nstdout:\n%s\nstderr:\n%s", args, bad, r.Stdout, r.Stderr)
		}
	}
	return r
}

func (e *cliEnv) run(args ...string) cliResult { e.t.Helper(); return e.runIn("", args...) }

// ok runs kcred and requires exit code 0.
func (e *cliEnv) ok(args ...string) cliResult {
	e.t.Helper()
	r := e.run(args...)
	if r.Code != 0 {
		e.t.Fatalf("kcred %q: exit code %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// fail runs kcred and requires exit code code and an error of one line
// on stderr that starts with "kcred: " and contains want.
func (e *cliEnv) fail(code int, want string, args ...string) cliResult {
	e.t.Helper()
	return e.failIn(code, want, "", args...)
}

func (e *cliEnv) failIn(code int, want, stdin string, args ...string) cliResult {
	e.t.Helper()
	r := e.runIn(stdin, args...)
	if r.Code != code {
		e.t.Errorf("kcred %q: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, code, r.Stdout, r.Stderr)
	}
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "kcred: ") || !strings.Contains(last, want) {
		e.t.Errorf("kcred %q: stderr does not end in one line \"kcred: ...%s...\":\n%s", args, want, r.Stderr)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "kcred: warning: ") && !strings.HasSuffix(l, "to confirm: ") {
			e.t.Errorf("kcred %q: more than one line on stderr:\n%s", args, r.Stderr)
		}
	}
	return r
}

// cliJSON decodes JSON output into v.
func cliJSON(t *testing.T, r cliResult, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.Stdout)
	}
}

// cliMode requires that path has permission bits mode.
func cliMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), mode)
	}
}

// cliTool returns the path of a program the test checks output with; it
// skips the test without it, except under CI.
func cliTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not found (%v); install it to check the files with a real tool", name, err)
	}
	return p
}

func cliExec(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCLIWorkflow runs every client command as a user would, from login to
// deleting the service.
func TestCLIWorkflow(t *testing.T) {
	srv := cliNewServer(t)
	e := newCLIEnv(t)

	// Log in with a token from standard input; the config file is 0600.
	r := e.runIn(cliToken+"\n", "login", "--url", srv.URL, "--token", "-", "--project", "demo")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Logged in to "+srv.URL+" as admin@kcred.local") {
		t.Fatalf("login: %+v", r)
	}
	cfg := filepath.Join(e.Dir, "config.json")
	cliMode(t, cfg, 0o600)
	var saved map[string]string
	json.Unmarshal([]byte(readFile(t, cfg)), &saved)
	if saved["url"] != srv.URL || saved["token"] != cliToken || saved["project"] != "demo" {
		t.Errorf("config file = %v", saved)
	}

	// Projects. --project demo comes from the config file from here on.
	r = e.ok("project", "create", "demo", "--tech-email", "team@example.com", "--key-type", "rsa-2048", "--validity", "400d")
	if !regexp.MustCompile(`(?m)^demo\s+rsa-2048\s+400d\s+90d\s+60d,30d,14d,7d,3d,1d\s+team@example.com\s+\d{4}-`).MatchString(r.Stdout) {
		t.Errorf("project create output:\n%s", r.Stdout)
	}
	if !strings.HasPrefix(r.Stdout, "PROJECT  KEY TYPE  VALIDITY") {
		t.Errorf("project create header:\n%s", r.Stdout)
	}
	e.ok("project", "create", "other")
	r = e.ok("project", "list")
	if !strings.Contains(r.Stdout, "\ndemo ") || !strings.Contains(r.Stdout, "\nother ") {
		t.Errorf("project list:\n%s", r.Stdout)
	}
	var projects []httpapi.Project
	cliJSON(t, e.ok("project", "list", "--json"), &projects)
	if len(projects) != 2 {
		t.Errorf("project list --json: %+v", projects)
	}
	var project httpapi.Project
	cliJSON(t, e.ok("project", "get", "--json"), &project)
	if project.ProjectName != "demo" || project.CertPolicy.KeyType != "rsa-2048" || !strings.Contains(project.CACert, "BEGIN CERTIFICATE") {
		t.Errorf("project get --json: %+v", project)
	}
	if r := e.ok("project", "details", "other"); !strings.Contains(r.Stdout, "\nother ") {
		t.Errorf("project details other:\n%s", r.Stdout)
	}
	if r := e.ok("project", "ca-get"); r.Stdout != project.CACert && r.Stdout != project.CACert+"\n" {
		t.Errorf("project ca-get printed %q, want the CA %q", r.Stdout, project.CACert)
	}
	r = e.ok("project", "ca-get", "--target-filepath", "project-ca.pem")
	caFile := filepath.Join(e.Dir, "project-ca.pem")
	if !strings.Contains(r.Stdout, caFile) || strings.TrimSpace(readFile(t, caFile)) != strings.TrimSpace(project.CACert) {
		t.Errorf("project ca-get --target-filepath: %s", r.Stdout)
	}
	cliMode(t, caFile, 0o644)

	// Services.
	r = e.ok("service", "create", "kafka1", "--service-uri", "kafka.example.com:9093")
	if !regexp.MustCompile(`(?m)^kafka1\s+kafka\s+RUNNING\s+kafka.example.com:9093\s+1\s`).MatchString(r.Stdout) {
		t.Errorf("service create:\n%s", r.Stdout)
	}
	var svc httpapi.Service
	cliJSON(t, e.ok("service", "create", "kafka2", "--json", "-t", "kafka"), &svc)
	if svc.ServiceName != "kafka2" || svc.FindUser("avnadmin") == nil {
		t.Errorf("service create --json: %+v", svc)
	}
	if r := e.ok("service", "list"); !strings.Contains(r.Stdout, "\nkafka1 ") || !strings.Contains(r.Stdout, "\nkafka2 ") {
		t.Errorf("service list:\n%s", r.Stdout)
	}
	var services []httpapi.Service
	cliJSON(t, e.ok("service", "list", "--json"), &services)
	if len(services) != 2 {
		t.Errorf("service list --json: %d services", len(services))
	}

	// Service users.
	r = e.ok("service", "user-create", "--username", "app1", "kafka1")
	if !regexp.MustCompile(`^USERNAME\s+TYPE\s+CERT NOT AFTER\s+STATE\napp1\s+normal\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+Valid\n$`).MatchString(r.Stdout) {
		t.Errorf("user-create:\n%s", r.Stdout)
	}
	var created httpapi.User
	cliJSON(t, e.ok("service", "user-create", "--username", "app2", "--json", "kafka1"), &created)
	if created.Username != "app2" || created.AccessKey == nil || created.Password == nil {
		t.Errorf("user-create --json: %+v", created)
	}
	r = e.ok("service", "user-list", "kafka1")
	for _, u := range []string{"app1", "app2", "avnadmin"} {
		if !regexp.MustCompile(`(?m)^` + u + `\s+(normal|primary)\s+\S+Z\s+Valid$`).MatchString(r.Stdout) {
			t.Errorf("user-list lacks %s:\n%s", u, r.Stdout)
		}
	}
	var users []httpapi.User
	cliJSON(t, e.ok("service", "user-list", "--json", "kafka1"), &users)
	if len(users) != 3 || users[0].AccessKey != nil {
		t.Errorf("user-list --json: %+v (want 3 users without keys)", users)
	}
	if r := e.ok("service", "get", "kafka1"); !strings.Contains(r.Stdout, "kafka.example.com:9093") || !strings.Contains(r.Stdout, "\napp2 ") {
		t.Errorf("service get:\n%s", r.Stdout)
	}
	var got1 httpapi.Service
	cliJSON(t, e.ok("service", "get", "--json", "kafka1"), &got1)
	if len(got1.Users) != 3 || got1.FindUser("app1").AccessKey != nil || got1.FindUser("app1").Password != nil {
		t.Errorf("service get --json: %+v", got1)
	}
	var got httpapi.User
	cliJSON(t, e.ok("service", "user-get", "--username", "app1", "--json", "kafka1"), &got)
	if got.Username != "app1" || got.AccessCert == "" || got.AccessKey != nil || got.Password != nil {
		t.Errorf("user-get --json: %+v", got)
	}
	got = httpapi.User{}
	cliJSON(t, e.ok("service", "user-get", "--username", "app1", "--json", "--include-secrets", "kafka1"), &got)
	if got.AccessKey == nil || got.Password == nil {
		t.Errorf("user-get --json --include-secrets: %+v", got)
	}
	if r := e.ok("service", "user-get", "--username", "app1", "--include-secrets", "kafka1"); !strings.Contains(r.Stdout, *got.Password) {
		t.Errorf("user-get --include-secrets does not show the password:\n%s", r.Stdout)
	}

	// Credentials as files, into a directory that does not exist yet.
	r = e.ok("service", "user-creds-download", "--username", "app1", "-d", "creds/app1", "kafka1")
	dir := filepath.Join(e.Dir, "creds", "app1")
	if !strings.Contains(r.Stdout, dir) || !strings.Contains(r.Stdout, "service.key") {
		t.Errorf("user-creds-download does not say where it wrote:\n%s", r.Stdout)
	}
	cliMode(t, dir, 0o700)
	cliMode(t, filepath.Join(dir, "ca.pem"), 0o644)
	cliMode(t, filepath.Join(dir, "service.cert"), 0o644)
	cliMode(t, filepath.Join(dir, "service.key"), 0o600)
	ca, cert, key := readFile(t, filepath.Join(dir, "ca.pem")), readFile(t, filepath.Join(dir, "service.cert")), readFile(t, filepath.Join(dir, "service.key"))
	leaf := e2eVerify(t, ca, cert, key, "app1")
	if strings.TrimSpace(key) != strings.TrimSpace(*got.AccessKey) {
		t.Error("service.key is not the user's key")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("the directory holds %d entries, want 3 (no temporary files left)", len(entries))
	}
	// Again into the same directory: files are replaced, the key stays 0600.
	e.ok("service", "user-creds-download", "--username", "app1", "--target-directory", dir, "kafka1")
	cliMode(t, filepath.Join(dir, "service.key"), 0o600)

	// The Java stores, with a password of our own.
	const pw = "s3cret-Pw!"
	r = e.ok("service", "user-kafka-java-creds", "--username", "app1", "-d", "java", "-p", pw, "kafka1")
	if strings.Contains(r.Stderr, "changeit") {
		t.Errorf("warned about the default password although -p was given:\n%s", r.Stderr)
	}
	jdir := filepath.Join(e.Dir, "java")
	for _, f := range []string{"client.keystore.p12", "client.truststore.jks", "client.properties"} {
		cliMode(t, filepath.Join(jdir, f), 0o600)
	}
	props := readFile(t, filepath.Join(jdir, "client.properties"))
	for _, line := range []string{
		"bootstrap.servers=kafka.example.com:9093", "security.protocol=SSL", "ssl.keystore.type=PKCS12", "ssl.truststore.type=JKS",
		"ssl.keystore.location=" + filepath.Join(jdir, "client.keystore.p12"), "ssl.truststore.location=" + filepath.Join(jdir, "client.truststore.jks"),
		"ssl.keystore.password=" + pw, "ssl.truststore.password=" + pw, "ssl.key.password=" + pw,
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).MatchString(props) {
			t.Errorf("client.properties lacks the line %q:\n%s", line, props)
		}
	}
	p12, _ := os.ReadFile(filepath.Join(jdir, "client.keystore.p12"))
	gotKey, gotLeaf, chain, err := pkcs12.DecodeChain(p12, pw)
	if err != nil {
		t.Fatal(err)
	}
	if !gotLeaf.Equal(leaf) || len(chain) != 1 || chain[0].Subject.CommonName != "demo GEN 1 Project CA" {
		t.Errorf("keystore chain: leaf %v, chain %d", gotLeaf.Subject, len(chain))
	}
	if s, ok := gotKey.(crypto.Signer); !ok || !s.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
		t.Error("the keystore's key does not belong to the certificate")
	}
	jks := keystore.New()
	jf, _ := os.Open(filepath.Join(jdir, "client.truststore.jks"))
	err = jks.Load(jf, []byte(pw))
	jf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jks.GetTrustedCertificateEntry("ca"); err != nil {
		t.Errorf("truststore has no entry ca: %v", err)
	}

	// The default password comes with a warning.
	r = e.ok("service", "user-kafka-java-creds", "--username", "app1", "-d", "java-default", "kafka1")
	if !strings.Contains(r.Stderr, `"changeit"`) || !strings.Contains(r.Stderr, "-p") {
		t.Errorf("no warning about the default password:\n%s", r.Stderr)
	}
	if _, _, _, err := pkcs12.DecodeChain(mustRead(t, filepath.Join(e.Dir, "java-default", "client.keystore.p12")), "changeit"); err != nil {
		t.Errorf("keystore with the default password: %v", err)
	}

	// Real tools read what was written.
	t.Run("openssl and keytool", func(t *testing.T) {
		openssl := cliTool(t, "openssl")
		keytool := cliTool(t, "keytool")
		if out := cliExec(t, openssl, "verify", "-CAfile", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "service.cert")); !strings.Contains(out, "service.cert: OK") {
			t.Errorf("openssl verify:\n%s", out)
		}
		p12Path := filepath.Join(jdir, "client.keystore.p12")
		out := cliExec(t, openssl, "pkcs12", "-info", "-in", p12Path, "-passin", "pass:"+pw, "-nokeys")
		for _, want := range []string{"MAC: sha256", "CN = app1", "CN = demo GEN 1 Project CA"} {
			if !strings.Contains(out, want) {
				t.Errorf("openssl pkcs12 -info lacks %q:\n%s", want, out)
			}
		}
		out = cliExec(t, keytool, "-list", "-v", "-keystore", p12Path, "-storepass", pw, "-storetype", "PKCS12")
		for _, want := range []string{"Your keystore contains 1 entry", "Alias name: service", "Entry type: PrivateKeyEntry", "Certificate chain length: 2", "Owner: CN=app1, OU=", "O=kafka1"} {
			if !strings.Contains(out, want) {
				t.Errorf("keytool -list (PKCS#12) lacks %q:\n%s", want, out)
			}
		}
		out = cliExec(t, keytool, "-list", "-v", "-keystore", filepath.Join(jdir, "client.truststore.jks"), "-storepass", pw, "-storetype", "JKS")
		for _, want := range []string{"Keystore type: JKS", "Alias name: ca", "Entry type: trustedCertEntry", "Owner: CN=demo GEN 1 Project CA"} {
			if !strings.Contains(out, want) {
				t.Errorf("keytool -list (JKS) lacks %q:\n%s", want, out)
			}
		}
	})

	// Acknowledge with nothing pending, then reset: a new certificate.
	if r := e.ok("service", "user-creds-acknowledge", "--username", "app1", "kafka1"); !strings.Contains(r.Stdout, "Nothing to acknowledge") {
		t.Errorf("user-creds-acknowledge:\n%s", r.Stdout)
	}
	var acked httpapi.User
	cliJSON(t, e.ok("service", "user-creds-acknowledge", "--username", "app1", "--json", "kafka1"), &acked)
	if acked.Username != "app1" {
		t.Errorf("user-creds-acknowledge --json: %+v", acked)
	}
	r = e.ok("service", "user-creds-reset", "--username", "app1", "kafka1")
	if !strings.Contains(r.Stdout, "Reset the credentials of \"app1\"") || !strings.Contains(r.Stdout, "user-creds-download") {
		t.Errorf("user-creds-reset:\n%s", r.Stdout)
	}
	e.ok("service", "user-creds-download", "--username", "app1", "-d", dir, "kafka1")
	if readFile(t, filepath.Join(dir, "service.cert")) == cert {
		t.Error("the certificate did not change after user-creds-reset")
	}
	var reset httpapi.User
	cliJSON(t, e.ok("service", "user-creds-reset", "--username", "app1", "--json", "kafka1"), &reset)
	if reset.AccessKey == nil || strings.TrimSpace(*reset.AccessKey) == strings.TrimSpace(readFile(t, filepath.Join(dir, "service.key"))) {
		t.Error("user-creds-reset --json does not show a new key")
	}

	// Deleting.
	if r := e.ok("service", "user-delete", "--username", "app2", "kafka1"); !strings.Contains(r.Stdout, `Deleted service user "app2" from kafka1`) {
		t.Errorf("user-delete:\n%s", r.Stdout)
	}
	e.fail(1, `service user "app2" not found in kafka1`, "service", "user-get", "--username", "app2", "kafka1")
	e.fail(1, "primary user avnadmin is deleted only with its service", "service", "user-delete", "--username", "avnadmin", "kafka1")
	e.failIn(1, "not confirmed", "kafka\n", "service", "delete", "kafka1")
	e.ok("service", "get", "kafka1")
	if r := e.runIn("kafka1\n", "service", "delete", "kafka1"); r.Code != 0 || !strings.Contains(r.Stdout, "Deleted service kafka1") {
		t.Errorf("service delete with confirmation: %+v", r)
	}
	e.ok("service", "terminate", "--force", "kafka2")
	e.fail(1, `service "kafka1" not found in project demo`, "service", "get", "kafka1")
	if r := e.ok("service", "list"); strings.Contains(r.Stdout, "kafka") {
		t.Errorf("services left after delete:\n%s", r.Stdout)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCLIErrors checks that failures are one clear line with exit code 1,
// and mistakes in the call exit 2.
func TestCLIErrors(t *testing.T) {
	srv := cliNewServer(t)
	e := newCLIEnv(t, "KCRED_URL="+srv.URL, "KCRED_TOKEN="+cliToken, "KCRED_PROJECT=p1")
	e.ok("project", "create", "p1")
	e.ok("service", "create", "kafka-1")
	e.ok("service", "user-create", "--username", "app1", "kafka-1")

	// Wrong token, no token.
	r := e.with("KCRED_TOKEN=not-a-valid-token").fail(1, srv.URL+" did not accept the token from KCRED_TOKEN: invalid token", "service", "user-list", "kafka-1")
	if strings.Contains(r.Stderr, "not-a-valid-token") {
		t.Errorf("the error quotes the token:\n%s", r.Stderr)
	}
	e.without("KCRED_TOKEN").fail(1, "not logged in: run \"kcred login", "project", "list")

	// Unknown things.
	e.fail(1, `service user "x" not found in kafka-1`, "service", "user-get", "--username", "x", "kafka-1")
	e.fail(1, `service user "x" not found in kafka-1`, "service", "user-creds-download", "--username", "x", "-d", "out", "kafka-1")
	e.fail(1, `service user "x" not found in kafka-1`, "service", "user-creds-acknowledge", "--username", "x", "kafka-1")
	e.fail(1, `service user "x" not found in kafka-1`, "service", "user-creds-reset", "--username", "x", "kafka-1")
	e.fail(1, `service user "x" not found in kafka-1`, "service", "user-delete", "--username", "x", "kafka-1")
	e.fail(1, `service user "x" not found in kafka-1`, "service", "user-kafka-java-creds", "--username", "x", "-p", "password", "kafka-1")
	e.fail(1, `service "nope" not found in project p1`, "service", "user-list", "nope")
	e.fail(1, `service "nope" not found in project p1`, "service", "user-create", "--username", "u", "nope")
	e.fail(1, `project "nope" not found, or you are not a member of it`, "service", "list", "--project", "nope")
	e.fail(1, `project "nope" not found`, "project", "get", "nope")
	e.fail(1, `project "nope" not found`, "project", "ca-get", "--project", "nope")
	e.fail(1, `service user "app1" already exists in service "kafka-1"`, "service", "user-create", "--username", "app1", "kafka-1")
	e.fail(1, `invalid project name "Bad"`, "project", "create", "Bad")
	if _, err := os.Stat(filepath.Join(e.Dir, "out")); err == nil {
		t.Error("a failed user-creds-download made its directory")
	}

	// Server not reachable.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	e.with("KCRED_URL="+down).fail(1, "cannot reach the kcred server at "+down+": connection refused", "service", "user-list", "kafka-1")
	e.with("KCRED_URL="+down).fail(1, "cannot reach the kcred server", "service", "user-creds-download", "--username", "app1", "kafka-1")

	// -d is an existing file.
	os.WriteFile(filepath.Join(e.Dir, "afile"), []byte("x"), 0o600)
	e.fail(1, "-d afile is an existing file, not a directory", "service", "user-creds-download", "--username", "app1", "-d", "afile", "kafka-1")
	e.fail(1, "is an existing file, not a directory", "service", "user-kafka-java-creds", "--username", "app1", "-d", "afile", "-p", "password", "kafka-1")
	if readFile(t, filepath.Join(e.Dir, "afile")) != "x" {
		t.Error("the file given as -d was changed")
	}

	// Usage errors exit 2.
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"--username is required", []string{"service", "user-creds-download", "kafka-1"}},
		{"--username is required", []string{"service", "user-get", "kafka-1"}},
		{`"kcred service user-list" takes SERVICE as its argument; got 0`, []string{"service", "user-list"}},
		{`"kcred service user-creds-download" takes SERVICE as its argument; got 2`, []string{"service", "user-creds-download", "--username", "a", "s1", "s2"}},
		{`"kcred project list" takes no arguments`, []string{"project", "list", "extra"}},
		{"unknown flag: --bogus", []string{"service", "user-list", "--bogus", "kafka-1"}},
		{"unknown shorthand flag", []string{"project", "list", "-x"}},
		{`unknown command "bogus" for "kcred service"`, []string{"service", "bogus"}},
		{`did you mean "user-list"?`, []string{"service", "user-lst"}},
		{`unknown command "bogus" for "kcred"`, []string{"bogus"}},
		{"-p: the password must be at least 6 characters", []string{"service", "user-kafka-java-creds", "--username", "app1", "-p", "12345", "kafka-1"}},
		{"--validity: invalid duration", []string{"project", "create", "x", "--validity", "5x"}},
		{"--key-type \"ed25519\" is not one of", []string{"project", "create", "x", "--key-type", "ed25519"}},
		{"give --email EMAIL to log in with a password, or --token TOKEN", []string{"login"}},
		{"give --email or --token, not both", []string{"login", "--email", "a@b.c", "--token", "t"}},
		{`invalid server URL "ftp://x"`, []string{"project", "list", "--url", "ftp://x"}},
	} {
		e.fail(2, tc.want, tc.args...)
	}
	e.without("KCRED_PROJECT").fail(2, "no project given: use --project PROJECT or set KCRED_PROJECT", "service", "list")

	// A group without a subcommand shows its help.
	if r := e.ok("service"); !strings.Contains(r.Stdout, "user-creds-download") {
		t.Errorf("kcred service:\n%s", r.Stdout)
	}

	// Read-only members get no keys, and a clear message why.
	status, body := cliCall(t, srv.URL, "POST", "/v1/user", cliToken, map[string]any{"email": "viewer@example.com", "password": "viewer-password"})
	if status != 200 {
		t.Fatalf("create account: %d %v", status, body)
	}
	cliCall(t, srv.URL, "POST", "/v1/project/p1/invite", cliToken, map[string]any{"user_email": "viewer@example.com", "member_type": "read_only"})
	_, body = cliCall(t, srv.URL, "POST", "/v1/userauth", "", map[string]any{"email": "viewer@example.com", "password": "viewer-password"})
	viewer := e.with("KCRED_TOKEN=" + body["token"].(string))
	viewer.ok("service", "user-list", "kafka-1")
	viewer.fail(1, `the server sent no key for "app1" in kafka-1: your role in project p1 may not read credentials`, "service", "user-creds-download", "--username", "app1", "-d", "v", "kafka-1")
	viewer.fail(1, "permission denied: your role in project \"p1\" (read_only) does not allow this", "service", "user-create", "--username", "v2", "kafka-1")
}

// cliCall sends one API request, for setting up what the CLI cannot.
func cliCall(t *testing.T, base, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// TestCLILoginPassword logs in with an email and a password piped in, and
// checks where the config file goes by default.
func TestCLILoginPassword(t *testing.T) {
	srv := cliNewServer(t)
	e := newCLIEnv(t).without("KCRED_CONFIG")

	r := e.failIn(1, "cannot log in to "+srv.URL+" as admin@kcred.local: invalid email or password", "wrong-password\n",
		"login", "--url", srv.URL, "--email", "admin@kcred.local")
	if strings.Contains(r.Stderr, "wrong-password") || strings.Contains(r.Stdout, "wrong-password") {
		t.Error("the password was printed")
	}
	e.failIn(1, "no password on standard input", "", "login", "--url", srv.URL, "--email", "admin@kcred.local")

	r = e.runIn("admin-password\n", "login", "--url", srv.URL, "--email", "admin@kcred.local")
	cfg := filepath.Join(e.Dir, "xdg", "kcred", "config.json")
	if r.Code != 0 || !strings.Contains(r.Stdout, "as admin@kcred.local; saved the token in "+cfg) {
		t.Fatalf("login --email: %+v", r)
	}
	if strings.Contains(r.Stdout+r.Stderr, "admin-password") {
		t.Error("the password was printed")
	}
	cliMode(t, cfg, 0o600)
	cliMode(t, filepath.Dir(cfg), 0o700)
	var saved map[string]string
	json.Unmarshal([]byte(readFile(t, cfg)), &saved)
	if saved["url"] != srv.URL || len(saved["token"]) < 32 || saved["token"] == cliToken {
		t.Errorf("config file after login: url %q, token of %d characters", saved["url"], len(saved["token"]))
	}
	// The saved URL and token are used, and a new login keeps the URL.
	e.ok("project", "create", "p1")
	e.runIn("admin-password\n", "login", "--email", "admin@kcred.local")
	if r := e.ok("project", "list"); !strings.Contains(r.Stdout, "\np1 ") {
		t.Errorf("project list after login:\n%s", r.Stdout)
	}
	// A revoked token stored in the config file: log in again.
	cliCall(t, srv.URL, "POST", "/v1/me/logout", mustConfigToken(t, cfg), nil)
	e.fail(1, "did not accept the token from the config file: invalid token; log in again with \"kcred login\"", "project", "list")
	e.fail(1, "did not accept the token from --token: invalid token; check --token", "login", "--url", srv.URL, "--token", "nope")
}

func mustConfigToken(t *testing.T, path string) string {
	t.Helper()
	var c map[string]string
	if err := json.Unmarshal(mustRead(t, path), &c); err != nil {
		t.Fatal(err)
	}
	return c["token"]
}

// TestCLIAivenEnv points kcred at the server with avn's variables only,
// and checks that the config file's token is not sent to AIVEN_WEB_URL.
func TestCLIAivenEnv(t *testing.T) {
	srv := cliNewServer(t)
	e := newCLIEnv(t, "AIVEN_WEB_URL="+srv.URL, "AIVEN_AUTH_TOKEN="+cliToken, "AIVEN_PROJECT=p1")
	e.ok("project", "create", "p1")
	e.ok("service", "create", "kafka-1")
	e.ok("service", "user-create", "--username", "app1", "kafka-1")
	e.ok("service", "user-creds-download", "--username", "app1", "-d", "out", "kafka-1")
	cliMode(t, filepath.Join(e.Dir, "out", "service.key"), 0o600)

	// KCRED_PROJECT wins over AIVEN_PROJECT.
	e.with("KCRED_PROJECT=nope").fail(1, `project "nope" not found`, "service", "list")

	// With a config file but AIVEN_WEB_URL set, the file's token stays home.
	saveCfg := filepath.Join(e.Dir, "config.json")
	os.WriteFile(saveCfg, []byte(`{"url": "http://127.0.0.1:9", "token": "config-file-token"}`), 0o600)
	e.without("AIVEN_AUTH_TOKEN").fail(1, "not logged in", "service", "list")
}

// TestCLIStates shows Expiring while a renewal waits and Expired once the
// newest certificate is past its not-after, and acknowledges a renewal.
func TestCLIStates(t *testing.T) {
	srv := cliNewServer(t)
	e := newCLIEnv(t, "KCRED_URL="+srv.URL, "KCRED_TOKEN="+cliToken, "KCRED_PROJECT=p1")
	e.ok("project", "create", "p1")
	e.ok("service", "create", "kafka-1")

	// app-old's certificate was issued 900 days ago for 820 days.
	real := srv.Clock.Now()
	srv.Clock.Set(real.Add(-900 * 24 * time.Hour))
	e.ok("service", "user-create", "--username", "app-old", "kafka-1")
	srv.Clock.Set(real)

	// app1 gets a renewal by hand (the renewal engine is its own package):
	// a reset makes the new certificate, the renewal record points at both.
	e.ok("service", "user-create", "--username", "app1", "kafka-1")
	ctx := context.Background()
	svc, err := srv.Store.FindService(ctx, "p1", "kafka-1")
	if err != nil {
		t.Fatal(err)
	}
	u, err := srv.Store.FindServiceUser(ctx, svc.ID, "app1")
	if err != nil {
		t.Fatal(err)
	}
	old, _ := srv.Store.ListCertificates(ctx, u.ID)
	e.ok("service", "user-creds-reset", "--username", "app1", "kafka-1")
	cur, _ := srv.Store.ListCertificates(ctx, u.ID)
	if len(old) != 1 || len(cur) != 2 {
		t.Fatalf("certificates before and after reset: %d, %d", len(old), len(cur))
	}
	ren := &kcred.Renewal{ID: kcred.NewID(), UserID: u.ID, OldCertID: old[0].ID, NewCertID: cur[0].ID,
		OldNotAfter: old[0].NotAfter, CreateTime: real, NextActionAt: old[0].NotAfter}
	if err := srv.Store.CreateRenewal(ctx, ren); err != nil {
		t.Fatal(err)
	}
	srv.Clock.Set(real.Add(5 * time.Second)) // past the server's short caches

	r := e.ok("service", "user-list", "kafka-1")
	for user, state := range map[string]string{"app1": "Expiring", "app-old": "Expired", "avnadmin": "Valid"} {
		if !regexp.MustCompile(`(?m)^` + user + `\s+\S+\s+\S+Z\s+` + state + `$`).MatchString(r.Stdout) {
			t.Errorf("user-list does not show %s as %s:\n%s", user, state, r.Stdout)
		}
	}
	var got httpapi.User
	cliJSON(t, e.ok("service", "user-get", "--username", "app1", "--json", "kafka-1"), &got)
	if got.ExpiringCertNotValidAfterTime == nil || !time.Time(*got.ExpiringCertNotValidAfterTime).Equal(old[0].NotAfter) {
		t.Errorf("user-get --json: expiring_cert_not_valid_after_time = %v, want %v", got.ExpiringCertNotValidAfterTime, old[0].NotAfter)
	}

	// Downloading tells that a renewal waits and how to acknowledge it.
	r = e.ok("service", "user-creds-download", "--username", "app1", "-d", "out", "kafka-1")
	if !strings.Contains(r.Stdout, "This is a renewed certificate") || !strings.Contains(r.Stdout, "kcred service user-creds-acknowledge --project p1 --username app1 kafka-1") {
		t.Errorf("user-creds-download after a renewal:\n%s", r.Stdout)
	}
	r = e.ok("service", "user-creds-acknowledge", "--username", "app1", "kafka-1")
	if !strings.Contains(r.Stdout, `Acknowledged the renewed certificate of "app1" in kafka-1`) ||
		!strings.Contains(r.Stdout, old[0].NotAfter.UTC().Format(time.RFC3339)) {
		t.Errorf("user-creds-acknowledge:\n%s", r.Stdout)
	}
	srv.Clock.Set(real.Add(10 * time.Second))
	if r := e.ok("service", "user-get", "--username", "app1", "kafka-1"); !regexp.MustCompile(`(?m)^app1\s+normal\s+\S+Z\s+Valid$`).MatchString(r.Stdout) {
		t.Errorf("user-get after acknowledging:\n%s", r.Stdout)
	}
	if r := e.ok("service", "user-creds-acknowledge", "--username", "app1", "kafka-1"); !strings.Contains(r.Stdout, "Nothing to acknowledge") {
		t.Errorf("second user-creds-acknowledge:\n%s", r.Stdout)
	}
}

// TestCLIHTTPS talks to the API through HTTPS with a private CA, given
// with --ca-cert, with KCRED_CA_CERT, and saved by login.
func TestCLIHTTPS(t *testing.T) {
	srv := cliNewServer(t)
	backend, _ := url.Parse(srv.URL)
	tlsSrv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(backend))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes below are expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	caPath := filepath.Join(t.TempDir(), "server-ca.pem")
	os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644)

	e := newCLIEnv(t, "KCRED_PROJECT=p1")
	e.fail(1, "cannot verify the HTTPS certificate of "+tlsSrv.URL, "login", "--url", tlsSrv.URL, "--token", cliToken)
	e.fail(1, "give that CA with --ca-cert FILE", "login", "--url", tlsSrv.URL, "--token", cliToken)
	e.fail(1, "answers plain HTTP, not HTTPS", "project", "list", "--url", strings.Replace(srv.URL, "http:", "https:", 1), "--token", cliToken)
	notPEM := filepath.Join(e.Dir, "not-pem.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	e.fail(1, "holds no PEM certificate", "project", "list", "--url", tlsSrv.URL, "--token", cliToken, "--ca-cert", notPEM)

	e.ok("project", "create", "p1", "--url", tlsSrv.URL, "--token", cliToken, "--ca-cert", caPath)
	e.with("KCRED_URL="+tlsSrv.URL, "KCRED_TOKEN="+cliToken, "KCRED_CA_CERT="+caPath).ok("project", "get")

	e.ok("login", "--url", tlsSrv.URL, "--token", cliToken, "--ca-cert", caPath)
	e.ok("service", "create", "kafka-1")
	e.ok("service", "user-create", "--username", "app1", "kafka-1")
	e.ok("service", "user-creds-download", "--username", "app1", "-d", "tls", "kafka-1")
	cliMode(t, filepath.Join(e.Dir, "tls", "service.key"), 0o600)
}

// TestCLIAgainstServerBinary runs the client commands against `kcred
// server` run from the same binary.
func TestCLIAgainstServerBinary(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := e2eStart(t, e2eEnviron("KCRED_BOOTSTRAP_TOKEN="+cliToken), "--listen", "127.0.0.1:0", "--data", data)
	e := newCLIEnv(t)
	if r := e.runIn(cliToken+"\n", "login", "--url", s.URL, "--token", "-", "--project", "demo"); r.Code != 0 {
		t.Fatalf("login: %+v", r)
	}
	e.ok("project", "create", "demo")
	e.ok("service", "create", "kafka1", "--service-uri", "127.0.0.1:9093")
	e.ok("service", "user-create", "--username", "app1", "kafka1")
	e.ok("service", "user-creds-download", "--username", "app1", "-d", "creds", "kafka1")
	dir := filepath.Join(e.Dir, "creds")
	cliMode(t, filepath.Join(dir, "service.key"), 0o600)
	e2eVerify(t, readFile(t, filepath.Join(dir, "ca.pem")), readFile(t, filepath.Join(dir, "service.cert")), readFile(t, filepath.Join(dir, "service.key")), "app1")
	e.ok("service", "user-kafka-java-creds", "--username", "app1", "-d", "java", "-p", "password1", "kafka1")
	if props := readFile(t, filepath.Join(e.Dir, "java", "client.properties")); !strings.Contains(props, "bootstrap.servers=127.0.0.1:9093\n") {
		t.Errorf("client.properties:\n%s", props)
	}
	e.ok("service", "user-creds-acknowledge", "--username", "app1", "kafka1")
	s.Stop()
	e.fail(1, "cannot reach the kcred server at "+s.URL, "service", "user-list", "kafka1")
}

// TestCLIHelp compares `kcred --help` and every command's help with
// testdata/help/*.golden; -update rewrites them.
func TestCLIHelp(t *testing.T) {
	e := newCLIEnv(t)
	goldenDir := filepath.Join("testdata", "help")
	seen := map[string]bool{}
	var walk func(path []string)
	walk = func(path []string) {
		r := e.ok(append(slices.Clone(path), "--help")...)
		if r.Stderr != "" {
			t.Errorf("kcred %s --help wrote to stderr:\n%s", strings.Join(path, " "), r.Stderr)
		}
		name := strings.Join(append([]string{"kcred"}, path...), "_") + ".golden"
		seen[name] = true
		file := filepath.Join(goldenDir, name)
		if *updateGolden {
			if err := os.MkdirAll(goldenDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(r.Stdout), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if want, err := os.ReadFile(file); err != nil {
			t.Errorf("%v; run go test ./cmd/kcred -run TestCLIHelp -update", err)
		} else if string(want) != r.Stdout {
			t.Errorf("kcred %s --help differs from %s (run with -update if the change is intended):\n%s",
				strings.Join(path, " "), file, cliDiff(string(want), r.Stdout))
		}
		for _, sub := range cliSubcommands(r.Stdout) {
			walk(append(slices.Clone(path), sub))
		}
	}
	walk(nil)
	for _, want := range []string{"kcred_login.golden", "kcred_project_ca-get.golden", "kcred_service_user-kafka-java-creds.golden", "kcred_server.golden"} {
		if !seen[want] {
			t.Errorf("no help checked for %s", want)
		}
	}
	// Help files of commands that no longer exist.
	entries, _ := os.ReadDir(goldenDir)
	for _, en := range entries {
		if !seen[en.Name()] {
			if *updateGolden {
				os.Remove(filepath.Join(goldenDir, en.Name()))
			} else {
				t.Errorf("%s belongs to no command; run with -update to remove it", en.Name())
			}
		}
	}

	// The help names the flags and files of the contract.
	help := readFile(t, filepath.Join(goldenDir, "kcred_service_user-creds-download.golden"))
	for _, want := range []string{"--username", "-d, --target-directory", "ca.pem", "service.cert", "service.key", "0600", "--project", "--url", "--token", "--ca-cert"} {
		if !strings.Contains(help, want) {
			t.Errorf("user-creds-download help lacks %q", want)
		}
	}
	help = readFile(t, filepath.Join(goldenDir, "kcred_service.golden"))
	for _, want := range []string{"KCRED_URL", "KCRED_TOKEN", "KCRED_PROJECT", "AIVEN_WEB_URL", "AIVEN_AUTH_TOKEN", "AIVEN_PROJECT", "kcred login"} {
		if !strings.Contains(help, want) {
			t.Errorf("service help lacks %q", want)
		}
	}
}

// cliSubcommands lists the commands of a help text's "Available Commands".
func cliSubcommands(help string) []string {
	_, rest, ok := strings.Cut(help, "Available Commands:\n")
	if !ok {
		return nil
	}
	var out []string
	for _, line := range strings.Split(rest, "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		out = append(out, strings.Fields(line)[0])
	}
	return out
}

// cliDiff shows the first differing line of two texts.
func cliDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return "(same lines)"
}
