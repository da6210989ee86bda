package notify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/pki"
)

const (
	testUser     = "mailer@example.com"
	testPassword = "s3cret-Pa55word"
	testFrom     = "kcred <kcred@example.com>"
)

// testBackend is an in-test SMTP server backend that records what it
// receives.
type testBackend struct {
	user, password string   // AUTH offered and required when user is set
	mechs          []string // offered mechanisms; nil means PLAIN
	rcptErr        error    // returned by every RCPT
	dataErr        error    // returned after reading DATA

	mu       sync.Mutex
	messages []received
	authRuns int // AUTH attempts, right or wrong
}

// received is one message as the server saw it.
type received struct {
	From     string
	To       []string
	Data     []byte
	AuthUser string
	TLS      bool
	Helo     string
}

func (be *testBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &testSession{be: be, msg: received{TLS: isTLS, Helo: c.Hostname()}}, nil
}

func (be *testBackend) authAttempts() int {
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.authRuns
}

func (be *testBackend) received() []received {
	be.mu.Lock()
	defer be.mu.Unlock()
	return append([]received(nil), be.messages...)
}

type testSession struct {
	be  *testBackend
	msg received
}

func (s *testSession) AuthMechanisms() []string {
	if s.be.user == "" {
		return nil
	} else if s.be.mechs != nil {
		return s.be.mechs
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		s.be.mu.Lock()
		s.be.authRuns++
		s.be.mu.Unlock()
		if username != s.be.user || password != s.be.password {
			return smtp.ErrAuthFailed
		}
		s.msg.AuthUser = username
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, username, password string) error { return check(username, password) }), nil
}

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks: some
// servers (Microsoft's among them) offer only LOGIN.
type loginServer struct {
	step  int
	user  string
	check func(username, password string) error
}

