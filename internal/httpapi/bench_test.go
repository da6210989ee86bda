package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kcred/kcred/internal/postgres/postgrestest"
)

// The API benchmarks run client and server in one process, so the load
// generator shares the two cores with kcred, as in the comparisons of
// docs/PERFORMANCE.md. Each reports requests per second and the p99
// latency; see that file for the commands.

// parallelism is the number of client goroutines per core; 16 by
// default, as in docs/PERFORMANCE.md (latency was also measured with 2).
var parallelism = 16

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}

// latencies collects request durations from parallel goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) { l.mu.Lock(); l.d = append(l.d, d...); l.mu.Unlock() }

func (l *latencies) report(b *testing.B) {
	slices.Sort(l.d)
	if len(l.d) > 0 {
		b.ReportMetric(float64(l.d[len(l.d)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// hammer sends b.N requests from 16 goroutines per core; next makes each.
func hammer(b *testing.B, next func(i int64) *http.Request) {
	var n atomic.Int64
	var lat latencies
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req := next(n.Add(1))
			start := time.Now()
			res, err := benchClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			mine = append(mine, time.Since(start))
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
		lat.add(mine)
	})
	b.StopTimer()
	lat.report(b)
}

func request(method, url, token, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "aivenv1 "+token)
	return req
}

// BenchmarkGetUser is GET .../user/{u} with the key unsealed and the read
// recorded as an event.
func BenchmarkGetUser(b *testing.B) {
	e := setup(b)
	url := e.URL + "/v1/project/p1/service/kafka-1/user/app1"
	hammer(b, func(int64) *http.Request { return request("GET", url, e.Token, "") })
}

// BenchmarkBareHandler serves the same JSON as BenchmarkGetUser from memory:
// the ceiling of net/http on this machine, the baseline of the ratio.
func BenchmarkBareHandler(b *testing.B) {
	e := setup(b)
	body := e.do("GET", "/v1/project/p1/service/kafka-1/user/app1", e.Token, nil).Body
	if !json.Valid(body) {
		b.Fatal("no user JSON")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	hammer(b, func(int64) *http.Request { return request("GET", srv.URL, e.Token, "") })
}

// BenchmarkCreateUser is POST .../user with an ec-p256 key and certificate
// per request, on SQLite and on PostgreSQL.
func BenchmarkCreateUser(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchCreateUser(b, setup(b)) })
	b.Run("postgres", func(b *testing.B) { benchCreateUser(b, setupOn(b, newEnvOn(b, postgrestest.Open(b)))) })
}

func benchCreateUser(b *testing.B, e *env) {
	url := e.URL + "/v1/project/p1/service/kafka-1/user"
	hammer(b, func(i int64) *http.Request {
		return request("POST", url, e.Token, fmt.Sprintf(`{"username":"bench-%d"}`, i))
	})
}

// BenchmarkRawIssue is the crypto of one credential with nothing around it:
// a P-256 key and x509.CreateCertificate under a P-256 CA, on every core.
// It is the baseline of BenchmarkCreateUser's ratio.
func BenchmarkRawIssue(b *testing.B) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(der)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "u"},
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
				NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
			if _, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "issues/s")
}

// BenchmarkGetUserNoSecrets is GET .../user/{u}?include_secrets=false: the
// same read without unsealing and without an audit event.
func BenchmarkGetUserNoSecrets(b *testing.B) {
	e := setup(b)
	url := e.URL + "/v1/project/p1/service/kafka-1/user/app1?include_secrets=false"
	hammer(b, func(int64) *http.Request { return request("GET", url, e.Token, "") })
}
