package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
)

// verify proves the certificate on disk on the broker: a new franz-go
// client that trusts only the project CA and presents only this
// certificate sends a metadata request to serviceURI. A broker that does
// not trust the certificate, an expired one, or a broker that is not the
// project's fails it.
func (a *Agent) verify(ctx context.Context, serviceURI string, f onDisk) error {
	if serviceURI == "" {
		return errors.New("the service has no service_uri to connect to")
	}
	pair, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return fmt.Errorf("load certificate and key: %w", err)
	}
	caPEM, err := os.ReadFile(f.ca)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no certificate", f.ca)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(serviceURI),
		kgo.DialTLSConfig(&tls.Config{
			MinVersion:   tls.VersionTLS12,
			RootCAs:      roots,
			Certificates: []tls.Certificate{pair},
		}),
		kgo.DialTimeout(a.cfg.VerifyTimeout),
		// One try: the agent's own backoff retries, and a refused
		// certificate should fail fast with the broker's reason.
		kgo.RequestRetries(0),
		kgo.RetryTimeout(a.cfg.VerifyTimeout),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, a.cfg.VerifyTimeout)
	defer cancel()
	return cl.Ping(ctx)
}
