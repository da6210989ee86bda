// Package jobs runs kcred's background work on River: a sweep of the
// certificate lifecycle every sweep interval, and the delivery of
// notifications after each sweep and every few seconds for retries. River
// elects a leader among replicas, and only the leader schedules periodic
// jobs; each job is unique while it waits or runs, so one sweep runs at a
// time across all replicas (per sweep interval: see sweepInsertOpts).
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Work is what the jobs run: lifecycle.Manager's Sweep and Deliver.
type Work interface {
	SweepOnce(ctx context.Context) error
	DeliverOnce(ctx context.Context) error
}

// Config says how often to sweep.
type Config struct {
	SweepInterval   time.Duration // default 1m
	DeliverInterval time.Duration // retries of deliveries; default 5s
	// DeliverTimeout bounds one delivery round (default 1m); what is left
	// goes in the next round.
	DeliverTimeout time.Duration
	// RescueAfter is how long a delivery job may be "running" before River
	// takes it for the job of a process that died (default 2m). Delivery
	// jobs are unique while running, so until then no delivery runs.
	RescueAfter time.Duration
	// SoleProcess says that no other process runs River on this database
	// (kcred server holds the data directory's lock on SQLite). A leader
	// recorded in it then died with its process, and is forgotten at start:
	// otherwise a server restarted after a crash waits out the dead one's
	// lease, 15 s in River v0.51, before it sweeps again.
	SoleProcess bool
	Logger      *slog.Logger
}

// Runner is a started River client.
type Runner struct {
	stop   func(context.Context) error
	insert func(context.Context, river.JobArgs) error
	log    *slog.Logger
}

// StartSQLite runs the jobs on the SQLite database db, which must be the
// store's single write connection (sqlite.Store.WriteDB) so that River and
// kcred never compete for SQLite's write lock.
//
// River runs poll-only there. Its SQLite driver has no LISTEN: its
// listener learns of new jobs and of leadership changes by reading a
// notification table every 50 ms, on the one write connection, and that
// was half of an idle server's CPU (10 s idle: 250–260 ms of CPU with it,
// 130–140 ms without). Polled, a job inserted (the deliveries a sweep
// kicks) starts within fetchPollInterval instead; the one server on a
// SQLite file leads from its start (SoleProcess).
func StartSQLite(ctx context.Context, db *sql.DB, w Work, cfg Config) (*Runner, error) {
	return start(ctx, riversqlite.New(db), w, cfg, true)
}

// StartPostgres runs the jobs on the PostgreSQL pool of the store, with
// LISTEN/NOTIFY.
func StartPostgres(ctx context.Context, pool *pgxpool.Pool, w Work, cfg Config) (*Runner, error) {
	return start(ctx, riverpgxv5.New(pool), w, cfg, false)
}

// once is the uniqueness of every kcred job: one waiting or running at a
// time, a new one allowed as soon as it finished.
var once = river.UniqueOpts{ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

// SweepArgs is the periodic lifecycle sweep.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "kcred_sweep" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: once, Queue: "sweep"}
}

// sweepInsertOpts are the options of the periodic sweep: unique while it
// waits or runs, as every kcred job, but only within one sweep interval.
// A server killed during a sweep leaves its job "running" until River's
// rescuer gives up on it (an hour); unique across all time, that job would
// block every sweep until then. Unique per interval, the next interval's
// sweep runs. Sweeps are safe to run concurrently (lifecycle.Manager.Sweep),
// so one that outlasts its interval overlapping the next costs only work.
func sweepInsertOpts(interval time.Duration) *river.InsertOpts {
	opts := SweepArgs{}.InsertOpts()
	opts.UniqueOpts.ByPeriod = max(interval, time.Second)
	return &opts
}

// DeliverArgs sends due deliveries.
type DeliverArgs struct{}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "kcred_deliver" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: once, Queue: "deliver"}
}

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	w Work
	r *Runner
}

func (s *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	err := s.w.SweepOnce(ctx)
	// Whatever the sweep managed to digest is worth sending now.
	s.r.Kick()
	return err
}

// Timeout implements river.Worker: a sweep takes as long as what is due.
func (s *sweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return -1 }

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	w       Work
	timeout time.Duration
}

func (d *deliverWorker) Work(ctx context.Context, _ *river.Job[DeliverArgs]) error {
	return d.w.DeliverOnce(ctx)
}

// Timeout implements river.Worker. A round is cut short rather than left
// running: a delivery job must end well before RescueAfter, or River could
// take a slow round for a dead one and start a second beside it.
func (d *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return d.timeout }

