package pki

import (
	"bytes"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// TestIssue issues a client certificate of every key type and checks it both
// in Go and with the real openssl, which is what Kafka operators use.
func TestIssue(t *testing.T) {
	openssl := requireTool(t, "openssl")
	now := testNow()
	ca := newTestCA(t, now)
	dir := t.TempDir()
	caPath := writeFile(t, dir, "ca.pem", []byte(ca.CertPEM))
	const validity = 820 * 24 * time.Hour

	tests := []struct {
		keyType             kcred.KeyType
		wantKeyEncipherment bool
	}{
		{kcred.KeyTypeECP256, false},
		{kcred.KeyTypeECP384, false},
		{kcred.KeyTypeRSA2048, true},
		{kcred.KeyTypeRSA3072, true},
		{kcred.KeyTypeRSA4096, true},
	}
	// Every supported type must be covered here; a new one must be added.
	if len(tests) != len(kcred.KeyTypes) {
		t.Fatalf("table covers %d key types, kcred.KeyTypes has %d", len(tests), len(kcred.KeyTypes))
	}
	for _, tt := range tests {
		t.Run(string(tt.keyType), func(t *testing.T) {
			t.Parallel()
			leaf, err := ca.Issue(LeafRequest{
				Username:    "alice",
				ServiceName: "kafka-prod",
				UserID:      "3f2c1a9e-user",
				KeyType:     tt.keyType,
				Validity:    validity,
				Now:         now,
			})
			if err != nil {
				t.Fatal(err)
			}
			cert := mustCert(t, leaf)

			// Subject: CN is what Kafka's principal mapping rule extracts.
			if got := cert.Subject.CommonName; got != "alice" {
				t.Errorf("CN = %q, want alice", got)
			}
			if got := cert.Subject.Organization; len(got) != 1 || got[0] != "kafka-prod" {
				t.Errorf("O = %q, want [kafka-prod]", got)
			}
			if got := cert.Subject.OrganizationalUnit; len(got) != 1 || got[0] != "3f2c1a9e-user" {
				t.Errorf("OU = %q, want [3f2c1a9e-user]", got)
			}
			if !strings.HasPrefix(cert.Subject.String(), "CN=alice,") {
				t.Errorf("subject %q does not start with CN=alice, (the principal mapping rule needs it)", cert.Subject)
			}

			// Usages.
			wantUsage := x509.KeyUsageDigitalSignature
			if tt.wantKeyEncipherment {
				wantUsage |= x509.KeyUsageKeyEncipherment
			}
			if cert.KeyUsage != wantUsage {
				t.Errorf("KeyUsage = %b, want %b", cert.KeyUsage, wantUsage)
			}
			if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
				t.Errorf("ExtKeyUsage = %v, want [ClientAuth]", cert.ExtKeyUsage)
			}
			if cert.IsCA {
				t.Error("leaf is a CA")
			}

			// Serial: positive, at most 128 bits, and reported as lowercase hex.
			if cert.SerialNumber.Sign() <= 0 {
				t.Errorf("serial %v is not positive", cert.SerialNumber)
			}
			if n := cert.SerialNumber.BitLen(); n > 128 {
				t.Errorf("serial has %d bits, want <= 128", n)
			}
			if leaf.Serial != strings.ToLower(leaf.Serial) || leaf.Serial != cert.SerialNumber.Text(16) {
				t.Errorf("Serial = %q, want lowercase hex %q", leaf.Serial, cert.SerialNumber.Text(16))
			}

			// Validity: X.509 keeps whole seconds; now has a fraction.
			wantNotAfter := now.Add(validity).Truncate(time.Second)
			if !cert.NotAfter.Equal(wantNotAfter) {
				t.Errorf("NotAfter = %v, want %v", cert.NotAfter, wantNotAfter)
			}
			wantNotBefore := now.Add(-5 * time.Minute).Truncate(time.Second)
			if !cert.NotBefore.Equal(wantNotBefore) {
				t.Errorf("NotBefore = %v, want %v", cert.NotBefore, wantNotBefore)
			}
			// What Leaf reports without parsing is what the certificate holds.
			if !leaf.NotBefore.Equal(cert.NotBefore) || !leaf.NotAfter.Equal(cert.NotAfter) {
				t.Errorf("Leaf validity %v..%v, certificate %v..%v", leaf.NotBefore, leaf.NotAfter, cert.NotBefore, cert.NotAfter)
			}
			if leaf.Subject != cert.Subject.String() {
				t.Errorf("Leaf.Subject = %q, certificate's %q", leaf.Subject, cert.Subject)
			}

			// Chain: the AKID points at the CA and Go verifies for client auth.
			if !bytes.Equal(cert.AuthorityKeyId, ca.Cert.SubjectKeyId) {
				t.Errorf("AuthorityKeyId = %x, want CA SubjectKeyId %x", cert.AuthorityKeyId, ca.Cert.SubjectKeyId)
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca.Cert)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("Go verify: %v", err)
			}

			// Key: PKCS#8 PEM (Kafka refuses PKCS#1), of the right type, and
			// matching the certificate.
			if !bytes.HasPrefix(leaf.KeyPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Errorf("key PEM starts with %q, want BEGIN PRIVATE KEY", firstLine(leaf.KeyPEM))
			}
			key, err := ParseKey(leaf.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(key.Public(), cert.PublicKey) {
				t.Error("private key does not match the certificate's public key")
			}
			if _, isRSA := key.(*rsa.PrivateKey); isRSA != tt.wantKeyEncipherment {
				t.Errorf("key is %T, want RSA=%v", key, tt.wantKeyEncipherment)
			}
			if encodeCertificate(cert.Raw) != leaf.CertPEM {
				t.Error("CertPEM does not encode Cert")
			}

			// The real openssl: the chain verifies strictly for TLS client
			// use, the key is well formed, and it is the certificate's key.
			sub := t.TempDir()
			leafPath := writeFile(t, sub, "leaf.pem", []byte(leaf.CertPEM))
			keyPath := writeFile(t, sub, "key.pem", leaf.KeyPEM)
			out := run(t, openssl, "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", caPath, leafPath)
			if strings.TrimSpace(out) != leafPath+": OK" {
				t.Errorf("openssl verify: %q, want %q", out, leafPath+": OK")
			}
			if out := run(t, openssl, "pkey", "-in", keyPath, "-noout", "-check"); !strings.Contains(out, "Key is valid") {
				t.Errorf("openssl pkey -check: %q", out)
			}
			// Kafka matches its principal mapping rule against the RFC 2253
			// form of the subject, which lists the RDNs last first.
			subject := strings.TrimSpace(run(t, openssl, "x509", "-in", leafPath, "-noout", "-subject", "-nameopt", "RFC2253"))
			if want := "subject=CN=alice,OU=3f2c1a9e-user,O=kafka-prod"; subject != want {
				t.Errorf("openssl subject %q, want %q", subject, want)
			}
			if m := kafkaPrincipalRule.FindStringSubmatch(strings.TrimPrefix(subject, "subject=")); m == nil || m[1] != "alice" {
				t.Errorf("principal rule on %q gives %q, want alice", subject, m)
			}
			certPub := run(t, openssl, "x509", "-in", leafPath, "-noout", "-pubkey")
			keyPub := run(t, openssl, "pkey", "-in", keyPath, "-pubout")
			if certPub != keyPub || !strings.Contains(keyPub, "BEGIN PUBLIC KEY") {
				t.Errorf("openssl: certificate public key\n%s\ndiffers from the key's\n%s", certPub, keyPub)
			}
		})
	}
}

