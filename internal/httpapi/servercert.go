package httpapi

import (
	"net/http"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

// ServerCertificateRequest is the body of POST
// /v1/project/{p}/kms/server-certificate, a kcred addition: a broker's TLS
// server certificate signed by the project CA.
type ServerCertificateRequest struct {
	Hosts    []string       `json:"hosts"`              // DNS names or IPs; the first is the CN
	Validity kcred.Duration `json:"validity,omitempty"` // "365d" when empty; never past the CA
}

// ServerCertificate is the answer: the certificate, its new private key
// (shown once, never stored) and the project CA bundle.
type ServerCertificate struct {
	Certificate   string `json:"certificate"`
	PrivateKey    string `json:"private_key"`
	CACertificate string `json:"ca_certificate"`
	Serial        string `json:"serial"`
	NotAfter      Time   `json:"not_valid_after_time"`
}

func (s *Server) issueServerCertificate(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in ServerCertificateRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := s.m.IssueServerCertificate(r.Context(), a, r.PathValue("project"), in.Hosts, time.Duration(in.Validity))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ServerCertificate{Certificate: c.CertPEM, PrivateKey: c.KeyPEM, CACertificate: c.CAPEM,
		Serial: c.Serial, NotAfter: Time(c.NotAfter)})
	return nil
}
