package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kcred/kcred/internal/notify"
)

// mailbox is an SMTP server on loopback that keeps what it receives.
type mailbox struct {
	mu       sync.Mutex
	messages []received
	refuse   bool // answer 451 to every RCPT while set
}

type received struct {
	To      string
	Subject string
	ID      string
	Body    string
}

func (mb *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }

type mailSession struct {
	mb *mailbox
	to []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	if s.mb.refuse {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(msg.Body)
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	for _, to := range s.to {
		s.mb.messages = append(s.mb.messages, received{To: to, Subject: subject, ID: msg.Header.Get("Message-Id"), Body: string(body)})
	}
	return nil
}
func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

func (mb *mailbox) all() []received {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]received(nil), mb.messages...)
}

func startMailbox(t *testing.T) (*mailbox, string) {
	mb := &mailbox{}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return mb, ln.Addr().String()
}

// hookEvent is a webhook call whose signature checked out.
type hookEvent struct {
	Delivery string
	Event    notify.Event
}

func startWebhook(t *testing.T, secret string) (*httptest.Server, func() []hookEvent) {
	var mu sync.Mutex
	var events []hookEvent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.Verify([]byte(secret), body, r.Header.Get("X-Kcred-Signature")) {
			t.Errorf("webhook signature does not verify: %q", r.Header.Get("X-Kcred-Signature"))
			http.Error(w, "bad signature", 400)
			return
		}
		var ev notify.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		events = append(events, hookEvent{Delivery: r.Header.Get("X-Kcred-Delivery"), Event: ev})
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []hookEvent { mu.Lock(); defer mu.Unlock(); return append([]hookEvent(nil), events...) }
}

// waitFor polls cond every 200 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRenewalEndToEnd runs the real binary with lifetimes of seconds and
// watches a renewal happen: new certificate, mails to admin, operator and
// technical contact over real SMTP, a signed webhook, reminders that stop
// when acknowledged.
func TestRenewalEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the binary")
	}
	mb, smtpAddr := startMailbox(t)
	const secret = "webhook-secret-0123456789"
	hook, events := startWebhook(t, secret)
	data := t.TempDir()
	s := e2eStart(t, e2eEnviron("KCRED_BOOTSTRAP_TOKEN=kcred_e2e_bootstrap_token_0123456789abcdef"),
		"--listen", "127.0.0.1:0", "--data", data,
		"--cert-validity", "40s", "--renew-before", "30s", "--reminder-schedule", "20s,12s", "--sweep-interval", "1s",
		"--smtp-url", "smtp://"+smtpAddr+"?tls=none", "--mail-from", "kcred@example.com", "--public-url", "https://kcred.example.com")
	tok := "kcred_e2e_bootstrap_token_0123456789abcdef"

	s.must("POST", "/v1/user", tok, map[string]any{"email": "op@example.com", "password": "operator-password"})
	s.must("POST", "/v1/project", tok, map[string]any{"project": "p1", "tech_emails": []map[string]string{{"email": "team@example.com"}}})
	s.must("POST", "/v1/project/p1/invite", tok, map[string]any{"user_email": "op@example.com", "member_type": "operator"})
	s.must("POST", "/v1/project/p1/webhooks", tok, map[string]any{"url": hook.URL, "secret": secret})
	s.must("POST", "/v1/project/p1/service", tok, map[string]any{"service_name": "k1", "service_type": "kafka", "tech_emails": []map[string]string{{"email": "k1-oncall@example.com"}}})
	for _, u := range []string{"acker", "ignorer"} {
		s.must("POST", "/v1/project/p1/service/k1/user", tok, map[string]any{"username": u})
	}
	ca := e2eField(t, s.must("GET", "/v1/project/p1/kms/ca", tok, nil), "certificate")
	first := map[string]string{}
	for _, u := range []string{"acker", "ignorer"} {
		first[u] = e2eField(t, s.must("GET", "/v1/project/p1/service/k1/user/"+u, tok, nil), "user", "access_cert")
	}

	// Renewal: about 10 s after creation.
	waitFor(t, 30*time.Second, "the renewal of ignorer", func() bool {
		u := s.must("GET", "/v1/project/p1/service/k1/user/ignorer", tok, nil)["user"].(map[string]any)
		return u["expiring_cert_not_valid_after_time"] != nil
	})
	u := s.must("GET", "/v1/project/p1/service/k1/user/ignorer", tok, nil)["user"].(map[string]any)
	if u["access_cert"] == first["ignorer"] {
		t.Fatal("expiring is set but the certificate is the old one")
	}
	// Both the old and the new certificate verify against the project CA.
	oldCert := e2eVerifyCert(t, ca, first["ignorer"])
	newCert := e2eVerifyCert(t, ca, u["access_cert"].(string))
	if oldCert.SerialNumber.Cmp(newCert.SerialNumber) == 0 || !newCert.NotAfter.After(oldCert.NotAfter) {
		t.Errorf("new certificate %v (until %v) does not follow the old %v (until %v)", newCert.SerialNumber, newCert.NotAfter, oldCert.SerialNumber, oldCert.NotAfter)
	}
	if newCert.Subject.CommonName != "ignorer" {
		t.Errorf("new CN %q", newCert.Subject.CommonName)
	}

	waitFor(t, 20*time.Second, "renewal mails to admin, operator and technical contact", func() bool {
		to := map[string]bool{}
		for _, m := range mb.all() {
			if strings.Contains(m.Subject, "renewed") {
				to[m.To] = true
			}
		}
		return to["admin@kcred.local"] && to["op@example.com"] && to["k1-oncall@example.com"]
	})
	for _, m := range mb.all() {
		if m.To == "team@example.com" {
			t.Errorf("the project's contact got mail although the service has its own: %s", m.Subject)
		}
	}
	waitFor(t, 20*time.Second, "a signed renewed webhook", func() bool {
		for _, e := range events() {
			if e.Event.Type == notify.EventRenewed && e.Delivery != "" {
				return true
			}
		}
		return false
	})

	s.must("PUT", "/v1/project/p1/service/k1/user/acker", tok, map[string]any{"operation": "acknowledge-renewal"})
	// The 20 s reminder comes about 10 s after the renewal.
	waitFor(t, 30*time.Second, "a reminder", func() bool {
		for _, m := range mb.all() {
			if strings.Contains(strings.ToLower(m.Subject), "not acknowledged") {
				return true
			}
		}
		return false
	})
	for _, m := range mb.all() {
		if strings.Contains(strings.ToLower(m.Subject), "not acknowledged") && strings.Contains(m.Body, "acker") {
			t.Errorf("a reminder names the acknowledged user: %s", m.Subject)
		}
	}
	n := s.must("GET", "/v1/project/p1/notifications", tok, nil)
	b, _ := json.Marshal(n)
	if !strings.Contains(string(b), `"state":"delivered"`) {
		t.Errorf("no delivered delivery in %s", b)
	}
	s.Stop()
}

// e2eVerifyCert parses a PEM certificate and verifies it against caPEM for
// client authentication at a time inside its validity.
func e2eVerifyCert(t *testing.T, caPEM, certPEM string) *x509.Certificate {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatal("no CA")
	}
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		t.Fatal("no certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: c.NotBefore.Add(time.Minute),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("certificate %v does not verify against the CA: %v", c.SerialNumber, err)
	}
	return c
}
