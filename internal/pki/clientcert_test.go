package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// TestClientCertDER holds the directly encoded client certificate to the
// bytes x509.CreateCertificate makes from the same template: the
// TBSCertificate must be identical (the ECDSA signature differs by its
// random nonce), for names that are PrintableStrings and names that need
// UTF8String, validity in UTCTime and GeneralizedTime, and every key type.
func TestClientCertDER(t *testing.T) {
	now := testNow()
	ca := newTestCA(t, now)
	keys := map[kcred.KeyType]crypto.Signer{}
	for _, kt := range kcred.KeyTypes {
		k, err := GenerateKey(kt)
		if err != nil {
			t.Fatal(err)
		}
		keys[kt] = k
	}
	base := clientCert{
		Serial:     new(big.Int).SetBytes(bytes.Repeat([]byte{0xff}, 16)), // high bit set: a sign byte is needed
		CommonName: "alice", Organization: "kafka-prod", OrganizationalUnit: "01j9zq3k7m-user",
		NotBefore: validityTime(now.Add(-clockSkew)), NotAfter: validityTime(now.Add(820 * 24 * time.Hour)),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	tests := []struct {
		name   string
		change func(c *clientCert)
	}{
		{"plain", func(c *clientCert) {}},
		{"small serial", func(c *clientCert) { c.Serial = big.NewInt(1) }},
		{"underscore and at", func(c *clientCert) { c.CommonName = "svc_app@team+x" }}, // not PrintableString
		{"printable punctuation", func(c *clientCert) { c.CommonName = "a'b(c)d+e,f-g.h/i:j=k?l m" }},
		{"utf-8", func(c *clientCert) { c.CommonName, c.Organization = "jürgen", "kafka-ö" }},
		{"long names", func(c *clientCert) { c.CommonName = string(bytes.Repeat([]byte("u"), 64)) }},
		{"rsa usages", func(c *clientCert) { c.KeyUsage |= x509.KeyUsageKeyEncipherment }},
		{"until 2049", func(c *clientCert) { c.NotAfter = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC) }},
		{"from 2050", func(c *clientCert) { c.NotAfter = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"before 1950", func(c *clientCert) { c.NotBefore = time.Date(1949, 6, 1, 12, 0, 0, 0, time.UTC) }},
		{"not in UTC", func(c *clientCert) { c.NotAfter = c.NotAfter.In(time.FixedZone("X", 5*3600)) }},
	}
	for _, tt := range tests {
		for _, kt := range kcred.KeyTypes {
			t.Run(tt.name+"/"+string(kt), func(t *testing.T) {
				c := base
				tt.change(&c)
				pub := keys[kt].Public()
				der, err := ca.signClient(&c, pub)
				if err != nil {
					t.Fatal(err)
				}
				want, err := x509.CreateCertificate(rand.Reader, c.template(ca.Cert.SubjectKeyId), ca.Cert, pub, ca.Key)
				if err != nil {
					t.Fatal(err)
				}
				got, wantCert := parse(t, der), parse(t, want)
				if !bytes.Equal(got.RawTBSCertificate, wantCert.RawTBSCertificate) {
					t.Fatalf("TBSCertificate differs from CreateCertificate's:\n got %x\nwant %x", got.RawTBSCertificate, wantCert.RawTBSCertificate)
				}
				if got.SignatureAlgorithm != x509.ECDSAWithSHA256 {
					t.Errorf("signature algorithm %v", got.SignatureAlgorithm)
				}
				if err := got.CheckSignatureFrom(ca.Cert); err != nil {
					t.Errorf("signature: %v", err)
				}
			})
		}
	}
}

// TestClientCertOtherCA checks that a CA whose key is not P-256 (one made
// elsewhere and loaded) still issues, through x509.CreateCertificate.
func TestClientCertOtherCA(t *testing.T) {
	now := testNow()
	for name, key := range map[string]crypto.Signer{"rsa": mustRSA(t), "p384": mustP384(t)} {
		t.Run(name, func(t *testing.T) {
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "imported CA"},
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
			if err != nil {
				t.Fatal(err)
			}
			keyPEM, err := MarshalKey(key)
			if err != nil {
				t.Fatal(err)
			}
			ca, err := LoadCA(encodeCertificate(der), keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := ca.Issue(LeafRequest{Username: "bob", ServiceName: "k", UserID: "u", KeyType: kcred.KeyTypeECP256, Validity: time.Hour, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			cert := mustCert(t, leaf)
			if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
				t.Fatal(err)
			}
			if cert.Subject.CommonName != "bob" || leaf.Subject != cert.Subject.String() {
				t.Errorf("subject %q, Leaf.Subject %q", cert.Subject, leaf.Subject)
			}
		})
	}
}

// TestClientCertBadName checks that a subject that is not UTF-8 is an
// error, as it is for CreateCertificate, and not a malformed certificate.
func TestClientCertBadName(t *testing.T) {
	now := testNow()
	ca := newTestCA(t, now)
	key := mustP384(t)
	c := &clientCert{Serial: big.NewInt(9), CommonName: "bad\xff", Organization: "o", OrganizationalUnit: "u",
		NotBefore: now, NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if _, err := ca.signClient(c, key.Public()); err == nil {
		t.Fatal("signed a subject that is not UTF-8")
	}
	if _, err := x509.CreateCertificate(rand.Reader, c.template(nil), ca.Cert, key.Public(), ca.Key); err == nil {
		t.Fatal("CreateCertificate signed it: the fast path should match it, not refuse alone")
	}
}

// TestEncodePEM holds encodePEM to pem.EncodeToMemory for every length
// around the line and padding boundaries.
func TestEncodePEM(t *testing.T) {
	data := make([]byte, 300)
	rand.Read(data)
	for n := range len(data) {
		want := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: data[:n]})
		if got := encodePEM("CERTIFICATE", data[:n]); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes:\n got %q\nwant %q", n, got, want)
		}
	}
}

func parse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustP384(t *testing.T) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestMarshalP256 holds the directly encoded P-256 keys to x509's
// encoding, and checks that other keys still go through x509.
func TestMarshalP256(t *testing.T) {
	for i := range 20 {
		k, err := GenerateKey(kcred.KeyTypeECP256)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalPKCS8(k)
		if err != nil {
			t.Fatal(err)
		}
		want, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("key %d: PKCS#8\n got %x\nwant %x", i, got, want)
		}
		got, err = marshalPKIXPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		want, err = x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("key %d: SubjectPublicKeyInfo\n got %x\nwant %x", i, got, want)
		}
	}
	other := mustP384(t)
	der, err := marshalPKCS8(other)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := x509.ParsePKCS8PrivateKey(der); err != nil || !other.(*ecdsa.PrivateKey).Equal(back) {
		t.Fatalf("P-384 key does not round-trip: %v", err)
	}
}

// TestSubjectString holds subjectString equal to pkix.Name's String for
// values that need escapes, and for empty ones.
func TestSubjectString(t *testing.T) {
	values := []string{"alice", "a,b", "+x", " lead", "trail ", " ", "#hash", "mid#dle", `q"uote`, `back\slash`,
		"<>;", "ünïcödé ", "tab\tx", "", "a b"}
	for _, cn := range values {
		for _, o := range []string{"kafka-1", "svc, inc", ""} {
			c := &clientCert{CommonName: cn, Organization: o, OrganizationalUnit: "#" + cn}
			if got, want := c.subjectString(), c.subject().String(); got != want {
				t.Errorf("subjectString(CN=%q, O=%q) = %q, want %q", cn, o, got, want)
			}
		}
	}
}
