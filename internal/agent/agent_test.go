package agent_test

import (
	"context"
	"crypto/x509"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/agent"
	"github.com/kcred/kcred/internal/devkafka"
	"github.com/kcred/kcred/internal/httpapi"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/pki"
	"github.com/kcred/kcred/internal/sqlite"
)

// world is a kcred server on loopback with project p1, service kafka-1
// whose service_uri is an embedded mTLS broker trusting the project CA,
// and user app1. Its certificates are due for renewal one second after
// they are issued, so a test renews with a short sleep and a sweep.
type world struct {
	t      *testing.T
	m      *lifecycle.Manager
	api    *httpapi.Client
	broker *devkafka.Broker
	ca     *x509.Certificate
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key, _ := pki.GenerateMasterKey()
	sealer, _ := pki.NewSealer(key)
	m := lifecycle.New(lifecycle.Config{Store: store, Sealer: sealer, Policy: kcred.DefaultCertPolicy()})
	t.Cleanup(m.Close)
	token, _, err := m.Bootstrap(ctx, "admin@example.com", "", "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewServer(m, nil))
	t.Cleanup(srv.Close)
	api := httpapi.NewClient(srv.URL, token, nil)

	validity, renew := kcred.Duration(10*time.Minute), kcred.Duration(10*time.Minute-time.Second)
	if _, err := api.CreateProject(ctx, httpapi.ProjectCreateRequest{Project: "p1",
		CertPolicy: &httpapi.CertPolicy{Validity: &validity, RenewBefore: &renew, Reminders: []kcred.Duration{}}}); err != nil {
		t.Fatal(err)
	}
	sc, err := api.IssueServerCertificate(ctx, "p1", httpapi.ServerCertificateRequest{Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ParseCertificate(sc.CACertificate)
	if err != nil {
		t.Fatal(err)
	}
	b, err := devkafka.StartPEM(sc.CACertificate, sc.Certificate, sc.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if _, err := api.CreateService(ctx, "p1", httpapi.ServiceCreateRequest{ServiceName: "kafka-1", ServiceType: "kafka", ServiceURI: b.Addr()}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateServiceUser(ctx, "p1", "kafka-1", "app1"); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, m: m, api: api, broker: b, ca: ca}
}

// renew waits until app1's certificate is due and sweeps.
func (w *world) renew() {
	w.t.Helper()
	time.Sleep(1100 * time.Millisecond)
	res, err := w.m.Sweep(context.Background())
	if err != nil || res.Renewed != 2 {
		w.t.Fatalf("sweep: %+v, %v; want app1 and avnadmin renewed", res, err)
	}
}

func (w *world) user() *httpapi.User {
	w.t.Helper()
	u, err := w.api.GetServiceUser(context.Background(), "p1", "kafka-1", "app1", false)
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

func serialOf(t *testing.T, certPEM string) string {
	t.Helper()
	c, err := pki.ParseCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}

// connectedWith reports whether the broker accepted a connection that
// presented the certificate with serial.
func (w *world) connectedWith(serial string) bool {
	for _, c := range w.broker.Connections() {
		if c.Serial == serial && c.CommonName == "app1" {
			return true
		}
	}
	return false
}

func (w *world) agent(dir string, mod func(*agent.Config)) *agent.Agent {
	w.t.Helper()
	cfg := agent.Config{API: w.api, Project: "p1", Service: "kafka-1", Username: "app1", Dir: dir,
		Verify: true, Acknowledge: true, VerifyTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	a, err := agent.New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

func TestAgentWritesRunsVerifiesAcknowledges(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "creds")
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	a := w.agent(dir, func(c *agent.Config) {
		c.JavaPassword = "store-secret"
		c.Exec = `echo "$KCRED_SERIAL $KCRED_CERT_FILE $KCRED_KEYSTORE_FILE $PWD" >> ` + hookLog
	})

	gen1 := serialOf(t, w.user().AccessCert)
	res, err := a.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Wrote || !res.HookRan || !res.Verified || res.Acknowledged || res.Pending || res.Serial != gen1 {
		t.Fatalf("first check: %+v, want gen1 %s written, hooked and verified", res, gen1)
	}
	for name, mode := range map[string]os.FileMode{"ca.pem": 0o644, "service.cert": 0o644, "service.key": 0o600,
		"client.keystore.p12": 0o600, "client.truststore.jks": 0o600, "client.properties": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v, want %v", name, err, fi, mode)
		}
	}
	if props, _ := os.ReadFile(filepath.Join(dir, "client.properties")); !strings.Contains(string(props), "bootstrap.servers="+w.broker.Addr()) {
		t.Errorf("client.properties:\n%s", props)
	}
	if !w.connectedWith(gen1) {
		t.Errorf("the broker saw no connection with gen1 %s: %+v", gen1, w.broker.Connections())
	}

	// Nothing changed: nothing is written, run or verified again.
	conns := len(w.broker.Connections())
	if res, err := a.Check(ctx); err != nil || res.Wrote || res.HookRan || res.Verified {
		t.Fatalf("idle check: %+v, %v", res, err)
	}
	if n := len(w.broker.Connections()); n != conns {
		t.Errorf("idle check connected to the broker (%d connections, was %d)", n, conns)
	}

	w.renew()
	if w.user().ExpiringCertNotValidAfterTime == nil {
		t.Fatal("no pending renewal after the sweep")
	}
	gen2 := serialOf(t, w.user().AccessCert)
	res, err = a.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Wrote || !res.HookRan || !res.Verified || !res.Acknowledged || res.Serial != gen2 {
		t.Fatalf("check after renewal: %+v, want gen2 %s written, hooked, verified, acknowledged", res, gen2)
	}
	if got := serialOf(t, readFile(t, filepath.Join(dir, "service.cert"))); got != gen2 {
		t.Errorf("service.cert holds %s, want %s", got, gen2)
	}
	if !w.connectedWith(gen2) {
		t.Errorf("the broker saw no connection with gen2 %s", gen2)
	}
	if w.user().ExpiringCertNotValidAfterTime != nil {
		t.Error("the renewal is still pending on the server")
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, hookLog)), "\n")
	want := []string{
		gen1 + " " + filepath.Join(dir, "service.cert") + " " + filepath.Join(dir, "client.keystore.p12") + " " + dir,
		gen2 + " " + filepath.Join(dir, "service.cert") + " " + filepath.Join(dir, "client.keystore.p12") + " " + dir,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("hook runs:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// The keystore is the new one: it opens with the password and holds gen2.
	_, ks, _, err := pkcs12.DecodeChain(mustRead(t, filepath.Join(dir, "client.keystore.p12")), "store-secret")
	if err != nil || ks.SerialNumber.Text(16) != gen2 {
		t.Errorf("keystore: %v; want gen2", err)
	}
}

// TestAgentNeverAcknowledgesUnverified: while the broker does not trust the
// project CA the agent writes the files but does not acknowledge; once the
// broker accepts the certificate, it does.
func TestAgentNeverAcknowledgesUnverified(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.agent(t.TempDir(), nil)
	if _, err := a.Check(ctx); err != nil {
		t.Fatal(err)
	}

	other, err := pki.NewCA("other", 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.broker.SetCAs([]*x509.Certificate{other.Cert})
	w.renew()
	gen2 := serialOf(t, w.user().AccessCert)
	for range 2 {
		res, err := a.Check(ctx)
		if err == nil || res.Acknowledged || !strings.Contains(err.Error(), "verify certificate "+gen2) {
			t.Fatalf("check against a broker that refuses the CA: %+v, %v; want a verification error", res, err)
		}
	}
	if w.user().ExpiringCertNotValidAfterTime == nil {
		t.Fatal("the agent acknowledged a certificate the broker refused")
	}
	if w.connectedWith(gen2) {
		t.Fatal("the broker accepted gen2")
	}

	w.broker.SetCAs([]*x509.Certificate{w.ca})
	res, err := a.Check(ctx)
	if err != nil || res.Wrote || !res.Verified || !res.Acknowledged {
		t.Fatalf("check once the broker trusts the CA: %+v, %v", res, err)
	}
	if w.user().ExpiringCertNotValidAfterTime != nil || !w.connectedWith(gen2) {
		t.Error("not acknowledged after verification")
	}
}

// TestAgentHookFailureHoldsAcknowledgement: a failing hook (the client did
// not restart) holds the acknowledgement back and runs again next check.
func TestAgentHookFailureHoldsAcknowledgement(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	flag := filepath.Join(t.TempDir(), "hook-ok")
	runs := filepath.Join(t.TempDir(), "runs")
	a := w.agent(t.TempDir(), func(c *agent.Config) { c.Exec = "echo run >> " + runs + " && test -f " + flag })
	os.WriteFile(flag, nil, 0o600)
	if _, err := a.Check(ctx); err != nil {
		t.Fatal(err)
	}
	os.Remove(flag)
	w.renew()
	for range 2 {
		if res, err := a.Check(ctx); err == nil || res.Acknowledged || !strings.Contains(err.Error(), "hook") {
			t.Fatalf("check with a failing hook: %+v, %v", res, err)
		}
	}
	if w.user().ExpiringCertNotValidAfterTime == nil {
		t.Fatal("acknowledged although the hook failed")
	}
	os.WriteFile(flag, nil, 0o600)
	res, err := a.Check(ctx)
	if err != nil || !res.HookRan || !res.Verified || !res.Acknowledged || res.Wrote {
		t.Fatalf("check after the hook was fixed: %+v, %v; want the hook run again, verified and acknowledged", res, err)
	}
	if w.user().ExpiringCertNotValidAfterTime != nil {
		t.Error("still pending")
	}
	if n := strings.Count(readFile(t, runs), "run"); n != 4 { // gen1, gen2 failed twice, gen2 again
		t.Errorf("hook ran %d times, want 4", n)
	}
}

func TestNewRejectsUnsafeConfig(t *testing.T) {
	api := httpapi.NewClient("http://127.0.0.1:1", "t", nil)
	for name, cfg := range map[string]agent.Config{
		"acknowledge without verify": {API: api, Project: "p", Service: "s", Username: "u", Dir: "d", Acknowledge: true},
		"short store password":       {API: api, Project: "p", Service: "s", Username: "u", Dir: "d", JavaPassword: "abc"},
		"no user":                    {API: api, Project: "p", Service: "s", Dir: "d"},
		"no directory":               {API: api, Project: "p", Service: "s", Username: "u"},
	} {
		if _, err := agent.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func readFile(t *testing.T, p string) string { return string(mustRead(t, p)) }

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
