package lifecycle

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/kcred/kcred"
)

// DefaultServerCertValidity is how long a broker's server certificate lasts
// when the request does not say.
const DefaultServerCertValidity = 365 * 24 * time.Hour

// maxServerCertHosts bounds the names of one server certificate.
const maxServerCertHosts = 32

// ServerCertificate is a TLS server certificate for a Kafka broker, signed
// by the project CA so that clients trusting ca.pem trust the broker. Its
// key is made for this answer and never stored.
type ServerCertificate struct {
	CertPEM  string
	KeyPEM   string
	CAPEM    string // the project CA bundle, as ca.pem
	Serial   string
	NotAfter time.Time
}

// IssueServerCertificate signs a server certificate for the hosts of a
// project's broker (DNS names or IP addresses; the first is the subject
// CN), valid for validity (DefaultServerCertValidity when zero) but never
// past the CA's own expiry. Admins only, since the certificate lets its
// holder be a broker to every client of the project; the issue is an
// event. Errors: ENOTFOUND for non-members, EFORBIDDEN below admin,
// EINVALID for no, too many or malformed hosts or a negative validity.
func (m *Manager) IssueServerCertificate(ctx context.Context, a Actor, project string, hosts []string, validity time.Duration) (*ServerCertificate, error) {
	p, _, err := m.access(ctx, m.store, a, project, kcred.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 || len(hosts) > maxServerCertHosts {
		return nil, kcred.Errorf(kcred.EINVALID, "Give 1 to %d hosts (DNS names or IP addresses) the broker is reached at.", maxServerCertHosts)
	}
	var names []string
	var ips []net.IP
	for _, h := range hosts {
		ip, err := kcred.ParseHost(h)
		if err != nil {
			return nil, err
		}
		if ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, strings.ToLower(h))
		}
	}
	if validity < 0 {
		return nil, kcred.Errorf(kcred.EINVALID, "Validity must be positive, got %s.", validity)
	} else if validity == 0 {
		validity = DefaultServerCertValidity
	}
	ca, signer, err := m.currentCA(ctx, m.store, p)
	if err != nil {
		return nil, err
	}
	now := m.Now()
	// A certificate that outlives its issuer would fail verification from
	// that day on, so it ends with the CA instead.
	if end := ca.NotAfter.Sub(now); validity > end {
		validity = end
	}
	leaf, err := signer.IssueServer(hosts[0], names, ips, validity, now)
	if err != nil {
		return nil, err
	}
	bundle, err := m.CACertificates(ctx, a, project)
	if err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("Issued server certificate %s for %s, valid until %s", leaf.Serial, strings.Join(hosts, ", "), leaf.NotAfter.UTC().Format(time.RFC3339))
	// Recorded before the key is handed out: no record, no key.
	if err := m.audit.record(ctx, m.event(a, kcred.ActionServerCertIssue, project, "", hosts[0], detail)); err != nil {
		return nil, err
	}
	return &ServerCertificate{CertPEM: string(leaf.CertPEM), KeyPEM: string(leaf.KeyPEM), CAPEM: bundle,
		Serial: leaf.Serial, NotAfter: leaf.NotAfter.UTC()}, nil
}
