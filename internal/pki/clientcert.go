package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// clientCert is what varies between the client certificates a CA issues.
type clientCert struct {
	Serial              *big.Int
	CommonName          string // the username
	Organization        string // the service
	OrganizationalUnit  string // the user's ID
	NotBefore, NotAfter time.Time
	KeyUsage            x509.KeyUsage
}

// template returns c as x509.CreateCertificate takes it.
func (c *clientCert) template(authorityKeyID []byte) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          c.Serial,
		Subject:               c.subject(),
		NotBefore:             c.NotBefore,
		NotAfter:              c.NotAfter,
		KeyUsage:              c.KeyUsage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, // explicitly not a CA
		// CreateCertificate copies it from the parent anyway; setting it
		// says so and keeps chain building working for CAs loaded without one.
		AuthorityKeyId: authorityKeyID,
	}
}

// subject returns the subject of c.
func (c *clientCert) subject() pkix.Name {
	return pkix.Name{
		CommonName:         c.CommonName,
		Organization:       []string{c.Organization},
		OrganizationalUnit: []string{c.OrganizationalUnit},
	}
}

// subjectString returns c.subject().String() (RFC 2253: "CN=...,OU=...,O=...",
// with its escapes) without building the pkix.Name and its RDN sequence.
// Empty attributes, which pkix.Name drops or keeps by kind, go through it.
func (c *clientCert) subjectString() string {
	if c.CommonName == "" || c.Organization == "" || c.OrganizationalUnit == "" {
		return c.subject().String()
	}
	var b strings.Builder
	b.Grow(12 + len(c.CommonName) + len(c.OrganizationalUnit) + len(c.Organization))
	for i, a := range [...]struct{ name, value string }{{"CN", c.CommonName}, {"OU", c.OrganizationalUnit}, {"O", c.Organization}} {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a.name)
		b.WriteByte('=')
		writeRDNValue(&b, a.value)
	}
	return b.String()
}

// writeRDNValue writes v escaped as pkix.RDNSequence.String escapes it:
// a backslash before each of ,+"\<>; and before a space that starts or
// ends v or a # that starts it.
func writeRDNValue(b *strings.Builder, v string) {
	for k, r := range v {
		escape := false
		switch r {
		case ',', '+', '"', '\\', '<', '>', ';':
			escape = true
		case ' ':
			escape = k == 0 || k == len(v)-1
		case '#':
			escape = k == 0
		}
		if escape {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
}

// signClient returns the DER of client certificate c for pub, signed by
// the CA. A P-256 CA (every CA NewCA makes) encodes it directly, which
// produces the bytes x509.CreateCertificate would (TestClientCertDER holds
// them equal) without its reflective encoding/asn1, which was a fifth of
// issuing a P-256 credential (with the direct key encodings, issuing went
// from 182 to 156 µs, below the bare key and CreateCertificate). As
// CreateCertificate does, the signature is verified before the certificate
// is returned, so that a faulty signature is never handed out. Other CAs
// go through CreateCertificate.
func (ca *CA) signClient(c *clientCert, pub crypto.PublicKey) ([]byte, error) {
	key, ok := ca.Key.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() || len(ca.Cert.RawSubject) == 0 {
		der, err := x509.CreateCertificate(rand.Reader, c.template(ca.Cert.SubjectKeyId), ca.Cert, pub, ca.Key)
		if err != nil {
			return nil, fmt.Errorf("pki: sign certificate: %w", err)
		}
		return der, nil
	}
	tbs, err := ca.clientTBS(c, pub)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(tbs)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("pki: sign certificate: %w", err)
	}
	if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
		return nil, errors.New("pki: sign certificate: the signature does not verify")
	}
	// Sized up front: a builder that grows copies what it holds.
	b := cryptobyte.NewBuilder(make([]byte, 0, len(tbs)+len(sig)+32))
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		addAlgorithm(b, oidSignatureECDSAWithSHA256)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}

var (
	oidSignatureECDSAWithSHA256 = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidOrganization             = encasn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrganizationalUnit       = encasn1.ObjectIdentifier{2, 5, 4, 11}
	oidCommonName               = encasn1.ObjectIdentifier{2, 5, 4, 3}
	oidExtKeyUsage              = encasn1.ObjectIdentifier{2, 5, 29, 37}
	oidKeyUsage                 = encasn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints         = encasn1.ObjectIdentifier{2, 5, 29, 19}
	oidAuthorityKeyID           = encasn1.ObjectIdentifier{2, 5, 29, 35}
	oidClientAuth               = encasn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
)

