package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/kcred/kcred"
)

// PEM block types kcred writes. Keys are always PKCS#8 because Kafka's PEM
// loader refuses PKCS#1 ("RSA PRIVATE KEY") and SEC1 ("EC PRIVATE KEY").
const (
	pemTypeCertificate = "CERTIFICATE"
	pemTypePrivateKey  = "PRIVATE KEY"
)

// GenerateKey returns a new private key of type kt. An unknown key type is a
// kcred.EINVALID error.
func GenerateKey(kt kcred.KeyType) (crypto.Signer, error) {
	var (
		k   crypto.Signer
		err error
	)
	switch kt {
	case kcred.KeyTypeECP256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case kcred.KeyTypeECP384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case kcred.KeyTypeRSA2048:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case kcred.KeyTypeRSA3072:
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case kcred.KeyTypeRSA4096:
		k, err = rsa.GenerateKey(rand.Reader, 4096)
	default:
		return nil, kcred.Errorf(kcred.EINVALID, "Unknown key type %q; valid types are %v.", kt, kcred.KeyTypes)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: generate %s key: %w", kt, err)
	}
	return k, nil
}

// newLeafKey returns a new key of type kt for a client certificate: its
// public half and the private key as MarshalKey encodes it. A P-256 key is
// made with crypto/ecdh, which makes the same keys as ecdsa.GenerateKey (a
// random scalar and its point) and hands out their bytes as they are: an
// ecdsa key converts itself to them, and caches the conversion, each time
// (with the encodings, 8 µs of a 200 µs credential). The leaf's key never
// signs here; the certificate carries it and the PEM hands it out.
func newLeafKey(kt kcred.KeyType) (crypto.PublicKey, []byte, error) {
	if kt == kcred.KeyTypeECP256 {
		k, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("pki: generate %s key: %w", kt, err)
		}
		pub := k.PublicKey()
		return pub, encodePEM(pemTypePrivateKey, p256PKCS8.fill(k.Bytes(), pub.Bytes())), nil
	}
	k, err := GenerateKey(kt)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := MarshalKey(k)
	if err != nil {
		return nil, nil, err
	}
	return k.Public(), keyPEM, nil
}

// MarshalKey encodes k as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"), the
// only private key format Kafka reads. Failure is internal: every key this
// package generates or parses can be marshalled.
func MarshalKey(k crypto.Signer) ([]byte, error) {
	der, err := marshalPKCS8(k)
	if err != nil {
		return nil, fmt.Errorf("pki: marshal private key: %w", err)
	}
	return encodePEM(pemTypePrivateKey, der), nil
}

var (
	oidPublicKeyECDSA = encasn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidCurveP256      = encasn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
)

// marshalPKCS8 returns what x509.MarshalPKCS8PrivateKey does, encoding a
// P-256 key directly: reflective encoding/asn1 made it 8 % of issuing a
// P-256 credential (TestMarshalP256 holds the bytes equal).
func marshalPKCS8(k crypto.Signer) ([]byte, error) {
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return x509.MarshalPKCS8PrivateKey(k)
	}
	priv, err := ec.Bytes()
	if err != nil {
		return nil, err
	}
	pub, err := ec.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	return p256PKCS8.fill(priv, pub), nil
}

// marshalPKIXPublicKey returns what x509.MarshalPKIXPublicKey does,
// encoding a P-256 key (crypto/ecdsa's or crypto/ecdh's) directly, as
// marshalPKCS8 does.
func marshalPKIXPublicKey(k crypto.PublicKey) ([]byte, error) {
	if ec, ok := k.(*ecdh.PublicKey); ok && ec.Curve() == ecdh.P256() {
		return p256SPKI.fill(nil, ec.Bytes()), nil
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return x509.MarshalPKIXPublicKey(k)
	}
	pub, err := ec.Bytes()
	if err != nil {
		return nil, err
	}
	return p256SPKI.fill(nil, pub), nil
}

// p256Template is the DER of a P-256 key with the key's bytes left out.
// Every P-256 private key is 32 bytes and every public key 65
// (uncompressed), so all their encodings have the same lengths and differ
// only there: a key is encoded by copying them in.
type p256Template struct {
	der           []byte
	privAt, pubAt int // offsets of the private and public key bytes
}

func (t *p256Template) fill(priv, pub []byte) []byte {
	der := slices.Clone(t.der)
	copy(der[t.privAt:], priv)
	copy(der[t.pubAt:], pub)
	return der
}

var p256PKCS8, p256SPKI = newP256Templates()

