package postgres_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred/internal/postgres"
	"github.com/kcred/kcred/internal/postgres/postgrestest"
	"github.com/kcred/kcred/internal/storetest"
)

// TestSweepPlans checks that the sweep queries read their partial indexes
// on a store big enough for PostgreSQL to prefer a sequential scan if it
// could (20,000 users, 22,000 certificates, 20,000 pending notices of which
// the sweep reads 1,000, and 20,000 delivered deliveries), with and without statistics, as custom plans (for
// the arguments) and as generic plans (what a prepared statement may run
// after five executions).
func TestSweepPlans(t *testing.T) {
	s := postgrestest.Open(t)
	ctx := t.Context()
	now := storetest.FillSweep(t, s, 20000, postgres.BulkInsert)
	for _, q := range []string{
		`INSERT INTO notifications (id, project, kind, create_time) VALUES ('n', 'sweep', 'renewed', now())`,
		`INSERT INTO notices (id, project, kind, create_time)
			SELECT 'notice-' || g, 'sweep', 'renewed', now() - g * interval '1 minute' FROM generate_series(1, 20000) g`,
		`INSERT INTO deliveries (id, notification_id, project, channel, target, state, next_attempt, create_time)
			SELECT 'delivery-' || g, 'n', 'sweep', 'email', g || '@example.com', 'delivered',
				now() - g * interval '1 minute', now() FROM generate_series(1, 20000) g`,
	} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	ts := func(d time.Duration) string { return "'" + now.Add(d).Format(time.RFC3339Nano) + "'::timestamptz" }
	sweeps := []struct {
		name, query, index, args string
	}{
		{"ListRenewalCandidates", postgres.SQLListRenewalCandidates, "current_certificates_renew_at", ts(90*24*time.Hour) + ", 1000, '0001-01-01Z'::timestamptz, ''"},
		{"ListRenewalCandidates after a key", postgres.SQLListRenewalCandidates, "current_certificates_renew_at", ts(90*24*time.Hour) + ", 1000, " + ts(0) + ", 'x'"},
		{"ListDueRenewals", postgres.SQLListDueRenewals, "renewals_open_next_action_at", ts(0) + ", 1000"},
		{"ListPendingNotices", postgres.SQLListPendingNotices, "notices_pending", "1000"},
		{"ListDueDeliveries", postgres.SQLListDueDeliveries, "deliveries_pending_next_attempt", ts(0) + ", 1000"},
	}
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := s.Pool().Exec(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			for _, sw := range sweeps {
				plan := explain(t, s, mode, sw.query, sw.args)
				index := strings.Contains(plan, "Index Scan using "+sw.index+" ") ||
					strings.Contains(plan, "Bitmap Index Scan on "+sw.index+" ")
				if !index || bigScan.MatchString(plan) || strings.Contains(plan, "Hash") {
					t.Errorf("%s (analyzed %v, %s): plan does not read %s, or reads more than its rows:\n%s",
						sw.name, analyzed, mode, sw.index, plan)
				} else if testing.Verbose() {
					t.Logf("%s (analyzed %v, %s):\n%s", sw.name, analyzed, mode, plan)
				}
			}
		}
	}
}

// bigScan matches a sequential scan of a table that grows with the users.
// services may be scanned: PostgreSQL scans a table of one page rather than
// its index.
var bigScan = regexp.MustCompile(`Seq Scan on (certificates|renewals|service_users|notices|deliveries)\b`)

// explain returns the plan of query run as a prepared statement with args
// (SQL literals) under plan_cache_mode mode.
func explain(t *testing.T, s *postgres.Store, mode, query, args string) string {
	t.Helper()
	ctx := t.Context()
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, q := range []string{"SET plan_cache_mode = " + mode, "PREPARE sweep AS " + query} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	defer conn.Exec(context.Background(), "DEALLOCATE sweep; RESET plan_cache_mode")
	rows, err := conn.Query(ctx, fmt.Sprintf("EXPLAIN EXECUTE sweep(%s)", args))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