// clientTBS encodes the TBSCertificate of c (RFC 5280 §4.1) as
// x509.CreateCertificate does for the same template and an ECDSA-SHA256
// issuer: the subject's attributes in pkix.Name's order, each a
// PrintableString when it can be one and else a UTF8String; validity in
// UTCTime through 2049 and GeneralizedTime after; then the extensions key
// usage (critical), extended key usage, basic constraints (critical) and
// authority key identifier.
func (ca *CA) clientTBS(c *clientCert, pub crypto.PublicKey) ([]byte, error) {
	spki, err := marshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("pki: marshal public key: %w", err)
	}
	for _, s := range []string{c.CommonName, c.Organization, c.OrganizationalUnit} {
		if !utf8.ValidString(s) {
			return nil, errors.New("pki: subject attribute is not valid UTF-8")
		}
	}
	parts := ca.clientParts
	if parts == nil { // a CA not made by NewCA or LoadCA
		parts = newClientParts(ca.Cert)
	}
	exts, ok := parts.extensions[c.KeyUsage]
	if !ok {
		exts = clientExtensions(ca.Cert.SubjectKeyId, c.KeyUsage)
	}
	// A client certificate's TBSCertificate is some 400 bytes.
	b := cryptobyte.NewBuilder(make([]byte, 0, 512+len(c.CommonName)+len(c.Organization)+len(c.OrganizationalUnit)+len(spki)))
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(versionV3)
		b.AddASN1BigInt(c.Serial)
		b.AddBytes(parts.algorithmIssuer)
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, c.NotBefore)
			addTime(b, c.NotAfter)
		})
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addAttribute(b, oidOrganization, c.Organization)
			addAttribute(b, oidOrganizationalUnit, c.OrganizationalUnit)
			addAttribute(b, oidCommonName, c.CommonName)
		})
		b.AddBytes(spki)
		b.AddBytes(exts)
	})
	tbs, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("pki: encode certificate: %w", err)
	}
	return tbs, nil
}

// versionV3 is a TBSCertificate's version field: [0] EXPLICIT INTEGER 2.
var versionV3 = []byte{0xa0, 0x03, 0x02, 0x01, 0x02}

// clientParts are the DER parts of clientTBS that only the CA decides.
type clientParts struct {
	algorithmIssuer []byte                   // signature AlgorithmIdentifier, then the issuer Name
	extensions      map[x509.KeyUsage][]byte // [3] extensions, for each key usage Issue gives
}

func newClientParts(cert *x509.Certificate) *clientParts {
	b := cryptobyte.NewBuilder(nil)
	addAlgorithm(b, oidSignatureECDSAWithSHA256)
	b.AddBytes(cert.RawSubject)
	p := &clientParts{algorithmIssuer: b.BytesOrPanic(), extensions: map[x509.KeyUsage][]byte{}}
	for _, ku := range []x509.KeyUsage{x509.KeyUsageDigitalSignature, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment} {
		p.extensions[ku] = clientExtensions(cert.SubjectKeyId, ku)
	}
	return p
}

// clientExtensions encodes a client certificate's extensions, [3]
// EXPLICIT: key usage ku (critical), extended key usage clientAuth, basic
// constraints (critical, not a CA) and, when the CA has a key identifier,
// the authority key identifier.
func clientExtensions(authorityKeyID []byte, ku x509.KeyUsage) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addExtension(b, oidKeyUsage, true, func(b *cryptobyte.Builder) {
				addKeyUsage(b, ku)
			})
			addExtension(b, oidExtKeyUsage, false, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidClientAuth)
				})
			})
			addExtension(b, oidBasicConstraints, true, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {}) // not a CA
			})
			if len(authorityKeyID) > 0 {
				addExtension(b, oidAuthorityKeyID, false, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(asn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(authorityKeyID)
						})
					})
				})
			}
		})
	})
	return b.BytesOrPanic()
}

// addAlgorithm adds an AlgorithmIdentifier without parameters, as ECDSA's
// signature algorithms have none.
func addAlgorithm(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
	})
}

// addTime adds t as RFC 5280 §4.1.2.5 wants it: UTCTime for the years 1950
// to 2049, GeneralizedTime otherwise.
func addTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC()
	if y := t.Year(); y >= 1950 && y < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
}

// addAttribute adds a relative distinguished name of one attribute.
func addAttribute(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier, value string) {
	b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			tag := asn1.PrintableString
			if !printable(value) {
				tag = asn1.UTF8String
			}
			b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(value)) })
		})
	})
}

// printable reports whether s fits a PrintableString as encoding/asn1
// decides it (without '*' and '&').
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == ' ', c == '\'', c == '(', c == ')', c == '+', c == ',', c == '-', c == '.', c == '/', c == ':', c == '=', c == '?':
		default:
			return false
		}
	}
	return true
}

// addExtension adds an Extension whose value value writes.
func addExtension(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier, critical bool, value func(*cryptobyte.Builder)) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1(asn1.OCTET_STRING, func(b *cryptobyte.Builder) { value(b) })
	})
}

// addKeyUsage adds the key usage bits ku as a BIT STRING without trailing
// zero bits (RFC 5280 §4.2.1.3 and DER).
func addKeyUsage(b *cryptobyte.Builder, ku x509.KeyUsage) {
	bits := []byte{reverseBits(byte(ku)), reverseBits(byte(ku >> 8))}
	if bits[1] == 0 {
		bits = bits[:1]
	}
	unused := 0
	for last := bits[len(bits)-1]; last != 0 && last&1 == 0; last >>= 1 {
		unused++
	}
	b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(uint8(unused))
		b.AddBytes(bits)
	})
}

// reverseBits reverses the bits of x: KeyUsage numbers bit 0 as the least
// significant, a BIT STRING as the most significant.
func reverseBits(x byte) byte {
	var r byte
	for range 8 {
		r = r<<1 | x&1
		x >>= 1
	}
	return r
}
