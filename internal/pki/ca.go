package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/kcred/kcred"
)

const (
	// caValidity is the lifetime of a project CA (§1: 10 years). Leaves of
	// up to a few years fit many times over, so CA rotation is rare.
	caValidity = 3650 * 24 * time.Hour

	// caKeyType is the CA's key type. P-256: 128-bit security, as strong
	// as the default leaf key, read by every Kafka client (Java JSSE,
	// OpenSSL, librdkafka, Go), and the CA signs on the hot path of every
	// issue and renewal. Go's P-256 is assembly-accelerated; P-384 is not
	// and made signing ~0.7 ms of the ~0.8 ms an EC leaf took, capping bulk
	// renewal at a seventh of the key-generation rate. RSA signs slower
	// still; Ed25519 is excluded as for leaves.
	caKeyType = kcred.KeyTypeECP256

	// clockSkew is how far NotBefore is set back so that a certificate
	// issued now is already valid on a broker whose clock runs behind.
	clockSkew = 5 * time.Minute

	// serialBits is the size of random serials: 128 bits is well above the
	// 64 bits of entropy the CA/B Forum asks for and stays within the 20
	// octets RFC 5280 allows even with the sign byte.
	serialBits = 128
)

// CA is a project certificate authority: its certificate, its private key,
// and the certificate in PEM as stored and handed to clients as ca.pem.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM string

	// clientParts are the parts of a client certificate's TBSCertificate
	// that depend on the CA alone, made once (see newCA): each certificate
	// then builds some 20 fewer nested DER elements.
	clientParts *clientParts
}

// newCA returns the CA of cert and key, with its clientParts.
func newCA(cert *x509.Certificate, key crypto.Signer, certPEM string) *CA {
	return &CA{Cert: cert, Key: key, CertPEM: certPEM, clientParts: newClientParts(cert)}
}

// NewCA creates a self-signed project CA with
// CN="<project> GEN <generation> Project CA", path length 0, key usage
// certSign+cRLSign, a random 128-bit serial, valid from now-5m for 3650 days,
// and a P-256 key. An empty project, a generation below 1 or a zero now is a
// kcred.EINVALID error.
func NewCA(project string, generation int, now time.Time) (*CA, error) {
	if project == "" {
		return nil, kcred.Errorf(kcred.EINVALID, "Project name is required for a CA.")
	} else if generation < 1 {
		return nil, kcred.Errorf(kcred.EINVALID, "CA generation must be at least 1, got %d.", generation)
	} else if now.IsZero() {
		return nil, kcred.Errorf(kcred.EINVALID, "Issue time is required.")
	}

	key, err := GenerateKey(caKeyType)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: fmt.Sprintf("%s GEN %d Project CA", project, generation)},
		NotBefore:    validityTime(now.Add(-clockSkew)),
		NotAfter:     validityTime(now.Add(caValidity)),
		// Path length 0: the CA signs leaves only, so a leaked leaf key can
		// never be used to mint further certificates.
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse new CA certificate: %w", err)
	}
	return newCA(cert, key, encodeCertificate(der)), nil
}

// LoadCA rebuilds a CA from its PEM certificate and its private key as
// written by MarshalKey (PKCS#8 PEM or DER). A malformed input, a certificate
// that is not a CA, or a key that does not match the certificate is a
// kcred.EINVALID error.
func LoadCA(certPEM string, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, kcred.Errorf(kcred.EINVALID, "Certificate %q is not a CA.", cert.Subject.CommonName)
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	// A mismatched pair would sign leaves that no client can verify, and
	// the failure would only surface on the broker; catch it here.
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, kcred.Errorf(kcred.EINVALID, "Private key does not match CA certificate %q.", cert.Subject.CommonName)
	}
	// Keep the caller's PEM only if it is exactly the certificate: the
	// stored text is what clients download as ca.pem, and trailing blocks
	// (a key!) must never ride along.
	return newCA(cert, key, encodeCertificate(cert.Raw)), nil
}

// sign creates a certificate from tmpl for pub, signed by the CA, and
// returns it parsed. It fills in what every issued certificate shares: a
// fresh serial and the CA's key identifier.
func (ca *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, string, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, "", err
	}
	tmpl.SerialNumber = serial
	// CreateCertificate copies it from the parent anyway; setting it says
	// so and keeps chain building working for CAs loaded without one.
	tmpl.AuthorityKeyId = ca.Cert.SubjectKeyId
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, "", fmt.Errorf("pki: sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", fmt.Errorf("pki: parse new certificate: %w", err)
	}
	return cert, encodeCertificate(der), nil
}

// serialLimit is 2^128, the exclusive upper bound of serials.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), serialBits)

// newSerial returns a random serial in [1, 2^128). Zero is redrawn because
// RFC 5280 requires serials to be positive.
func newSerial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("pki: random serial: %w", err)
		} else if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID derives a key identifier from pub by RFC 7093 method 1 (the
// leftmost 160 bits of the SHA-256 of the subjectPublicKey bits). It is
// computed here rather than left to CreateCertificate so the value does not
// depend on Go version or GODEBUG settings.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spkiDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("pki: marshal public key: %w", err)
	}
	var spki struct {
		Algorithm        pkix.AlgorithmIdentifier
		SubjectPublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spkiDER, &spki); err != nil {
		return nil, fmt.Errorf("pki: parse public key: %w", err)
	}
	sum := sha256.Sum256(spki.SubjectPublicKey.Bytes)
	return sum[:20], nil
}

// validityTime returns t as X.509 stores it: UTC, whole seconds. Doing it
// here rather than leaving it to the encoder makes the truncation a choice:
// NotAfter is never later than Now+Validity.
func validityTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second)
}
