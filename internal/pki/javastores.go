package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/kcred/kcred"
)

// minStorePassword is keytool's minimum store password length. Java reads
// stores with shorter passwords, but keytool refuses to create one, so a
// user who rebuilds a store by hand with the same password would be stuck;
// kcred follows the rule every Java store made with keytool follows.
const minStorePassword = 6

// truststoreAlias is the alias of the CA in the JKS truststore.
const truststoreAlias = "ca"

// KeystoreAlias is the alias of the key entry in KeystorePKCS12's store.
const KeystoreAlias = "service"

// KeystorePKCS12 returns a PKCS#12 keystore for Java Kafka clients
// (ssl.keystore.type=PKCS12) holding the private key with the chain
// leafCert, ca, protected by password. It uses PBES2 with AES-256 and
// HMAC-SHA-256 (pkcs12.Modern2023), which Java 12+ and OpenSSL 1.1.1+ read;
// Modern2026's PBMAC1 needs Java 26 or OpenSSL 3.4, newer than many Kafka
// deployments. A password shorter than 6 characters or a key that does not
// match leafCert is a kcred.EINVALID error.
func KeystorePKCS12(leafCert *x509.Certificate, key crypto.Signer, ca *x509.Certificate, password string) ([]byte, error) {
	if len(password) < minStorePassword {
		return nil, kcred.Errorf(kcred.EINVALID, "Keystore password must be at least %d characters.", minStorePassword)
	} else if !publicKeysEqual(key.Public(), leafCert.PublicKey) {
		// Java would load such a store and fail only in the handshake.
		return nil, kcred.Errorf(kcred.EINVALID, "Private key does not match certificate %q.", leafCert.Subject.CommonName)
	}
	// The chain includes the CA so a broker that does not send its CA list
	// can still build the path; "Certificate chain length: 2" in keytool.
	p12, err := pkcs12.Modern2023.Encode(key, leafCert, []*x509.Certificate{ca}, password)
	if err != nil {
		return nil, fmt.Errorf("pki: encode PKCS#12 keystore: %w", err)
	}
	return setKeyAlias(p12, KeystoreAlias, password)
}

// TruststoreJKS returns a JKS truststore for Java Kafka clients
// (ssl.truststore.type=JKS, the default of older clients) holding ca as the
// trusted certificate entry "ca", protected by password. The entry's
// creation time is the CA's NotBefore, not the clock, so the same CA always
// gives the same bytes and the agent rewrites the file only when the CA
// changes. A password shorter than 6 characters is a kcred.EINVALID error.
func TruststoreJKS(ca *x509.Certificate, password string) ([]byte, error) {
	if len(password) < minStorePassword {
		return nil, kcred.Errorf(kcred.EINVALID, "Truststore password must be at least %d characters.", minStorePassword)
	}
	ks := keystore.New()
	err := ks.SetTrustedCertificateEntry(truststoreAlias, keystore.TrustedCertificateEntry{
		CreationTime: ca.NotBefore,
		Certificate:  keystore.Certificate{Type: "X509", Content: ca.Raw},
	})
	if err != nil {
		return nil, fmt.Errorf("pki: add CA to truststore: %w", err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(password)); err != nil {
		return nil, fmt.Errorf("pki: write JKS truststore: %w", err)
	}
	return buf.Bytes(), nil
}
