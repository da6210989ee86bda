package storetest

import (
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
)

// Migration is a store's database migrated step by step in a migration
// test, with what the migration tests of both stores do to it.
type Migration struct {
	T  *testing.T
	DB *sql.DB
	P  *goose.Provider
	// Check, when set, runs after every step (SQLite checks the file's
	// integrity).
	Check func()
}

// To migrates up or down to version.
func (m *Migration) To(version int64) {
	m.T.Helper()
	ctx := m.T.Context()
	v, err := m.P.GetDBVersion(ctx)
	if err == nil && v < version {
		_, err = m.P.UpTo(ctx, version)
	} else if err == nil && v > version {
		_, err = m.P.DownTo(ctx, version)
	}
	if err != nil {
		m.T.Fatal(err)
	}
	if v, err := m.P.GetDBVersion(ctx); err != nil || v != version {
		m.T.Fatalf("version %d, %v; want %d", v, err, version)
	}
	if m.Check != nil {
		m.Check()
	}
}

// Exec runs a statement, failing the test on an error.
func (m *Migration) Exec(query string, args ...any) {
	m.T.Helper()
	if _, err := m.DB.ExecContext(m.T.Context(), query, args...); err != nil {
		m.T.Fatalf("%s: %v", query, err)
	}
}

// Query returns the rows of q as text, NULL as "NULL".
func Query(t *testing.T, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Lines returns the rows of q as lines, their columns joined by " | ".
func Lines(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	var out []string
	for _, r := range Query(t, db, q, args...) {
		out = append(out, strings.Join(r, " | "))
	}
	return out
}

// EqualLines fails t unless got and want are the same lines.
func EqualLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Without returns lines without those that contain any of gone.
func Without(lines []string, gone ...string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(line string) bool {
		return slices.ContainsFunc(gone, func(g string) bool { return strings.Contains(line, g) })
	})
}

// Indexes returns the index names of table in a schema whose lines
// describe indexes as "index <table> <name> ...".
func Indexes(schema []string, table string) []string {
	var names []string
	for _, line := range schema {
		if rest, ok := strings.CutPrefix(line, "index "+table+" "); ok {
			names = append(names, strings.Fields(rest)[0])
		}
	}
	return names
}
