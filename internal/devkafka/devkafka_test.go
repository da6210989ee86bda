package devkafka_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/devkafka"
	"github.com/kcred/kcred/internal/pki"
	"github.com/twmb/franz-go/pkg/kgo"
)

const topic = "orders"

// fixture is a project CA, a broker trusting it and a client certificate it
// issued.
type fixture struct {
	ca     *pki.CA
	broker *devkafka.Broker
	client *pki.Leaf
}

func newCA(t *testing.T, project string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(project, 1, time.Now())
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func issue(t *testing.T, ca *pki.CA, username string, validity time.Duration, now time.Time) *pki.Leaf {
	t.Helper()
	leaf, err := ca.Issue(pki.LeafRequest{
		Username: username, ServiceName: "kafka-demo", UserID: "u-" + username,
		KeyType: kcred.KeyTypeECP256, Validity: validity, Now: now,
	})
	if err != nil {
		t.Fatalf("Issue %s: %v", username, err)
	}
	return leaf
}

func keyPair(t *testing.T, leaf *pki.Leaf) tls.Certificate {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(leaf.CertPEM), leaf.KeyPEM)
	if err != nil {
		t.Fatalf("X509KeyPair: %v", err)
	}
	return cert
}

func setup(t *testing.T, now func() time.Time) *fixture {
	t.Helper()
	ca := newCA(t, "demo")
	srv, err := ca.IssueServer("devkafka", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour, time.Now())
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	b, err := devkafka.Start(devkafka.Config{
		CAs:        []*x509.Certificate{ca.Cert},
		ServerCert: keyPair(t, srv),
		Topics:     []string{topic},
		Now:        now,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.Close)
	return &fixture{ca: ca, broker: b, client: issue(t, ca, "svc-orders", time.Hour, time.Now())}
}

// newClient returns a fail-fast franz-go client for the broker that verifies
// the broker against ca and otherwise dials with tlsCfg.
func newClient(t *testing.T, b *devkafka.Broker, ca *pki.CA, tlsCfg *tls.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tlsCfg.RootCAs = roots
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(b.Addr()),
		kgo.DialTLSConfig(tlsCfg),
		kgo.DialTimeout(2 * time.Second),
		kgo.RequestRetries(1),
		kgo.RetryTimeout(time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ping(cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

func TestProduceConsumeRecordsConnection(t *testing.T) {
	at := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	f := setup(t, func() time.Time { return at })
	cl := newClient(t, f.broker, f.ca, &tls.Config{Certificates: []tls.Certificate{keyPair(t, f.client)}},
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	var got []string
	for len(got) == 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume: %v", err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != 1 || got[0] != "hello" {
		t.Fatalf("consumed %q, want [hello]", got)
	}

	conns := f.broker.Connections()
	if len(conns) == 0 {
		t.Fatal("no connection recorded")
	}
	for _, c := range conns {
		if c.CommonName != "svc-orders" || c.Serial != f.client.Serial || !c.Time.Equal(at) || c.Remote == "" {
			t.Errorf("connection %+v, want CN svc-orders serial %s time %s", c, f.client.Serial, at)
		}
	}
}

func TestRefused(t *testing.T) {
	f := setup(t, nil)
	other := newCA(t, "other")

	tests := []struct {
		name string
		want string // the TLS alert the broker sends
		cfg  func() *tls.Config
	}{
		{"foreign CA", "unknown certificate authority", func() *tls.Config {
			// Go clients withhold a certificate whose issuer the server
			// does not list; force it to prove the broker rejects it.
			cert := keyPair(t, issue(t, other, "intruder", time.Hour, time.Now()))
			return &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &cert, nil
			}}
		}},
		{"expired", "expired certificate", func() *tls.Config {
			cert := keyPair(t, issue(t, f.ca, "svc-expired", time.Minute, time.Now().Add(-time.Hour)))
			return &tls.Config{Certificates: []tls.Certificate{cert}}
		}},
		{"no certificate", "certificate required", func() *tls.Config { return &tls.Config{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ping(newClient(t, f.broker, f.ca, tt.cfg()))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ping: %v, want an error with %q", err, tt.want)
			}
		})
	}
	if conns := f.broker.Connections(); len(conns) != 0 {
		t.Errorf("refused connections recorded: %+v", conns)
	}
}

func TestSetCAs(t *testing.T) {
	f := setup(t, nil)
	good := &tls.Config{Certificates: []tls.Certificate{keyPair(t, f.client)}}
	if err := ping(newClient(t, f.broker, f.ca, good.Clone())); err != nil {
		t.Fatalf("ping with trusted CA: %v", err)
	}
	before := len(f.broker.Connections())

	f.broker.SetCAs([]*x509.Certificate{newCA(t, "other").Cert})
	if err := ping(newClient(t, f.broker, f.ca, good.Clone())); err == nil {
		t.Fatal("ping succeeded after the broker stopped trusting the CA")
	}
	if n := len(f.broker.Connections()); n != before {
		t.Errorf("connections went from %d to %d while the CA was untrusted", before, n)
	}

	f.broker.SetCAs([]*x509.Certificate{f.ca.Cert})
	if err := ping(newClient(t, f.broker, f.ca, good.Clone())); err != nil {
		t.Fatalf("ping after trusting the CA again: %v", err)
	}
}

func TestStartInvalid(t *testing.T) {
	ca := newCA(t, "demo")
	if _, err := devkafka.Start(devkafka.Config{ServerCert: tls.Certificate{}}); err == nil {
		t.Error("Start without CAs succeeded")
	}
	if _, err := devkafka.Start(devkafka.Config{CAs: []*x509.Certificate{ca.Cert}}); err == nil {
		t.Error("Start without a server certificate succeeded")
	}
}

func TestStartPEMRejectsBadInput(t *testing.T) {
	ca, err := pki.NewCA("p1", 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer("localhost", []string{"localhost"}, nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][3]string{
		"no CA":         {"", srv.CertPEM, string(srv.KeyPEM)},
		"bad CA":        {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", srv.CertPEM, string(srv.KeyPEM)},
		"key of no use": {ca.CertPEM, srv.CertPEM, "not a key"},
	} {
		if b, err := devkafka.StartPEM(in[0], in[1], in[2]); err == nil {
			b.Close()
			t.Errorf("%s: started", name)
		}
	}
	b, err := devkafka.StartPEM(ca.CertPEM, srv.CertPEM, string(srv.KeyPEM), "t")
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
}
