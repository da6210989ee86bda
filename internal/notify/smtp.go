package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/kcred/kcred"
)

// SMTP connection security, the tls= parameter of --smtp-url.
const (
	TLSNone     = "none"     // plain TCP; AUTH, if any, is sent in the clear
	TLSStartTLS = "starttls" // plain TCP upgraded with STARTTLS, which is required: never falls back to plain
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
)

// DefaultSMTPTimeout bounds one Send when SMTPConfig.Timeout is zero.
const DefaultSMTPTimeout = time.Minute

// SMTPConfig is how to reach the mail server.
type SMTPConfig struct {
	Addr      string        // host:port
	Username  string        // "" for no AUTH
	Password  string        // a secret: never logged, never in an error
	TLS       string        // TLSNone, TLSStartTLS or TLSImplicit
	From      string        // sender: "kcred@example.com" or "kcred <kcred@example.com>"
	TLSConfig *tls.Config   // nil for the system roots; tests trust a test CA here
	Timeout   time.Duration // bounds one Send, connection to QUIT; 0 means DefaultSMTPTimeout
	HeloName  string        // the name given in EHLO; "" means the host name, else "localhost"
}

// ParseSMTPURL parses --smtp-url, smtp://user:pass@host:port?tls=none|starttls|tls,
// with from (--mail-from) as the sender.
//
// The scheme smtps means tls=tls. Without a tls parameter, smtp means
// starttls: credentials and messages are never sent in the clear unless
// tls=none says so. The port defaults to 587 for starttls, 465 for tls and
// 25 for none. The user name and password are percent-decoded, so special
// characters in them must be percent-encoded. When from is empty the user
// name is the sender if it is an email address.
//
// Anything else (another scheme or parameter, a missing host, a bad port,
// a password without a user name, a missing or bad sender) is a
// kcred.EINVALID error. Its message never contains the password.
func ParseSMTPURL(rawurl, from string) (SMTPConfig, error) {
	const example = "use smtp://user:password@host:port?tls=none|starttls|tls, percent-encoding special characters in the user name and password"
	if strings.TrimSpace(rawurl) == "" {
		return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "The SMTP URL is empty; %s.", example)
	}
	// Errors from url.Parse quote the URL, password and all: never show them.
	u, err := url.Parse(rawurl)
	if err != nil {
		return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "The SMTP URL cannot be parsed; %s.", example)
	}

	cfg := SMTPConfig{From: from}
	switch u.Scheme {
	case "smtp":
		cfg.TLS = TLSStartTLS
	case "smtps":
		cfg.TLS = TLSImplicit
	default:
		return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "The SMTP URL must start with smtp:// or smtps://; %s.", example)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "The SMTP URL has no host; %s.", example)
	} else if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "The SMTP URL must not have a path or fragment; %s.", example)
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "The SMTP URL's parameters cannot be parsed; %s.", example)
	}
	for k, vs := range q {
		if k != "tls" {
			return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "Unknown SMTP URL parameter %q; the only one is tls=none|starttls|tls.", k)
		} else if len(vs) != 1 {
			return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "The SMTP URL parameter tls is given %d times.", len(vs))
		}
	}
	if q.Has("tls") {
		mode := q.Get("tls")
		switch mode {
		case TLSNone, TLSStartTLS, TLSImplicit:
		default:
			return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "Unknown SMTP TLS mode %q; use none, starttls or tls.", clip(mode))
		}
		if u.Scheme == "smtps" && mode != TLSImplicit {
			return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "smtps:// means tls=tls; use smtp:// with tls=%s.", mode)
		}
		cfg.TLS = mode
	}

	port := u.Port()
	if port == "" {
		port = map[string]string{TLSNone: "25", TLSStartTLS: "587", TLSImplicit: "465"}[cfg.TLS]
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "Invalid SMTP port %q; use 1 to 65535.", clip(port))
	}
	cfg.Addr = net.JoinHostPort(u.Hostname(), port)

	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
		if cfg.Username == "" && cfg.Password != "" {
			return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "The SMTP URL has a password but no user name.")
		}
	}

	if cfg.From == "" {
		if a, err := mail.ParseAddress(cfg.Username); err == nil && a.Address == cfg.Username {
			cfg.From = cfg.Username
		} else {
			return SMTPConfig{}, kcred.Errorf(kcred.EINVALID, "A sender address is required (--mail-from), such as kcred@example.com.")
		}
	}
	if _, err := parseSender(cfg.From); err != nil {
		return SMTPConfig{}, err
	}
	return cfg, nil
}

