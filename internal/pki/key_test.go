package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/kcred/kcred"
)

// TestGenerateKey checks algorithm and size per key type and that MarshalKey
// and ParseKey round-trip each.
func TestGenerateKey(t *testing.T) {
	tests := []struct {
		kt      kcred.KeyType
		curve   elliptic.Curve // nil for RSA
		rsaBits int
	}{
		{kcred.KeyTypeECP256, elliptic.P256(), 0},
		{kcred.KeyTypeECP384, elliptic.P384(), 0},
		{kcred.KeyTypeRSA2048, nil, 2048},
		{kcred.KeyTypeRSA3072, nil, 3072},
		{kcred.KeyTypeRSA4096, nil, 4096},
	}
	if len(tests) != len(kcred.KeyTypes) {
		t.Fatalf("table covers %d key types, kcred.KeyTypes has %d", len(tests), len(kcred.KeyTypes))
	}
	for _, tt := range tests {
		t.Run(string(tt.kt), func(t *testing.T) {
			t.Parallel()
			k, err := GenerateKey(tt.kt)
			if err != nil {
				t.Fatal(err)
			}
			switch k := k.(type) {
			case *ecdsa.PrivateKey:
				if k.Curve != tt.curve {
					t.Errorf("curve %v, want %v", k.Curve.Params().Name, tt.curve)
				}
			case *rsa.PrivateKey:
				if k.N.BitLen() != tt.rsaBits {
					t.Errorf("RSA %d bits, want %d", k.N.BitLen(), tt.rsaBits)
				}
			default:
				t.Fatalf("key type %T", k)
			}
			if (tt.curve == nil) != isRSA(tt.kt) {
				t.Errorf("isRSA(%s) = %v", tt.kt, isRSA(tt.kt))
			}

			pemBytes, err := MarshalKey(k)
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(pemBytes)
			if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 || len(block.Headers) != 0 {
				t.Fatalf("MarshalKey wrote %q, want one unencrypted PRIVATE KEY block", firstLine(pemBytes))
			}
			// It must be PKCS#8 proper, not PKCS#1/SEC1 under a PKCS#8 label.
			if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
				t.Errorf("not PKCS#8: %v", err)
			}
			back, err := ParseKey(pemBytes)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(back.Public(), k.Public()) {
				t.Error("ParseKey(MarshalKey(k)) is a different key")
			}
		})
	}
}

func TestGenerateKeyInvalid(t *testing.T) {
	for _, kt := range []kcred.KeyType{"", "ed25519", "rsa-1024", "ec-p521"} {
		if k, err := GenerateKey(kt); kcred.ErrorCode(err) != kcred.EINVALID || k != nil {
			t.Errorf("GenerateKey(%q) = %v, %v; want nil, code %s", kt, k, err, kcred.EINVALID)
		}
	}
}

// TestParseKeyLegacy checks the legacy PEM types accepted for importing a
// CA made with other tools.
func TestParseKeyLegacy(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		pem []byte
		pub any
	}{
		"RSA PRIVATE KEY": {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), &rsaKey.PublicKey},
		"EC PRIVATE KEY":  {pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), &ecKey.PublicKey},
	} {
		k, err := ParseKey(tc.pem)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !publicKeysEqual(k.Public(), tc.pub) {
			t.Errorf("%s: wrong key", name)
		}
	}
}

func TestParseKeyInvalid(t *testing.T) {
	ec, err := GenerateKey(kcred.KeyTypeECP256)
	if err != nil {
		t.Fatal(err)
	}
	good, err := MarshalKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	corrupt := append([]byte(nil), block.Bytes...)
	corrupt[len(corrupt)/2] ^= 0xff
	for name, in := range map[string][]byte{
		"empty":          nil,
		"text":           []byte("hello"),
		"certificate":    []byte(newTestCA(t, testNow()).CertPEM),
		"corrupt PKCS#8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: corrupt}),
		"PKCS#1 labeled PKCS#8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY",
			Bytes: x509.MarshalPKCS1PrivateKey(mustRSA(t))}),
	} {
		k, err := ParseKey(in)
		if kcred.ErrorCode(err) != kcred.EINVALID || k != nil {
			t.Errorf("%s: ParseKey = %v, %v; want nil, code %s", name, k, err, kcred.EINVALID)
			continue
		}
		// The error is shown to callers; it must not echo key material.
		if msg := kcred.ErrorMessage(err); strings.Contains(msg, "MII") || len(msg) > 200 {
			t.Errorf("%s: error message may quote the input: %q", name, msg)
		}
	}
}

func TestParseCertificate(t *testing.T) {
	ca := newTestCA(t, testNow())
	keyPEM, err := MarshalKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	// A key block in front of the certificate is skipped, not an error.
	for name, in := range map[string]string{"plain": ca.CertPEM, "after key": string(keyPEM) + ca.CertPEM} {
		c, err := ParseCertificate(in)
		if err != nil || !c.Equal(ca.Cert) {
			t.Errorf("%s: ParseCertificate = %v", name, err)
		}
	}
	for name, in := range map[string]string{
		"empty":   "",
		"key":     string(keyPEM),
		"garbage": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	} {
		if _, err := ParseCertificate(in); kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("%s: err %v, want code %s", name, err, kcred.EINVALID)
		}
	}
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
