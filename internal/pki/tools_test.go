package pki

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// requireTool returns the path of an outside program the tests check our
// output with. Without it the test is skipped with the reason, except under
// CI, where a missing tool must fail rather than silently test less.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not found (%v); install it to check what we write with a real tool", name, err)
	}
	return path
}

// run runs name with args and returns its combined output, failing the test
// with that output when it exits non-zero.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// writeFile writes data to a new file in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testNow is the issue time of tests that run tools against the real clock.
// It has a sub-second part on purpose: X.509 stores whole seconds.
func testNow() time.Time {
	return time.Now().Truncate(time.Second).Add(123456789 * time.Nanosecond)
}

// newTestCA makes a CA for project "acme", generation 1, failing the test
// on error.
func newTestCA(t testing.TB, now time.Time) *CA {
	t.Helper()
	ca, err := NewCA("acme", 1, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// mustCert parses the certificate of leaf, failing the test on error.
func mustCert(t testing.TB, leaf *Leaf) *x509.Certificate {
	t.Helper()
	cert, err := leaf.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
