package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"os/exec"
	"strings"
	"testing"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/kcred/kcred"
)

const testStorePassword = "s3cret-Pw!"

// TestKeystorePKCS12 writes a keystore for every key type and has Java's
// keytool and openssl read it, as a Kafka client and an operator would.
func TestKeystorePKCS12(t *testing.T) {
	keytool := requireTool(t, "keytool")
	openssl := requireTool(t, "openssl")
	now := time.Now()
	ca := newTestCA(t, now)

	for _, kt := range kcred.KeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			leaf, err := ca.Issue(LeafRequest{Username: "alice", ServiceName: "kafka-prod", UserID: "u-1", KeyType: kt, Validity: time.Hour, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			key, err := ParseKey(leaf.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			p12, err := KeystorePKCS12(mustCert(t, leaf), key, ca.Cert, testStorePassword)
			if err != nil {
				t.Fatal(err)
			}

			// Go reads back the same key and chain.
			gotKey, gotCert, gotChain, err := pkcs12.DecodeChain(p12, testStorePassword)
			if err != nil {
				t.Fatal(err)
			}
			if !gotCert.Equal(mustCert(t, leaf)) || len(gotChain) != 1 || !gotChain[0].Equal(ca.Cert) {
				t.Error("decoded certificate chain differs from [leaf, ca]")
			}
			if s, ok := gotKey.(crypto.Signer); !ok || !publicKeysEqual(s.Public(), mustCert(t, leaf).PublicKey) {
				t.Error("decoded key does not match the leaf")
			}

			p := writeFile(t, t.TempDir(), "client.keystore.p12", p12)
			out := run(t, keytool, "-list", "-v", "-keystore", p, "-storepass", testStorePassword, "-storetype", "PKCS12")
			for _, want := range []string{
				"Your keystore contains 1 entry",
				"Alias name: service",
				"Entry type: PrivateKeyEntry",
				"Certificate chain length: 2",
				"Owner: CN=alice, OU=u-1, O=kafka-prod",
				"Owner: CN=acme GEN 1 Project CA",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("keytool -list lacks %q:\n%s", want, out)
				}
			}
			out = run(t, openssl, "pkcs12", "-info", "-in", p, "-passin", "pass:"+testStorePassword, "-nokeys")
			for _, want := range []string{"MAC: sha256", "PBES2", "subject=O = kafka-prod, OU = u-1, CN = alice", "subject=CN = acme GEN 1 Project CA"} {
				if !strings.Contains(out, want) {
					t.Errorf("openssl pkcs12 -info lacks %q:\n%s", want, out)
				}
			}

			// A wrong password must be refused, or the checks above would
			// pass for an unprotected store too.
			if out, err := exec.Command(keytool, "-list", "-keystore", p, "-storepass", "wrong-password", "-storetype", "PKCS12").CombinedOutput(); err == nil {
				t.Errorf("keytool accepted a wrong password:\n%s", out)
			}
			if out, err := exec.Command(openssl, "pkcs12", "-info", "-in", p, "-passin", "pass:wrong-password", "-nokeys").CombinedOutput(); err == nil {
				t.Errorf("openssl accepted a wrong password:\n%s", out)
			}
		})
	}
}

func TestKeystorePKCS12Invalid(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, now)
	leaf, err := ca.Issue(LeafRequest{Username: "alice", KeyType: kcred.KeyTypeECP256, Validity: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKey(leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() ([]byte, error){
		"short password":   func() ([]byte, error) { return KeystorePKCS12(mustCert(t, leaf), key, ca.Cert, "12345") },
		"empty password":   func() ([]byte, error) { return KeystorePKCS12(mustCert(t, leaf), key, ca.Cert, "") },
		"key of the CA":    func() ([]byte, error) { return KeystorePKCS12(mustCert(t, leaf), ca.Key, ca.Cert, testStorePassword) },
		"JKS short passwd": func() ([]byte, error) { return TruststoreJKS(ca.Cert, "12345") },
	} {
		if b, err := call(); kcred.ErrorCode(err) != kcred.EINVALID || b != nil {
			t.Errorf("%s: err %v, want code %s and no bytes", name, err, kcred.EINVALID)
		}
	}
	if _, err := KeystorePKCS12(mustCert(t, leaf), key, ca.Cert, "123456"); err != nil {
		t.Errorf("6-character password: %v", err)
	}
}

// TestTruststoreJKS has keytool read the truststore and checks that it is
// deterministic, which the agent relies on to avoid needless rewrites.
func TestTruststoreJKS(t *testing.T) {
	keytool := requireTool(t, "keytool")
	ca := newTestCA(t, time.Now())
	jks, err := TruststoreJKS(ca.Cert, testStorePassword)
	if err != nil {
		t.Fatal(err)
	}
	again, err := TruststoreJKS(ca.Cert, testStorePassword)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(jks, again) {
		t.Error("two truststores of the same CA differ")
	}

	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(jks), []byte(testStorePassword)); err != nil {
		t.Fatal(err)
	}
	entry, err := ks.GetTrustedCertificateEntry("ca")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := x509.ParseCertificate(entry.Certificate.Content); err != nil || !c.Equal(ca.Cert) {
		t.Errorf("entry \"ca\" is not the CA certificate: %v", err)
	}

	p := writeFile(t, t.TempDir(), "client.truststore.jks", jks)
	out := run(t, keytool, "-list", "-v", "-keystore", p, "-storepass", testStorePassword, "-storetype", "JKS")
	for _, want := range []string{
		"Keystore type: JKS",
		"Your keystore contains 1 entry",
		"Alias name: ca",
		"Entry type: trustedCertEntry",
		"Owner: CN=acme GEN 1 Project CA",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("keytool -list lacks %q:\n%s", want, out)
		}
	}
	// JKS integrity is a keyed digest: a wrong password must fail.
	if out, err := exec.Command(keytool, "-list", "-keystore", p, "-storepass", "wrong-password", "-storetype", "JKS").CombinedOutput(); err == nil {
		t.Errorf("keytool accepted a wrong password:\n%s", out)
	}
}
