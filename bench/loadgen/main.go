// Loadgen measures user creation on a running kcred server from outside it:
// -c workers, each on its own keep-alive connection over loopback, POST
// /v1/project/{project}/service/{service}/user with a new username for -d
// after a warm-up of -warmup, and it prints the rate and the p50 and p99
// latencies as one line in Go benchmark format, for bench/median.awk:
//
//	BenchmarkLoadCreateUser/c=8	9376	533931 ns/op	1873 req/s	3.275 p50-ms	10.363 p99-ms	0 errors
//
// Any answer other than a 200 carrying the new user's certificate and key is
// an error: it is counted, and loadgen exits 1 after printing, so that a
// failing server never passes for a fast one. Loadgen also prints how many
// users it created in all (warm-up included), for bench/create-users.sh to
// compare with what the server holds.
//
// With -raw it measures instead the floor of the same work with nothing
// around it, in this process: a P-256 ecdsa.GenerateKey and an
// x509.CreateCertificate under a P-256 CA, on GOMAXPROCS goroutines:
//
//	BenchmarkLoadRawIssue	43778	114216 ns/op	8755 raw/s
//
// With -serve-bare it is the server instead: the same POST answered by a
// bare Go issuing handler (key, certificate, PEM, JSON; no store), the
// kind of server issue 2's reference figure is about, so that kcred can be
// compared with it under the same load on the same machine.
//
// With -target cfssl or -target vault the load goes to one of two
// well-known Go PKI servers instead, each asked for a new P-256 key and
// certificate per request (see targets), for the same comparison.
//
// Loadgen uses the standard library only. It runs beside the server on the
// same cores, as the load generators of the comparisons in
// docs/PERFORMANCE.md did.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	baseURL = flag.String("url", "http://127.0.0.1:8080", "kcred server `URL`")
	token   = flag.String("token", os.Getenv("KCRED_TOKEN"), "API `token` (default $KCRED_TOKEN)")
	project = flag.String("project", "bench", "project `name`")
	service = flag.String("service", "kafka1", "service `name`")
	conc    = flag.Int("c", 8, "concurrent requests (workers, each with its own connection)")
	dur     = flag.Duration("d", 5*time.Second, "measured duration")
	warmup  = flag.Duration("warmup", time.Second, "duration before measuring, not recorded")
	prefix  = flag.String("prefix", "lg", "username `prefix`: users are <prefix>-<n>; use a new one per run")
	raw     = flag.Bool("raw", false, "measure raw P-256 key generation and signing in this process instead")
	serve   = flag.String("serve-bare", "", "serve a bare issuing handler on `address` instead (see serveBare)")
	name    = flag.String("name", "CreateUser", "benchmark `name` to print: BenchmarkLoad<name>/c=<c>")
	kind    = flag.String("target", "kcred", "the server's `API`: kcred (and -serve-bare), cfssl (newcert) or vault (pki/issue); see targets")
)