// kafkaPrincipalRule is the pattern of the broker setting the README
// documents: ssl.principal.mapping.rules=RULE:^CN=(.*?),.*$/$1/.
var kafkaPrincipalRule = regexp.MustCompile(`^CN=(.*?),.*$`)

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}

// TestIssueInvalid checks that bad requests are the caller's fault
// (EINVALID, a 400) and not internal errors.
func TestIssueInvalid(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, now)
	good := LeafRequest{Username: "alice", ServiceName: "kafka", UserID: "u1", KeyType: kcred.KeyTypeECP256, Validity: time.Hour, Now: now}
	tests := []struct {
		name   string
		mutate func(*LeafRequest)
	}{
		{"empty key type", func(r *LeafRequest) { r.KeyType = "" }},
		{"ed25519", func(r *LeafRequest) { r.KeyType = "ed25519" }},
		{"rsa-1024", func(r *LeafRequest) { r.KeyType = "rsa-1024" }},
		{"upper case", func(r *LeafRequest) { r.KeyType = "EC-P256" }},
		{"zero validity", func(r *LeafRequest) { r.Validity = 0 }},
		{"negative validity", func(r *LeafRequest) { r.Validity = -time.Hour }},
		{"empty username", func(r *LeafRequest) { r.Username = "" }},
		{"zero now", func(r *LeafRequest) { r.Now = time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.mutate(&req)
			leaf, err := ca.Issue(req)
			if code := kcred.ErrorCode(err); code != kcred.EINVALID {
				t.Fatalf("Issue: code %q (err %v), want %q", code, err, kcred.EINVALID)
			}
			if leaf != nil {
				t.Error("Issue returned a leaf with an error")
			}
		})
	}
	// The unmodified request must work, or the cases above prove nothing.
	if _, err := ca.Issue(good); err != nil {
		t.Fatalf("good request: %v", err)
	}
}

