package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcred/kcred/internal/devkafka"
)

// TestCLIServerCertAndAgent: `project server-cert` writes a broker's
// certificate from the project CA, an embedded broker serves with it, and
// `agent --once --verify` writes the user's files and proves them on that
// broker; the agent's unsafe or incomplete calls are usage errors.
func TestCLIServerCertAndAgent(t *testing.T) {
	srv := cliNewServer(t)
	e := newCLIEnv(t, "KCRED_URL="+srv.URL, "KCRED_TOKEN="+cliToken, "KCRED_PROJECT=p1")
	e.ok("project", "create", "p1")

	e.fail(2, "give at least one --host", "project", "server-cert", "-d", "broker")
	e.fail(1, `invalid host "bad host"`, "project", "server-cert", "--host", "bad host", "-d", "broker")
	e.fail(2, "--validity", "project", "server-cert", "--host", "localhost", "--validity", "soon", "-d", "broker")
	r := e.ok("project", "server-cert", "--host", "127.0.0.1", "--host", "localhost", "--validity", "2d", "-d", "broker")
	if !strings.Contains(r.Stdout, "server.key   private key (mode 0600); kcred keeps no copy") {
		t.Errorf("output:\n%s", r.Stdout)
	}
	dir := filepath.Join(e.Dir, "broker")
	cliMode(t, filepath.Join(dir, "server.key"), 0o600)
	cliMode(t, filepath.Join(dir, "server.cert"), 0o644)
	cliMode(t, filepath.Join(dir, "ca.pem"), 0o644)
	b, err := devkafka.StartPEM(readFile(t, filepath.Join(dir, "ca.pem")), readFile(t, filepath.Join(dir, "server.cert")), readFile(t, filepath.Join(dir, "server.key")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)

	e.ok("service", "create", "kafka-1", "--service-uri", b.Addr())
	e.ok("service", "user-create", "--username", "app1", "kafka-1")
	agent := []string{"agent", "--service", "kafka-1", "--username", "app1", "-d", "creds", "--once"}
	e.fail(2, "--acknowledge needs --verify", append(agent, "--acknowledge")...)
	e.fail(2, "--java-creds needs --password", append(agent, "--java-creds")...)
	e.fail(2, "--interval", append(agent, "--interval", "10ms")...)
	e.fail(2, "--service", "agent", "--username", "app1", "--once")

	r = e.ok(append(agent, "--verify", "--acknowledge")...)
	serial := serialOfPEM(t, readFile(t, filepath.Join(e.Dir, "creds", "service.cert")))
	if want := "Certificate " + serial + " in creds: written, verified on the broker."; !strings.Contains(r.Stdout, want) {
		t.Errorf("first run: %q, want %q", r.Stdout, want)
	}
	cliMode(t, filepath.Join(e.Dir, "creds", "service.key"), 0o600)
	connected := false
	for _, c := range b.Connections() {
		connected = connected || (c.Serial == serial && c.CommonName == "app1")
	}
	if !connected {
		t.Errorf("the broker saw no connection with %s", serial)
	}
	r = e.ok(append(agent, "--verify")...)
	if want := "Certificate " + serial + " in creds: unchanged, verified on the broker."; !strings.Contains(r.Stdout, want) {
		t.Errorf("second run: %q, want %q", r.Stdout, want)
	}

	// A broker that is not there: the check fails with the reason.
	e.ok("service", "create", "kafka-2", "--service-uri", "127.0.0.1:1")
	e.ok("service", "user-create", "--username", "app1", "kafka-2")
	r = e.run("agent", "--service", "kafka-2", "--username", "app1", "-d", "creds2", "--once", "--verify", "--acknowledge")
	if r.Code != 1 || !strings.Contains(r.Stderr, "kcred: verify certificate") || strings.Contains(r.Stdout, "acknowledged") {
		t.Errorf("agent against no broker: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}
