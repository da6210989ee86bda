package sqlite

import (
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
)

// TestMigrationRenewalsWithoutCertKeys runs migration 00003 on a database
// with renewals in it, both ways: the rows stay as they were, the keys to
// certificates and the three indexes go (and come back on Down exactly as
// 00001 and 00002 made them), and deleting a service user still deletes
// its certificates and renewals.
func TestMigrationRenewalsWithoutCertKeys(t *testing.T) {
	ctx := t.Context()
	// The pool Open migrates with: foreign keys on, BEGIN IMMEDIATE.
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "kcred.db")+"?"+dsnParams+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	migrate := func(fn func() ([]*goose.MigrationResult, error), want int64) {
		t.Helper()
		if _, err := fn(); err != nil {
			t.Fatal(err)
		}
		if v, err := p.GetDBVersion(ctx); err != nil || v != want {
			t.Fatalf("version %d, %v; want %d", v, err, want)
		}
		checkIntegrity(t, db)
	}

	migrate(func() ([]*goose.MigrationResult, error) { return p.UpTo(ctx, 2) }, 2)
	v2 := schema(t, db)
	exec(`INSERT INTO projects (name, create_time) VALUES ('proj', '2026-01-01T00:00:00.000000Z')`)
	exec(`INSERT INTO services (id, project, name, type, create_time, update_time)
		VALUES ('s', 'proj', 'kafka', 'kafka', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`)
	for _, u := range []string{"u1", "u2"} {
		exec(`INSERT INTO service_users (id, service_id, username, type, sealed_password, create_time)
			VALUES (?1, 's', ?1, 'normal', x'00', '2026-01-01T00:00:00.000000Z')`, u)
		for gen := 1; gen <= 2; gen++ {
			exec(`INSERT INTO certificates (id, user_id, generation, serial, key_type, not_before, not_after, cert_pem,
					sealed_key, reason, ca_generation, create_time, current, renew_at)
				VALUES (?1 || '-c' || ?2, ?1, ?2, 'serial', 'ec-p256', '2026-01-01T00:00:00.000000Z',
					'2026-12-31T00:00:00.000000Z', 'pem', x'00', 'create', 1, '2026-01-01T00:00:00.000000Z', ?2 = 2,
					'2026-10-01T00:00:00.000000Z')`, u, gen)
		}
		// An open renewal with every column set, and a closed one.
		exec(`INSERT INTO renewals (id, user_id, old_cert_id, new_cert_id, old_not_after, create_time, acknowledged_at,
				acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at)
			VALUES (?1 || '-open', ?1, ?1 || '-c1', ?1 || '-c2', '2026-12-31T00:00:00.000000Z', '2026-10-01T00:00:00.000000Z',
				'2026-10-02T00:00:00.000000Z', 'dev@example.com', 86400000000000, 2, NULL, '2026-12-30T00:00:00.000000Z')`, u)
		exec(`INSERT INTO renewals (id, user_id, old_cert_id, new_cert_id, old_not_after, create_time, closed_at)
			VALUES (?1 || '-closed', ?1, ?1 || '-c1', ?1 || '-c2', '2026-06-30T00:00:00.000000Z', '2026-04-01T00:00:00.000000Z',
				'2026-06-30T00:00:00.000000Z')`, u)
	}
	rows := renewalRows(t, db)

	migrate(func() ([]*goose.MigrationResult, error) { return p.UpTo(ctx, 3) }, 3)
	v3 := schema(t, db)
	equalLines(t, "renewals after Up", renewalRows(t, db), rows)
	// 00003 takes exactly the two keys and three indexes from 00002's schema.
	want := slices.DeleteFunc(slices.Clone(v2), func(line string) bool {
		for _, gone := range []string{"renewals_old_cert_id", "renewals_new_cert_id", "renewals_open_old_not_after",
			"foreign key renewals (old_cert_id)", "foreign key renewals (new_cert_id)"} {
			if strings.Contains(line, gone) {
				return true
			}
		}
		return false
	})
	equalLines(t, "schema after Up", v3, want)
	if len(v3) != len(v2)-5 {
		t.Fatalf("Up removed %d lines of the schema, want 5", len(v2)-len(v3))
	}
	var indexes []string
	for _, line := range v3 {
		if name, ok := strings.CutPrefix(line, "index renewals "); ok {
			indexes = append(indexes, strings.Fields(name)[0])
		}
	}
	equalLines(t, "indexes of renewals", indexes,
		[]string{"renewals_one_open", "renewals_open_next_action_at", "renewals_user_id", "sqlite_autoindex_renewals_1"})

	deleteUser(t, db, "u1")
	rows = renewalRows(t, db)

	migrate(func() ([]*goose.MigrationResult, error) { return p.DownTo(ctx, 2) }, 2)
	equalLines(t, "schema after Down", schema(t, db), v2)
	equalLines(t, "renewals after Down", renewalRows(t, db), rows)

	migrate(func() ([]*goose.MigrationResult, error) { return p.UpTo(ctx, 3) }, 3)
	equalLines(t, "schema after Down and Up", schema(t, db), v3)
	equalLines(t, "renewals after Down and Up", renewalRows(t, db), rows)
	deleteUser(t, db, "u2")
}

