package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/sqlite"
	"github.com/kcred/kcred/internal/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newStore(t testing.TB) *sqlite.Store {
	return open(t, filepath.Join(t.TempDir(), "kcred.db"))
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) kcred.Store { return newStore(t) })
}

func BenchmarkCreateServiceUser(b *testing.B) {
	storetest.BenchmarkCreateServiceUser(b, newStore(b))
}

func BenchmarkFindCredentials(b *testing.B) {
	storetest.BenchmarkFindCredentials(b, newStore(b))
}

// BenchmarkCreateRenewals compares writing a sweep's renewals with
// CreateRenewals and with the single-row methods. The users are made
// through the Queries methods: BulkInsert enlarges the write connection's
// page cache, which would flatter the writes measured.
func BenchmarkCreateRenewals(b *testing.B) {
	storetest.BenchmarkCreateRenewals(b, newStore(b), nil)
}

// BenchmarkSweepNoneDue runs over $KCRED_BENCH_USERS users (default 100000):
//
//	KCRED_BENCH_USERS=1000000 go test -run '^$' -bench SweepNoneDue -timeout 1h ./internal/sqlite/
func BenchmarkSweepNoneDue(b *testing.B) {
	storetest.BenchmarkSweepNoneDue(b, newStore(b), sqlite.BulkInsert)
}

// TestSweepFill checks the two ways of filling a store for
// BenchmarkSweepNoneDue against each other: the Queries methods and the
// bulk SQL must make the same sweeps.
func TestSweepFill(t *testing.T) {
	ctx := t.Context()
	var results [2][]int
	for i, bulk := range []storetest.BulkInsert{nil, sqlite.BulkInsert} {
		s := newStore(t)
		now := storetest.FillSweep(t, s, 1000, bulk)
		for _, horizon := range []time.Duration{0, 91 * 24 * time.Hour, 200 * 24 * time.Hour, 10000 * 24 * time.Hour} {
			c, err := s.ListRenewalCandidates(ctx, now.Add(horizon), kcred.CandidateKey{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			d, err := s.ListDueRenewals(ctx, now.Add(horizon), 0)
			if err != nil {
				t.Fatal(err)
			}
			results[i] = append(results[i], len(c), len(d))
		}
	}
	if fmt.Sprint(results[0]) != fmt.Sprint(results[1]) || results[0][len(results[0])-2] != 990 {
		t.Fatalf("sweeps after filling through Queries %v, through bulk SQL %v; want equal, 990 candidates in all (10 renewals open)",
			results[0], results[1])
	}
}

// TestReopen checks that data survives closing and that opening an
// up-to-date file migrates nothing and works.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kcred.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProject(ctx, &kcred.Project{Name: "proj", CreateTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if _, err := s.FindProject(ctx, "proj"); err != nil {
		t.Fatalf("FindProject after reopening: %v", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if _, err := sqlite.Open(t.Context(), path); kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("Open(%q) = %v, want EINVALID", path, err)
		}
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "missing-dir", "kcred.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

// TestPragmas checks the settings of the write connection.
func TestPragmas(t *testing.T) {
	s := newStore(t)
	db := s.WriteDB()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"synchronous":  "1", // NORMAL
		"busy_timeout": "10000",
	} {
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	if got := db.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("WriteDB has %d connections, want 1", got)
	}
}

// TestTimeText checks that times are stored as sortable UTC text.
func TestTimeText(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	at := time.Date(2027, 2, 24, 13, 4, 5, 987654321, time.FixedZone("CET", 3600))
	if err := s.CreateProject(ctx, &kcred.Project{Name: "proj", CreateTime: at}); err != nil {
		t.Fatal(err)
	}
	var text string
	if err := s.WriteDB().QueryRowContext(ctx, "SELECT create_time FROM projects").Scan(&text); err != nil {
		t.Fatal(err)
	}
	if text != "2027-02-24T12:04:05.987654Z" {
		t.Fatalf("stored time %q", text)
	}
}

// TestSweepIndexes checks that the predicates of renewal, reminder and
// expiry sweeps read through indexes, so that sweeps cost O(due). Reminders
// and expiries are both found by next_action_at (old_not_after has had no
// index since migration 00003).
func TestSweepIndexes(t *testing.T) {
	s := newStore(t)
	for name, query := range map[string]string{
		"current certificates due": `SELECT user_id FROM current_certificates WHERE renew_at < '2027'`,
		"open renewals due":        `SELECT id FROM renewals WHERE closed_at IS NULL AND next_action_at < '2027'`,
		"pending deliveries due":   `SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt < '2027'`,
	} {
		rows, err := s.WriteDB().QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if len(plan) != 1 || !strings.HasPrefix(plan[0], "SEARCH ") {
			t.Errorf("%s: plan %q, want one index SEARCH", name, plan)
		}
	}
}

// TestListEventsNoLimit: a limit of 0 lists every event.
func TestListEventsNoLimit(t *testing.T) {
	s := newStore(t)
	for range 3 {
		if err := s.CreateEvent(t.Context(), &kcred.Event{Project: "p", Action: kcred.ActionLogin}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListEvents(t.Context(), "p", 0)
	if err != nil || len(list) != 3 {
		t.Fatalf("ListEvents(limit 0) = %d events, %v; want 3", len(list), err)
	}
}
