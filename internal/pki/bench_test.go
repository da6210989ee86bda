package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// BenchmarkIssue measures issuing one credential as the API does: key
// generation, signing, PEM encoding and PKCS#8 marshalling. Compare each
// sub-benchmark with BenchmarkRawKeygenSign of the same key type from the
// same run to see what this package adds on top of the raw crypto.
func BenchmarkIssue(b *testing.B) {
	now := time.Now()
	ca := newTestCA(b, now)
	for _, kt := range kcred.KeyTypes {
		b.Run(string(kt), func(b *testing.B) {
			req := LeafRequest{Username: "alice", ServiceName: "kafka-prod", UserID: "3f2c1a9e-user", KeyType: kt, Validity: 820 * 24 * time.Hour, Now: now}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ca.Issue(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawKeygenSign is the floor for BenchmarkIssue: the stdlib key
// generation and x509.CreateCertificate with an equivalent template, and
// nothing else (no serial drawing, parsing back, PEM or PKCS#8).
func BenchmarkRawKeygenSign(b *testing.B) {
	now := time.Now()
	ca := newTestCA(b, now)
	for _, kt := range kcred.KeyTypes {
		b.Run(string(kt), func(b *testing.B) {
			keygen := rawKeygen(b, kt)
			usage := x509.KeyUsageDigitalSignature
			if isRSA(kt) {
				usage |= x509.KeyUsageKeyEncipherment
			}
			tmpl := &x509.Certificate{
				SerialNumber: new(big.Int).Lsh(big.NewInt(1), 127),
				Subject: pkix.Name{
					CommonName:         "alice",
					Organization:       []string{"kafka-prod"},
					OrganizationalUnit: []string{"3f2c1a9e-user"},
				},
				NotBefore:             now.Add(-5 * time.Minute),
				NotAfter:              now.Add(820 * 24 * time.Hour),
				KeyUsage:              usage,
				ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
				BasicConstraintsValid: true,
				AuthorityKeyId:        ca.Cert.SubjectKeyId,
			}
			b.ReportAllocs()
			for b.Loop() {
				k, err := keygen()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, k.Public(), ca.Key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// rawKeygen returns the direct crypto/ecdsa or crypto/rsa call for kt,
// bypassing GenerateKey.
func rawKeygen(b *testing.B, kt kcred.KeyType) func() (crypto.Signer, error) {
	ec := func(c elliptic.Curve) func() (crypto.Signer, error) {
		return func() (crypto.Signer, error) { return ecdsa.GenerateKey(c, rand.Reader) }
	}
	rs := func(bits int) func() (crypto.Signer, error) {
		return func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, bits) }
	}
	switch kt {
	case kcred.KeyTypeECP256:
		return ec(elliptic.P256())
	case kcred.KeyTypeECP384:
		return ec(elliptic.P384())
	case kcred.KeyTypeRSA2048:
		return rs(2048)
	case kcred.KeyTypeRSA3072:
		return rs(3072)
	case kcred.KeyTypeRSA4096:
		return rs(4096)
	}
	b.Fatalf("no raw keygen for %s", kt)
	return nil
}

// benchSecret is the size of a sealed P-256 PKCS#8 PEM key (~241 bytes),
// the most common secret kcred seals.
var benchSecret = make([]byte, 250)

func BenchmarkSeal(b *testing.B) {
	s, _ := newTestSealer(b)
	b.SetBytes(int64(len(benchSecret)))
	b.ReportAllocs()
	for b.Loop() {
		s.Seal("0b9a5c1e-4f7d-4c1b-9a63-2d1e5f7a8b90", benchSecret)
	}
}

func BenchmarkOpen(b *testing.B) {
	s, _ := newTestSealer(b)
	const id = "0b9a5c1e-4f7d-4c1b-9a63-2d1e5f7a8b90"
	sealed := s.Seal(id, benchSecret)
	b.SetBytes(int64(len(benchSecret)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(id, sealed); err != nil {
			b.Fatal(err)
		}
	}
}
