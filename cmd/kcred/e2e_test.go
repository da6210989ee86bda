package main

// End-to-end tests of the real binary: built with `go build`, run as
// `kcred server` in a subprocess, talked to over HTTP on loopback, stopped
// with SIGTERM and started again on the same data.

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	e2eBuildOnce sync.Once
	e2eBin       string
	e2eBuildErr  error
)

// e2eBinary builds ./cmd/kcred once per test process and returns its path.
// The binary goes to a directory keyed by this package's directory, so
// runs from different checkouts never share it and repeated runs reuse one
// file instead of leaving a new one behind each time.
func e2eBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the kcred binary; skipped with -short")
	}
	e2eBuildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			e2eBuildErr = fmt.Errorf("the go tool is not in PATH: %w", err)
			return
		}
		wd, err := os.Getwd()
		if err != nil {
			e2eBuildErr = err
			return
		}
		sum := sha256.Sum256([]byte(wd))
		dir := filepath.Join(os.TempDir(), "kcred-e2e-"+hex.EncodeToString(sum[:6]))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			e2eBuildErr = err
			return
		}
		// Build to a fresh name and rename, so that a concurrent run of
		// the same package never executes a half-written file.
		tmp := filepath.Join(dir, fmt.Sprintf("kcred.%d", os.Getpid()))
		cmd := exec.Command(goTool, "build", "-o", tmp, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			e2eBuildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		e2eBin = filepath.Join(dir, "kcred")
		e2eBuildErr = os.Rename(tmp, e2eBin)
	})
	if e2eBuildErr != nil {
		t.Fatal(e2eBuildErr)
	}
	return e2eBin
}

// e2eEnviron is the test's environment without any KCRED_ or AIVEN_
// variable, plus extra, so that the developer's settings never leak into
// the server under test.
func e2eEnviron(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KCRED_") || strings.HasPrefix(kv, "AIVEN_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// e2eLog collects a process's stderr, safe for concurrent use.
type e2eLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *e2eLog) add(line string) {
	l.mu.Lock()
	l.buf.WriteString(line + "\n")
	l.mu.Unlock()
}

func (l *e2eLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// e2eServer is a running `kcred server`.
type e2eServer struct {
	t      *testing.T
	cmd    *exec.Cmd
	URL    string
	Stderr *e2eLog
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid after done
	http   *http.Client
}

var e2eURLRE = regexp.MustCompile(`\burl=(\S+)`)

// e2eStart runs `kcred server args...` with env and waits for its
// "listening" log line. The process is killed when the test ends if it is
// still running.
func e2eStart(t *testing.T, env []string, args ...string) *e2eServer {
	t.Helper()
	bin := e2eBinary(t)
	cmd := exec.Command(bin, append([]string{"server"}, args...)...)
	cmd.Env = env
	cmd.Stdin = nil
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &e2eServer{t: t, cmd: cmd, Stderr: &e2eLog{}, done: make(chan struct{}),
		http: &http.Client{Timeout: 30 * time.Second}}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			s.Stderr.add(line)
			if strings.Contains(line, "msg=listening") {
				if m := e2eURLRE.FindStringSubmatch(line); m != nil {
					select {
					case listening <- m[1]:
					default:
					}
				}
			}
		}
		io.Copy(io.Discard, stderr)
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			cmd.Process.Kill()
			<-s.done
		}
		s.http.CloseIdleConnections()
	})
	select {
	case u := <-listening:
		s.URL = u
	case <-s.done:
		t.Fatalf("kcred server exited before listening (%v); stderr:\n%s", s.err, s.Stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("kcred server did not log \"listening\" within 60 s; stderr:\n%s", s.Stderr)
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("listening url = %q, want http://127.0.0.1:<port>", s.URL)
	}
	return s
}

