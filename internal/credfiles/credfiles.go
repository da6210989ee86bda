// Package credfiles makes and writes the files a Kafka client reads to
// authenticate as a service user: ca.pem, service.cert and service.key, and
// for Java clients a PKCS#12 keystore, a JKS truststore and
// client.properties. The CLI's downloads and the agent write the same files
// the same way: atomically, keys 0600.
package credfiles

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/pki"
)

// File is one file to write: its name in the directory, content and mode.
type File struct {
	Name string
	Data []byte
	Mode os.FileMode
}

// PEM returns ca.pem (0644), service.key (0600) and service.cert (0644),
// the files of user-creds-download. The certificate comes last so that a
// watcher of service.cert sees it only once its key is in place.
func PEM(ca, cert, key string) []File {
	return []File{
		{"ca.pem", pemText(ca), 0o644},
		{"service.key", pemText(key), 0o600},
		{"service.cert", pemText(cert), 0o644},
	}
}

// Java returns client.truststore.jks, client.keystore.p12 and
// client.properties (all 0600), the files of user-kafka-java-creds, for
// stores kept in dir. about names the user in client.properties' comment.
func Java(ca, cert, key, password, serviceURI, dir, about string) ([]File, error) {
	leaf, err := pki.ParseCertificate(cert)
	if err != nil {
		return nil, fmt.Errorf("the certificate cannot be read: %s", kcred.ErrorMessage(err))
	}
	k, err := pki.ParseKey([]byte(key))
	if err != nil {
		return nil, fmt.Errorf("the key cannot be read: %s", kcred.ErrorMessage(err))
	}
	issuer, err := IssuerOf(leaf, ca)
	if err != nil {
		return nil, err
	}
	p12, err := pki.KeystorePKCS12(leaf, k, issuer, password)
	if err != nil {
		return nil, fmt.Errorf("cannot make the keystore: %s", kcred.ErrorMessage(err))
	}
	jks, err := pki.TruststoreJKS(issuer, password)
	if err != nil {
		return nil, fmt.Errorf("cannot make the truststore: %s", kcred.ErrorMessage(err))
	}
	props := clientProperties(serviceURI, filepath.Join(dir, "client.keystore.p12"), filepath.Join(dir, "client.truststore.jks"), password, about)
	return []File{
		{"client.truststore.jks", jks, 0o600},
		{"client.keystore.p12", p12, 0o600},
		{"client.properties", []byte(props), 0o600},
	}, nil
}

// Write writes each file into dir atomically, in order.
func Write(dir string, files []File) error {
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if err := WriteAtomic(p, f.Data, f.Mode); err != nil {
			return fmt.Errorf("cannot write %s: %v", p, UnwrapPath(err))
		}
	}
	return nil
}

func pemText(s string) []byte {
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []byte(s)
}

// WriteAtomic writes data to path with exactly mode (not reduced by the
// umask): it writes a temporary file in the same directory, syncs it and
// renames it over path, so a reader sees the old file or the new one, never
// a part. The temporary file is made 0600 and changes mode only when
// complete, so a key is never readable by others on the way.
func WriteAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable; not every system can sync a
	// directory, and the file is complete either way.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// IssuerOf returns the certificate of the project's CA bundle that signed
// leaf. During a CA rotation the bundle holds the old and the new CA.
func IssuerOf(leaf *x509.Certificate, bundle string) (*x509.Certificate, error) {
	var cas []*x509.Certificate
	rest := []byte(bundle)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if ca, err := x509.ParseCertificate(block.Bytes); err == nil {
			cas = append(cas, ca)
		}
	}
	for _, ca := range cas {
		if leaf.CheckSignatureFrom(ca) == nil {
			return ca, nil
		}
	}
	if len(cas) == 0 {
		return nil, errors.New("the server sent a project CA that holds no certificate")
	}
	return nil, fmt.Errorf("the project CA did not sign the certificate of %q; try again, or reset its credentials", leaf.Subject.CommonName)
}

// clientProperties is client.properties for a Java Kafka client, with the
// keys avn writes, escaped as java.util.Properties reads them.
func clientProperties(bootstrap, keystore, truststore, password, about string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Kafka client settings for %s, written by kcred.\n", propEscape(about, false))
	for _, kv := range [][2]string{
		{"bootstrap.servers", bootstrap},
		{"security.protocol", "SSL"},
		{"ssl.protocol", "TLS"},
		{"ssl.key.password", password},
		{"ssl.keystore.location", keystore},
		{"ssl.keystore.password", password},
		{"ssl.keystore.type", "PKCS12"},
		{"ssl.truststore.location", truststore},
		{"ssl.truststore.password", password},
		{"ssl.truststore.type", "JKS"},
	} {
		b.WriteString(kv[0] + "=" + propEscape(kv[1], true) + "\n")
	}
	return b.String()
}

// propEscape escapes s for a .properties file, which Java reads as
// ISO-8859-1 with backslash escapes: backslashes (as in Windows paths),
// line breaks and non-ASCII characters are escaped, and a leading space
// of a value is kept.
func propEscape(s string, value bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == ' ' && i == 0 && value:
			b.WriteString(`\ `)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// UnwrapPath drops the operation and path of a *fs.PathError, which the
// caller's message already names.
func UnwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