// prefixRE keeps usernames within kcred's rule (^[a-zA-Z0-9][a-zA-Z0-9_.@+-]{0,63}$,
// no "..") with room for "-" and a counter of up to 20 digits.
var prefixRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,41}$`)

func main() {
	log.SetFlags(0)
	log.SetPrefix("loadgen: ")
	flag.Parse()
	if *raw {
		rawIssue(*warmup, *dur)
		return
	}
	if *serve != "" {
		serveBare(*serve)
		return
	}
	if (*token == "" && *kind != "cfssl") || *conc < 1 || *dur <= 0 || !prefixRE.MatchString(*prefix) {
		log.Fatal("need -token (but for cfssl), -c >= 1, -d > 0 and a -prefix of letters, digits and dashes (at most 42)")
	}
	if !createUsers() {
		os.Exit(1)
	}
}

// createUsers runs the load and prints its result. It reports whether every
// request succeeded.
func createUsers() bool {
	t, known := targets[*kind]
	if !known {
		log.Fatalf("unknown -target %q", *kind)
	}
	url := strings.TrimSuffix(*baseURL, "/") + t.path()
	// One transport whose idle pool holds every worker's connection, so
	// each request reuses a connection instead of dialing.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}}

	var (
		next       atomic.Int64 // the last username number handed out
		ok, failed atomic.Int64 // requests answered right and wrong, warm-up included
		mu         sync.Mutex
		lat        []time.Duration // latencies of measured requests
		wg         sync.WaitGroup
	)
	start := time.Now()
	measureFrom := start.Add(*warmup)
	stopAt := measureFrom.Add(*dur)
	for range *conc {
		wg.Go(func() {
			var mine []time.Duration
			for {
				t0 := time.Now()
				if !t0.Before(stopAt) {
					break
				}
				name := *prefix + "-" + strconv.FormatInt(next.Add(1), 10)
				err := createUser(client, t, url, name)
				d := time.Since(t0)
				if err != nil {
					// Print the first few only: a broken server fails every request.
					if failed.Add(1) <= 5 {
						log.Printf("%s: %v", name, err)
					}
					continue
				}
				ok.Add(1)
				// A request counts when it started after the warm-up.
				if !t0.Before(measureFrom) {
					mine = append(mine, d)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	// The measured span ends when the last request does, so that requests
	// started just before stopAt are not counted as free.
	elapsed := time.Since(measureFrom)

	n := len(lat)
	if n == 0 {
		log.Printf("no request succeeded in %v (%d errors)", *dur, failed.Load())
		return false
	}
	slices.Sort(lat)
	ms := func(q int) float64 { return float64(lat[n*q/100]) / 1e6 }
	fmt.Printf("BenchmarkLoad%s/c=%d\t%d\t%d ns/op\t%.0f req/s\t%.3f p50-ms\t%.3f p99-ms\t%d errors\n",
		*name, *conc, n, elapsed.Nanoseconds()/int64(n), float64(n)/elapsed.Seconds(), ms(50), ms(99), failed.Load())
	fmt.Printf("loadgen: %d users created, %d errors (c=%d, prefix %s, warm-up included)\n", ok.Load(), failed.Load(), *conc, *prefix)
	return failed.Load() == 0
}

// target is the API of one kind of server: where to POST, what to send
// for a credential named name, and what the 200 must carry.
type target struct {
	path   func() string
	body   func(name string) string
	header func(h http.Header)
	want   func(name string) []string
}

// targets are the servers loadgen can drive. Besides kcred (and the bare
// handler of -serve-bare, which answers kcred's request), two well-known
// Go PKI servers that make the key and the certificate per request, for
// the comparison of docs/PERFORMANCE.md: cfssl's newcert and Vault's PKI
// issue, each with a P-256 key (their set-up is in that document). Their
// answers do not repeat the name; the certificate and key must be there.
var targets = map[string]target{
	"kcred": {
		path:   func() string { return "/v1/project/" + *project + "/service/" + *service + "/user" },
		body:   func(name string) string { return `{"username":"` + name + `"}` },
		header: func(h http.Header) { h.Set("Authorization", "Bearer "+*token) },
		want: func(name string) []string {
			return []string{`"username":"` + name + `"`, "BEGIN CERTIFICATE", "PRIVATE KEY"}
		},
	},
	"cfssl": {
		path: func() string { return "/api/v1/cfssl/newcert" },
		body: func(name string) string {
			return `{"request":{"CN":"` + name + `","names":[{"O":"` + *service + `"}],"key":{"algo":"ecdsa","size":256}},"profile":"client"}`
		},
		header: func(h http.Header) {},
		want:   func(string) []string { return []string{`"success":true`, "BEGIN CERTIFICATE", "PRIVATE KEY"} },
	},
	"vault": {
		path:   func() string { return "/v1/pki/issue/" + *service },
		body:   func(name string) string { return `{"common_name":"` + name + `"}` },
		header: func(h http.Header) { h.Set("X-Vault-Token", *token) },
		want:   func(string) []string { return []string{"BEGIN CERTIFICATE", "PRIVATE KEY"} },
	},
}

// createUser makes the credential name and checks that the answer is a
// 200 carrying it: for kcred, the user with a certificate and a private key.
func createUser(client *http.Client, t target, url, name string) error {
	req, err := http.NewRequest("POST", url, strings.NewReader(t.body(name)))
	if err != nil {
		return err
	}
	t.header(req.Header)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	// Read the body to its end (or the connection is not reused) and close it.
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", res.StatusCode, body)
	}
	// Substring checks, not a JSON decode: they cost the shared cores
	// almost nothing and still catch a 200 that is not the new user.
	// The server writes compact JSON (json.Marshal).
	for _, want := range t.want(name) {
		if !bytes.Contains(body, []byte(want)) {
			return fmt.Errorf("status 200 without %s: %.200s", want, body)
		}
	}
	return nil
}

// issuer returns a function that makes one credential the way a bare Go
// PKI server would: a P-256 key and x509.CreateCertificate under a P-256
// CA, with the subject, usages and validity of a service user's
// certificate (the leaf of internal/pki's BenchmarkRawKeygenSign).
func issuer() func(username string) (cert []byte, key *ecdsa.PrivateKey, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loadgen CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		log.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return func(username string) ([]byte, *ecdsa.PrivateKey, error) {
		tmpl := &x509.Certificate{SerialNumber: new(big.Int).Lsh(big.NewInt(1), 127), AuthorityKeyId: ca.SubjectKeyId,
			Subject:   pkix.Name{CommonName: username, Organization: []string{"kafka-prod"}, OrganizationalUnit: []string{"3f2c1a9e-user"}},
			NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(820 * 24 * time.Hour), BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		cert, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		return cert, k, err
	}
}

// rawIssue prints the rate of issuer's credentials on GOMAXPROCS
// goroutines: the crypto of one credential and nothing else.
func rawIssue(warmup, d time.Duration) {
	issue := issuer()
	var n atomic.Int64
	var wg sync.WaitGroup
	measureFrom := time.Now().Add(warmup)
	stopAt := measureFrom.Add(d)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				t0 := time.Now()
				if !t0.Before(stopAt) {
					return
				}
				if _, _, err := issue("alice"); err != nil {
					log.Fatal(err)
				}
				if !t0.Before(measureFrom) {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	c := n.Load()
	if c == 0 {
		log.Fatalf("no issue completed in %v", d)
	}
	fmt.Printf("BenchmarkLoadRawIssue\t%d\t%d ns/op\t%.0f raw/s\n", c, elapsed.Nanoseconds()/c, float64(c)/elapsed.Seconds())
}

// serveBare serves the same POST as kcred with a bare issuing handler: a
// key and certificate per request, returned as PEM in JSON, and nothing
// else (no store, no audit, no authorization). It stands in for "a Go PKI
// server issuing a P-256 key and certificate per HTTP request", the
// reference of issue 2, measured on this machine by the same load.
func serveBare(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	// The same announcement as kcred server's, for create-users.sh.
	fmt.Printf("listening url=http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, bareHandler()))
}

// bareHandler is the handler of serveBare.
func bareHandler() http.Handler {
	issue := issuer()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /v1/project/{project}/service/{service}/user", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Username string `json:"username"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Username == "" {
			http.Error(w, `{"message":"bad request"}`, http.StatusBadRequest)
			return
		}
		cert, key, err := issue(req.Username)
		if err != nil {
			http.Error(w, `{"message":"issue failed"}`, http.StatusInternalServerError)
			return
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			http.Error(w, `{"message":"issue failed"}`, http.StatusInternalServerError)
			return
		}
		var res struct {
			User struct {
				Username   string `json:"username"`
				AccessCert string `json:"access_cert"`
				AccessKey  string `json:"access_key"`
			} `json:"user"`
		}
		res.User.Username = req.Username
		res.User.AccessCert = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))
		res.User.AccessKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(&res)
	})
	return mux
}