// newP256Templates encodes a PrivateKeyInfo (RFC 5208) holding an
// ECPrivateKey (RFC 5915, the curve left to the algorithm) and a
// SubjectPublicKeyInfo (RFC 5280) around marker bytes, and finds the
// markers.
func newP256Templates() (pkcs8, spki *p256Template) {
	priv, pub := bytes.Repeat([]byte{0xa5}, 32), append([]byte{4}, bytes.Repeat([]byte{0x5a}, 64)...)
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		addP256Algorithm(b)
		b.AddASN1(asn1.OCTET_STRING, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1OctetString(priv)
				b.AddASN1(asn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1BitString(pub)
				})
			})
		})
	})
	der := b.BytesOrPanic()
	pkcs8 = &p256Template{der: der, privAt: bytes.Index(der, priv), pubAt: bytes.Index(der, pub)}
	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addP256Algorithm(b)
		b.AddASN1BitString(pub)
	})
	der = b.BytesOrPanic()
	spki = &p256Template{der: der, pubAt: bytes.Index(der, pub)}
	if len(pkcs8.der) != 138 || pkcs8.privAt < 0 || pkcs8.pubAt < 0 || len(spki.der) != 91 || spki.pubAt < 0 {
		panic("pki: P-256 key templates")
	}
	return pkcs8, spki
}

// addP256Algorithm adds the AlgorithmIdentifier of a P-256 key (RFC 5480).
func addP256Algorithm(b *cryptobyte.Builder) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidPublicKeyECDSA)
		b.AddASN1ObjectIdentifier(oidCurveP256)
	})
}

// ParseKey parses a private key written by MarshalKey: PKCS#8 in a
// "PRIVATE KEY" PEM block, or bare PKCS#8 DER. It also accepts the legacy
// "RSA PRIVATE KEY" and "EC PRIVATE KEY" blocks so that an existing CA made
// with older tools can be imported. Anything else is a kcred.EINVALID error;
// the error never quotes the input, which may be a secret.
func ParseKey(pemBytes []byte) (crypto.Signer, error) {
	var (
		key any
		err error
	)
	block, _ := pem.Decode(pemBytes)
	switch {
	case block == nil:
		// Not PEM: LoadCA is documented to take DER as well.
		key, err = x509.ParsePKCS8PrivateKey(pemBytes)
	case block.Type == pemTypePrivateKey:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case block.Type == "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case block.Type == "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, kcred.Errorf(kcred.EINVALID, "Private key has PEM type %q; want %q.", block.Type, pemTypePrivateKey)
	}
	if err != nil {
		// The x509 error names the structure that failed, never key bytes,
		// but it adds nothing a caller can act on, so it is left out.
		return nil, kcred.Errorf(kcred.EINVALID, "Private key is not a valid PKCS#8 key.")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, kcred.Errorf(kcred.EINVALID, "Private key of type %T cannot sign.", key)
	}
	return signer, nil
}

// ParseCertificate parses the first "CERTIFICATE" PEM block of pemStr. Input
// that holds no such block or a malformed certificate is a kcred.EINVALID
// error.
func ParseCertificate(pemStr string) (*x509.Certificate, error) {
	rest := []byte(pemStr)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, kcred.Errorf(kcred.EINVALID, "No PEM certificate found.")
		}
		// Skip other blocks so a bundle with a key in front still works.
		if block.Type != pemTypeCertificate {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, kcred.Errorf(kcred.EINVALID, "Certificate is malformed: %v.", err)
		}
		return cert, nil
	}
}

// encodeCertificate returns der as a PEM "CERTIFICATE" block.
func encodeCertificate(der []byte) string {
	return string(encodePEM(pemTypeCertificate, der))
}

// encodePEM returns what pem.EncodeToMemory does for a block of type typ
// without headers, in one allocation: pem's streaming line breaker took
// 4 % of issuing a P-256 credential, for two blocks of under a kilobyte.
func encodePEM(typ string, der []byte) []byte {
	const chunk = 48 // bytes per 64-character line; a multiple of 3, so no padding before the end
	n := base64.StdEncoding.EncodedLen(len(der))
	out := make([]byte, 0, 2*len(typ)+len("-----BEGIN -----\n-----END -----\n")+n+n/64+1)
	out = append(append(append(out, "-----BEGIN "...), typ...), "-----\n"...)
	for len(der) > 0 {
		k := min(chunk, len(der))
		out = append(base64.StdEncoding.AppendEncode(out, der[:k]), '\n')
		der = der[k:]
	}
	return append(append(append(out, "-----END "...), typ...), "-----\n"...)
}

// publicKeysEqual reports whether a and b are the same public key. All the
// stdlib key types implement Equal; anything else is treated as different.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}