func (s *loginServer) Next(resp []byte) ([]byte, bool, error) {
	s.step++
	switch {
	case s.step == 1 && resp == nil:
		return []byte("Username:"), false, nil
	case s.step <= 2 && s.user == "":
		s.user, s.step = string(resp), 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, s.check(s.user, string(resp))
	}
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.be.user != "" && s.msg.AuthUser == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.be.rcptErr != nil {
		return s.be.rcptErr
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.be.dataErr != nil {
		return s.be.dataErr
	}
	s.msg.Data = data
	s.be.mu.Lock()
	s.be.messages = append(s.be.messages, s.msg)
	s.be.mu.Unlock()
	return nil
}

func (s *testSession) Reset()        { s.msg.From, s.msg.To, s.msg.Data = "", nil, nil }
func (s *testSession) Logout() error { return nil }

// testPKI is a CA and a server certificate for 127.0.0.1 and localhost,
// made once.
var testPKI = sync.OnceValues(func() (*x509.CertPool, tls.Certificate) {
	now := time.Now()
	ca, err := pki.NewCA("smtp-test", 1, now)
	if err != nil {
		panic(err)
	}
	leaf, err := ca.IssueServer("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour, now)
	if err != nil {
		panic(err)
	}
	cert, err := tls.X509KeyPair([]byte(leaf.CertPEM), leaf.KeyPEM)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool, cert
})

// startSMTP runs an SMTP server with be on 127.0.0.1 in the given TLS mode
// and returns its address. With TLSNone, AUTH is allowed in the clear; with
// TLSStartTLS it is offered only after STARTTLS, as real servers do.
func startSMTP(t *testing.T, be *testBackend, mode string) string {
	t.Helper()
	_, cert := testPKI()
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case TLSNone:
		srv.AllowInsecureAuth = true
	case TLSStartTLS:
		srv.TLSConfig = tlsConfig
	case TLSImplicit:
		ln = tls.NewListener(ln, tlsConfig)
	}
	addr := ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return addr
}

// testConfig is a config for the server at addr that trusts the test CA.
func testConfig(addr, mode string) SMTPConfig {
	pool, _ := testPKI()
	return SMTPConfig{
		Addr: addr, Username: testUser, Password: testPassword, TLS: mode, From: testFrom,
		TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 10 * time.Second, HeloName: "kcred.test",
	}
}

// renderedTestMail is a real digest with names that need escaping in HTML.
func renderedTestMail(t *testing.T) (subject, text, html string) {
	t.Helper()
	n := notice(kcred.KindRenewed, "kafka-1", `<script>alert("x")</script>`, now.Add(90*day))
	subject, text, html, _, err := Render(Digest{
		Kind: kcred.KindRenewed, Project: "p1", PublicURL: "https://kcred.example.com", Now: now,
		Items: []*kcred.Notice{n, notice(kcred.KindRenewed, "kafka-1", "alice", now.Add(90*day))},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Lines starting with a dot test the transparency of DATA (dot-stuffing).
	text += ".\n.. two dots\n"
	return subject, text, html
}

func TestMailerSend(t *testing.T) {
	for _, mode := range []string{TLSNone, TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			be := &testBackend{user: testUser, password: testPassword}
			addr := startSMTP(t, be, mode)
			m := NewMailer(testConfig(addr, mode))
			date := time.Date(2026, 5, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
			m.now = func() time.Time { return date }

			subject, text, html := renderedTestMail(t)
			const id = "0123456789abcdef0123456789abcdef"
			if err := m.Send(context.Background(), id, "Alice Admin <alice@example.org>", subject, text, html); err != nil {
				t.Fatal(err)
			}

			msgs := be.received()
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if got.AuthUser != testUser {
				t.Errorf("authenticated as %q, want %q", got.AuthUser, testUser)
			}
			if got.TLS != (mode != TLSNone) {
				t.Errorf("session TLS = %v", got.TLS)
			}
			if got.From != "kcred@example.com" || len(got.To) != 1 || got.To[0] != "alice@example.org" {
				t.Errorf("envelope from %q to %q", got.From, got.To)
			}
			if got.Helo != "kcred.test" {
				t.Errorf("EHLO %q, want kcred.test", got.Helo)
			}
			checkMessage(t, got.Data, id, subject, text, html, date)
		})
	}
}

// checkMessage parses a received message with net/mail and mime/multipart
// and checks its headers and both parts.
func checkMessage(t *testing.T, data []byte, id, subject, text, html string, date time.Time) {
	t.Helper()
	// Every line ends in CRLF and fits SMTP's limit.
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			t.Errorf("line %d does not end in CRLF: %q", i+1, line)
		}
		if len(line) > 1000 {
			t.Errorf("line %d is %d bytes long", i+1, len(line))
		}
	}

	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	dec := new(mime.WordDecoder)
	if s, err := dec.DecodeHeader(h.Get("Subject")); err != nil || s != subject {
		t.Errorf("Subject %q (raw %q, err %v), want %q", s, h.Get("Subject"), err, subject)
	}
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "kcred@example.com" || from.Name != "kcred" {
		t.Errorf("From %q: %v", h.Get("From"), err)
	}
	if to, err := mail.ParseAddress(h.Get("To")); err != nil || to.Address != "alice@example.org" || to.Name != "Alice Admin" {
		t.Errorf("To %q: %v", h.Get("To"), err)
	}
	if got, want := h.Get("Message-ID"), "<"+id+"@example.com>"; got != want {
		t.Errorf("Message-ID %q, want %q", got, want)
	}
	if got := h.Get("X-Kcred-Delivery"); got != id {
		t.Errorf("X-Kcred-Delivery %q, want %q", got, id)
	}
	if d, err := h.Date(); err != nil || !d.Equal(date) {
		t.Errorf("Date %q (%v), want %v", h.Get("Date"), err, date)
	}
	if h.Get("MIME-Version") != "1.0" || h.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("MIME-Version %q, Auto-Submitted %q", h.Get("MIME-Version"), h.Get("Auto-Submitted"))
	}

	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for _, want := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", html}} {
		p, err := mr.NextPart() // decodes quoted-printable
		if err != nil {
			t.Fatalf("%s part: %v", want.typ, err)
		}
		typ, tparams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if typ != want.typ || tparams["charset"] != "utf-8" {
			t.Errorf("part Content-Type %q, want %s; charset=utf-8", p.Header.Get("Content-Type"), want.typ)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != want.body {
			t.Errorf("%s part differs:\n--- got ---\n%s\n--- want ---\n%s", want.typ, got, want.body)
		}
		if want.typ == "text/html" {
			if bytes.Contains(body, []byte("<script>")) || !bytes.Contains(body, []byte("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")) {
				t.Error("HTML part does not escape the username")
			}
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("more than two parts: %v", err)
	}
}

func TestMailerStartTLSIsEncrypted(t *testing.T) {
	// A server that requires TLS for AUTH (AllowInsecureAuth off) accepts
	// our login only after STARTTLS, so a delivered message proves the
	// upgrade happened before the password was sent.
	be := &testBackend{user: testUser, password: testPassword}
	addr := startSMTP(t, be, TLSStartTLS)
	subject, text, html := renderedTestMail(t)
	if err := NewMailer(testConfig(addr, TLSStartTLS)).Send(context.Background(), "d1", "alice@example.org", subject, text, html); err != nil {
		t.Fatal(err)
	}
	if msgs := be.received(); len(msgs) != 1 || !msgs[0].TLS || msgs[0].AuthUser != testUser {
		t.Fatalf("messages %+v, want one over TLS after AUTH", msgs)
	}
}

