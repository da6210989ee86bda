package console_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred/internal/lifecycle"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the pages as they are now")

// Parts of a page that differ from run to run: keys and certificates are
// random, and so are CSRF tokens, serials and the server's port.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?s)-----BEGIN ([A-Z ]+)-----.*?-----END [A-Z ]+-----`), "-----PEM $1-----"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "CSRF"},
	{regexp.MustCompile(`\?v=[0-9a-f]{12}`), "?v=VERSION"},
	{regexp.MustCompile(`\b[0-9a-f]{12,40}\b`), "SERIAL"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
}

func normalise(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}

// golden compares a page with testdata/<name>.golden, or rewrites the file
// with -update.
func golden(t *testing.T, name string, p response, wantStatus int) {
	t.Helper()
	if p.Status != wantStatus {
		t.Fatalf("%s: status %d, want %d: %.800s", name, p.Status, wantStatus, p.Body)
	}
	if ct := p.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", name, ct)
	}
	got := normalise(p.Body)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run go test -update to accept):\n%s", name, path, diff(string(want), got))
	}
}

// diff shows the first lines where want and got differ.
func diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g + "\n")
			if shown++; shown == 8 {
				break
			}
		}
	}
	return b.String()
}

// TestGoldenPages renders the main pages of a project with a renewal that
// waits for acknowledgement, and compares them with testdata/*.golden.
func TestGoldenPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pendingRenewal("app1")

	anon := e.newClient()
	golden(t, "login", anon.get("/login"), 200)

	admin := e.newClient()
	admin.login(e.Admin)
	const svc = "/projects/demo/services/kafka1"
	golden(t, "projects", admin.get("/projects"), 200)
	golden(t, "project", admin.get("/projects/demo"), 200)
	golden(t, "service", admin.get(svc), 200)
	golden(t, "users", admin.get(svc+"/users"), 200)
	golden(t, "users_search", admin.get(svc+"/users?q=APP2"), 200)
	golden(t, "user", admin.get(svc+"/users/app1"), 200)
	golden(t, "events", admin.get("/projects/demo/events"), 200)
	golden(t, "notifications", admin.get("/projects/demo/notifications"), 200)
	golden(t, "confirm_reset", admin.post(svc+"/users/app2/reset", formWith(admin, svc+"/users")), 200)

	ro := e.newClient()
	ro.login(e.ReadOnly)
	golden(t, "users_read_only", ro.get(svc+"/users"), 200)
	golden(t, "user_read_only", ro.get(svc+"/users/app2"), 200)

	out := e.newClient()
	out.login(e.Outsider)
	golden(t, "not_found", out.get("/projects/demo"), 404)
	golden(t, "forbidden_csrf", admin.post(svc+"/users/app1/acknowledge", nil), 403)
}

// TestGoldenNotifications renders the notifications page with one
// notification of each kind and deliveries in every state, and the project
// page with its open renewals, acknowledged or not.
func TestGoldenNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.renewAll()
	admin := e.newClient()
	admin.login(e.Admin)
	if _, err := e.M.ConsoleAcknowledge(context.Background(), lifecycle.Actor{Account: e.Admin, Source: "test"}, project, service, "app2"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(3 * time.Second) // past the Manager's cache
	golden(t, "project_renewals", admin.get("/projects/demo"), 200)

	e2 := newEnv(t)
	e2.notificationHistory()
	ro := e2.newClient()
	ro.login(e2.ReadOnly)
	golden(t, "notifications_history", ro.get("/projects/demo/notifications"), 200)
}
