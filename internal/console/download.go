package console

import (
	"archive/zip"
	"bytes"
	"crypto/x509"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/pki"
)

// DefaultStorePassword is what the Java stores form suggests: Java's
// well-known default, which the form warns about.
const DefaultStorePassword = "changeit"

// credentials reads a user's secrets for a download: a read through
// lifecycle, so an audit event. Members who may not read secrets get
// EFORBIDDEN.
func (h *Handler) credentials(r *http.Request, s *session, username string) (*lifecycle.UserView, string, error) {
	pname, sname := r.PathValue("project"), r.PathValue("service")
	v, role, err := h.m.GetUser(r.Context(), s.Actor, pname, sname, username, true)
	if err != nil {
		return nil, "", err
	}
	if !v.Secrets {
		return nil, "", kcred.Errorf(kcred.EFORBIDDEN, "Your role in project %q (%s) does not allow downloading keys; it needs developer.", pname, role)
	}
	ca, err := h.m.CACertificates(r.Context(), s.Actor, pname)
	if err != nil {
		return nil, "", err
	}
	return v, ca, nil
}

// credentialsZip sends ca.pem, service.cert and service.key in one zip, the
// files `avn service user-creds-download` writes.
func (h *Handler) credentialsZip(w http.ResponseWriter, r *http.Request, s *session) error {
	uname := r.PathValue("username")
	v, ca, err := h.credentials(r, s, uname)
	if err != nil {
		return err
	}
	now := h.m.Now()
	z := newZip(now)
	z.add("ca.pem", []byte(ca), 0o644)
	z.add("service.cert", []byte(v.Current.CertPEM), 0o644)
	z.add("service.key", []byte(v.KeyPEM), 0o600)
	return z.send(w, fmt.Sprintf("%s-%s-%s.zip", r.PathValue("service"), uname, "credentials"))
}

// javaZipForm is the Java stores form of the users page, which names the
// user in a field.
func (h *Handler) javaZipForm(w http.ResponseWriter, r *http.Request, s *session) error {
	return h.sendJavaZip(w, r, s, strings.TrimSpace(r.PostFormValue("username")))
}

func (h *Handler) javaZip(w http.ResponseWriter, r *http.Request, s *session) error {
	return h.sendJavaZip(w, r, s, r.PathValue("username"))
}

// sendJavaZip sends client.keystore.p12, client.truststore.jks and
// client.properties in one zip, protected by the password of the form.
func (h *Handler) sendJavaZip(w http.ResponseWriter, r *http.Request, s *session, uname string) error {
	pname, sname := r.PathValue("project"), r.PathValue("service")
	back := returnTo(r)
	password := r.PostFormValue("password")
	if len(password) < 6 {
		return h.formFail(w, r, s, kcred.Errorf(kcred.EINVALID, "The store password must be at least 6 characters (keytool's minimum)."), back)
	}
	if len(password) > 128 || strings.ContainsAny(password, "\r\n") {
		return h.formFail(w, r, s, kcred.Errorf(kcred.EINVALID, "The store password must be one line of at most 128 characters."), back)
	}
	if uname == "" {
		return h.formFail(w, r, s, kcred.Errorf(kcred.EINVALID, "Choose a service user."), back)
	}
	v, caPEM, err := h.credentials(r, s, uname)
	if err != nil {
		return err
	}
	leaf, err := pki.ParseCertificate(v.Current.CertPEM)
	if err != nil {
		return fmt.Errorf("parse certificate of %s: %w", uname, err)
	}
	key, err := pki.ParseKey([]byte(v.KeyPEM))
	if err != nil {
		return fmt.Errorf("parse key of %s: %w", uname, err)
	}
	ca, err := issuerOf(leaf, caPEM)
	if err != nil {
		return err
	}
	p12, err := pki.KeystorePKCS12(leaf, key, ca, password)
	if err != nil {
		return h.formFail(w, r, s, err, back)
	}
	jks, err := pki.TruststoreJKS(ca, password)
	if err != nil {
		return h.formFail(w, r, s, err, back)
	}
	svc, _, err := h.m.GetService(r.Context(), s.Actor, pname, sname, false)
	if err != nil {
		return err
	}
	now := h.m.Now()
	z := newZip(now)
	z.add("client.keystore.p12", p12, 0o600)
	z.add("client.truststore.jks", jks, 0o644)
	z.add("client.properties", []byte(clientProperties(pname, sname, uname, svc.Service.URI, password, now)), 0o600)
	return z.send(w, fmt.Sprintf("%s-%s-%s.zip", sname, uname, "java"))
}

