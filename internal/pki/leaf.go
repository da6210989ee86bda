package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"time"

	"github.com/kcred/kcred"
)

// serverKeyType is the key type of server certificates. They are for the
// embedded broker and tests, where P-256 is fast and universally accepted.
const serverKeyType = kcred.KeyTypeECP256

// LeafRequest is what Issue needs to make a service user's client
// certificate.
type LeafRequest struct {
	Username    string // becomes CN, so Kafka maps the principal to User:<Username>
	ServiceName string // becomes O
	UserID      string // becomes OU: the service user's id, unique even across re-creations
	KeyType     kcred.KeyType
	Validity    time.Duration // NotAfter = Now + Validity
	Now         time.Time     // issue time; passed in so tests can move time
}

// Leaf is an issued certificate with its new private key.
type Leaf struct {
	DER       []byte // the certificate
	CertPEM   string
	KeyPEM    []byte // unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"); a secret: seal it, never log it
	Serial    string // lowercase hex of the serial number, without leading zeros
	Subject   string // as x509.Certificate.Subject.String() gives it: "CN=alice,OU=...,O=..."
	NotBefore time.Time
	NotAfter  time.Time
}

// Certificate parses the certificate. Issuing does not: callers mostly
// need only the fields Leaf has, and parsing was 5 % of issuing.
func (l *Leaf) Certificate() (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(l.DER)
	if err != nil {
		return nil, fmt.Errorf("pki: parse issued certificate: %w", err)
	}
	return cert, nil
}

// Issue generates a new key of req.KeyType and a client certificate for it
// signed by the CA: CN=Username, O=ServiceName, OU=UserID, key usage
// digitalSignature (plus keyEncipherment for RSA), extended key usage
// clientAuth, a random 128-bit serial, valid from Now-5m to Now+Validity
// (in whole seconds, as X.509 stores them).
// An unknown key type, a non-positive validity, an empty username or a zero
// Now is a kcred.EINVALID error.
func (ca *CA) Issue(req LeafRequest) (*Leaf, error) {
	if !req.KeyType.Valid() {
		return nil, kcred.Errorf(kcred.EINVALID, "Unknown key type %q; valid types are %v.", req.KeyType, kcred.KeyTypes)
	} else if req.Validity <= 0 {
		return nil, kcred.Errorf(kcred.EINVALID, "Certificate validity must be positive, got %s.", req.Validity)
	} else if req.Username == "" {
		// An empty CN would map to an empty Kafka principal.
		return nil, kcred.Errorf(kcred.EINVALID, "Username is required.")
	} else if req.Now.IsZero() {
		return nil, kcred.Errorf(kcred.EINVALID, "Issue time is required.")
	}

	pub, keyPEM, err := newLeafKey(req.KeyType)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	c := &clientCert{
		Serial:             serial,
		CommonName:         req.Username,
		Organization:       req.ServiceName,
		OrganizationalUnit: req.UserID,
		NotBefore:          validityTime(req.Now.Add(-clockSkew)),
		NotAfter:           validityTime(req.Now.Add(req.Validity)),
		KeyUsage:           x509.KeyUsageDigitalSignature,
	}
	if isRSA(req.KeyType) {
		// RSA key exchange (TLS 1.2 RSA kx suites) encrypts with the
		// certificate key; EC keys only sign, so they must not claim it.
		c.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := ca.signClient(c, pub)
	if err != nil {
		return nil, err
	}
	return &Leaf{
		DER: der, CertPEM: encodeCertificate(der), KeyPEM: keyPEM, Serial: serial.Text(16),
		Subject: c.subjectString(), NotBefore: c.NotBefore, NotAfter: c.NotAfter,
	}, nil
}

// IssueServer issues a TLS server certificate with a new P-256 key:
// CN=commonName, the given DNS and IP subject alternative names, extended
// key usage serverAuth, valid from now-5m to now+validity. It serves the
// embedded Kafka broker and tests. No SANs, a non-positive validity or a zero
// now is a kcred.EINVALID error.
func (ca *CA) IssueServer(commonName string, dnsNames []string, ips []net.IP, validity time.Duration, now time.Time) (*Leaf, error) {
	if len(dnsNames) == 0 && len(ips) == 0 {
		// Clients match the host against SANs only, never the CN.
		return nil, kcred.Errorf(kcred.EINVALID, "A server certificate needs at least one DNS name or IP address.")
	} else if validity <= 0 {
		return nil, kcred.Errorf(kcred.EINVALID, "Certificate validity must be positive, got %s.", validity)
	} else if now.IsZero() {
		return nil, kcred.Errorf(kcred.EINVALID, "Issue time is required.")
	}

	key, err := GenerateKey(serverKeyType)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		NotBefore:             validityTime(now.Add(-clockSkew)),
		NotAfter:              validityTime(now.Add(validity)),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	cert, certPEM, err := ca.sign(tmpl, key.Public())
	if err != nil {
		return nil, err
	}
	keyPEM, err := MarshalKey(key)
	if err != nil {
		return nil, err
	}
	return &Leaf{
		DER: cert.Raw, CertPEM: certPEM, KeyPEM: keyPEM, Serial: cert.SerialNumber.Text(16),
		Subject: cert.Subject.String(), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
	}, nil
}

// isRSA reports whether kt is an RSA key type.
func isRSA(kt kcred.KeyType) bool {
	switch kt {
	case kcred.KeyTypeRSA2048, kcred.KeyTypeRSA3072, kcred.KeyTypeRSA4096:
		return true
	}
	return false
}