// parseSender parses a From address: "a@example.com" or "Name <a@example.com>".
func parseSender(from string) (*mail.Address, error) {
	a, err := mail.ParseAddress(from)
	if err != nil || !strings.Contains(a.Address, "@") {
		return nil, kcred.Errorf(kcred.EINVALID, "Invalid sender address %q: use kcred@example.com or \"kcred <kcred@example.com>\".", clip(from))
	}
	return a, nil
}

// clip keeps error messages short when the input is long.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// Mailer sends email through one SMTP server, a new connection per message.
// It is safe for concurrent use.
type Mailer struct {
	cfg SMTPConfig
	now func() time.Time // the Date header; replaced in tests
}

// NewMailer returns a Mailer for cfg. It does not connect: a bad server
// shows in Send's errors.
func NewMailer(cfg SMTPConfig) *Mailer {
	return &Mailer{cfg: cfg, now: time.Now}
}

// Send sends one message to one recipient, to, in one SMTP session: connect
// (TLS per cfg.TLS, verifying the server's certificate against cfg.Addr's
// host), EHLO, AUTH when a user name is configured (PLAIN, or LOGIN when the
// server offers only that), MAIL, RCPT, DATA, QUIT. The message is a
// multipart/alternative of text and html (see message.bytes) whose
// Message-ID and X-Kcred-Delivery header come from deliveryID, so that
// retries of one delivery are recognisable as duplicates.
//
// Once the server has accepted the message (250 after DATA), Send succeeds
// even if QUIT fails, so a retry never sends it twice over a lost QUIT.
// ctx and cfg.Timeout bound the whole session. A bad deliveryID, recipient
// or sender is a kcred.EINVALID error; anything else (network, TLS, a 4xx or
// 5xx reply) is a plain error naming the step and the server's reply, never
// the password.
func (m *Mailer) Send(ctx context.Context, deliveryID, to, subject, text, html string) error {
	if !deliveryIDRE.MatchString(deliveryID) {
		return kcred.Errorf(kcred.EINVALID, "Invalid delivery ID %q.", clip(deliveryID))
	}
	from, err := parseSender(m.cfg.From)
	if err != nil {
		return err
	}
	rcpt, err := mail.ParseAddress(to)
	if err != nil || !strings.Contains(rcpt.Address, "@") {
		return kcred.Errorf(kcred.EINVALID, "Invalid recipient address %q.", clip(to))
	}
	msg, err := (&message{
		From: from, To: rcpt, Subject: subject, Text: text, HTML: html,
		DeliveryID: deliveryID, Date: m.now(),
	}).bytes()
	if err != nil {
		return fmt.Errorf("notify: build message: %w", err)
	}

	timeout := m.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c, err := m.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	// fail names the step; when ctx ended, its error is the cause, not the
	// "use of closed network connection" that closing the socket caused.
	fail := func(step string, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return fmt.Errorf("smtp %s: %s: %w", m.cfg.Addr, step, err)
	}

	// Over STARTTLS this EHLO is the first use of the upgraded
	// connection, so it is where the TLS handshake (and its errors) happen.
	step := "EHLO"
	if m.cfg.TLS == TLSStartTLS {
		step = "TLS handshake after STARTTLS"
	}
	if err := c.Hello(m.heloName()); err != nil {
		return fail(step, err)
	}
	if err := m.auth(c); err != nil {
		return fail("authentication", err)
	}
	var opts *smtp.MailOptions
	if !isASCII(from.Address) || !isASCII(rcpt.Address) {
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(from.Address, opts); err != nil {
		return fail("MAIL FROM", err)
	}
	if err := c.Rcpt(rcpt.Address, nil); err != nil {
		return fail("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("DATA", err)
	}
	// Accepted: a failed QUIT changes nothing for the message.
	_ = c.Quit()
	return nil
}

// dial connects to the server per cfg.TLS and returns a client whose
// connection is closed when ctx ends. go-smtp sets and clears deadlines per
// command on its own (its RFC 5321 timeouts of minutes stay as they are), so
// closing the connection is what makes ctx bind.
func (m *Mailer) dial(ctx context.Context) (*smtp.Client, error) {
	host, _, err := net.SplitHostPort(m.cfg.Addr)
	if err != nil {
		return nil, kcred.Errorf(kcred.EINVALID, "Invalid SMTP address %q: use host:port.", clip(m.cfg.Addr))
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.cfg.TLSConfig != nil {
		tlsConfig = m.cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = host
	}

	fail := func(step string, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return fmt.Errorf("smtp %s: %s: %w", m.cfg.Addr, step, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.cfg.Addr)
	if err != nil {
		return nil, fail("connect", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	closeAll := func() {
		stop()
		conn.Close()
	}

	var c *smtp.Client
	switch m.cfg.TLS {
	case TLSImplicit:
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			closeAll()
			return nil, fail("TLS handshake", err)
		}
		c = smtp.NewClient(tc)
	case TLSStartTLS:
		// Greets, says EHLO and upgrades; fails rather than going on in
		// the clear when the server does not offer STARTTLS.
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			closeAll()
			return nil, fail("STARTTLS", err)
		}
	case TLSNone:
		c = smtp.NewClient(conn)
	default:
		closeAll()
		return nil, kcred.Errorf(kcred.EINVALID, "Unknown SMTP TLS mode %q; use none, starttls or tls.", clip(m.cfg.TLS))
	}
	return c, nil
}

// auth logs in when a user name is configured.
func (m *Mailer) auth(c *smtp.Client) error {
	if m.cfg.Username == "" {
		return nil
	}
	ok, mechs := c.Extension("AUTH")
	if !ok {
		// Going on without logging in would only fail later, at RCPT,
		// with a less clear reply.
		hint := ""
		if _, isTLS := c.TLSConnectionState(); !isTLS {
			hint = " (servers often offer it only over TLS: try tls=starttls or tls=tls)"
		}
		return fmt.Errorf("the server does not offer AUTH%s; cannot log in as %q", hint, m.cfg.Username)
	}
	var a sasl.Client
	switch {
	case c.SupportsAuth(sasl.Plain):
		a = sasl.NewPlainClient("", m.cfg.Username, m.cfg.Password)
	case c.SupportsAuth(sasl.Login):
		a = sasl.NewLoginClient(m.cfg.Username, m.cfg.Password)
	default:
		return fmt.Errorf("the server offers AUTH %s but neither PLAIN nor LOGIN; cannot log in as %q", clip(mechs), m.cfg.Username)
	}
	if err := c.Auth(a); err != nil {
		return fmt.Errorf("as %q: %w", m.cfg.Username, scrub(err, m.cfg.Password))
	}
	return nil
}

// scrub replaces secret in err's text, should a server ever echo it.
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "[redacted]"))
}

// heloName is the name kcred gives in EHLO.
func (m *Mailer) heloName() string {
	if m.cfg.HeloName != "" {
		return m.cfg.HeloName
	}
	if h, err := os.Hostname(); err == nil && domainRE.MatchString(h) {
		return h
	}
	return "localhost"
}

// isASCII reports whether s is 7-bit.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
