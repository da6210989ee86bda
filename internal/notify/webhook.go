package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kcred/kcred"
)

// DefaultWebhookTimeout bounds one Post when the client has no timeout.
const DefaultWebhookTimeout = 10 * time.Second

// Webhook request headers. See Event for what they carry.
const (
	HeaderSignature = "X-Kcred-Signature"
	HeaderDelivery  = "X-Kcred-Delivery"
	HeaderEvent     = "X-Kcred-Event"
)

// maxErrorBody is how much of a failed response's body goes into the error.
const maxErrorBody = 200

// maxWebhookURL bounds a webhook URL's length.
const maxWebhookURL = 2048

// WebhookSender posts webhook payloads. The zero value is ready to use.
type WebhookSender struct {
	// Client makes the requests; nil means http.DefaultTransport. Its
	// CheckRedirect is overridden (redirects are never followed) and a zero
	// Timeout means DefaultWebhookTimeout.
	Client *http.Client
}

// Post sends body (an Event) to url as one POST with the headers
// Content-Type: application/json, User-Agent: kcred,
// X-Kcred-Signature: Sign(secret, body), X-Kcred-Delivery: deliveryID and,
// when body has a "type", X-Kcred-Event: that type.
//
// A 2xx response is success. Anything else is an error with the status and
// at most 200 bytes of the response body; a redirect is such an error too,
// never followed, so that a signed payload goes only where it was
// configured to. An invalid url or deliveryID is a kcred.EINVALID error;
// transport errors leave out the URL, whose path or query may hold a token.
func (w *WebhookSender) Post(ctx context.Context, url string, secret []byte, deliveryID string, body []byte) error {
	return w.post(ctx, url, secret, deliveryID, body)
}

// post is Post, with the url parameter renamed so the package is in scope.
func (w *WebhookSender) post(ctx context.Context, target string, secret []byte, deliveryID string, body []byte) error {
	if err := ValidateWebhookURL(target); err != nil {
		return err
	} else if !deliveryIDRE.MatchString(deliveryID) {
		return kcred.Errorf(kcred.EINVALID, "Invalid delivery ID %q.", clip(deliveryID))
	}

	client := http.Client{}
	if w != nil && w.Client != nil {
		client = *w.Client
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if client.Timeout == 0 {
		client.Timeout = DefaultWebhookTimeout
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return kcred.Errorf(kcred.EINVALID, "Invalid webhook URL.")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kcred")
	req.Header.Set(HeaderSignature, Sign(secret, body))
	req.Header.Set(HeaderDelivery, deliveryID)
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &head) == nil && head.Type != "" {
		req.Header.Set(HeaderEvent, oneLine(head.Type))
	}

	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook POST: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	// Drain a little more so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	msg := fmt.Sprintf("webhook responded %s", resp.Status)
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		msg += " (redirects are not followed"
		if loc := resp.Header.Get("Location"); loc != "" {
			msg += "; Location: " + clip(printable(loc))
		}
		msg += ")"
	}
	if s := printable(string(snippet)); s != "" {
		msg += ": " + s
	}
	return errors.New(msg)
}

// printable makes untrusted response text safe to store and show: valid
// UTF-8, control characters and runs of space as one space, trimmed.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Sign returns the X-Kcred-Signature value of body under secret:
// "sha256=" and the lowercase hex HMAC-SHA256 of the exact body bytes.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is a valid X-Kcred-Signature of body under
// secret, comparing in constant time. Receivers call it with the raw body,
// before parsing it.
func Verify(secret, body []byte, header string) bool {
	sig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// ValidateWebhookURL checks a webhook URL: absolute http or https, with a
// host, without user info (secrets belong in the signing secret, not the
// URL) or fragment, at most 2048 characters. It returns kcred.EINVALID
// errors, which never echo the URL.
func ValidateWebhookURL(u string) error {
	if u == "" {
		return kcred.Errorf(kcred.EINVALID, "A webhook URL is required.")
	} else if len(u) > maxWebhookURL {
		return kcred.Errorf(kcred.EINVALID, "The webhook URL is longer than %d characters.", maxWebhookURL)
	}
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return kcred.Errorf(kcred.EINVALID, "The webhook URL cannot be parsed; use https://host/path.")
	case p.Scheme != "http" && p.Scheme != "https":
		return kcred.Errorf(kcred.EINVALID, "The webhook URL must start with https:// or http://.")
	case p.Opaque != "" || p.Hostname() == "":
		return kcred.Errorf(kcred.EINVALID, "The webhook URL has no host.")
	case p.User != nil:
		return kcred.Errorf(kcred.EINVALID, "The webhook URL must not contain a user name or password; requests are signed with the webhook's secret instead.")
	case p.Fragment != "" || strings.Contains(u, "#"):
		return kcred.Errorf(kcred.EINVALID, "The webhook URL must not have a fragment (#...).")
	case strings.ContainsFunc(u, unicode.IsSpace) || strings.ContainsFunc(u, unicode.IsControl):
		return kcred.Errorf(kcred.EINVALID, "The webhook URL must not contain spaces or control characters.")
	}
	if port := p.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return kcred.Errorf(kcred.EINVALID, "The webhook URL has an invalid port.")
		}
	}
	return nil
}