// TestIssueFresh checks that every issue makes a new key and serial: a
// renewal that reused either would defeat its purpose.
func TestIssueFresh(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, now)
	serials := map[string]bool{}
	keys := map[string]bool{}
	for i := 0; i < 20; i++ {
		leaf, err := ca.Issue(LeafRequest{Username: "alice", KeyType: kcred.KeyTypeECP256, Validity: time.Hour, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if serials[leaf.Serial] || keys[string(leaf.KeyPEM)] {
			t.Fatalf("issue %d repeated a serial or key", i)
		}
		serials[leaf.Serial], keys[string(leaf.KeyPEM)] = true, true
	}
}

// TestIssueServer checks the server certificate's names and usages.
func TestIssueServer(t *testing.T) {
	now := testNow()
	ca := newTestCA(t, now)
	leaf, err := ca.IssueServer("broker", []string{"localhost", "kafka.test"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cert := mustCert(t, leaf)
	if cert.Subject.CommonName != "broker" {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("ExtKeyUsage = %v, want [ServerAuth]", cert.ExtKeyUsage)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %b", cert.KeyUsage)
	}
	for _, host := range []string{"localhost", "kafka.test", "127.0.0.1", "::1"} {
		if err := cert.VerifyHostname(host); err != nil {
			t.Errorf("VerifyHostname(%s): %v", host, err)
		}
	}
	if err := cert.VerifyHostname("other.test"); err == nil {
		t.Error("VerifyHostname(other.test) succeeded")
	}
	if want := now.Add(time.Hour).Truncate(time.Second); !cert.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", cert.NotAfter, want)
	}

	for name, call := range map[string]func() (*Leaf, error){
		"no SANs":       func() (*Leaf, error) { return ca.IssueServer("broker", nil, nil, time.Hour, now) },
		"zero validity": func() (*Leaf, error) { return ca.IssueServer("b", []string{"localhost"}, nil, 0, now) },
		"zero now":      func() (*Leaf, error) { return ca.IssueServer("b", []string{"localhost"}, nil, time.Hour, time.Time{}) },
	} {
		if _, err := call(); kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("%s: err %v, want code %s", name, err, kcred.EINVALID)
		}
	}
}

// TestMutualTLS makes a real TLS 1.2 and 1.3 handshake on loopback: a server
// with an IssueServer certificate that requires client certificates from the
// CA, as the Kafka broker does, and a client with an Issue certificate. A
// client certificate from another CA must be refused, or the check proves
// nothing.
func TestMutualTLS(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, now)
	server, err := ca.IssueServer("broker", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	other := newTestCA(t, now)

	tests := []struct {
		name    string
		ca      *CA
		keyType kcred.KeyType
		version uint16
		wantOK  bool
	}{
		{"ec-p256 tls1.3", ca, kcred.KeyTypeECP256, tls.VersionTLS13, true},
		{"ec-p384 tls1.2", ca, kcred.KeyTypeECP384, tls.VersionTLS12, true},
		{"rsa-2048 tls1.3", ca, kcred.KeyTypeRSA2048, tls.VersionTLS13, true},
		{"rsa-2048 tls1.2", ca, kcred.KeyTypeRSA2048, tls.VersionTLS12, true},
		{"other CA", other, kcred.KeyTypeECP256, tls.VersionTLS13, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := tt.ca.Issue(LeafRequest{Username: "alice", ServiceName: "kafka", UserID: "u1", KeyType: tt.keyType, Validity: time.Hour, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			peerCN, err := handshake(t, ca, server, client, tt.version)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				if peerCN != "alice" {
					t.Errorf("server saw client CN %q, want alice", peerCN)
				}
			} else if err == nil {
				t.Fatal("handshake with a client certificate from another CA succeeded")
			}
		})
	}
}

// handshake runs one mTLS handshake over loopback and returns the client CN
// the server saw, or the server's error.
func handshake(t *testing.T, ca *CA, server, client *Leaf, version uint16) (string, error) {
	t.Helper()
	serverPair, err := tls.X509KeyPair([]byte(server.CertPEM), server.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	clientPair, err := tls.X509KeyPair([]byte(client.CertPEM), client.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverPair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   version,
		MaxVersion:   version,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type result struct {
		cn  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		tc := conn.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		// Echo one byte so the client knows the server accepted it: in
		// TLS 1.3 the client finishes before the server checks its cert.
		io.CopyN(tc, tc, 1)
		done <- result{cn: tc.ConnectionState().PeerCertificates[0].Subject.CommonName}
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		Certificates: []tls.Certificate{clientPair},
		RootCAs:      pool,
		ServerName:   "localhost",
		MinVersion:   version,
		MaxVersion:   version,
	})
	if err == nil {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte{1}); err == nil {
			io.ReadFull(conn, make([]byte, 1))
		}
		conn.Close()
	}
	r := <-done
	return r.cn, r.err
}