// deleteUser deletes a service user and checks that its certificates and
// renewals went with it, and nothing else.
func deleteUser(t *testing.T, db *sql.DB, id string) {
	t.Helper()
	count := func(query string, args ...any) (n int) {
		t.Helper()
		if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	certs, renewals := count(`SELECT count(*) FROM certificates`), count(`SELECT count(*) FROM renewals`)
	mine := count(`SELECT count(*) FROM renewals WHERE user_id = ?`, id)
	if _, err := db.ExecContext(t.Context(), `DELETE FROM service_users WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM certificates WHERE user_id = ?`, id); n != 0 {
		t.Errorf("%d certificates of the deleted user %s are left", n, id)
	}
	if n := count(`SELECT count(*) FROM renewals WHERE user_id = ?`, id); n != 0 {
		t.Errorf("%d renewals of the deleted user %s are left", n, id)
	}
	if n := count(`SELECT count(*) FROM certificates`); n != certs-2 {
		t.Errorf("deleting %s left %d of %d certificates, want %d", id, n, certs, certs-2)
	}
	if n := count(`SELECT count(*) FROM renewals`); mine != 2 || n != renewals-mine {
		t.Errorf("deleting %s (%d renewals) left %d of %d renewals", id, mine, n, renewals)
	}
}

// schema describes every table, index and trigger of db, one line each:
// the SQL of indexes and triggers, and of tables their columns and foreign
// keys as SQLite reads them (a rebuilt table's text differs from 00001's).
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	var tables []string
	for _, r := range query(t, db, `SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema
		WHERE name NOT LIKE 'goose%' ORDER BY type, name`) {
		if r[0] == "table" {
			tables = append(tables, r[1])
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", r[0], r[2], r[1], r[3]))
	}
	for _, table := range tables {
		for _, c := range query(t, db, `SELECT name, type, "notnull", coalesce(dflt_value, 'NULL'), pk
			FROM pragma_table_xinfo(?) ORDER BY cid`, table) {
			out = append(out, fmt.Sprintf("column %s %v", table, c))
		}
		for _, k := range query(t, db, `SELECT "from", "table", "to", on_update, on_delete, match
			FROM pragma_foreign_key_list(?) ORDER BY "from"`, table) {
			out = append(out, fmt.Sprintf("foreign key %s (%s) references %s (%s) on update %s on delete %s match %s",
				table, k[0], k[1], k[2], k[3], k[4], k[5]))
		}
	}
	return out
}

// renewalRows returns every row of renewals, every column as text.
func renewalRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	for _, r := range query(t, db, `SELECT * FROM renewals ORDER BY id`) {
		out = append(out, strings.Join(r, " | "))
	}
	return out
}

// query returns the rows of a query, each column as text (NULL as "NULL").
func query(t *testing.T, db *sql.DB, q string, args ...any) [][]string {
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

// checkIntegrity fails t unless SQLite finds the file and its foreign keys
// sound.
func checkIntegrity(t *testing.T, db *sql.DB) {
	t.Helper()
	if r := query(t, db, `PRAGMA integrity_check`); len(r) != 1 || r[0][0] != "ok" {
		t.Fatalf("integrity_check: %v", r)
	}
	if r := query(t, db, `PRAGMA foreign_key_check`); len(r) != 0 {
		t.Fatalf("foreign_key_check: %v", r)
	}
}

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
