package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func TestNewCA(t *testing.T) {
	now := testNow()
	ca, err := NewCA("acme-prod", 3, now)
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Cert
	if got, want := c.Subject.CommonName, "acme-prod GEN 3 Project CA"; got != want {
		t.Errorf("CN = %q, want %q", got, want)
	}
	if !c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("IsCA = %v, BasicConstraintsValid = %v", c.IsCA, c.BasicConstraintsValid)
	}
	if c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("MaxPathLen = %d, MaxPathLenZero = %v; want 0, true", c.MaxPathLen, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("KeyUsage = %b, want %b", c.KeyUsage, want)
	}
	if want := now.Add(3650 * 24 * time.Hour).Truncate(time.Second); !c.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
	}
	if want := now.Add(-5 * time.Minute).Truncate(time.Second); !c.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", c.NotBefore, want)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v not in [1, 2^128)", c.SerialNumber)
	}
	if len(c.SubjectKeyId) != 20 {
		t.Errorf("SubjectKeyId = %x, want 20 bytes", c.SubjectKeyId)
	}
	if !bytes.Equal(c.RawSubject, c.RawIssuer) || c.CheckSignatureFrom(c) != nil {
		t.Error("CA is not self-signed")
	}
	if k, ok := ca.Key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want P-256 ECDSA", ca.Key)
	}
	if c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("SignatureAlgorithm = %v, want ECDSAWithSHA256", c.SignatureAlgorithm)
	}
	if !publicKeysEqual(ca.Key.Public(), c.PublicKey) {
		t.Error("CA key does not match its certificate")
	}
	if cp, err := ParseCertificate(ca.CertPEM); err != nil || !cp.Equal(c) {
		t.Errorf("CertPEM does not hold Cert: %v", err)
	}
}

// TestNewCAOpenSSL checks the CA as openssl sees it: it verifies as its own
// trust anchor and carries the constraints we claim.
func TestNewCAOpenSSL(t *testing.T) {
	openssl := requireTool(t, "openssl")
	ca := newTestCA(t, time.Now())
	p := writeFile(t, t.TempDir(), "ca.pem", []byte(ca.CertPEM))

	text := run(t, openssl, "x509", "-in", p, "-noout", "-text")
	for _, want := range []string{
		"Subject: CN = acme GEN 1 Project CA",
		"Issuer: CN = acme GEN 1 Project CA",
		"CA:TRUE, pathlen:0",
		"Certificate Sign, CRL Sign",
		"X509v3 Subject Key Identifier",
		"ecdsa-with-SHA256",
		"NIST CURVE: P-256",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
		}
	}
	if out := run(t, openssl, "verify", "-x509_strict", "-CAfile", p, p); strings.TrimSpace(out) != p+": OK" {
		t.Errorf("openssl verify CA: %q", out)
	}
}

func TestNewCAInvalid(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		project    string
		generation int
		now        time.Time
	}{
		{"empty project", "", 1, now},
		{"generation 0", "acme", 0, now},
		{"negative generation", "acme", -1, now},
		{"zero now", "acme", 1, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewCA(tt.project, tt.generation, tt.now); kcred.ErrorCode(err) != kcred.EINVALID {
				t.Errorf("err %v, want code %s", err, kcred.EINVALID)
			}
		})
	}
}

// TestLoadCA checks that a CA survives storage: reloaded from its PEM and
// its marshalled (or DER) key, it issues leaves that verify against the
// original certificate, with openssl too.
func TestLoadCA(t *testing.T) {
	now := time.Now()
	orig := newTestCA(t, now)
	keyPEM, err := MarshalKey(orig.Key)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)

	for name, key := range map[string][]byte{"pem": keyPEM, "der": block.Bytes} {
		t.Run(name, func(t *testing.T) {
			ca, err := LoadCA(orig.CertPEM, key)
			if err != nil {
				t.Fatal(err)
			}
			if !ca.Cert.Equal(orig.Cert) || ca.CertPEM != orig.CertPEM {
				t.Error("loaded CA certificate differs")
			}
			if !publicKeysEqual(ca.Key.Public(), orig.Key.Public()) {
				t.Error("loaded CA key differs")
			}
			leaf, err := ca.Issue(LeafRequest{Username: "bob", ServiceName: "kafka", UserID: "u2", KeyType: kcred.KeyTypeECP256, Validity: time.Hour, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(orig.Cert)
			if _, err := mustCert(t, leaf).Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("leaf of loaded CA does not verify against the original: %v", err)
			}

			openssl := requireTool(t, "openssl")
			dir := t.TempDir()
			caPath := writeFile(t, dir, "ca.pem", []byte(orig.CertPEM))
			leafPath := writeFile(t, dir, "leaf.pem", []byte(leaf.CertPEM))
			if out := run(t, openssl, "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", caPath, leafPath); strings.TrimSpace(out) != leafPath+": OK" {
				t.Errorf("openssl verify: %q", out)
			}
		})
	}
}

func TestLoadCAInvalid(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, now)
	other := newTestCA(t, now)
	caKey, err := MarshalKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := MarshalKey(other.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(LeafRequest{Username: "alice", KeyType: kcred.KeyTypeECP256, Validity: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		certPEM string
		keyPEM  []byte
	}{
		{"key of another CA", ca.CertPEM, otherKey},
		{"leaf is not a CA", leaf.CertPEM, leaf.KeyPEM},
		{"empty cert", "", caKey},
		{"garbage cert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", caKey},
		{"empty key", ca.CertPEM, nil},
		{"garbage key", ca.CertPEM, []byte("not a key")},
		{"cert as key", ca.CertPEM, []byte(ca.CertPEM)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadCA(tt.certPEM, tt.keyPEM)
			if kcred.ErrorCode(err) != kcred.EINVALID {
				t.Fatalf("err %v, want code %s", err, kcred.EINVALID)
			}
			if got != nil {
				t.Error("LoadCA returned a CA with an error")
			}
		})
	}
	// The matching pair loads, so the failures above are about the input.
	if _, err := LoadCA(ca.CertPEM, caKey); err != nil {
		t.Fatal(err)
	}
}

// TestLoadCADropsExtraPEM checks that whatever trails the certificate in the
// input (here, the key itself) never ends up in CertPEM, which is served to
// every client as ca.pem.
func TestLoadCADropsExtraPEM(t *testing.T) {
	ca := newTestCA(t, time.Now())
	keyPEM, err := MarshalKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(ca.CertPEM+string(keyPEM), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loaded.CertPEM, "PRIVATE KEY") || loaded.CertPEM != ca.CertPEM {
		t.Errorf("CertPEM = %q, want only the certificate", loaded.CertPEM)
	}
}
