package httpapi_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"strings"
	"testing"
	"time"
)

// TestServerCertificate: an admin gets a broker certificate that a client
// trusting only the project's ca.pem accepts for the names asked; others
// get 403 or 404; bad hosts are 400; the issue is an event.
func TestServerCertificate(t *testing.T) {
	e := setup(t)
	var sc struct {
		Certificate   string `json:"certificate"`
		PrivateKey    string `json:"private_key"`
		CACertificate string `json:"ca_certificate"`
		Serial        string `json:"serial"`
		NotAfter      string `json:"not_valid_after_time"`
	}
	e.must(200, "POST", "/v1/project/p1/kms/server-certificate", e.Token, map[string]any{
		"hosts": []string{"kafka-1.example.com", "127.0.0.1", "*.brokers.example.com"}, "validity": "30d",
	}).Decode(t, &sc)
	ca := e.must(200, "GET", "/v1/project/p1/kms/ca", e.Token, nil).JSON(t)["certificate"].(string)
	if sc.CACertificate != ca {
		t.Errorf("ca_certificate differs from kms/ca")
	}
	pair, err := tls.X509KeyPair([]byte(sc.Certificate), []byte(sc.PrivateKey))
	if err != nil {
		t.Fatalf("certificate and key: %v", err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if got := leaf.NotAfter.Sub(e.Clock.Now()); got < 29*24*time.Hour || got > 31*24*time.Hour {
		t.Errorf("validity %s, want 30d", got)
	}
	if leaf.Subject.CommonName != "kafka-1.example.com" || leaf.SerialNumber.Text(16) != sc.Serial {
		t.Errorf("subject %s serial %s", leaf.Subject, leaf.SerialNumber.Text(16))
	}

	// A real handshake: the client trusts only ca.pem and checks the name.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ca))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"kafka-1.example.com", true}, {"127.0.0.1", true}, {"b3.brokers.example.com", true}, {"other.example.com", false}} {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: tc.name, Time: e.Clock.Now})
		if (err == nil) != tc.ok {
			t.Errorf("handshake as %s: err=%v, want ok=%v", tc.name, err, tc.ok)
		}
		if c != nil {
			c.Close()
		}
	}

	// Roles and validation.
	op := e.account("op@example.com")
	e.must(200, "POST", "/v1/project/p1/invite", e.Token, map[string]any{"user_email": "op@example.com", "member_type": "operator"})
	e.must(403, "POST", "/v1/project/p1/kms/server-certificate", op, map[string]any{"hosts": []string{"a.example.com"}})
	outsider := e.account("out@example.com")
	e.must(404, "POST", "/v1/project/p1/kms/server-certificate", outsider, map[string]any{"hosts": []string{"a.example.com"}})
	for _, body := range []map[string]any{
		{},
		{"hosts": []string{}},
		{"hosts": []string{"bad host"}},
		{"hosts": []string{"../etc"}},
		{"hosts": []string{"a.example.com"}, "validity": "forever"},
	} {
		r := e.do("POST", "/v1/project/p1/kms/server-certificate", e.Token, body)
		if r.Status != 400 || strings.Contains(string(r.Body), "PRIVATE KEY") {
			t.Errorf("%v: status %d: %s", body, r.Status, r.Body)
		}
	}

	// A certificate never outlives its CA.
	e.must(200, "POST", "/v1/project/p1/kms/server-certificate", e.Token, map[string]any{"hosts": []string{"a.example.com"}, "validity": "20000d"}).Decode(t, &sc)
	block, _ := pem.Decode([]byte(sc.Certificate))
	long, _ := x509.ParseCertificate(block.Bytes)
	block, _ = pem.Decode([]byte(ca))
	caCert, _ := x509.ParseCertificate(block.Bytes)
	if long.NotAfter.After(caCert.NotAfter) {
		t.Errorf("server certificate ends %s, after its CA (%s)", long.NotAfter, caCert.NotAfter)
	}

	ev := e.must(200, "GET", "/v1/project/p1/events", e.Token, nil)
	if n := strings.Count(string(ev.Body), `"server_certificate_issue"`); n != 2 {
		t.Errorf("%d server_certificate_issue events, want 2", n)
	}
}