// Stop sends SIGTERM and requires a clean exit (code 0) within 10 s.
func (s *e2eServer) Stop() {
	s.t.Helper()
	s.http.CloseIdleConnections()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("kcred server did not exit within 10 s of SIGTERM; stderr:\n%s", s.Stderr)
	}
	if s.err != nil {
		s.t.Fatalf("kcred server exited with %v after SIGTERM; stderr:\n%s", s.err, s.Stderr)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// call sends a request with "Authorization: aivenv1 <token>" (none when
// token is empty) and returns the status and the decoded JSON object.
func (s *e2eServer) call(method, path, token string, body any) (int, map[string]any) {
	s.t.Helper()
	return s.callAuth(method, path, "aivenv1 "+token, token != "", body)
}

func (s *e2eServer) callAuth(method, path, authorization string, withAuth bool, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if withAuth {
		req.Header.Set("Authorization", authorization)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		s.t.Fatalf("%s %s: status %d, body is not a JSON object: %s", method, path, res.StatusCode, b)
	}
	return res.StatusCode, m
}

// must is call that fails the test unless the status is 200.
func (s *e2eServer) must(method, path, token string, body any) map[string]any {
	s.t.Helper()
	status, m := s.call(method, path, token, body)
	if status != http.StatusOK {
		s.t.Fatalf("%s %s: status %d: %v", method, path, status, m)
	}
	return m
}

// e2eField digs a string out of nested JSON objects.
func e2eField(t *testing.T, m map[string]any, keys ...string) string {
	t.Helper()
	var cur any = m
	for _, k := range keys {
		obj, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("no object at %q in %v", k, m)
		}
		cur = obj[k]
	}
	s, ok := cur.(string)
	if !ok {
		t.Fatalf("%v is %T, not a string, in %v", keys, cur, m)
	}
	return s
}

// e2eToken returns the token the first start printed, and checks that it
// is the one in <data>/admin-token, which must be mode 0600.
func e2eToken(t *testing.T, s *e2eServer, data string) string {
	t.Helper()
	log := s.Stderr.String()
	i := strings.Index(log, "Its API token")
	if i < 0 {
		t.Fatalf("the first start printed no token; stderr:\n%s", log)
	}
	var token string
	for _, line := range strings.Split(log[i:], "\n")[1:] {
		if line = strings.TrimSpace(line); line != "" {
			token = line
			break
		}
	}
	if len(token) < 32 {
		t.Fatalf("printed token %q is shorter than 32 characters", token)
	}
	path := filepath.Join(data, "admin-token")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("admin-token: %v", err)
	}
	if got := strings.TrimSpace(string(b)); got != token {
		t.Errorf("admin-token holds %q, printed token is %q", got, token)
	}
	e2eMode(t, path, 0o600)
	return token
}

// e2eMode requires that path exists with permission bits mode.
func e2eMode(t *testing.T, path string, mode os.FileMode) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != mode {
		t.Errorf("%s has mode %o, want %o", path, got, mode)
	}
	return fi
}

// e2eVerify checks that certPEM is a client certificate for username
// signed by caPEM and that keyPEM is its PKCS#8 private key.
func e2eVerify(t *testing.T, caPEM, certPEM, keyPEM, username string) *x509.Certificate {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatalf("ca.pem is not PEM: %q", caPEM)
	}
	cb, _ := pem.Decode([]byte(certPEM))
	if cb == nil || cb.Type != "CERTIFICATE" {
		t.Fatalf("service.cert is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("service.cert does not verify against ca.pem: %v", err)
	}
	if cert.Subject.CommonName != username {
		t.Errorf("CN = %q, want %q", cert.Subject.CommonName, username)
	}
	kb, _ := pem.Decode([]byte(keyPEM))
	if kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatalf("service.key is not a PKCS#8 PRIVATE KEY PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		t.Error("service.key does not belong to service.cert")
	}
	return cert
}

// e2eCreds is what user-creds-download writes: ca.pem, service.cert and
// service.key.
type e2eCreds struct{ CA, Cert, Key string }

