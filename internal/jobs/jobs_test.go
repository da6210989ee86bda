package jobs_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/kcred/kcred/internal/jobs"
	"github.com/kcred/kcred/internal/sqlite"
)

// work counts the rounds it runs; with hang set, a delivery round never
// returns, even when its context ends: a process that died mid-round.
type work struct {
	sweeps, delivers atomic.Int32
	hang             chan struct{}
}

func (w *work) SweepOnce(context.Context) error { w.sweeps.Add(1); return nil }

func (w *work) DeliverOnce(context.Context) error {
	w.delivers.Add(1)
	if w.hang != nil {
		<-w.hang
	}
	return nil
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}

// TestDeliveryResumesAfterDeadRound: a delivery round that never ends (its
// process died) holds the unique delivery job "running"; River rescues it
// after RescueAfter, and deliveries go on from another process, in
// seconds rather than the hour River waits by default. River's rescuer runs
// every 30 s, so this test takes up to about half a minute.
func TestDeliveryResumesAfterDeadRound(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer (30 s interval)")
	}
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := jobs.Config{SweepInterval: time.Hour, DeliverInterval: 200 * time.Millisecond,
		DeliverTimeout: time.Second, RescueAfter: 2 * time.Second}

	dead := &work{hang: make(chan struct{})}
	a, err := jobs.StartSQLite(ctx, store.WriteDB(), dead, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(dead.hang)
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		a.Stop(sctx)
	}()
	waitFor(t, 10*time.Second, "the first delivery round", func() bool { return dead.delivers.Load() == 1 })

	live := &work{}
	b, err := jobs.StartSQLite(ctx, store.WriteDB(), live, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		b.Stop(sctx)
	}()
	// While the dead round is within RescueAfter nothing else delivers.
	time.Sleep(time.Second)
	if n := live.delivers.Load(); n != 0 {
		t.Fatalf("%d rounds ran beside a running one", n)
	}
	waitFor(t, 45*time.Second, "a delivery round after the dead one was rescued", func() bool { return live.delivers.Load() > 0 })
	if n := dead.delivers.Load(); n != 1 {
		t.Errorf("the dead process ran %d rounds", n)
	}
}

func TestConfigRejectsRescueWithinTimeout(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, err = jobs.StartSQLite(context.Background(), store.WriteDB(), &work{}, jobs.Config{DeliverTimeout: time.Minute, RescueAfter: time.Minute})
	if err == nil {
		t.Fatal("started with RescueAfter = DeliverTimeout")
	}
}

// TestSoleProcessForgetsDeadLeader: a leader recorded in the database
// whose process died holds River's leadership until its lease runs out.
// A runner that knows it is the only process forgets it and leads, and
// sweeps, at once; one that does not know waits.
func TestSoleProcessForgetsDeadLeader(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	driver := riversqlite.New(store.WriteDB())
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := driver.GetExecutor().LeaderInsert(ctx, &riverdriver.LeaderInsertParams{LeaderID: "killed", TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	cfg := jobs.Config{SweepInterval: time.Hour} // the only sweep is the leader's at start

	start := func(sole bool) (*work, func()) {
		w := &work{}
		cfg.SoleProcess = sole
		r, err := jobs.StartSQLite(ctx, store.WriteDB(), w, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return w, func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			r.Stop(sctx)
		}
	}
	w, stop := start(false)
	time.Sleep(2 * time.Second)
	stop()
	if n := w.sweeps.Load(); n != 0 {
		t.Fatalf("a runner swept %d times while a dead leader's lease held", n)
	}
	w, stop = start(true)
	defer stop()
	waitFor(t, 5*time.Second, "the sole process's first sweep", func() bool { return w.sweeps.Load() > 0 })
}
