package sqlite

import (
	"context"
	"fmt"
	"sync"
)

// maxGroup is the most transactions one commit takes.
const maxGroup = 64

var (
	sqlSavepoint  = wstmt(`SAVEPOINT grouped`)
	sqlRollbackTo = wstmt(`ROLLBACK TO grouped`)
	sqlRelease    = wstmt(`RELEASE grouped`)
)

// txGroup commits the transactions that wait for the write connection
// together (group commit). A SQLite commit writes every page the
// transaction changed to the WAL, and the small transactions of an API
// (a user, its certificate and its event) change the same pages, the right
// edges of the tables and indexes: committed one by one, each writes them
// again. So while one group commits, the transactions that arrive queue,
// and the next group runs them one after the other in one SQLite
// transaction, each in a savepoint, and commits once. A transaction that
// fails rolls back to its savepoint and fails alone; each sees the
// committed state and the groupmates before it, as if they had committed
// first, and returns only after the commit, with its error.
//
// There is no goroutine of its own: the first caller to find no group
// running leads, and hands over to the first of the queue when its group
// is done.
type txGroup struct {
	mu      sync.Mutex
	waiting []*txCall
	leading bool // a caller is running a group; waiting calls are its to hand over
}

// txCall is one InTx waiting in a txGroup.
type txCall struct {
	ctx  context.Context
	fn   func(q queries) error
	wake chan struct{} // closed when done, or when the call is to lead

	done     bool
	err      error
	panicked bool
	panicVal any
}

// inTx is InTx with the package's own queries.
func (s *Store) inTx(ctx context.Context, fn func(q queries) error) error {
	c := &txCall{ctx: ctx, fn: fn, wake: make(chan struct{})}
	g := &s.group
	g.mu.Lock()
	g.waiting = append(g.waiting, c)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead {
		<-c.wake
	}
	if !c.done {
		s.runGroup() // its group starts with c
	}
	if c.panicked {
		panic(c.panicVal)
	}
	return c.err
}

// runGroup commits the calls waiting (up to maxGroup), wakes them, and hands
// the lead to the first call left waiting.
func (s *Store) runGroup() {
	g := &s.group
	g.mu.Lock()
	n := min(len(g.waiting), maxGroup)
	group := g.waiting[:n:n]
	g.waiting = append([]*txCall(nil), g.waiting[n:]...)
	g.mu.Unlock()

	s.commitGroup(group)

	g.mu.Lock()
	var next *txCall
	if len(g.waiting) > 0 {
		next = g.waiting[0]
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	for _, c := range group[1:] { // group[0] runs this
		close(c.wake)
	}
	if next != nil {
		close(next.wake)
	}
}

// commitGroup runs the calls of a group in one transaction and commits it.
// A group of one runs as a plain transaction, without savepoint.
func (s *Store) commitGroup(group []*txCall) {
	for _, c := range group {
		c.done = true
	}
	fail := func(err error) {
		for _, c := range group {
			if c.err == nil && !c.panicked {
				c.err = err
			}
		}
	}
	// No caller's cancellation may roll back the others' work: the
	// transaction and its savepoints live without it; the statements of
	// each call still stop with the call's.
	bg := context.WithoutCancel(group[0].ctx)
	tx, err := s.wdb.BeginTx(bg, nil)
	if err != nil {
		fail(fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	q := queries{s: s, tx: tx}
	if len(group) == 1 {
		if run(group[0], q); group[0].err != nil || group[0].panicked {
			tx.Rollback()
			return
		}
	} else {
		for _, c := range group {
			if _, err := q.exec(bg, sqlSavepoint); err != nil {
				tx.Rollback()
				fail(fmt.Errorf("sqlite: savepoint: %w", err))
				return
			}
			if run(c, q); c.err != nil || c.panicked {
				if _, err := q.exec(bg, sqlRollbackTo); err != nil {
					// The transaction is gone with the work of
					// the calls before: they fail too.
					tx.Rollback()
					fail(fmt.Errorf("sqlite: rollback to savepoint: %w", err))
					return
				}
			}
			if _, err := q.exec(bg, sqlRelease); err != nil {
				tx.Rollback()
				fail(fmt.Errorf("sqlite: release savepoint: %w", err))
				return
			}
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("sqlite: commit: %w", err))
		return
	}
	s.ckpt.committed()
}

// run calls c.fn, keeping its error or its panic for c's caller.
func run(c *txCall, q queries) {
	defer func() {
		if r := recover(); r != nil {
			c.panicked, c.panicVal = true, r
		}
	}()
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return
	}
	c.err = c.fn(q)
}
