package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/postgres"
	"github.com/kcred/kcred/internal/postgres/postgrestest"
	"github.com/kcred/kcred/internal/storetest"
)

func TestStore(t *testing.T) {
	postgrestest.BaseURL(t) // skip (or fail in CI) once, not in every subtest
	storetest.Run(t, func(t *testing.T) kcred.Store { return postgrestest.Open(t) })
}

func BenchmarkCreateServiceUser(b *testing.B) {
	storetest.BenchmarkCreateServiceUser(b, postgrestest.Open(b))
}

func BenchmarkFindCredentials(b *testing.B) {
	storetest.BenchmarkFindCredentials(b, postgrestest.Open(b))
}

// BenchmarkCreateRenewals compares writing a sweep's renewals with
// CreateRenewals and with the single-row methods. The users are copied in
// and their tables analyzed, as autovacuum would have by the time a sweep
// runs: without statistics the single-row methods took five times as long.
func BenchmarkCreateRenewals(b *testing.B) {
	storetest.BenchmarkCreateRenewals(b, postgrestest.Open(b), func(ctx context.Context, s kcred.Store, blk *storetest.Bulk) error {
		if err := postgres.BulkInsert(ctx, s, blk); err != nil {
			return err
		}
		_, err := s.(*postgres.Store).Pool().Exec(ctx, "ANALYZE service_users, certificates, renewals")
		return err
	})
}

// BenchmarkSweepNoneDue runs over $KCRED_BENCH_USERS users (default 100000):
//
//	KCRED_BENCH_USERS=1000000 go test -run '^$' -bench SweepNoneDue -timeout 1h ./internal/postgres/
func BenchmarkSweepNoneDue(b *testing.B) {
	storetest.BenchmarkSweepNoneDue(b, postgrestest.Open(b), postgres.BulkInsert)
}

// TestSweepFill checks the two ways of filling a store for
// BenchmarkSweepNoneDue against each other: the Queries methods and COPY
// must make the same sweeps.
func TestSweepFill(t *testing.T) {
	ctx := t.Context()
	var results [2][]int
	for i, bulk := range []storetest.BulkInsert{nil, postgres.BulkInsert} {
		s := postgrestest.Open(t)
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
		t.Fatalf("sweeps after filling through Queries %v, through COPY %v; want equal, 990 candidates in all (10 renewals open)",
			results[0], results[1])
	}
}

// TestSchemaIsolation checks that stores in two schemas of one database see
// nothing of each other.
func TestSchemaIsolation(t *testing.T) {
	ctx := t.Context()
	a, b := postgrestest.Open(t), postgrestest.Open(t)
	if err := a.CreateProject(ctx, &kcred.Project{Name: "proj"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.FindProject(ctx, "proj"); kcred.ErrorCode(err) != kcred.ENOTFOUND {
		t.Fatalf("FindProject in the other schema: %v, want ENOTFOUND", err)
	}
	if err := b.CreateProject(ctx, &kcred.Project{Name: "proj"}); err != nil {
		t.Fatalf("CreateProject of the same name in the other schema: %v", err)
	}
}

// TestConcurrentOpen opens several stores on one new schema at once, as
// replicas starting together do: the migration lock lets one migrate and
// the others find the schema up to date.
func TestConcurrentOpen(t *testing.T) {
	base := postgrestest.BaseURL(t)
	schema := postgrestest.Schema(t)
	const n = 4
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(context.Background(), base, postgres.WithSchema(schema)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	ctx := t.Context()
	if err := stores[0].CreateProject(ctx, &kcred.Project{Name: "proj"}); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if _, err := s.FindProject(ctx, "proj"); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
}

// TestURL checks that a postgrestest.URL (search_path in the URL) works
// without WithSchema.
func TestURL(t *testing.T) {
	s, err := postgres.Open(t.Context(), postgrestest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := s.Pool().QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if schema == "public" || schema == "" {
		t.Fatalf("current_schema() = %q, want the test schema", schema)
	}
}

func TestOpenMissingSchemaIsCreated(t *testing.T) {
	base := postgrestest.BaseURL(t)
	schema := postgrestest.Schema(t) + "_new" // created by Open, dropped here
	s, err := postgres.Open(t.Context(), base, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Pool().Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		s.Close()
	})
	if err := s.CreateProject(t.Context(), &kcred.Project{Name: "proj"}); err != nil {
		t.Fatal(err)
	}
}

// TestListEventsNoLimit: a limit of 0 lists every event.
func TestListEventsNoLimit(t *testing.T) {
	s := postgrestest.Open(t)
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