// e2eExercise checks health and readiness, creates project p with a service
// and a user app1 over the API and returns the user's credentials.
func e2eExercise(t *testing.T, s *e2eServer, token, p string) e2eCreds {
	t.Helper()
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, m := s.call("GET", path, "", nil); status != 200 {
			t.Fatalf("GET %s: %d %v", path, status, m)
		}
	}
	if status, _ := s.call("GET", "/v1/project", "", nil); status != http.StatusUnauthorized {
		t.Errorf("GET /v1/project without a token: status %d, want 401", status)
	}
	s.must("POST", "/v1/project", token, map[string]any{"project": p, "tech_emails": []map[string]string{{"email": "ops@example.com"}}})
	svc := s.must("POST", "/v1/project/"+p+"/service", token, map[string]any{
		"service_name": "kafka1", "service_type": "kafka", "service_uri": "127.0.0.1:9093",
	})
	if got := e2eField(t, svc, "service", "service_uri"); got != "127.0.0.1:9093" {
		t.Errorf("service_uri = %q", got)
	}
	s.must("POST", "/v1/project/"+p+"/service/kafka1/user", token, map[string]any{"username": "app1"})

	// What avn service user-creds-download reads: the CA, then the service.
	ca := e2eField(t, s.must("GET", "/v1/project/"+p+"/kms/ca", token, nil), "certificate")
	var creds e2eCreds
	svcGet := s.must("GET", "/v1/project/"+p+"/service/kafka1", token, nil)
	users, _ := svcGet["service"].(map[string]any)["users"].([]any)
	for _, u := range users {
		if u, _ := u.(map[string]any); u["username"] == "app1" {
			creds = e2eCreds{CA: ca, Cert: e2eField(t, u, "access_cert"), Key: e2eField(t, u, "access_key")}
		}
	}
	if creds.Cert == "" {
		t.Fatalf("service kafka1 has no user app1: %v", svcGet)
	}
	e2eVerify(t, creds.CA, creds.Cert, creds.Key, "app1")

	// The user endpoint, with "Authorization: Bearer" as in Aiven's docs.
	status, u := s.callAuth("GET", "/v1/project/"+p+"/service/kafka1/user/app1?include_secrets=true&limit=999", "Bearer "+token, true, nil)
	if status != 200 {
		t.Fatalf("GET user with a Bearer token: %d %v", status, u)
	}
	if e2eField(t, u, "user", "access_cert") != creds.Cert || e2eField(t, u, "user", "access_key") != creds.Key {
		t.Error("the user endpoint and the service endpoint serve different credentials")
	}
	return creds
}

// e2eReadKey fetches app1's key again, which needs the master key to
// unseal it.
func e2eReadKey(t *testing.T, s *e2eServer, token, p string) e2eCreds {
	t.Helper()
	u := s.must("GET", "/v1/project/"+p+"/service/kafka1/user/app1", token, nil)
	ca := e2eField(t, s.must("GET", "/v1/project/"+p+"/kms/ca", token, nil), "certificate")
	return e2eCreds{CA: ca, Cert: e2eField(t, u, "user", "access_cert"), Key: e2eField(t, u, "user", "access_key")}
}

func TestServerEndToEnd(t *testing.T) {
	e2eBinary(t)
	data := filepath.Join(t.TempDir(), "data") // the server makes it
	env := e2eEnviron()

	s := e2eStart(t, env, "--listen", "127.0.0.1:0", "--data", data)
	token := e2eToken(t, s, data)
	e2eMode(t, filepath.Join(data, "master.key"), 0o600)
	e2eMode(t, data, 0o700)
	creds := e2eExercise(t, s, token, "e2e")
	s.Stop()
	if log := s.Stderr.String(); strings.Contains(log, creds.Key) || strings.Contains(log, strings.TrimSpace(strings.Split(creds.Key, "\n")[1])) {
		t.Error("the server logged a private key")
	}

	tokenFile := filepath.Join(data, "admin-token")
	before, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	beforeBytes, _ := os.ReadFile(tokenFile)
	masterBefore, _ := os.ReadFile(filepath.Join(data, "master.key"))

	// Restart on the same data: no new superuser, no new token, the old
	// token works and the sealed key still opens.
	s2 := e2eStart(t, env, "--listen", "127.0.0.1:0", "--data", data)
	if log := s2.Stderr.String(); strings.Contains(log, "Its API token") || strings.Contains(log, "created superuser") {
		t.Errorf("the second start bootstrapped again; stderr:\n%s", log)
	}
	again := e2eReadKey(t, s2, token, "e2e")
	if again != creds {
		t.Error("after a restart the API serves other credentials (or could not unseal the key)")
	}
	e2eVerify(t, again.CA, again.Cert, again.Key, "app1")
	s2.Stop()

	after, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	afterBytes, _ := os.ReadFile(tokenFile)
	if !bytes.Equal(beforeBytes, afterBytes) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("the restart rewrote admin-token")
	}
	if masterAfter, _ := os.ReadFile(filepath.Join(data, "master.key")); !bytes.Equal(masterBefore, masterAfter) {
		t.Error("the restart changed master.key")
	}
	entries, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "token") && e.Name() != "admin-token" {
			t.Errorf("unexpected token file %s in the data directory", e.Name())
		}
	}
}

