// Package postgres is kcred's store for several replicas: kcred.Store on
// PostgreSQL through a pgx connection pool.
//
// pgx prepares and caches every statement per connection, so the SQL here is
// plain text. Times are timestamptz, durations bigint nanoseconds. Schema
// migrations (goose) run in Open under a session advisory lock, so replicas
// starting together migrate once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/kcred/kcred"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is kcred.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	queries // autocommit, on the pool

	pool *pgxpool.Pool
}

var _ kcred.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	schema string
}

// WithSchema keeps kcred's tables in schema, which Open creates when it is
// missing: every pooled connection gets search_path=schema. Tests use it to
// isolate themselves; installations may use it to share a database.
func WithSchema(name string) Option {
	return func(o *options) { o.schema = name }
}

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN, as pgx accepts; pool settings such as pool_max_conns included),
// applies the schema migrations and returns the store.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if o.schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{o.schema}.Sanitize()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{queries: queries{db: pool}, pool: pool}
	if o.schema != "" {
		if err := createSchema(ctx, pool, o.schema); err != nil {
			pool.Close()
			return nil, err
		}
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// createSchema creates schema unless it exists. Replicas racing to create it
// may see a unique violation on the catalog, which means it exists.
func createSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	_, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P06") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: create schema %q: %w", schema, err)
	}
	return nil
}

// migrate applies the embedded migrations. The advisory lock's ID is made
// from the schema, so replicas on one schema wait for each other while
// stores in other schemas of the database (tests) do not.
func (s *Store) migrate(ctx context.Context) error {
	var schema string
	if err := s.pool.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if schema == "" {
		return fmt.Errorf("postgres: migrate: no schema in the search_path exists")
	}
	h := fnv.New64a()
	h.Write([]byte("kcred migrations " + schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Pool returns the connection pool, for other users of the database (River's
// riverpgxv5 driver).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// InTx implements kcred.Store with a READ COMMITTED transaction. After an
// error of a statement PostgreSQL refuses further statements in the
// transaction, so fn should return the first error it gets; conflicts of
// Create* are the exception, they leave the transaction usable (they are
// detected with ON CONFLICT DO NOTHING, not by failing). A panic in fn rolls
// back and propagates.
func (s *Store) InTx(ctx context.Context, fn func(q kcred.Queries) error) error {
	return inTx(ctx, s.pool, func(q queries) error { return fn(q) })
}

// beginner is what starts a transaction: the pool.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// inTx is InTx with the package's own queries, on db.
func inTx(ctx context.Context, db beginner, fn func(q queries) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// A canceled ctx must not keep the rollback from releasing the connection.
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(queries{db: tx}); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// Ping implements kcred.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close implements kcred.Store. It waits for connections in use to be
// returned to the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// querier is what the pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queries implements kcred.Queries on the pool or in a transaction.
type queries struct {
	db querier
}

var (
	_ kcred.RenewalQueries = (*Store)(nil)
	_ kcred.RenewalQueries = queries{}
)

// atomic runs fn in q's transaction, or in a new one when q is on the pool:
// for the methods that write several statements which must not be seen (or
// survive a crash) half done.
func (q queries) atomic(ctx context.Context, fn func(q queries) error) error {
	if _, ok := q.db.(pgx.Tx); ok {
		return fn(q)
	}
	db, ok := q.db.(beginner)
	if !ok {
		return fmt.Errorf("postgres: %T cannot begin a transaction", q.db)
	}
	return inTx(ctx, db, fn)
}

// exec runs a write and returns the number of rows it changed.
func (q queries) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
