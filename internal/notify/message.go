package notify

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"
)

// message is one email as it goes over SMTP.
type message struct {
	From       *mail.Address
	To         *mail.Address
	Subject    string
	Text       string
	HTML       string
	DeliveryID string
	Date       time.Time
}

// deliveryIDRE is what a delivery ID may look like to go into Message-ID
// (an RFC 5322 dot-atom) and a header. kcred's IDs are 32 hex characters.
var deliveryIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// domainRE is a host name fit for the right side of a Message-ID.
var domainRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

// messageID returns the Message-ID of a delivery: the same on every attempt,
// so that a message sent twice (delivery is at least once) shows up as a
// duplicate to mail systems and people alike.
func messageID(deliveryID, fromAddress string) string {
	domain := "kcred.invalid"
	if i := strings.LastIndexByte(fromAddress, '@'); i >= 0 && domainRE.MatchString(fromAddress[i+1:]) {
		domain = fromAddress[i+1:]
	}
	return "<" + deliveryID + "@" + domain + ">"
}

// bytes returns m as an RFC 5322 message with CRLF line endings: a
// multipart/alternative of a text and an HTML part (in that order, so
// clients that can show HTML prefer it), both UTF-8 and quoted-printable.
// Dot-stuffing is left to the SMTP client.
func (m *message) bytes() ([]byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range []struct{ typ, content string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(p.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(fold(name + ": " + value))
		b.WriteString("\r\n")
	}
	header("From", m.From.String())
	header("To", m.To.String())
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	header("Date", m.Date.Format(time.RFC1123Z))
	header("Message-ID", messageID(m.DeliveryID, m.From.Address))
	header("MIME-Version", "1.0")
	// RFC 3834: machine-generated, so vacation responders stay quiet;
	// the second is the same for Exchange.
	header("Auto-Submitted", "auto-generated")
	header("X-Auto-Response-Suppress", "All")
	header("X-Kcred-Delivery", m.DeliveryID)
	header("Content-Type", fmt.Sprintf("multipart/alternative; boundary=%q", mw.Boundary()))
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

// oneLine replaces line breaks and other control characters, which would
// end a header early (header injection), with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// fold breaks a header line longer than 78 characters at spaces (RFC 5322
// §2.2.3). Encoded words hold no spaces and decoders drop the whitespace
// between them, so folding never changes the value.
func fold(line string) string {
	const limit = 78
	if len(line) <= limit {
		return line
	}
	var b strings.Builder
	n := 0
	for i, word := range strings.Split(line, " ") {
		if i > 0 {
			// Never right after "Name:", where folding gains nothing.
			if n+1+len(word) > limit && i > 1 && n > 1 {
				b.WriteString("\r\n ")
				n = 1
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
