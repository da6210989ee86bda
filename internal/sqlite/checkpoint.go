package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// checkpointPause is the least time between two background checkpoints:
// the commits of a busy stretch are copied back together.
const checkpointPause = 100 * time.Millisecond

// checkpointer copies committed WAL frames back into the database file on
// a connection of its own, so that the write connection seldom has to.
//
// SQLite checkpoints in the committing connection once the WAL holds
// wal_autocheckpoint pages: that commit then copies megabytes and syncs the
// file while every other write waits behind it, and under load the cores
// idle (a credential creation or a sweep's batch stalls for tens of
// milliseconds). A PASSIVE checkpoint on another connection takes no write
// lock, so writes go on meanwhile; the write connection's own
// autocheckpoint stays as the bound for when this one falls behind.
type checkpointer struct {
	db     *sql.DB
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// startCheckpointer opens its connection to path and starts checkpointing
// after each wake-up.
func startCheckpointer(path string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", path+"?"+dsnParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

// committed tells the checkpointer that a transaction committed. It never
// blocks: a wake-up already pending covers this commit too.
func (c *checkpointer) committed() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		// PASSIVE copies what no reader still needs and waits for no
		// one; what it leaves, a later wake-up takes.
		if _, err := c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && ctx.Err() == nil {
			slog.Warn("sqlite: background checkpoint failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(checkpointPause):
		}
	}
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
