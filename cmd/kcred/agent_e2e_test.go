package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kcred/kcred/internal/devkafka"
	"github.com/kcred/kcred/internal/pki"
)

const agentToken = "kcred_e2e_agent_token_0123456789abcdef0123"

// agentWorld is a real kcred server with lifetimes of seconds, project p1
// and an embedded Kafka broker with a server certificate from the project
// CA, serving service k1 with user app1.
type agentWorld struct {
	t      *testing.T
	s      *e2eServer
	mb     *mailbox
	broker *devkafka.Broker
	caPEM  string
}

// Lifetimes: a certificate lives 30 s and is renewed 20 s before it ends,
// so about 10 s after it was made; reminders at 15 s and 8 s before the old
// certificate ends.
func newAgentWorld(t *testing.T, trustProjectCA bool) *agentWorld {
	t.Helper()
	mb, smtpAddr := startMailbox(t)
	s := e2eStart(t, e2eEnviron("KCRED_BOOTSTRAP_TOKEN="+agentToken),
		"--listen", "127.0.0.1:0", "--data", t.TempDir(),
		"--cert-validity", "30s", "--renew-before", "20s", "--reminder-schedule", "15s,8s", "--sweep-interval", "1s",
		"--smtp-url", "smtp://"+smtpAddr+"?tls=none", "--mail-from", "kcred@example.com")
	s.must("POST", "/v1/project", agentToken, map[string]any{"project": "p1"})
	sc := s.must("POST", "/v1/project/p1/kms/server-certificate", agentToken, map[string]any{"hosts": []string{"127.0.0.1", "localhost"}})
	caPEM := sc["ca_certificate"].(string)
	trusted := caPEM
	if !trustProjectCA {
		other, err := pki.NewCA("someone-else", 1, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		trusted = other.CertPEM
	}
	b, err := devkafka.StartPEM(trusted, sc["certificate"].(string), sc["private_key"].(string), "orders")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	s.must("POST", "/v1/project/p1/service", agentToken, map[string]any{"service_name": "k1", "service_type": "kafka", "service_uri": b.Addr()})
	s.must("POST", "/v1/project/p1/service/k1/user", agentToken, map[string]any{"username": "app1"})
	return &agentWorld{t: t, s: s, mb: mb, broker: b, caPEM: caPEM}
}

// user returns app1 as the API serves it, without secrets.
func (w *agentWorld) user() map[string]any {
	return w.s.must("GET", "/v1/project/p1/service/k1/user/app1", agentToken, nil)["user"].(map[string]any)
}

// remindersFor returns the subjects of reminder mails that name username.
func (w *agentWorld) remindersFor(username string) []string {
	var out []string
	for _, m := range w.mb.all() {
		if strings.Contains(strings.ToLower(m.Subject), "not acknowledged") && strings.Contains(m.Body, username) {
			out = append(out, m.Subject)
		}
	}
	return out
}

// e2eAgent is a running `kcred agent`.
type e2eAgent struct {
	cmd    *exec.Cmd
	Stderr *e2eLog
	done   chan struct{}
	err    error
}

func startAgent(t *testing.T, w *agentWorld, args ...string) *e2eAgent {
	t.Helper()
	cmd := exec.Command(e2eBinary(t), append([]string{"agent", "--url", w.s.URL, "--project", "p1",
		"--service", "k1", "--username", "app1", "--interval", "1s"}, args...)...)
	cmd.Env = e2eEnviron("KCRED_TOKEN=" + agentToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &e2eAgent{cmd: cmd, Stderr: &e2eLog{}, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			a.Stderr.add(sc.Text())
		}
		io.Copy(io.Discard, stderr)
		a.err = cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		select {
		case <-a.done:
		default:
			cmd.Process.Kill()
			<-a.done
		}
	})
	return a
}

// stop sends SIGTERM and requires exit code 0.
func (a *e2eAgent) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the agent did not exit within 10 s of SIGTERM; stderr:\n%s", a.Stderr)
	}
	if a.err != nil {
		t.Fatalf("the agent exited with %v; stderr:\n%s", a.err, a.Stderr)
	}
}

