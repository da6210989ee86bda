package postgres_test

import (
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"

	"github.com/kcred/kcred/internal/postgres/postgrestest"
)

// TestMigrationRenewalsWithoutCertKeys runs migration 00003 on a database
// with renewals in it, both ways: the rows stay as they were, the keys to
// certificates and the three indexes go (and come back on Down exactly as
// 00001 made them), and deleting a service user still deletes its
// certificates and renewals.
func TestMigrationRenewalsWithoutCertKeys(t *testing.T) {
	m := openMigrations(t)
	db := m.db

	m.to(2)
	v2 := schema(t, db)
	fillRenewals(m)
	rows := renewalRows(t, db)

	m.to(3)
	v3 := schema(t, db)
	equalLines(t, "renewals after Up", renewalRows(t, db), rows)
	// 00003 takes exactly the two keys and three indexes from 00002's schema.
	want := slices.DeleteFunc(slices.Clone(v2), func(line string) bool {
		for _, gone := range []string{"renewals_old_cert_id", "renewals_new_cert_id", "renewals_open_old_not_after",
			"renewals_old_cert_fk", "renewals_new_cert_fk"} {
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
		[]string{"renewals_one_open", "renewals_open_next_action_at", "renewals_pkey", "renewals_user_id"})

	deleteUser(t, db, "u1")
	rows = renewalRows(t, db)

	m.to(2)
	equalLines(t, "schema after Down", schema(t, db), v2)
	equalLines(t, "renewals after Down", renewalRows(t, db), rows)

	m.to(3)
	equalLines(t, "schema after Down and Up", schema(t, db), v3)
	equalLines(t, "renewals after Down and Up", renewalRows(t, db), rows)
	deleteUser(t, db, "u2")
}

// TestMigrationDigestedNoticesDeleted runs migration 00004 on a database
// with a pending and a digested notice, both ways: Up deletes the digested
// one (dropping the column would make it pending again) and keeps the
// other as it was, drops notification_id and the condition of
// notices_pending, and nothing else; Down brings back 00003's schema.
func TestMigrationDigestedNoticesDeleted(t *testing.T) {
	m := openMigrations(t)
	db, exec := m.db, m.exec
	notices := func() []string {
		t.Helper()
		var out []string
		for _, r := range query(t, db, `SELECT concat_ws(' | ', seq, id, project, service_id, service_name, user_id,
				username, kind, old_serial, new_serial, old_not_after, new_not_after, offset_ns, create_time)
			FROM notices ORDER BY seq`) {
			out = append(out, r[0])
		}
		return out
	}

	m.to(3)
	v3 := schema(t, db)
	exec(`INSERT INTO projects (name, create_time) VALUES ('proj', '2026-01-01Z')`)
	exec(`INSERT INTO notifications (id, project, kind, create_time) VALUES ('n1', 'proj', 'renewed', '2026-10-01Z')`)
	for _, n := range []struct{ id, notification any }{{"digested", "n1"}, {"pending", nil}} {
		exec(`INSERT INTO notices (id, project, service_id, service_name, user_id, username, kind, old_serial, new_serial,
				old_not_after, new_not_after, offset_ns, create_time, notification_id)
			VALUES ($1, 'proj', 's', 'kafka', 'u', $1, 'reminder', '01', '02', '2026-12-31Z', '2028-12-31Z',
				86400000000000, '2026-10-01Z', $2)`, n.id, n.notification)
	}
	pending := notices()[1:]

	m.to(4)
	v4 := schema(t, db)
	equalLines(t, "notices after Up", notices(), pending)
	var want []string
	for _, line := range v3 {
		switch {
		case strings.HasPrefix(line, "column notices [notification_id "):
		case strings.HasPrefix(line, "index notices notices_pending "):
			want = append(want, strings.TrimSuffix(line, " WHERE (notification_id IS NULL)"))
		default:
			want = append(want, line)
		}
	}
	equalLines(t, "schema after Up", v4, want)
	if n := query(t, db, `SELECT count(*) FROM notifications`); n[0][0] != "1" {
		t.Fatalf("Up left %s notifications, want the one there was", n[0][0])
	}

	m.to(3)
	equalLines(t, "schema after Down", schema(t, db), v3)
	equalLines(t, "notices after Down", notices(), pending)
	if r := query(t, db, `SELECT count(*) FROM notices WHERE notification_id IS NULL`); r[0][0] != "1" {
		t.Fatalf("after Down %s notices are pending, want 1", r[0][0])
	}

	m.to(4)
	equalLines(t, "schema after Down and Up", schema(t, db), v4)
	equalLines(t, "notices after Down and Up", notices(), pending)
}

// migration is a database being migrated step by step, and what tests do
// to it.
type migration struct {
	t  *testing.T
	db *sql.DB
	p  *goose.Provider
}

// openMigrations opens a schema of its own with no migration applied.
func openMigrations(t *testing.T) *migration {
	t.Helper()
	db, err := sql.Open("pgx", postgrestest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // before the schema is dropped
	// The files go:embed embeds in the store.
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	return &migration{t, db, p}
}

// to migrates up or down to version.
func (m *migration) to(version int64) {
	m.t.Helper()
	ctx := m.t.Context()
	v, err := m.p.GetDBVersion(ctx)
	if err == nil && v < version {
		_, err = m.p.UpTo(ctx, version)
	} else if err == nil && v > version {
		_, err = m.p.DownTo(ctx, version)
	}
	if err != nil {
		m.t.Fatal(err)
	}
	if v, err := m.p.GetDBVersion(ctx); err != nil || v != version {
		m.t.Fatalf("version %d, %v; want %d", v, err, version)
	}
}

func (m *migration) exec(query string, args ...any) {
	m.t.Helper()
	if _, err := m.db.ExecContext(m.t.Context(), query, args...); err != nil {
		m.t.Fatalf("%s: %v", query, err)
	}
}

// fillRenewals adds project proj with service s and users u1 and u2, each
// with two generations, an open renewal with every column set and a closed
// one.
func fillRenewals(m *migration) {
	m.t.Helper()
	exec := m.exec
	exec(`INSERT INTO projects (name, create_time) VALUES ('proj', '2026-01-01Z')`)
	exec(`INSERT INTO services (id, project, name, type, create_time, update_time)
		VALUES ('s', 'proj', 'kafka', 'kafka', '2026-01-01Z', '2026-01-01Z')`)
	for _, u := range []string{"u1", "u2"} {
		exec(`INSERT INTO service_users (id, service_id, username, type, sealed_password, create_time)
			VALUES ($1, 's', $1, 'normal', '\x00', '2026-01-01Z')`, u)
		for gen := 1; gen <= 2; gen++ {
			exec(`INSERT INTO certificates (id, user_id, generation, serial, key_type, not_before, not_after, cert_pem,
					sealed_key, reason, ca_generation, create_time, current, renew_at)
				VALUES ($1, $2, $3, 'serial', 'ec-p256', '2026-01-01Z', '2026-12-31Z', 'pem', '\x00',
					'create', 1, '2026-01-01Z', $3 = 2, '2026-10-01Z')`, fmt.Sprintf("%s-c%d", u, gen), u, gen)
		}
		// An open renewal with every column set, and a closed one.
		exec(`INSERT INTO renewals (id, user_id, old_cert_id, new_cert_id, old_not_after, create_time, acknowledged_at,
				acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at)
			VALUES ($1, $2, $3, $4, '2026-12-31Z', '2026-10-01Z', '2026-10-02Z',
				'dev@example.com', 86400000000000, 2, NULL, '2026-12-30Z')`, u+"-open", u, u+"-c1", u+"-c2")
		exec(`INSERT INTO renewals (id, user_id, old_cert_id, new_cert_id, old_not_after, create_time, closed_at)
			VALUES ($1, $2, $3, $4, '2026-06-30Z', '2026-04-01Z', '2026-06-30Z')`, u+"-closed", u, u+"-c1", u+"-c2")
	}
}

// TestMigrationParentKeysAsTriggers runs migration 00005 both ways: the
// keys of certificates and renewals to their user and of notices to their
// project go, and nothing else of the schema; deleting a user still deletes
// its certificates and renewals, and deleting a project its notices and,
// through the cascade to its services and users, theirs; Down restores
// 00004's schema.
func TestMigrationParentKeysAsTriggers(t *testing.T) {
	m := openMigrations(t)
	db := m.db
	count := func(table string) string { return query(t, db, "SELECT count(*) FROM "+table)[0][0] }

	m.to(4)
	v4 := schema(t, db)
	m.to(5)
	v5 := schema(t, db)
	want := slices.DeleteFunc(slices.Clone(v4), func(line string) bool {
		for _, gone := range []string{"certificates_user_fk", "renewals_user_fk", "notices_project_fk"} {
			if strings.Contains(line, gone) {
				return true
			}
		}
		return false
	})
	equalLines(t, "schema after Up", v5, want)
	if len(v5) != len(v4)-3 {
		t.Fatalf("Up removed %d lines of the schema, want 3", len(v4)-len(v5))
	}

	fillRenewals(m)
	m.exec(`INSERT INTO notices (id, project, kind, create_time) VALUES ('n', 'proj', 'renewed', '2026-10-01Z')`)
	deleteUser(t, db, "u1")
	m.exec(`DELETE FROM projects WHERE name = 'proj'`)
	for _, table := range []string{"service_users", "certificates", "renewals", "notices"} {
		if n := count(table); n != "0" {
			t.Errorf("deleting the project left %s rows in %s", n, table)
		}
	}

	m.to(4)
	equalLines(t, "schema after Down", schema(t, db), v4)
	m.to(5)
	equalLines(t, "schema after Down and Up", schema(t, db), v5)
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
	mine := count(`SELECT count(*) FROM renewals WHERE user_id = $1`, id)
	if _, err := db.ExecContext(t.Context(), `DELETE FROM service_users WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM certificates WHERE user_id = $1`, id); n != 0 {
		t.Errorf("%d certificates of the deleted user %s are left", n, id)
	}
	if n := count(`SELECT count(*) FROM renewals WHERE user_id = $1`, id); n != 0 {
		t.Errorf("%d renewals of the deleted user %s are left", n, id)
	}
	if n := count(`SELECT count(*) FROM certificates`); n != certs-2 {
		t.Errorf("deleting %s left %d of %d certificates, want %d", id, n, certs, certs-2)
	}
	if n := count(`SELECT count(*) FROM renewals`); mine != 2 || n != renewals-mine {
		t.Errorf("deleting %s (%d renewals) left %d of %d renewals", id, mine, n, renewals)
	}
}

// schema describes the tables of the current schema, one line each: their
// columns, constraints and indexes as PostgreSQL prints them.
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	for _, r := range query(t, db, `SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, 'NULL')
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE 'goose%'
		ORDER BY table_name, ordinal_position`) {
		out = append(out, fmt.Sprintf("column %s %v", r[0], r[1:]))
	}
	for _, r := range query(t, db, `SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
		FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
		WHERE t.relnamespace = current_schema()::regnamespace AND t.relname NOT LIKE 'goose%'
		ORDER BY 1, 2`) {
		out = append(out, fmt.Sprintf("constraint %s %s %s", r[0], r[1], r[2]))
	}
	for _, r := range query(t, db, `SELECT tablename, indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename NOT LIKE 'goose%' ORDER BY 1, 2`) {
		out = append(out, fmt.Sprintf("index %s %s %s", r[0], r[1], r[2]))
	}
	return out
}

// renewalRows returns every row of renewals, every column as text.
func renewalRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	for _, r := range query(t, db, `SELECT r::text FROM renewals r ORDER BY id`) {
		out = append(out, r[0])
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

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
