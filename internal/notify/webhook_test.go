package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

var testSecret = []byte("webhook-secret-0123456789")

// hookRequest is what a test receiver saw.
type hookRequest struct {
	Method string
	Header http.Header
	Body   []byte
}

// receiver starts an HTTP(S) server that records requests into ch and
// answers with status.
func receiver(t *testing.T, tls bool, status int) (*httptest.Server, chan hookRequest) {
	t.Helper()
	ch := make(chan hookRequest, 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ch <- hookRequest{r.Method, r.Header.Clone(), body}
		w.WriteHeader(status)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv, ch
}

func TestWebhookPost(t *testing.T) {
	_, _, _, payload, err := Render(goldenCases[0].d)
	if err != nil {
		t.Fatal(err)
	}
	for _, useTLS := range []bool{false, true} {
		srv, ch := receiver(t, useTLS, http.StatusNoContent)
		w := &WebhookSender{}
		if useTLS {
			w.Client = srv.Client() // trusts the test certificate
		}
		const id = "fedcba9876543210fedcba9876543210"
		if err := w.Post(context.Background(), srv.URL+"/hooks/kcred?x=1", testSecret, id, payload); err != nil {
			t.Fatalf("TLS %v: %v", useTLS, err)
		}
		got := <-ch
		if got.Method != http.MethodPost || !bytes.Equal(got.Body, payload) {
			t.Errorf("got %s with body %q", got.Method, got.Body)
		}
		for name, want := range map[string]string{
			"Content-Type":     "application/json",
			"User-Agent":       "kcred",
			"X-Kcred-Delivery": id,
			"X-Kcred-Event":    "certificate.renewed",
		} {
			if v := got.Header.Get(name); v != want {
				t.Errorf("%s: %q, want %q", name, v, want)
			}
		}
		sig := got.Header.Get("X-Kcred-Signature")
		if !Verify(testSecret, got.Body, sig) {
			t.Errorf("signature %q does not verify", sig)
		}
		if sig != Sign(testSecret, payload) || !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
			t.Errorf("signature %q", sig)
		}
		if Verify([]byte("other secret"), got.Body, sig) {
			t.Error("signature verifies under another secret")
		}
	}
}

func TestWebhookPostDeliveryHeaderOnly(t *testing.T) {
	// Two deliveries (or two retries) of one notification post the same
	// bytes under the same signature; only X-Kcred-Delivery differs.
	srv, ch := receiver(t, false, http.StatusOK)
	_, _, _, payload, err := Render(goldenCases[2].d)
	if err != nil {
		t.Fatal(err)
	}
	var w WebhookSender
	for _, id := range []string{"d1", "d2"} {
		if err := w.Post(context.Background(), srv.URL, testSecret, id, payload); err != nil {
			t.Fatal(err)
		}
	}
	a, b := <-ch, <-ch
	if !bytes.Equal(a.Body, b.Body) || a.Header.Get("X-Kcred-Signature") != b.Header.Get("X-Kcred-Signature") {
		t.Error("bodies or signatures differ between deliveries")
	}
	if a.Header.Get("X-Kcred-Delivery") != "d1" || b.Header.Get("X-Kcred-Delivery") != "d2" {
		t.Error("delivery IDs not in the header")
	}
	if a.Header.Get("X-Kcred-Event") != "certificate.reminder" {
		t.Errorf("event %q", a.Header.Get("X-Kcred-Event"))
	}
}

func TestWebhookNon2xx(t *testing.T) {
	long := "\x1b[31mboom\r\n" + strings.Repeat("é", 150) + "TAIL-NOT-SHOWN"
	for _, status := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, long)
		}))
		err := (&WebhookSender{}).Post(context.Background(), srv.URL, testSecret, "d1", []byte(`{"type":"test"}`))
		srv.Close()
		if err == nil {
			t.Fatalf("status %d: no error", status)
		}
		msg := err.Error()
		if !strings.Contains(msg, http.StatusText(status)) || !strings.Contains(msg, "boom") {
			t.Errorf("status %d: error %q lacks the status or body", status, msg)
		}
		if strings.Contains(msg, "TAIL-NOT-SHOWN") || len(msg) > 300 || strings.ContainsAny(msg, "\x1b\r\n") {
			t.Errorf("status %d: error %q is not clipped and cleaned", status, msg)
		}
	}
}

func TestWebhookRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()

	// Also with a caller's client that would follow redirects.
	for _, w := range []*WebhookSender{{}, {Client: &http.Client{}}, nil} {
		err := w.Post(context.Background(), redirector.URL, testSecret, "d1", []byte(`{"type":"test"}`))
		if err == nil || !strings.Contains(err.Error(), "307") || !strings.Contains(err.Error(), "not followed") {
			t.Errorf("error %v, want a 307 that is not followed", err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("redirect target got %d requests", n)
	}
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	start := time.Now()
	w := &WebhookSender{Client: &http.Client{Timeout: 200 * time.Millisecond}}
	if err := w.Post(context.Background(), srv.URL, testSecret, "d1", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("client timeout: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := (&WebhookSender{}).Post(ctx, srv.URL, testSecret, "d1", []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("context timeout: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestWebhookErrorHidesURL(t *testing.T) {
	// A closed port: the transport error must not quote the URL, whose
	// path or query may carry a token.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = (&WebhookSender{}).Post(context.Background(), "http://"+addr+"/hook/TOKEN-PATH?token=TOKEN-QUERY", testSecret, "d1", []byte(`{}`))
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "TOKEN") {
		t.Errorf("error %q shows the URL", err)
	}
	if kcred.ErrorCode(err) != kcred.EINTERNAL {
		t.Errorf("code %s", kcred.ErrorCode(err))
	}
}

func TestWebhookPostInvalid(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	var w WebhookSender
	for _, tc := range []struct{ url, id string }{
		{"ftp://example.com/", "d1"},
		{strings.Replace(srv.URL, "http://", "http://user:pw@", 1), "d1"},
		{srv.URL, ""},
		{srv.URL, "d1\r\nX-Evil: 1"},
	} {
		if err := w.Post(context.Background(), tc.url, testSecret, tc.id, []byte(`{}`)); kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("Post(%q, %q) = %v, want %s", tc.url, tc.id, err, kcred.EINVALID)
		}
	}
	if hits.Load() != 0 {
		t.Error("an invalid request was sent")
	}
}

func TestSignVerify(t *testing.T) {
	// GitHub's published test vector for the same scheme.
	secret, body := []byte("It's a Secret to Everybody"), []byte("Hello, World!")
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := Sign(secret, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !Verify(secret, body, want) || !Verify(secret, body, " "+want+" ") || !Verify(secret, body, "sha256="+strings.ToUpper(want[7:])) {
		t.Error("a good signature does not verify")
	}
	for _, bad := range []string{
		"", "sha256=", want[7:], "sha1=" + want[7:], want[:len(want)-1], want + "00", want[:len(want)-1] + "0", "sha256=zz" + want[9:],
	} {
		if Verify(secret, body, bad) {
			t.Errorf("Verify accepted %q", bad)
		}
	}
	if Verify(secret, []byte("Hello, World?"), want) || Verify([]byte("another"), body, want) {
		t.Error("a signature verifies another body or secret")
	}
}

func TestValidateWebhookURL(t *testing.T) {
	for _, ok := range []string{
		"https://hooks.example.com/kcred",
		"http://127.0.0.1:8080/hook?token=abc",
		"https://[::1]:8443/",
		"https://example.com",
	} {
		if err := ValidateWebhookURL(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"",
		"example.com/hook",
		"/hook",
		"ftp://example.com/hook",
		"javascript:alert(1)",
		"https://",
		"https:///path",
		"https://user:hunter2@example.com/hook",
		"https://user@example.com/hook",
		"https://example.com/hook#frag",
		"https://example.com:0/",
		"https://example.com:99999/",
		"https://exa mple.com/",
		"https://example.com/\nX",
		"https://example.com/" + strings.Repeat("a", 2048),
	} {
		err := ValidateWebhookURL(bad)
		if kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("%q: %v, want %s", bad, err, kcred.EINVALID)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error shows the password: %v", bad, err)
		}
	}
}
