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
	"github.com/kcred/kcred/internal/storetest"
)

// TestMigrationRenewalsWithoutCertKeys runs migration 00003 on a database
// with renewals in it, both ways: the rows stay as they were, the keys to
// certificates and the three indexes go (and come back on Down exactly as
// 00001 made them), and deleting a service user still deletes its
// certificates and renewals.
func TestMigrationRenewalsWithoutCertKeys(t *testing.T) {
	m := openMigrations(t)
	db := m.DB

	m.To(2)
	v2 := schema(t, db)
	fillRenewals(m)
	rows := renewalRows(t, db)

	m.To(3)
	v3 := schema(t, db)
	storetest.EqualLines(t, "renewals after Up", renewalRows(t, db), rows)
	// 00003 takes exactly the two keys and three indexes from 00002's schema.
	want := storetest.Without(v2, "renewals_old_cert_id", "renewals_new_cert_id", "renewals_open_old_not_after",
		"renewals_old_cert_fk", "renewals_new_cert_fk")
	storetest.EqualLines(t, "schema after Up", v3, want)
	if len(v3) != len(v2)-5 {
		t.Fatalf("Up removed %d lines of the schema, want 5", len(v2)-len(v3))
	}
	storetest.EqualLines(t, "indexes of renewals", storetest.Indexes(v3, "renewals"),
		[]string{"renewals_one_open", "renewals_open_next_action_at", "renewals_pkey", "renewals_user_id"})

	deleteUser(t, db, "u1")
	rows = renewalRows(t, db)

	m.To(2)
	storetest.EqualLines(t, "schema after Down", schema(t, db), v2)
	storetest.EqualLines(t, "renewals after Down", renewalRows(t, db), rows)

	m.To(3)
	storetest.EqualLines(t, "schema after Down and Up", schema(t, db), v3)
	storetest.EqualLines(t, "renewals after Down and Up", renewalRows(t, db), rows)
	deleteUser(t, db, "u2")
}

// TestMigrationDigestedNoticesDeleted runs migration 00004 on a database
// with a pending and a digested notice, both ways: Up deletes the digested
// one (dropping the column would make it pending again) and keeps the
// other as it was, drops notification_id and the condition of
// notices_pending, and nothing else; Down brings back 00003's schema.
func TestMigrationDigestedNoticesDeleted(t *testing.T) {
	m := openMigrations(t)
	db, exec := m.DB, m.Exec
	notices := func() []string {
		t.Helper()
		var out []string
		for _, r := range storetest.Query(t, db, `SELECT concat_ws(' | ', seq, id, project, service_id, service_name, user_id,
				username, kind, old_serial, new_serial, old_not_after, new_not_after, offset_ns, create_time)
			FROM notices ORDER BY seq`) {
			out = append(out, r[0])
		}
		return out
	}

	m.To(3)
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

	m.To(4)
	v4 := schema(t, db)
	storetest.EqualLines(t, "notices after Up", notices(), pending)
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
	storetest.EqualLines(t, "schema after Up", v4, want)
	if n := storetest.Query(t, db, `SELECT count(*) FROM notifications`); n[0][0] != "1" {
		t.Fatalf("Up left %s notifications, want the one there was", n[0][0])
	}

	m.To(3)
	storetest.EqualLines(t, "schema after Down", schema(t, db), v3)
	storetest.EqualLines(t, "notices after Down", notices(), pending)
	if r := storetest.Query(t, db, `SELECT count(*) FROM notices WHERE notification_id IS NULL`); r[0][0] != "1" {
		t.Fatalf("after Down %s notices are pending, want 1", r[0][0])
	}

	m.To(4)
	storetest.EqualLines(t, "schema after Down and Up", schema(t, db), v4)
	storetest.EqualLines(t, "notices after Down and Up", notices(), pending)
}

// openMigrations opens a schema of its own with no migration applied.
func openMigrations(t *testing.T) *storetest.Migration {
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
	return &storetest.Migration{T: t, DB: db, P: p}
}

