// Package sqlite is kcred's embedded store: kcred.Store on one SQLite file
// through modernc.org/sqlite (pure Go, no cgo).
//
// The file is opened twice. The write pool has a single connection, so every
// write and every transaction (InTx) queues in Go instead of failing with
// SQLITE_BUSY; BEGIN IMMEDIATE takes the write lock up front. The read pool
// has several read-only connections that run the autocommit Find*, List* and
// Count* calls concurrently, which WAL allows. Every statement is prepared
// once per connection.
//
// Times are stored as TEXT in one fixed-width UTC form (see timeLayout) so
// that text order is time order; durations as INTEGER nanoseconds.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/kcred/kcred"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is kcred.Store on SQLite. It is safe for concurrent use.
type Store struct {
	queries // autocommit: reads on rdb, writes on wdb

	wdb, rdb *sql.DB
	wst, rst []*sql.Stmt // prepared statements by statement number
	group    txGroup     // the transactions waiting for wdb
	ckpt     *checkpointer
}

var _ kcred.Store = (*Store)(nil)

// dsnParams are the connection settings of both pools.
//   - busy_timeout covers the rare waits SQLite does itself (checkpoints,
//     another process on the file).
//   - synchronous=NORMAL is durable across application crashes in WAL mode
//     and loses at most the last transactions on power loss.
//   - mmap_size(0): no memory map. With a map, every read transaction that
//     follows a commit unmaps it (SQLite drops its view of a changed
//     file), and under a steady trickle of audit events that munmap cost
//     more than a third of the CPU of a credentials GET.
//   - wal_autocheckpoint=10000 pages (40 MB of WAL): the checkpointer
//     copies the WAL back in the background, after commits; this bound
//     makes the write connection do it only when that falls behind.
//   - _time_format=sqlite makes time.Time arguments of other users of
//     WriteDB (River) sortable text; this package passes its own text.
const dsnParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)" +
	"&_pragma=mmap_size(0)&_pragma=wal_autocheckpoint(10000)&_pragma=temp_store(memory)" +
	"&_time_format=sqlite"

// Open opens (creating it when missing) the database file at path, applies
// the schema migrations and prepares the statements.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, kcred.Errorf(kcred.EINVALID, "Invalid SQLite database path %q: give a file path without ? or #.", path)
	}
	s := &Store{}
	s.queries = queries{s: s}

	var err error
	s.wdb, err = sql.Open("sqlite", path+"?"+dsnParams+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One writer: writes wait for each other in Go, never with SQLITE_BUSY.
	// The connection lives forever so that its prepared statements do too.
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		s.wdb.Close()
		return nil, err
	}

	// Readers are opened after the migrations so that the file exists and
	// is in WAL mode; query_only makes a misrouted write fail loudly.
	s.rdb, err = sql.Open("sqlite", path+"?"+dsnParams+"&_query_only=1")
	if err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	s.rdb.SetMaxOpenConns(readers)
	s.rdb.SetMaxIdleConns(readers)
	s.rdb.SetConnMaxLifetime(0)
	s.rdb.SetConnMaxIdleTime(0)

	if s.ckpt, err = startCheckpointer(path); err != nil {
		s.Close()
		return nil, err
	}

	// Statements are prepared up front: preparing on the write pool while a
	// transaction holds its only connection would wait forever.
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.wdb, sub)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

func (s *Store) prepare(ctx context.Context) error {
	s.wst = make([]*sql.Stmt, len(statements))
	s.rst = make([]*sql.Stmt, len(statements))
	for i, q := range statements {
		var err error
		if s.wst[i], err = s.wdb.PrepareContext(ctx, q); err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", q, err)
		}
		if writeOnly[i] {
			continue
		}
		if s.rst[i], err = s.rdb.PrepareContext(ctx, q); err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", q, err)
		}
	}
	return nil
}

// WriteDB returns the single-connection pool that all writes go through, for
// other users of the same file that must not compete with kcred's writes for
// the SQLite write lock (River's riversqlite driver). Never call a method of
// s that writes, or InTx, while holding a transaction of WriteDB: both wait
// for the one connection.
func (s *Store) WriteDB() *sql.DB { return s.wdb }

// InTx implements kcred.Store. It runs fn in a BEGIN IMMEDIATE transaction on
// the write connection, committed together with the transactions waiting
// beside it (see txGroup): fn must not assume it is alone in the SQLite
// transaction, only that its own work commits or rolls back whole. fn must
// use q, not s: a write through s would wait for the connection fn's
// transaction holds. A panic in fn rolls back fn's work and propagates.
func (s *Store) InTx(ctx context.Context, fn func(q kcred.Queries) error) error {
	return s.inTx(ctx, func(q queries) error { return fn(q) })
}

// Ping implements kcred.Store: both pools must answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.wdb.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close implements kcred.Store. It closes the statements and both pools.
func (s *Store) Close() error {
	var errs []error
	for _, list := range [][]*sql.Stmt{s.rst, s.wst} {
		for _, st := range list {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
	}
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

// statements holds the SQL of every statement; stmt registers one and
// returns its number, which indexes Store.wst and Store.rst. wstmt
// registers a statement that only runs in write transactions: it is
// prepared on the write connection alone (Store.rst holds nil), so that the
// many multi-row statements of CreateRenewals cost the readers nothing.
var (
	statements []string
	writeOnly  []bool
)

func stmt(sql string) int {
	statements = append(statements, sql)
	writeOnly = append(writeOnly, false)
	return len(statements) - 1
}

func wstmt(sql string) int {
	n := stmt(sql)
	writeOnly[n] = true
	return n
}

// queries implements kcred.Queries either on the pools (tx nil) or in a
// transaction.
type queries struct {
	s  *Store
	tx *sql.Tx
}

var (
	_ kcred.RenewalQueries = (*Store)(nil)
	_ kcred.RenewalQueries = queries{}
)

// atomic runs fn in q's transaction, or in a new one when q has none: for
// the methods that write several statements which must not be seen (or
// survive a crash) half done.
func (q queries) atomic(ctx context.Context, fn func(q queries) error) error {
	if q.tx != nil {
		return fn(q)
	}
	return q.s.inTx(ctx, fn)
}

// read returns statement n for a read: on a reader outside a transaction.
func (q queries) read(ctx context.Context, n int) *sql.Stmt {
	if q.tx != nil {
		return q.tx.StmtContext(ctx, q.s.wst[n])
	}
	return q.s.rst[n]
}

// write returns statement n for a write.
func (q queries) write(ctx context.Context, n int) *sql.Stmt {
	if q.tx != nil {
		return q.tx.StmtContext(ctx, q.s.wst[n])
	}
	return q.s.wst[n]
}

// exec runs statement n as a write and returns the number of rows changed.
func (q queries) exec(ctx context.Context, n int, args ...any) (int64, error) {
	res, err := q.write(ctx, n).ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
