package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // read the server's database after it stopped

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/notify"
)

// faultCreateUsers creates users u00000.. in project p, service k1, with 8
// requests in flight, without t.Fatal off the test goroutine.
func faultCreateUsers(t *testing.T, s *e2eServer, token string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				body, _ := json.Marshal(map[string]any{"username": fmt.Sprintf("u%05d", i)})
				req, _ := http.NewRequest("POST", s.URL+"/v1/project/p/service/k1/user", bytes.NewReader(body))
				req.Header.Set("Authorization", "aivenv1 "+token)
				req.Header.Set("Content-Type", "application/json")
				res, err := s.http.Do(req)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("create u%05d: %d %s", i, res.StatusCode, b)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// faultDB opens the server's SQLite database read-only.
func faultDB(t *testing.T, data string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "kcred.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func faultCount(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// faultJobs describes River's sweep jobs.
func faultJobs(t *testing.T, db *sql.DB) string {
	rows, err := db.Query("SELECT id, state, attempt FROM river_job WHERE kind = 'kcred_sweep' ORDER BY id DESC LIMIT 5")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out string
	for rows.Next() {
		var id, attempt int
		var state string
		rows.Scan(&id, &state, &attempt)
		out += fmt.Sprintf("[%d %s attempt %d] ", id, state, attempt)
	}
	return out
}

// TestFaultKillMidSweep SIGKILLs a server in the middle of a sweep that
// renews 5,000 due users, restarts it, and checks that every user was
// renewed exactly once (one renewal, certificate generations 1 and 2) and
// that every renewal was told exactly once: one "renewed" notice per user,
// each in a notification, each user listed in exactly one digest.
func TestFaultKillMidSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end fault test")
	}
	const users = 5000 // avnadmin and 4,999 more
	const tok = "kcred_e2e_bootstrap_token_0123456789abcdef"
	env := e2eEnviron("KCRED_BOOTSTRAP_TOKEN=" + tok)
	data := t.TempDir()
	// Certificates are due 5 s after they are made and expire long after
	// the test.
	args := func(sweep string) []string {
		return []string{"--listen", "127.0.0.1:0", "--data", data,
			"--cert-validity", "300s", "--renew-before", "295s", "--reminder-schedule", "10s", "--sweep-interval", sweep}
	}

	// 1. Make the users with no sweep running. The sweep that starts with
	// the server must be over before the first certificate is due (5 s
	// after it is made), or it renews some: wait for it first.
	s := e2eStart(t, env, args("1h")...)
	faultWaitSweep(t, s)
	s.must("POST", "/v1/project", tok, map[string]any{"project": "p"})
	s.must("POST", "/v1/project/p/service", tok, map[string]any{"service_name": "k1", "service_type": "kafka"})
	start := time.Now()
	faultCreateUsers(t, s, tok, users-1)
	created := time.Now()
	t.Logf("created %d users in %v", users-1, created.Sub(start))
	s.Stop()
	time.Sleep(time.Until(created.Add(6 * time.Second))) // everyone is due

	db := faultDB(t, data)
	if n := faultCount(t, db, "SELECT count(*) FROM service_users"); n != users {
		t.Fatalf("%d users, want %d", n, users)
	}
	if n := faultCount(t, db, "SELECT count(*) FROM renewals"); n != 0 {
		t.Fatalf("%d renewals before the sweep", n)
	}

	// 2. Restart: the sweep starts at once. Kill the server as soon as
	// its first batch committed.
	s = e2eStart(t, env, args("1s")...)
	deadline := time.Now().Add(30 * time.Second)
	for faultCount(t, db, "SELECT count(*) FROM renewals") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no renewal within 30 s; stderr:\n%s", s.Stderr)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
	atKill := faultCount(t, db, "SELECT count(*) FROM renewals")
	pendingAtKill := faultCount(t, db, "SELECT count(*) FROM notices")
	t.Logf("SIGKILL after %d renewals, %d notices undigested", atKill, pendingAtKill)
	if atKill == 0 || atKill >= users {
		t.Fatalf("killed after %d renewals: not in the middle of the sweep", atKill)
	}

	// 3. Restart: the rest is renewed and everything digested.
	s = e2eStart(t, env, args("1s")...)
	restarted := time.Now()
	deadline = time.Now().Add(45 * time.Second)
	for faultCount(t, db, "SELECT count(*) FROM renewals") != users ||
		faultCount(t, db, "SELECT count(*) FROM notices") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 45 s, %d renewals of %d and %d notices undigested; sweep jobs: %s; stderr:\n%s",
				faultCount(t, db, "SELECT count(*) FROM renewals"), users,
				faultCount(t, db, "SELECT count(*) FROM notices"), faultJobs(t, db), s.Stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the restarted server finished in %v", time.Since(restarted))

	// The data directory is the running server's: a second server on it
	// refuses to start and leaves the first alone.
	// (Were it to start, the context ends it.)
	sctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	second := exec.CommandContext(sctx, e2eBinary(t), append([]string{"server"}, args("1s")...)...)
	second.Env = env
	if out, err := second.CombinedOutput(); err == nil || !strings.Contains(string(out), "another kcred server is using the data directory") {
		t.Errorf("a second server on the same data directory: %v, output:\n%s", err, out)
	}
	time.Sleep(2 * time.Second) // a few more sweeps, which must do nothing
	notes := s.must("GET", "/v1/project/p/notifications", tok, nil)
	s.Stop()
	if n := faultCount(t, db, "SELECT count(*) FROM notices"); n != 0 {
		t.Errorf("%d notices left undigested", n)
	}

	// Each user renewed exactly once: one renewal, generations 1 and 2.
	if n := faultCount(t, db, "SELECT count(*) FROM renewals"); n != users {
		t.Errorf("%d renewals, want %d", n, users)
	}
	if n := faultCount(t, db, "SELECT count(DISTINCT user_id) FROM renewals"); n != users {
		t.Errorf("%d users renewed, want %d", n, users)
	}
	if n := faultCount(t, db, `SELECT count(*) FROM (SELECT user_id FROM certificates GROUP BY user_id
		HAVING count(*) != 2 OR min(generation) != 1 OR max(generation) != 2)`); n != 0 {
		t.Errorf("%d users without exactly generations 1 and 2", n)
	}
	if n := faultCount(t, db, `SELECT count(*) FROM service_users u WHERE NOT EXISTS
		(SELECT 1 FROM renewals r JOIN certificates c ON c.id = r.new_cert_id WHERE r.user_id = u.id AND c.generation = 2)`); n != 0 {
		t.Errorf("%d users whose renewal is not to generation 2", n)
	}

	// Every renewal told exactly once. Its transaction wrote one event and
	// one notice; the digests deleted the notices (none is left, above)
	// and count every user once between them.
	if n := faultCount(t, db, "SELECT count(*) FROM events WHERE action = '"+kcred.ActionRenewal+"'"); n != users {
		t.Errorf("%d renewal events, want %d", n, users)
	}
	if n := faultCount(t, db, "SELECT count(DISTINCT target) FROM events WHERE action = '"+kcred.ActionRenewal+"'"); n != users {
		t.Errorf("renewal events for %d users, want %d", n, users)
	}
	if n := faultCount(t, db, "SELECT count(*) FROM notifications WHERE kind != 'renewed'"); n != 0 {
		t.Errorf("%d notifications of other kinds", n)
	}
	rows, err := db.Query("SELECT payload FROM notifications WHERE kind = 'renewed'")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	digests, total, shown := 0, 0, 0
	for rows.Next() {
		var payload string
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		var ev notify.Event
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			t.Fatal(err)
		}
		digests++
		total += ev.Total
		shown += min(ev.Total, notify.MaxEventItems)
		for _, it := range ev.Items {
			listed[it.Username]++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Events list at most notify.MaxEventItems users and count them all.
	if total != users || len(listed) != shown {
		t.Errorf("the digests count %d users and list %d, want %d counted", total, len(listed), users)
	}
	for u, n := range listed {
		if n != 1 {
			t.Errorf("%s listed in %d digests", u, n)
		}
	}
	// The API shows the same digests (before the kill and after).
	list, _ := notes["notifications"].([]any)
	api := 0
	for _, x := range list {
		if m, _ := x.(map[string]any); m["kind"] == "renewed" {
			api++
		}
	}
	if api != digests || digests < 1 || digests > 2 {
		t.Errorf("renewed digests: %d in the store, %d through the API; want 1 or 2 (before and after the kill)", digests, api)
	}
	t.Logf("%d renewed digests", digests)
}

// faultWaitSweep waits until s has finished a sweep, as its metrics count
// them: the first runs when the server starts, at River's next look for
// jobs.
func faultWaitSweep(t *testing.T, s *e2eServer) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no sweep finished 30 s after the server started")
		}
		res, err := s.http.Get(s.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if n, ok := strings.CutPrefix(line, "kcred_sweep_duration_seconds_count "); ok && n != "0" {
				return
			}
		}
	}
}