// fillRenewals adds project proj with service s and users u1 and u2, each
// with two generations, an open renewal with every column set and a closed
// one.
func fillRenewals(m *storetest.Migration) {
	m.T.Helper()
	exec := m.Exec
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
	db := m.DB
	count := func(table string) string { return storetest.Query(t, db, "SELECT count(*) FROM "+table)[0][0] }

	m.To(4)
	v4 := schema(t, db)
	m.To(5)
	v5 := schema(t, db)
	want := storetest.Without(v4, "certificates_user_fk", "renewals_user_fk", "notices_project_fk")
	storetest.EqualLines(t, "schema after Up", v5, want)
	if len(v5) != len(v4)-3 {
		t.Fatalf("Up removed %d lines of the schema, want 3", len(v4)-len(v5))
	}

	fillRenewals(m)
	m.Exec(`INSERT INTO notices (id, project, kind, create_time) VALUES ('n', 'proj', 'renewed', '2026-10-01Z')`)
	deleteUser(t, db, "u1")
	m.Exec(`DELETE FROM projects WHERE name = 'proj'`)
	for _, table := range []string{"service_users", "certificates", "renewals", "notices"} {
		if n := count(table); n != "0" {
			t.Errorf("deleting the project left %s rows in %s", n, table)
		}
	}

	m.To(4)
	storetest.EqualLines(t, "schema after Down", schema(t, db), v4)
	m.To(5)
	storetest.EqualLines(t, "schema after Down and Up", schema(t, db), v5)
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
	for _, r := range storetest.Query(t, db, `SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, 'NULL')
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE 'goose%'
		ORDER BY table_name, ordinal_position`) {
		out = append(out, fmt.Sprintf("column %s %v", r[0], r[1:]))
	}
	for _, r := range storetest.Query(t, db, `SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
		FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
		WHERE t.relnamespace = current_schema()::regnamespace AND t.relname NOT LIKE 'goose%'
		ORDER BY 1, 2`) {
		out = append(out, fmt.Sprintf("constraint %s %s %s", r[0], r[1], r[2]))
	}
	for _, r := range storetest.Query(t, db, `SELECT tablename, indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename NOT LIKE 'goose%' ORDER BY 1, 2`) {
		out = append(out, fmt.Sprintf("index %s %s %s", r[0], r[1], r[2]))
	}
	return out
}

// renewalRows returns every row of renewals, every column as text.
func renewalRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	for _, r := range storetest.Query(t, db, `SELECT r::text FROM renewals r ORDER BY id`) {
		out = append(out, r[0])
	}
	return out
}

// TestMigrationCurrentCertificates runs migration 00006 both ways on
// fillRenewals' users, each with two generations, and a user without
// certificates: Up moves the flag of each current certificate to a row of
// current_certificates and leaves the certificates as they were but for
// the column; a user's delete takes its row along (the trigger); Down puts
// the flags back and 00005's schema, but for the column's place.
func TestMigrationCurrentCertificates(t *testing.T) {
	m := openMigrations(t)
	db := m.DB
	lines := func(query string) []string { t.Helper(); return storetest.Lines(t, db, query) }
	const (
		certs = `SELECT id, user_id, generation, serial, subject, key_type, not_before, not_after, cert_pem,
			sealed_key, reason, ca_generation, create_time, renew_at FROM certificates ORDER BY id`
		flags    = `SELECT user_id, generation, current FROM certificates ORDER BY user_id, generation`
		currents = `SELECT user_id, generation, renew_at FROM current_certificates ORDER BY user_id`
	)

	m.To(5)
	v5 := schema(t, db)
	fillRenewals(m)
	m.Exec(`INSERT INTO service_users (id, service_id, username, type, sealed_password, create_time)
		VALUES ('u3', 's', 'u3', 'normal', '\x00', '2026-01-01Z')`)
	rows, v5flags := lines(certs), lines(flags)

	m.To(6)
	v6 := schema(t, db)
	storetest.EqualLines(t, "certificates after Up", lines(certs), rows)
	renewAt := storetest.Query(t, db, `SELECT renew_at FROM certificates WHERE id = 'u1-c2'`)[0][0]
	storetest.EqualLines(t, "current certificates after Up", lines(currents),
		[]string{"u1 | 2 | " + renewAt, "u2 | 2 | " + renewAt})
	want := append(storetest.Without(v5, "certificates_current_renew_at", "column certificates [current "),
		"column current_certificates [user_id text NO NULL]",
		"column current_certificates [generation integer NO NULL]",
		"column current_certificates [renew_at timestamp with time zone NO NULL]",
		"constraint current_certificates current_certificates_pkey PRIMARY KEY (user_id)",
		"index current_certificates current_certificates_pkey CREATE UNIQUE INDEX current_certificates_pkey ON "+
			schemaName(t, db)+".current_certificates USING btree (user_id)",
		"index current_certificates current_certificates_renew_at CREATE INDEX current_certificates_renew_at ON "+
			schemaName(t, db)+".current_certificates USING btree (renew_at, user_id)")
	slices.Sort(want)
	storetest.EqualLines(t, "schema after Up", slices.Sorted(slices.Values(v6)), want)
	deleteUser(t, db, "u1")
	storetest.EqualLines(t, "current certificates after deleting u1", lines(currents), []string{"u2 | 2 | " + renewAt})

	m.To(5)
	// Down adds the column back last, after renew_at.
	down := storetest.Without(v5, "column certificates [current ")
	i := slices.Index(down, "column certificates [renew_at timestamp with time zone NO NULL]")
	down = slices.Insert(down, i+1, "column certificates [current boolean NO false]")
	storetest.EqualLines(t, "schema after Down", schema(t, db), down)
	storetest.EqualLines(t, "current flags after Down", lines(flags), storetest.Without(v5flags, "u1 | "))

	m.To(6)
	storetest.EqualLines(t, "schema after Down and Up", schema(t, db), v6)
	deleteUser(t, db, "u2")
	storetest.EqualLines(t, "current certificates after deleting u2", lines(currents), nil)
}

// schemaName returns the schema db works in, as index definitions name it.
func schemaName(t *testing.T, db *sql.DB) string {
	t.Helper()
	return storetest.Query(t, db, `SELECT current_schema()`)[0][0]
}