// kafkaPing connects to the broker presenting certPEM/keyPEM, trusting only
// caPEM, and sends a metadata request.
func kafkaPing(t *testing.T, addr, caPEM, certPEM, keyPEM string) error {
	t.Helper()
	cl := kafkaClient(t, addr, caPEM, certPEM, keyPEM)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

func kafkaClient(t *testing.T, addr, caPEM, certPEM, keyPEM string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(caPEM))
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.DialTLSConfig(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}),
		kgo.DialTimeout(3 * time.Second),
		kgo.RequestRetries(0),
		kgo.RetryTimeout(3 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// produceConsume writes a record with value to topic as the holder of
// certPEM and keyPEM, trusting only caPEM, and reads it back.
func produceConsume(t *testing.T, addr, topic, caPEM, certPEM, keyPEM, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cl := kafkaClient(t, addr, caPEM, certPEM, keyPEM, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		found := false
		fs.EachRecord(func(r *kgo.Record) { found = found || string(r.Value) == value })
		if found {
			return
		}
	}
	t.Fatalf("did not consume %q", value)
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func serialOfPEM(t *testing.T, certPEM string) string {
	t.Helper()
	c, err := pki.ParseCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}

// TestAgentEndToEnd runs the real server and agent with lifetimes of
// seconds against an embedded broker: the client works with generation 1;
// at the renewal the agent writes the new files, runs the hook, verifies on
// the broker and acknowledges; no reminder names the user; both
// certificates connect until the old one expires, which the broker then
// refuses.
func TestAgentEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the binary")
	}
	t.Parallel()
	w := newAgentWorld(t, true)
	dir := filepath.Join(t.TempDir(), "creds")
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	a := startAgent(t, w, "-d", dir, "--verify", "--acknowledge",
		"--exec", `echo "$KCRED_SERIAL $KCRED_NOT_AFTER" >> `+hookLog)

	// Generation 1: written, hooked and verified; the client works with it.
	gen1 := serialOfPEM(t, w.user()["access_cert"].(string))
	waitFor(t, 10*time.Second, "the agent to write and hook generation 1", func() bool {
		b, _ := os.ReadFile(hookLog)
		return strings.HasPrefix(string(b), gen1+" ")
	})
	oldCert, oldKey := readText(t, filepath.Join(dir, "service.cert")), readText(t, filepath.Join(dir, "service.key"))
	if serialOfPEM(t, oldCert) != gen1 || readText(t, filepath.Join(dir, "ca.pem")) != w.caPEM {
		t.Fatal("the files are not generation 1 and the project CA")
	}
	produceConsume(t, w.broker.Addr(), "orders", w.caPEM, oldCert, oldKey, "with generation 1")
	oldNotAfter := mustCert(t, oldCert).NotAfter

	// The renewal comes about 10 s after creation; the agent takes it up.
	var gen2 string
	waitFor(t, 30*time.Second, "the agent to write, hook, verify and acknowledge generation 2", func() bool {
		u := w.user()
		gen2 = serialOfPEM(t, u["access_cert"].(string))
		b, _ := os.ReadFile(hookLog)
		return gen2 != gen1 && strings.Contains(string(b), gen2+" ") && u["expiring_cert_not_valid_after_time"] == nil
	})
	newCert, newKey := readText(t, filepath.Join(dir, "service.cert")), readText(t, filepath.Join(dir, "service.key"))
	if serialOfPEM(t, newCert) != gen2 {
		t.Fatalf("service.cert is not generation 2 %s", gen2)
	}
	if !strings.Contains(a.Stderr.String(), "verified certificate on the broker") || !strings.Contains(a.Stderr.String(), "acknowledged renewal") {
		t.Errorf("agent log lacks verification and acknowledgement:\n%s", a.Stderr)
	}
	verifiedAt := -1
	for i, c := range w.broker.Connections() {
		if c.Serial == gen2 && c.CommonName == "app1" {
			verifiedAt = i
			break
		}
	}
	if verifiedAt < 0 {
		t.Fatalf("the broker never saw generation 2; connections: %+v", w.broker.Connections())
	}
	rs := w.s.must("GET", "/v1/project/p1/renewals", agentToken, nil)["renewals"].([]any)
	for _, r := range rs {
		r := r.(map[string]any)
		if r["username"] == "app1" && (r["acknowledged"] != true || r["acknowledged_by"] != "admin@kcred.local") {
			t.Errorf("app1's renewal: %v", r)
		}
	}

	// Until the old certificate expires both connect.
	if time.Until(oldNotAfter) < 2*time.Second {
		t.Fatalf("too slow: the old certificate expires at %s", oldNotAfter)
	}
	if err := kafkaPing(t, w.broker.Addr(), w.caPEM, oldCert, oldKey); err != nil {
		t.Errorf("the old certificate is refused before its expiry: %v", err)
	}
	produceConsume(t, w.broker.Addr(), "orders", w.caPEM, newCert, newKey, "with generation 2")

	// After it, the broker refuses the old one and takes the new.
	time.Sleep(time.Until(oldNotAfter.Add(1500 * time.Millisecond)))
	if err := kafkaPing(t, w.broker.Addr(), w.caPEM, oldCert, oldKey); err == nil {
		t.Error("the broker accepted the old certificate after its expiry")
	}
	if err := kafkaPing(t, w.broker.Addr(), w.caPEM, newCert, newKey); err != nil {
		t.Errorf("the new certificate is refused: %v", err)
	}

	// Reminders went out (avnadmin's renewal is not acknowledged), but
	// none named app1.
	waitFor(t, 10*time.Second, "a reminder about avnadmin", func() bool { return len(w.remindersFor("avnadmin")) > 0 })
	if r := w.remindersFor("app1"); len(r) > 0 {
		t.Errorf("reminders name app1 after the agent acknowledged: %v", r)
	}
	a.stop(t)
	w.s.Stop()
}