func TestMailerAuthLogin(t *testing.T) {
	be := &testBackend{user: testUser, password: testPassword, mechs: []string{sasl.Login, "XOAUTH2"}}
	addr := startSMTP(t, be, TLSImplicit)
	if err := NewMailer(testConfig(addr, TLSImplicit)).Send(context.Background(), "d1", "alice@example.org", "Hi", "text\n", "<p>x</p>"); err != nil {
		t.Fatal(err)
	}
	if msgs := be.received(); len(msgs) != 1 || msgs[0].AuthUser != testUser {
		t.Fatalf("messages %+v", msgs)
	}

	// Neither PLAIN nor LOGIN: a clear error, no password sent.
	be = &testBackend{user: testUser, password: testPassword, mechs: []string{"XOAUTH2"}}
	addr = startSMTP(t, be, TLSImplicit)
	err := NewMailer(testConfig(addr, TLSImplicit)).Send(context.Background(), "d1", "alice@example.org", "Hi", "text\n", "<p>x</p>")
	if err == nil || !strings.Contains(err.Error(), "neither PLAIN nor LOGIN") || be.authAttempts() != 0 {
		t.Fatalf("error %v after %d AUTH runs", err, be.authAttempts())
	}
}

func TestMailerWithoutAuth(t *testing.T) {
	be := &testBackend{}
	addr := startSMTP(t, be, TLSNone)
	cfg := testConfig(addr, TLSNone)
	cfg.Username, cfg.Password = "", ""
	if err := NewMailer(cfg).Send(context.Background(), "d1", "alice@example.org", "Hello", "text\n", "<p>html</p>"); err != nil {
		t.Fatal(err)
	}
	if msgs := be.received(); len(msgs) != 1 || msgs[0].AuthUser != "" {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestMailerErrors(t *testing.T) {
	pool, _ := testPKI()
	for _, tc := range []struct {
		name   string
		be     *testBackend
		server string // TLS mode of the server
		edit   func(*SMTPConfig)
		want   []string // in the error text
	}{
		{
			name: "wrong password", server: TLSNone,
			be:   &testBackend{user: testUser, password: testPassword},
			edit: func(c *SMTPConfig) { c.Password = "wrong-" + testPassword },
			want: []string{"authentication", "535"},
		},
		{
			name: "RCPT refused", server: TLSNone,
			be:   &testBackend{rcptErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}},
			edit: func(c *SMTPConfig) { c.Username, c.Password = "", "" },
			want: []string{"RCPT TO", "451", "Try again later"},
		},
		{
			name: "DATA refused", server: TLSNone,
			be:   &testBackend{dataErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Queue full"}},
			edit: func(c *SMTPConfig) { c.Username, c.Password = "", "" },
			want: []string{"DATA", "451", "Queue full"},
		},
		{
			// Never fall back to plain text when STARTTLS was asked for.
			name: "no STARTTLS", server: TLSNone,
			be:   &testBackend{user: testUser, password: testPassword},
			want: []string{"STARTTLS", "doesn't support STARTTLS"},
			edit: func(c *SMTPConfig) { c.TLS = TLSStartTLS },
		},
		{
			name: "untrusted certificate", server: TLSStartTLS,
			be:   &testBackend{user: testUser, password: testPassword},
			edit: func(c *SMTPConfig) { c.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()} },
			want: []string{"certificate"},
		},
		{
			name: "wrong host name", server: TLSImplicit,
			be:   &testBackend{user: testUser, password: testPassword},
			edit: func(c *SMTPConfig) { c.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "mail.example.com"} },
			want: []string{"TLS handshake", "mail.example.com"},
		},
		{
			// AUTH offered only over TLS; the user asked for none.
			name: "AUTH not offered", server: TLSStartTLS,
			be:   &testBackend{user: testUser, password: testPassword},
			edit: func(c *SMTPConfig) { c.TLS = TLSNone },
			want: []string{"does not offer AUTH", "tls=starttls"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startSMTP(t, tc.be, tc.server)
			cfg := testConfig(addr, tc.server)
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			err := NewMailer(cfg).Send(context.Background(), "d1", "alice@example.org", "Hello", "text\n", "<p>html</p>")
			if err == nil {
				t.Fatal("Send succeeded")
			}
			t.Log(err)
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error %q contains the password", err)
			}
			if kcred.ErrorCode(err) != kcred.EINTERNAL {
				t.Errorf("error code %q, want a plain error", kcred.ErrorCode(err))
			}
			if n := len(tc.be.received()); n != 0 {
				t.Errorf("server got %d messages", n)
			}
			if tc.name == "no STARTTLS" || tc.name == "AUTH not offered" {
				if tc.be.authAttempts() != 0 {
					t.Error("the password was sent in the clear")
				}
			}
		})
	}
}