func start[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], w Work, cfg Config, pollOnly bool) (*Runner, error) {
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.DeliverInterval <= 0 {
		cfg.DeliverInterval = 5 * time.Second
	}
	if cfg.DeliverTimeout <= 0 {
		cfg.DeliverTimeout = time.Minute
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = 2 * cfg.DeliverTimeout
	}
	if cfg.RescueAfter <= cfg.DeliverTimeout {
		return nil, fmt.Errorf("jobs: RescueAfter (%s) must be longer than DeliverTimeout (%s)", cfg.RescueAfter, cfg.DeliverTimeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	if cfg.SoleProcess {
		// As if every recorded lease had run out.
		later := time.Now().Add(24 * time.Hour)
		if _, err := driver.GetExecutor().LeaderDeleteExpired(ctx, &riverdriver.LeaderDeleteExpiredParams{Now: &later}); err != nil {
			return nil, fmt.Errorf("river: forget a dead leader: %w", err)
		}
	}
	r := &Runner{log: cfg.Logger}
	workers := river.NewWorkers()
	river.AddWorker(workers, &sweepWorker{w: w, r: r})
	river.AddWorker(workers, &deliverWorker{w: w, timeout: cfg.DeliverTimeout})
	client, err := river.NewClient(driver, &river.Config{
		Logger: slog.New(atLeast{slog.LevelWarn, cfg.Logger.Handler()}).With("component", "river"),
		Queues: map[string]river.QueueConfig{
			"sweep":   {MaxWorkers: 1},
			"deliver": {MaxWorkers: 1},
		},
		Workers: workers,
		// A process killed during a delivery round leaves its job
		// "running", and the job's uniqueness holds every later round
		// back until River rescues it: by default after an hour. Sweeps
		// are not affected (unique per interval, never rescued: their
		// timeout is none).
		JobTimeout:           min(cfg.DeliverTimeout, time.Minute),
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    fetchPollInterval(cfg),
		PollOnly:             pollOnly,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepInterval),
				func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, sweepInsertOpts(cfg.SweepInterval) },
				&river.PeriodicJobOpts{ID: "kcred_sweep", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.DeliverInterval),
				func() (river.JobArgs, *river.InsertOpts) { return DeliverArgs{}, nil },
				&river.PeriodicJobOpts{ID: "kcred_deliver", RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("river: %w", err)
	}
	// Set before Start: the first sweep runs at once and kicks deliveries.
	r.stop = client.Stop
	r.insert = func(ctx context.Context, args river.JobArgs) error {
		_, err := client.Insert(ctx, args, nil)
		return err
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("river: start: %w", err)
	}
	return r, nil
}

// Kick asks for a delivery round now (after a sweep, or a webhook test).
func (r *Runner) Kick() {
	if r.insert == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.insert(ctx, DeliverArgs{}); err != nil {
		r.log.Warn("queue delivery", "err", err)
	}
}

// Stop waits for running jobs to finish, or for ctx.
func (r *Runner) Stop(ctx context.Context) error { return r.stop(ctx) }

// atLeast passes on records at level min or above, or at any level the
// handler takes when it takes debug records. River reports its job counts
// at info level several times a minute, which buries kcred's own lines;
// with --log-level debug they are shown.
type atLeast struct {
	min slog.Level
	h   slog.Handler
}

func (a atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return a.h.Enabled(ctx, l) && (l >= a.min || a.h.Enabled(ctx, slog.LevelDebug))
}
func (a atLeast) Handle(ctx context.Context, r slog.Record) error { return a.h.Handle(ctx, r) }
func (a atLeast) WithAttrs(as []slog.Attr) slog.Handler           { return atLeast{a.min, a.h.WithAttrs(as)} }
func (a atLeast) WithGroup(name string) slog.Handler              { return atLeast{a.min, a.h.WithGroup(name)} }

// fetchPollInterval is how often River looks for jobs besides being told
// of new ones (on SQLite, where it runs poll-only, the only way it learns
// of them): a tenth of the shortest job interval, from 50 ms to 1 s. On
// SQLite every look is a write transaction on the one write connection,
// about a millisecond of CPU: at a fixed 100 ms the two queues' looks were
// half of an idle server's CPU. Short intervals (tests, demos) still see
// their jobs within a tenth of them.
func fetchPollInterval(cfg Config) time.Duration {
	return min(max(min(cfg.SweepInterval, cfg.DeliverInterval)/10, 50*time.Millisecond), time.Second)
}