// TestAgentEndToEndUnverified: the broker does not trust the project CA, so
// verification fails; the agent writes the files but never acknowledges,
// and the reminders about the user go on.
func TestAgentEndToEndUnverified(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the binary")
	}
	t.Parallel()
	w := newAgentWorld(t, false)
	dir := filepath.Join(t.TempDir(), "creds")
	a := startAgent(t, w, "-d", dir, "--verify", "--acknowledge")
	gen1 := serialOfPEM(t, w.user()["access_cert"].(string))

	waitFor(t, 30*time.Second, "the renewal and the agent's new files", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "service.cert"))
		return err == nil && serialOfPEM(t, string(b)) != gen1
	})
	waitFor(t, 20*time.Second, "a reminder naming app1", func() bool { return len(w.remindersFor("app1")) > 0 })
	if w.user()["expiring_cert_not_valid_after_time"] == nil {
		t.Fatal("the renewal was acknowledged although no verification succeeded")
	}
	log := a.Stderr.String()
	if !strings.Contains(log, "verify certificate") || strings.Contains(log, "acknowledged renewal") {
		t.Errorf("agent log:\n%s", log)
	}
	for _, c := range w.broker.Connections() {
		if c.CommonName == "app1" {
			t.Errorf("the broker accepted app1: %+v", c)
		}
	}
	// The certificate on disk was never acknowledged, in the audit log too.
	evs := w.s.must("GET", "/v1/project/p1/events", agentToken, nil)["events"].([]any)
	for _, e := range evs {
		e := e.(map[string]any)
		if e["event_type"] == "service_user_renewal_acknowledge" {
			t.Errorf("acknowledgement event: %v", e)
		}
	}
	a.stop(t)
	w.s.Stop()
}

func mustCert(t *testing.T, certPEM string) *x509.Certificate {
	t.Helper()
	c, err := pki.ParseCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