func TestMailerTimeout(t *testing.T) {
	// A server that accepts connections and never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()

	for _, mode := range []string{TLSNone, TLSStartTLS, TLSImplicit} {
		t.Run("config "+mode, func(t *testing.T) {
			cfg := testConfig(ln.Addr().String(), mode)
			cfg.Timeout = 200 * time.Millisecond
			start := time.Now()
			err := NewMailer(cfg).Send(context.Background(), "d1", "alice@example.org", "Hello", "text\n", "<p>html</p>")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want a deadline", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		err := NewMailer(testConfig(ln.Addr().String(), TLSNone)).Send(ctx, "d1", "alice@example.org", "Hello", "text\n", "<p>html</p>")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want canceled", err)
		}
	})
}

func TestMailerInvalid(t *testing.T) {
	m := NewMailer(SMTPConfig{Addr: "127.0.0.1:1", TLS: TLSNone, From: testFrom})
	for name, args := range map[string][2]string{
		"empty delivery ID":     {"", "alice@example.org"},
		"delivery ID with <>":   {"a>b", "alice@example.org"},
		"delivery ID with CRLF": {"a\r\nBcc: x@example.org", "alice@example.org"},
		"bad recipient":         {"d1", "not an address"},
		"two recipients":        {"d1", "a@example.org, b@example.org"},
	} {
		if err := m.Send(context.Background(), args[0], args[1], "s", "t", "h"); kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("%s: %v, want %s", name, err, kcred.EINVALID)
		}
	}
	bad := NewMailer(SMTPConfig{Addr: "127.0.0.1:1", TLS: TLSNone, From: "nobody"})
	if err := bad.Send(context.Background(), "d1", "alice@example.org", "s", "t", "h"); kcred.ErrorCode(err) != kcred.EINVALID {
		t.Errorf("bad sender: %v", err)
	}
}