// e2eRun runs `kcred server args...` and returns its exit code and
// stderr; it must exit within 30 s.
func e2eRun(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2eBinary(t), append([]string{"server"}, args...)...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kcred server %v did not exit within 30 s; stderr:\n%s", args, stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

func TestServerBadConfiguration(t *testing.T) {
	e2eBinary(t)
	env := e2eEnviron()

	t.Run("database-url without master key", func(t *testing.T) {
		data := t.TempDir()
		// Port 1 on loopback: nothing listens, and nothing may be tried
		// before the master key is checked.
		code, stderr := e2eRun(t, env, "--listen", "127.0.0.1:0", "--data", data,
			"--database-url", "postgres://kcred@127.0.0.1:1/kcred?sslmode=disable")
		if code == 0 {
			t.Fatalf("exit code 0; stderr:\n%s", stderr)
		}
		if !strings.Contains(stderr, "master key") || !strings.Contains(stderr, "KCRED_MASTER_KEY") {
			t.Errorf("stderr does not say that a master key is needed and how to give it:\n%s", stderr)
		}
		if _, err := os.Stat(filepath.Join(data, "master.key")); err == nil {
			t.Error("a master.key was made although the database is PostgreSQL")
		}
	})

	t.Run("bad cert-validity", func(t *testing.T) {
		code, stderr := e2eRun(t, env, "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--cert-validity", "5x")
		if code != 2 {
			t.Errorf("exit code %d, want 2; stderr:\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "--cert-validity") {
			t.Errorf("stderr does not name --cert-validity:\n%s", stderr)
		}
	})

	for _, args := range [][]string{{"--bogus"}, {"extra-argument"}} {
		t.Run("usage "+args[0], func(t *testing.T) {
			code, stderr := e2eRun(t, env, append([]string{"--listen", "127.0.0.1:0", "--data", t.TempDir()}, args...)...)
			if code != 2 {
				t.Errorf("exit code %d, want 2; stderr:\n%s", code, stderr)
			}
		})
	}

	t.Run("bad KCRED_CERT_VALIDITY", func(t *testing.T) {
		code, stderr := e2eRun(t, e2eEnviron("KCRED_CERT_VALIDITY=5x"), "--listen", "127.0.0.1:0", "--data", t.TempDir())
		if code != 2 {
			t.Errorf("exit code %d, want 2; stderr:\n%s", code, stderr)
		}
	})
}

// e2eDatabase makes a fresh database on the server of
// KCRED_TEST_DATABASE_URL, drops it when the test ends, and returns its URL.
// Without the variable the test is skipped, unless CI is set.
func e2eDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("KCRED_TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but KCRED_TEST_DATABASE_URL is not: the PostgreSQL end-to-end test must run in CI")
		}
		t.Skip("KCRED_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to KCRED_TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "kcred_e2e_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func TestServerEndToEndPostgres(t *testing.T) {
	e2eBinary(t)
	dbURL := e2eDatabase(t)
	var key [32]byte
	rand.Read(key[:])
	env := e2eEnviron("KCRED_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key[:]))

	data := filepath.Join(t.TempDir(), "data")
	s := e2eStart(t, env, "--listen", "127.0.0.1:0", "--data", data, "--database-url", dbURL)
	token := e2eToken(t, s, data)
	if _, err := os.Stat(filepath.Join(data, "master.key")); err == nil {
		t.Error("master.key was written although KCRED_MASTER_KEY is set")
	}
	creds := e2eExercise(t, s, token, "e2e-pg")

	// A second replica on the same database, with another data
	// directory and the same master key, while the first still runs: it
	// makes no superuser and serves the same credentials.
	data2 := filepath.Join(t.TempDir(), "data")
	r2 := e2eStart(t, env, "--listen", "127.0.0.1:0", "--data", data2, "--database-url", dbURL)
	if log := r2.Stderr.String(); strings.Contains(log, "Its API token") {
		t.Errorf("the second replica bootstrapped again; stderr:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(data2, "admin-token")); err == nil {
		t.Error("the second replica wrote an admin-token")
	}
	if got := e2eReadKey(t, r2, token, "e2e-pg"); got != creds {
		t.Error("the second replica serves other credentials")
	}
	r2.Stop()
	s.Stop()

	// Restart: the token still works and the key still opens.
	s3 := e2eStart(t, env, "--listen", "127.0.0.1:0", "--data", data, "--database-url", dbURL)
	again := e2eReadKey(t, s3, token, "e2e-pg")
	if again != creds {
		t.Error("after a restart the API serves other credentials")
	}
	e2eVerify(t, again.CA, again.Cert, again.Key, "app1")
	s3.Stop()
}
