package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kcred/kcred/internal/pki"
)

// demoRun is a running `kcred demo` with what it printed.
type demoRun struct {
	cmd            *exec.Cmd
	stdout, stderr *e2eLog
	done           chan struct{} // closed when the process has exited
}

// startDemo runs `kcred demo args...` and waits until it has printed its
// instructions. The process is killed when the test ends if still running.
func startDemo(t *testing.T, env []string, args ...string) *demoRun {
	t.Helper()
	cmd := exec.Command(e2eBinary(t), append([]string{"demo"}, args...)...)
	cmd.Env = env
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &demoRun{cmd: cmd, stdout: &e2eLog{}, stderr: &e2eLog{}, done: make(chan struct{})}
	printed := make(chan struct{})
	scan := func(r io.Reader, log *e2eLog, onLine func(string)) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			log.add(sc.Text())
			onLine(sc.Text())
		}
		io.Copy(io.Discard, r)
	}
	stderrDone := make(chan struct{})
	go func() { scan(errPipe, d.stderr, func(string) {}); close(stderrDone) }()
	go func() {
		scan(outPipe, d.stdout, func(line string) {
			// The last line of the instructions.
			if strings.HasPrefix(line, "The log shows") {
				close(printed)
			}
		})
		<-stderrDone
		cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			cmd.Process.Kill()
			<-d.done
		}
	})
	select {
	case <-printed:
	case <-d.done:
		t.Fatalf("kcred demo exited (%v) before printing its instructions; stdout:\n%s\nstderr:\n%s", cmd.ProcessState, d.stdout, d.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("kcred demo printed no instructions within 60 s; stdout:\n%s\nstderr:\n%s", d.stdout, d.stderr)
	}
	return d
}

// printed returns the first submatch of re in the demo's stdout.
func (d *demoRun) printed(t *testing.T, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(d.stdout.String())
	if m == nil {
		t.Fatalf("the demo's output has no match for %s:\n%s", re, d.stdout)
	}
	return m[1]
}

// TestDemo runs `kcred demo` as a newcomer would and follows its
// instructions: the printed login works on the console's API, the printed
// token reads app1's credentials, a real Kafka client produces and consumes
// with them on the printed broker, the demo logs that connection, and
// SIGINT stops everything with exit code 0 and removes the temporary data.
func TestDemo(t *testing.T) {
	tmp := t.TempDir()
	d := startDemo(t, e2eEnviron("TMPDIR="+tmp), "--listen", "127.0.0.1:0")

	base := d.printed(t, `(?m)^\s+Console\s+(http://127\.0\.0\.1:\d+)/$`)
	password := d.printed(t, `log in as admin@kcred\.local with the password (\S+)`)
	token := d.printed(t, `export KCRED_TOKEN=(\S+)`)
	broker := d.printed(t, `(?m)^\s+Kafka\s+(127\.0\.0\.1:\d+) `)
	data := d.printed(t, `(?m)^\s+Data\s+(\S+) \(removed when the demo stops\)`)
	if got := d.printed(t, `export KCRED_URL=(\S+)`); got != base {
		t.Errorf("KCRED_URL=%s, want the console's %s", got, base)
	}
	if !strings.HasPrefix(data, tmp+string(filepath.Separator)) {
		t.Errorf("data directory %s is not a new directory under TMPDIR %s", data, tmp)
	}
	if _, err := os.Stat(filepath.Join(data, "kcred.db")); err != nil {
		t.Errorf("no database in the printed data directory: %v", err)
	}
	for _, want := range []string{
		"kcred service user-creds-download --username app1 -d ./app1 kafka1",
		"kcat -b " + broker + " -X security.protocol=ssl",
		"kcred service user-kafka-java-creds --username app2",
		"--consumer.config app2/client.properties",
		"kcred agent --service kafka1 --username app3",
		"--verify --acknowledge",
		"recorded as undelivered",
		base + "/projects/demo/notifications",
	} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, d.stdout)
		}
	}

	s := &e2eServer{t: t, URL: base, http: &http.Client{Timeout: 10 * time.Second}}
	defer s.http.CloseIdleConnections()
	s.must("POST", "/v1/userauth", "", map[string]string{"email": "admin@kcred.local", "password": password})
	svc := s.must("GET", "/v1/project/demo/service/kafka1", token, nil)
	if uri := e2eField(t, svc, "service", "service_uri"); uri != broker {
		t.Errorf("service_uri = %q, want the broker %s", uri, broker)
	}
	var names []string
	for _, u := range svc["service"].(map[string]any)["users"].([]any) {
		names = append(names, u.(map[string]any)["username"].(string))
	}
	if got := strings.Join(names, ","); got != "app1,app2,app3,avnadmin" {
		t.Errorf("users = %s, want app1,app2,app3,avnadmin", got)
	}
	policy := s.must("GET", "/v1/project/demo", token, nil)["project"].(map[string]any)["cert_policy"].(map[string]any)
	if policy["validity"] != "6m" || policy["renew_before"] != "4m" {
		t.Errorf("cert_policy = %v, want validity 6m and renew_before 4m", policy)
	}

	user := s.must("GET", "/v1/project/demo/service/kafka1/user/app1?include_secrets=true", token, nil)
	certPEM, keyPEM := e2eField(t, user, "user", "access_cert"), e2eField(t, user, "user", "access_key")
	caPEM := e2eField(t, s.must("GET", "/v1/project/demo/kms/ca", token, nil), "certificate")
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	produceConsume(t, broker, "demo", caPEM, certPEM, keyPEM, "hello from app1")
	want := `msg="kafka client connected" user=app1 serial=` + cert.SerialNumber.Text(16) + " "
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(d.stderr.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not log %q; stderr:\n%s", want, d.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	res, err := s.http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<form") {
		t.Errorf("GET /login: %d %s, want 200 with an HTML form:\n%.300s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	s.http.CloseIdleConnections()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("kcred demo did not exit within 15 s of SIGINT; stderr:\n%s", d.stderr)
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGINT, want 0; stderr:\n%s", code, d.stderr)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("temporary data directory %s still there after the demo stopped (%v)", data, err)
	}
}

// TestDemoRefusesDataInUse: a --data directory with files in it may be
// someone's real data, so the demo refuses it, exits 2 and touches nothing.
func TestDemoRefusesDataInUse(t *testing.T) {
	bin := e2eBinary(t)
	data := t.TempDir()
	keep := filepath.Join(data, "kcred.db")
	if err := os.WriteFile(keep, []byte("not the demo's"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "demo", "--listen", "127.0.0.1:0", "--data", data)
	cmd.Env = e2eEnviron()
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("exit code %d (%v), want 2; output:\n%s", code, err, out)
	}
	if want := "--data " + data + " is not empty"; !strings.Contains(string(out), want) {
		t.Errorf("output does not say %q:\n%s", want, out)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "not the demo's" {
		t.Errorf("the demo touched %s: %q, %v", keep, b, err)
	}
	if entries, _ := os.ReadDir(data); len(entries) != 1 {
		t.Errorf("the demo wrote into %s: %d entries", data, len(entries))
	}
}
