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

	"github.com/kcred/kcred/internal/storetest"
)

// TestMigrationRenewalsWithoutCertKeys runs migration 00003 on a database
// with renewals in it, both ways: the rows stay as they were, the keys to
// certificates and the three indexes go (and come back on Down exactly as
// 00001 and 00002 made them), and deleting a service user still deletes
// its certificates and renewals.
func TestMigrationRenewalsWithoutCertKeys(t *testing.T) {
	m := openMigrations(t)
	db, exec := m.DB, m.Exec

	m.To(2)
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

	m.To(3)
	v3 := schema(t, db)
	storetest.EqualLines(t, "renewals after Up", renewalRows(t, db), rows)
	// 00003 takes exactly the two keys and three indexes from 00002's schema.
	want := storetest.Without(v2, "renewals_old_cert_id", "renewals_new_cert_id", "renewals_open_old_not_after",
		"foreign key renewals (old_cert_id)", "foreign key renewals (new_cert_id)")
	storetest.EqualLines(t, "schema after Up", v3, want)
	if len(v3) != len(v2)-5 {
		t.Fatalf("Up removed %d lines of the schema, want 5", len(v2)-len(v3))
	}
	storetest.EqualLines(t, "indexes of renewals", storetest.Indexes(v3, "renewals"),
		[]string{"renewals_one_open", "renewals_open_next_action_at", "renewals_user_id", "sqlite_autoindex_renewals_1"})

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
	for _, r := range storetest.Query(t, db, `SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema
		WHERE name NOT LIKE 'goose%' ORDER BY type, name`) {
		if r[0] == "table" {
			tables = append(tables, r[1])
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", r[0], r[2], r[1], r[3]))
	}
	for _, table := range tables {
		for _, c := range storetest.Query(t, db, `SELECT name, type, "notnull", coalesce(dflt_value, 'NULL'), pk
			FROM pragma_table_xinfo(?) ORDER BY cid`, table) {
			out = append(out, fmt.Sprintf("column %s %v", table, c))
		}
		for _, k := range storetest.Query(t, db, `SELECT "from", "table", "to", on_update, on_delete, match
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
	return storetest.Lines(t, db, `SELECT * FROM renewals ORDER BY id`)
}

// checkIntegrity fails t unless SQLite finds the file and its foreign keys
// sound.
func checkIntegrity(t *testing.T, db *sql.DB) {
	t.Helper()
	if r := storetest.Query(t, db, `PRAGMA integrity_check`); len(r) != 1 || r[0][0] != "ok" {
		t.Fatalf("integrity_check: %v", r)
	}
	if r := storetest.Query(t, db, `PRAGMA foreign_key_check`); len(r) != 0 {
		t.Fatalf("foreign_key_check: %v", r)
	}
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
		return storetest.Lines(t, db, `SELECT seq, id, project, service_id, service_name, user_id, username, kind,
			old_serial, new_serial, old_not_after, new_not_after, offset_ns, create_time FROM notices ORDER BY seq`)
	}

	m.To(3)
	v3 := schema(t, db)
	exec(`INSERT INTO projects (name, create_time) VALUES ('proj', '2026-01-01T00:00:00.000000Z')`)
	exec(`INSERT INTO notifications (id, project, kind, create_time) VALUES ('n1', 'proj', 'renewed', '2026-10-01T00:00:00.000000Z')`)
	for _, n := range []struct{ id, notification any }{{"digested", "n1"}, {"pending", nil}} {
		exec(`INSERT INTO notices (id, project, service_id, service_name, user_id, username, kind, old_serial, new_serial,
				old_not_after, new_not_after, offset_ns, create_time, notification_id)
			VALUES (?1, 'proj', 's', 'kafka', 'u', ?1, 'reminder', '01', '02', '2026-12-31T00:00:00.000000Z',
				'2028-12-31T00:00:00.000000Z', 86400000000000, '2026-10-01T00:00:00.000000Z', ?2)`, n.id, n.notification)
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
			want = append(want, "index notices notices_pending CREATE INDEX notices_pending ON notices (create_time, seq)")
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

// openMigrations opens a new database with the pool Open migrates with
// (foreign keys on, BEGIN IMMEDIATE) and no migration applied.
func openMigrations(t *testing.T) *storetest.Migration {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "kcred.db")+"?"+dsnParams+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	return &storetest.Migration{T: t, DB: db, P: p, Check: func() { checkIntegrity(t, db) }}
}

// TestMigrationCurrentCertificates runs migration 00006 on a database with
// users of one and two generations and one without certificates, both
// ways: Up moves the flag of each current certificate to a row of
// current_certificates (renew_at falling back to not_after, as
// CreateCertificate stores it), leaves the certificates as they were but
// for the column, and Down puts the flags back; a user's delete takes its
// row along.
func TestMigrationCurrentCertificates(t *testing.T) {
	m := openMigrations(t)
	db, exec := m.DB, m.Exec
	const (
		certs = `SELECT id, user_id, generation, serial, subject, key_type, not_before, not_after, cert_pem,
			sealed_key, reason, ca_generation, create_time, renew_at FROM certificates ORDER BY id`
		flags    = `SELECT user_id, generation, current FROM certificates ORDER BY user_id, generation`
		currents = `SELECT user_id, generation, renew_at FROM current_certificates ORDER BY user_id`
	)
	lines := func(query string) []string { t.Helper(); return storetest.Lines(t, db, query) }

	m.To(5)
	v5 := schema(t, db)
	exec(`INSERT INTO projects (name, create_time) VALUES ('proj', '2026-01-01T00:00:00.000000Z')`)
	exec(`INSERT INTO services (id, project, name, type, create_time, update_time)
		VALUES ('s', 'proj', 'kafka', 'kafka', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`)
	for _, u := range []struct {
		id    string
		gens  int
		renew any
	}{{"u1", 2, "2026-10-01T00:00:00.000000Z"}, {"u2", 1, nil}, {"u3", 0, nil}} {
		exec(`INSERT INTO service_users (id, service_id, username, type, sealed_password, create_time)
			VALUES (?1, 's', ?1, 'normal', x'00', '2026-01-01T00:00:00.000000Z')`, u.id)
		for gen := 1; gen <= u.gens; gen++ {
			exec(`INSERT INTO certificates (id, user_id, generation, serial, key_type, not_before, not_after, cert_pem,
					sealed_key, reason, ca_generation, create_time, current, renew_at)
				VALUES (?1 || '-c' || ?2, ?1, ?2, 'serial', 'ec-p256', '2026-01-01T00:00:00.000000Z',
					'2026-12-31T00:00:00.000000Z', 'pem', x'01', 'create', 1, '2026-01-01T00:00:00.000000Z', ?2 = ?3, ?4)`,
				u.id, gen, u.gens, u.renew)
		}
	}
	rows, v5flags := lines(certs), lines(flags)

	m.To(6)
	v6 := schema(t, db)
	storetest.EqualLines(t, "certificates after Up", lines(certs), rows)
	storetest.EqualLines(t, "current certificates after Up", lines(currents),
		[]string{"u1 | 2 | 2026-10-01T00:00:00.000000Z", "u2 | 1 | 2026-12-31T00:00:00.000000Z"})
	want := storetest.Without(v5, "certificates_current_renew_at", "column certificates [current ")
	want = append(want,
		"index current_certificates current_certificates_renew_at CREATE INDEX current_certificates_renew_at ON current_certificates (renew_at, user_id, generation)",
		"column current_certificates [user_id TEXT 1 NULL 1]",
		"column current_certificates [generation INTEGER 1 NULL 0]",
		"column current_certificates [renew_at TEXT 1 NULL 0]",
		"foreign key current_certificates (user_id) references service_users (id) on update NO ACTION on delete CASCADE match NONE")
	slices.Sort(want) // the new table's lines are among the others
	storetest.EqualLines(t, "schema after Up", slices.Sorted(slices.Values(v6)), want)

	m.To(5)
	// Down adds the column back last, after renew_at.
	down := storetest.Without(v5, "column certificates [current ")
	i := slices.Index(down, "column certificates [renew_at TEXT 0 NULL 0]")
	down = slices.Insert(down, i+1, "column certificates [current INTEGER 1 0 0]")
	storetest.EqualLines(t, "schema after Down", schema(t, db), down)
	storetest.EqualLines(t, "current flags after Down", lines(flags), v5flags)

	m.To(6)
	storetest.EqualLines(t, "schema after Down and Up", schema(t, db), v6)
	exec(`DELETE FROM service_users WHERE id = 'u1'`)
	storetest.EqualLines(t, "current certificates after deleting u1", lines(currents),
		[]string{"u2 | 1 | 2026-12-31T00:00:00.000000Z"})
}