// issuerOf returns the CA of bundle that signed leaf, so that the
// truststore is right during a CA rotation too.
func issuerOf(leaf *x509.Certificate, bundle string) (*x509.Certificate, error) {
	rest := bundle
	var first *x509.Certificate
	for {
		c, err := pki.ParseCertificate(rest)
		if err != nil {
			break
		}
		if first == nil {
			first = c
		}
		if leaf.CheckSignatureFrom(c) == nil {
			return c, nil
		}
		i := strings.Index(rest, "-----END CERTIFICATE-----")
		if i < 0 {
			break
		}
		rest = rest[i+len("-----END CERTIFICATE-----"):]
	}
	if first == nil {
		return nil, fmt.Errorf("project CA bundle holds no certificate")
	}
	return first, nil
}

// clientProperties is the Kafka client configuration for the Java stores.
func clientProperties(project, service, username, uri, password string, now time.Time) string {
	bootstrap := uri
	if bootstrap == "" {
		bootstrap = "HOST:PORT"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Kafka client settings for service user %s of service %s (project %s),\n", username, service, project)
	fmt.Fprintf(&b, "# written by kcred on %s. Keep this file private: it holds the store password.\n", now.UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "bootstrap.servers=%s\n", bootstrap)
	b.WriteString("security.protocol=SSL\n")
	b.WriteString("ssl.keystore.type=PKCS12\n")
	b.WriteString("ssl.keystore.location=client.keystore.p12\n")
	fmt.Fprintf(&b, "ssl.keystore.password=%s\n", propertiesEscape(password))
	fmt.Fprintf(&b, "ssl.key.password=%s\n", propertiesEscape(password))
	b.WriteString("ssl.truststore.type=JKS\n")
	b.WriteString("ssl.truststore.location=client.truststore.jks\n")
	fmt.Fprintf(&b, "ssl.truststore.password=%s\n", propertiesEscape(password))
	b.WriteString("ssl.endpoint.identification.algorithm=https\n")
	return b.String()
}

// propertiesEscape escapes a value for a Java properties file.
func propertiesEscape(s string) string {
	var b strings.Builder
	for i, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == ' ' && i == 0:
			b.WriteString(`\ `)
		case c == '#' || c == '!' || c == '=' || c == ':':
			b.WriteRune('\\')
			b.WriteRune(c)
		case c > 0x7e || c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// zipFile builds a zip in memory: the files are small, and a complete body
// lets a failure still become an error page.
type zipFile struct {
	buf bytes.Buffer
	zw  *zip.Writer
	now time.Time
	err error
}

func newZip(now time.Time) *zipFile {
	z := &zipFile{now: now}
	z.zw = zip.NewWriter(&z.buf)
	return z
}

func (z *zipFile) add(name string, body []byte, mode uint32) {
	if z.err != nil {
		return
	}
	fh := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: z.now}
	fh.SetMode(fs.FileMode(mode))
	f, err := z.zw.CreateHeader(fh)
	if err != nil {
		z.err = err
		return
	}
	_, z.err = f.Write(body)
}

func (z *zipFile) send(w http.ResponseWriter, name string) error {
	if z.err == nil {
		z.err = z.zw.Close()
	}
	if z.err != nil {
		return fmt.Errorf("build zip: %w", z.err)
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", attachment(name))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(z.buf.Bytes())
	return nil
}

func attachment(name string) string {
	return mime.FormatMediaType("attachment", map[string]string{"filename": name})
}
