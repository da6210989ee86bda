// Package devkafka runs an in-process Kafka broker on loopback that requires
// mTLS client certificates, for the demo and for tests. It records which
// client certificate each accepted connection presented, so callers can show
// which certificate a client used.
package devkafka

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a Kafka broker on loopback that requires a client certificate
// signed by one of its trusted CAs.
type Broker struct {
	cluster   *kfake.Cluster
	addr      string
	cas       atomic.Pointer[x509.CertPool]
	now       func() time.Time
	closeOnce sync.Once

	mu    sync.Mutex
	conns []Connection
}

// Config is what Start needs to run a Broker.
type Config struct {
	CAs        []*x509.Certificate // client CAs trusted (the project CA); at least one
	ServerCert tls.Certificate     // the broker's own certificate (IP SAN 127.0.0.1, DNS localhost), e.g. from pki.CA.IssueServer
	Topics     []string            // seeded topics, 1 partition each
	Now        func() time.Time    // optional clock for the connection log; time.Now if nil
}

// Connection is one client connection the broker accepted: the client
// certificate's subject CN, its serial (lowercase hex, as pki.Leaf.Serial),
// when the handshake completed and the client's address. Refused
// connections are not recorded.
type Connection struct {
	CommonName string
	Serial     string
	Time       time.Time
	Remote     string
}

// Start starts a single broker on 127.0.0.1 with a random port. It accepts
// only TLS 1.2+ connections whose client certificate chains to one of
// cfg.CAs and is within its validity period. No CA or no server certificate
// is an error.
func Start(cfg Config) (*Broker, error) {
	if len(cfg.CAs) == 0 {
		return nil, errors.New("devkafka: at least one trusted client CA is required")
	} else if len(cfg.ServerCert.Certificate) == 0 || cfg.ServerCert.PrivateKey == nil {
		return nil, errors.New("devkafka: a server certificate with its private key is required")
	}
	b := &Broker{now: cfg.Now}
	if b.now == nil {
		b.now = time.Now
	}
	b.SetCAs(cfg.CAs)

	serverCert := cfg.ServerCert
	tlsCfg := &tls.Config{
		// Each handshake gets a fresh config so that it sees the current
		// trusted CAs (SetCAs) and records its own remote address.
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			remote := hi.Conn.RemoteAddr().String()
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{serverCert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    b.cas.Load(),
				// No resumption: every connection verifies its client
				// certificate against the CAs trusted now, so a CA swap
				// or an expiry takes effect on the next connection.
				SessionTicketsDisabled: true,
				// Runs after the chain was verified, so only accepted
				// connections are recorded.
				VerifyConnection: func(cs tls.ConnectionState) error {
					if len(cs.PeerCertificates) > 0 {
						b.record(cs.PeerCertificates[0], remote)
					}
					return nil
				},
			}, nil
		},
	}

	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.TLS(tlsCfg)}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(1, cfg.Topics...))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("devkafka: start broker: %w", err)
	}
	addrs := cluster.ListenAddrs()
	if len(addrs) == 0 {
		cluster.Close()
		return nil, errors.New("devkafka: broker has no listen address")
	}
	b.cluster, b.addr = cluster, addrs[0]
	return b, nil
}

// StartPEM is Start with PEM inputs, as kcred hands them out: the trusted
// client CAs (ca.pem, a bundle during a CA rotation) and the broker's
// certificate and key (kcred project server-cert).
func StartPEM(caPEM, certPEM, keyPEM string, topics ...string) (*Broker, error) {
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return nil, fmt.Errorf("devkafka: server certificate: %w", err)
	}
	var cas []*x509.Certificate
	for rest := []byte(caPEM); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		ca, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("devkafka: client CA: %w", err)
		}
		cas = append(cas, ca)
	}
	return Start(Config{CAs: cas, ServerCert: pair, Topics: topics})
}

// Addr returns the broker's host:port bootstrap address.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker and closes its connections. It is safe to call
// more than once.
func (b *Broker) Close() {
	b.closeOnce.Do(b.cluster.Close)
}

// Connections returns the accepted client connections so far, oldest first.
func (b *Broker) Connections() []Connection {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.conns)
}

// SetCAs replaces the client CAs the broker trusts. It applies to new
// connections; established ones stay open.
func (b *Broker) SetCAs(cas []*x509.Certificate) {
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	b.cas.Store(pool)
}

// record appends an accepted connection to the log.
func (b *Broker) record(cert *x509.Certificate, remote string) {
	c := Connection{
		CommonName: cert.Subject.CommonName,
		Serial:     cert.SerialNumber.Text(16),
		Time:       b.now(),
		Remote:     remote,
	}
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
}