func TestMessageHeaders(t *testing.T) {
	from, _ := mail.ParseAddress("Zoë Ops <kcred@example.com>")
	to, _ := mail.ParseAddress("bob@example.org")
	long := "[kcred] " + strings.Repeat("very long subject with ünïcödé ", 8) + "end"
	m := &message{
		From: from, To: to,
		Subject: long + "\r\nBcc: evil@example.net",
		Text:    "line\n", HTML: "<p>x</p>",
		DeliveryID: "abc", Date: now,
	}
	data, err := m.bytes()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Error("a line break in the subject injected a header")
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != long+"  Bcc: evil@example.net" {
		t.Errorf("subject %q (%v)", subject, err)
	}
	if a, err := mail.ParseAddress(msg.Header.Get("From")); err != nil || a.Name != "Zoë Ops" {
		t.Errorf("From %q: %v", msg.Header.Get("From"), err)
	}
	// Folded: no header line longer than 78 characters but for one
	// encoded word that cannot be broken.
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	sc := bufio.NewScanner(bytes.NewReader(head))
	for sc.Scan() {
		if len(sc.Text()) > 78 && strings.Count(strings.TrimSpace(sc.Text()), " ") > 1 {
			t.Errorf("header line not folded: %q", sc.Text())
		}
	}
	// A sender without a usable domain still gives a valid Message-ID.
	if got := messageID("abc", "kcred@localhost"); got != "<abc@localhost>" {
		t.Errorf("messageID %q", got)
	}
	if got := messageID("abc", "weird@[127.0.0.1]"); got != "<abc@kcred.invalid>" {
		t.Errorf("messageID %q", got)
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url, from string
		want      SMTPConfig
	}{
		{"smtp://user:pass@mail.example.com:2525?tls=none", "kcred@example.com",
			SMTPConfig{Addr: "mail.example.com:2525", Username: "user", Password: "pass", TLS: TLSNone, From: "kcred@example.com"}},
		{"smtp://mail.example.com", "kcred <kcred@example.com>",
			SMTPConfig{Addr: "mail.example.com:587", TLS: TLSStartTLS, From: "kcred <kcred@example.com>"}},
		{"smtp://mail.example.com/?tls=starttls", "kcred@example.com",
			SMTPConfig{Addr: "mail.example.com:587", TLS: TLSStartTLS, From: "kcred@example.com"}},
		{"smtp://mail.example.com?tls=tls", "kcred@example.com",
			SMTPConfig{Addr: "mail.example.com:465", TLS: TLSImplicit, From: "kcred@example.com"}},
		{"smtps://u:p@mail.example.com", "kcred@example.com",
			SMTPConfig{Addr: "mail.example.com:465", Username: "u", Password: "p", TLS: TLSImplicit, From: "kcred@example.com"}},
		{"smtps://mail.example.com:1465?tls=tls", "kcred@example.com",
			SMTPConfig{Addr: "mail.example.com:1465", TLS: TLSImplicit, From: "kcred@example.com"}},
		{"smtp://127.0.0.1?tls=none", "kcred@example.com",
			SMTPConfig{Addr: "127.0.0.1:25", TLS: TLSNone, From: "kcred@example.com"}},
		{"smtp://[::1]:1025?tls=none", "kcred@example.com",
			SMTPConfig{Addr: "[::1]:1025", TLS: TLSNone, From: "kcred@example.com"}},
		// Percent-encoded user and password; the user is the sender when
		// --mail-from is not given.
		{"smtp://me%40example.com:p%40ss%3Aw%2Frd@smtp.example.com", "",
			SMTPConfig{Addr: "smtp.example.com:587", Username: "me@example.com", Password: "p@ss:w/rd", TLS: TLSStartTLS, From: "me@example.com"}},
		{"smtp://apikey@smtp.example.com", "kcred@example.com",
			SMTPConfig{Addr: "smtp.example.com:587", Username: "apikey", TLS: TLSStartTLS, From: "kcred@example.com"}},
	} {
		got, err := ParseSMTPURL(tc.url, tc.from)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
		} else if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.url, got, tc.want)
		}
	}

	for _, tc := range []struct{ url, from string }{
		{"", "kcred@example.com"},
		{"   ", "kcred@example.com"},
		{"http://u:hunter2@mail.example.com", "kcred@example.com"},
		{"mail.example.com:25", "kcred@example.com"},
		{"smtp:mail.example.com:25", "kcred@example.com"},
		{"smtp://", "kcred@example.com"},
		{"smtp://u:hunter2@", "kcred@example.com"},
		{"smtp://u:hunter2@mail.example.com/path", "kcred@example.com"},
		{"smtp://u:hunter2@mail.example.com#frag", "kcred@example.com"},
		{"smtp://u:hunter2@mail.example.com?tls=ssl", "kcred@example.com"},
		{"smtp://u:hunter2@mail.example.com?tls=none&tls=tls", "kcred@example.com"},
		{"smtp://u:hunter2@mail.example.com?insecure=1", "kcred@example.com"},
		{"smtps://u:hunter2@mail.example.com?tls=starttls", "kcred@example.com"},
		{"smtps://u:hunter2@mail.example.com?tls=none", "kcred@example.com"},
		{"smtp://u:hunter2@mail.example.com:0", "kcred@example.com"},
		{"smtp://u:hunter2@mail.example.com:70000", "kcred@example.com"},
		{"smtp://u:hunter2@mail.example.com:smtp", "kcred@example.com"},
		{"smtp://u:hunter2 x@mail.example.com", "kcred@example.com"},
		{"smtp://u:hunter2/x@mail.example.com", "kcred@example.com"},
		{"smtp://u:hunter2%zz@mail.example.com", "kcred@example.com"},
		{"smtp://:hunter2@mail.example.com", "kcred@example.com"},
		{"smtp://apikey:hunter2@mail.example.com", ""},
		{"smtp://mail.example.com", ""},
		{"smtp://u:hunter2@mail.example.com", "not an address"},
		{"smtp://u:hunter2@mail.example.com", "kcred"},
	} {
		_, err := ParseSMTPURL(tc.url, tc.from)
		if kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("ParseSMTPURL(%q, %q) = %v, want %s", tc.url, tc.from, err, kcred.EINVALID)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseSMTPURL(%q): error shows the password: %v", tc.url, err)
		}
	}
}

func TestParseSMTPURLSends(t *testing.T) {
	// The parsed config of a real URL reaches a real server.
	be := &testBackend{user: "me@example.com", password: "p@ss:word"}
	addr := startSMTP(t, be, TLSNone)
	cfg, err := ParseSMTPURL("smtp://me%40example.com:p%40ss%3Aword@"+addr+"?tls=none", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := NewMailer(cfg).Send(context.Background(), "d1", "alice@example.org", "Hi", "text\n", "<p>x</p>"); err != nil {
		t.Fatal(err)
	}
	if msgs := be.received(); len(msgs) != 1 || msgs[0].From != "me@example.com" {
		t.Fatalf("messages %+v", msgs)
	}
}
