// Package postgrestest gives tests a PostgreSQL database of their own: a
// new schema in the database named by $KCRED_TEST_DATABASE_URL, dropped when
// the test ends.
//
// When KCRED_TEST_DATABASE_URL is unset the test is skipped, unless CI is
// set: then it fails, so that CI never silently skips PostgreSQL.
//
//	s := postgrestest.Open(t)        // a migrated *postgres.Store
//	url := postgrestest.URL(t)       // a URL for code that opens its own pool (kcred server --database-url)
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred/internal/postgres"
)

// EnvURL names the environment variable with the URL of the test database,
// e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "KCRED_TEST_DATABASE_URL"

// BaseURL returns $KCRED_TEST_DATABASE_URL, skipping tb when it is unset
// (failing it when CI is set).
func BaseURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set, and CI must run the PostgreSQL tests", EnvURL)
		}
		tb.Skipf("%s is not set: skipping PostgreSQL (set it to e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvURL)
	}
	return u
}

// Schema creates a new, empty schema in the test database and returns its
// name. It is dropped with everything in it when tb ends; close pools that
// use it first (t.Cleanup runs last-registered first, so register their
// Close after calling Schema).
func Schema(tb testing.TB) string {
	tb.Helper()
	base := BaseURL(tb)
	var b [8]byte
	rand.Read(b[:])
	schema := "kcredtest_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("postgrestest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("postgrestest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("postgrestest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("postgrestest: drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// URL returns the test database's URL with search_path set to a new schema
// (see Schema), for code that opens its own connections.
func URL(tb testing.TB) string {
	tb.Helper()
	base := BaseURL(tb)
	schema := Schema(tb)
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			tb.Fatalf("postgrestest: %s is not a URL: %v", EnvURL, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return base + " search_path=" + schema // key=value form
}

// Open returns a migrated store in a new schema of the test database. It is
// closed, and the schema dropped, when tb ends.
func Open(tb testing.TB) *postgres.Store {
	tb.Helper()
	base := BaseURL(tb)
	schema := Schema(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, base, postgres.WithSchema(schema))
	if err != nil {
		tb.Fatalf("postgrestest: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
