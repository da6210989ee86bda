package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/kcred/kcred"
)

const (
	// sqlLockUsers is sqlLockUser for a batch. It locks in the order of the
	// IDs, so that replicas renewing the same users wait for each other
	// instead of deadlocking; the users deleted meanwhile are not there.
	sqlLockUsers = `SELECT FROM service_users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`
	// sqlLockProjects locks the projects of a batch's notices as their
	// foreign key did before migration 00005: a project's delete waits for
	// the batch, then deletes its notices. It returns the projects found.
	// sqlLockServices locks the batch's services the same way. A delete of
	// a project or service locks it first and its users after (the
	// cascade), so a batch locks in that order too: projects, services,
	// users. Locking the users first, as when the keys took the project's
	// lock after them, deadlocked with such a delete.
	sqlLockProjects = `SELECT name FROM projects WHERE name = ANY($1) ORDER BY name FOR KEY SHARE`
	sqlLockServices = `SELECT FROM services WHERE id = ANY($1) ORDER BY id FOR KEY SHARE`

	// sqlCreateRenewals writes a batch from one array per column, in one
	// statement: the certificates whose generation is free (and whose user
	// exists), made current as in sqlCreateCertificate, and for the
	// certificates written (w) the renewals, notices and events, in the
	// batch's order so that the seq of notices and events follows it. It
	// returns the ordinal (from 1) of each entry written, how many renewals
	// and notices were (fewer than the entries written is a conflict) and
	// how many of the entries written name an old certificate that is not
	// their user's: renewals have no foreign keys to certificates
	// (migration 00003), so this index probe per entry, which locks
	// nothing, is what keeps their references from dangling. The new
	// certificate is the one written.
	// Nothing is written when a notice's project does not exist: notices
	// have no foreign key either (00005), and sqlLockProjects, before,
	// tells the caller.
	//
	// Its cost must grow with the batch, not with the users, whatever the
	// statistics say: OFFSET 0 keeps EXISTS a probe of service_users' key
	// per row (not a hash join over every user).
	sqlCreateRenewals = `WITH b AS (
			SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::text[],
				$7::timestamptz[], $8::timestamptz[], $9::text[], $10::bytea[], $11::text[], $12::integer[],
				$13::timestamptz[], $14::timestamptz[],
				$15::text[], $16::text[], $17::timestamptz[], $18::timestamptz[], $19::timestamptz[], $20::text[],
				$21::bigint[], $22::integer[], $23::timestamptz[], $24::timestamptz[],
				$25::text[], $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[],
				$33::text[], $34::timestamptz[], $35::timestamptz[], $36::bigint[], $37::timestamptz[],
				$38::text[], $39::timestamptz[], $40::text[], $41::text[], $42::text[], $43::text[], $44::text[],
				$45::text[], $46::text[])
			WITH ORDINALITY AS b (cert_id, user_id, generation, serial, subject, key_type, not_before, not_after,
				cert_pem, sealed_key, reason, ca_generation, cert_create_time, renew_at,
				renewal_id, old_cert_id, old_not_after, renewal_create_time, acknowledged_at, acknowledged_by,
				last_reminder_ns, reminders_sent, closed_at, next_action_at,
				notice_id, project, service_id, service_name, notice_user_id, username, kind, old_serial, new_serial,
				notice_old_not_after, new_not_after, offset_ns, notice_create_time,
				event_id, event_time, actor, action, event_project, service, target, source, detail, ord)
		), c AS (
			INSERT INTO certificates (id, user_id, generation, serial, subject, key_type, not_before, not_after,
				cert_pem, sealed_key, reason, ca_generation, create_time, renew_at)
			SELECT cert_id, user_id, generation, serial, subject, key_type, not_before, not_after,
				cert_pem, sealed_key, reason, ca_generation, cert_create_time, renew_at
			FROM b WHERE EXISTS (SELECT FROM service_users u WHERE u.id = b.user_id OFFSET 0)
				AND NOT EXISTS (SELECT FROM (SELECT DISTINCT project FROM b) bp
					WHERE NOT EXISTS (SELECT FROM projects p WHERE p.name = bp.project))
			ORDER BY ord
			ON CONFLICT DO NOTHING RETURNING id, user_id, generation, renew_at
		), cur AS (
			INSERT INTO current_certificates (user_id, generation, renew_at)
			SELECT user_id, generation, renew_at FROM c
			ON CONFLICT (user_id) DO UPDATE SET generation = excluded.generation, renew_at = excluded.renew_at
			WHERE current_certificates.generation < excluded.generation
		), w AS (
			SELECT b.* FROM b JOIN c ON c.id = b.cert_id AND c.user_id = b.user_id
		), r AS (
			INSERT INTO renewals (id, user_id, old_cert_id, new_cert_id, old_not_after, create_time,
				acknowledged_at, acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at)
			SELECT renewal_id, user_id, old_cert_id, cert_id, old_not_after, renewal_create_time,
				acknowledged_at, acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at
			FROM w ORDER BY ord
			ON CONFLICT DO NOTHING RETURNING 1
		), n AS (
			INSERT INTO notices (id, project, service_id, service_name, user_id, username, kind, old_serial,
				new_serial, old_not_after, new_not_after, offset_ns, create_time)
			SELECT notice_id, project, service_id, service_name, notice_user_id, username, kind, old_serial,
				new_serial, notice_old_not_after, new_not_after, offset_ns, notice_create_time
			FROM w ORDER BY ord
			ON CONFLICT DO NOTHING RETURNING 1
		), e AS (
			INSERT INTO events (id, time, actor, action, project, service, target, source, detail)
			SELECT event_id, event_time, actor, action, event_project, service, target, source, detail
			FROM w ORDER BY ord
		)
		SELECT ord, (SELECT count(*) FROM r), (SELECT count(*) FROM n),
			(SELECT count(*) FROM w WHERE NOT EXISTS (SELECT FROM certificates o
				WHERE o.id = w.old_cert_id AND o.user_id = w.user_id OFFSET 0))
		FROM w`
)

// batcher is what sends a pgx.Batch: the pool and a transaction.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// CreateRenewals implements kcred.RenewalQueries in one round trip: a
// pgx.Batch of sqlLockProjects, sqlLockServices, sqlLockUsers and
// sqlCreateRenewals. Under READ COMMITTED the last statement's snapshot is
// taken after the others have their locks, so it sees every generation
// committed before, as CreateCertificate's does.
func (q queries) CreateRenewals(ctx context.Context, batch []*kcred.RenewalWrite) ([]bool, error) {
	users, services, projects, err := prepareRenewals(batch)
	if err != nil {
		return nil, err
	}
	written := make([]bool, len(batch))
	if len(batch) == 0 {
		return written, nil
	}
	args := renewalArrays(batch)
	err = q.atomic(ctx, func(q queries) error {
		db, ok := q.db.(batcher)
		if !ok {
			return fmt.Errorf("postgres: %T cannot send a batch", q.db)
		}
		b := &pgx.Batch{}
		b.Queue(sqlLockProjects, projects)
		b.Queue(sqlLockServices, services)
		b.Queue(sqlLockUsers, users)
		b.Queue(sqlCreateRenewals, args...)
		br := db.SendBatch(ctx, b)
		defer br.Close()
		found, err := br.Exec()
		if err != nil {
			return fail("create renewals", err, "")
		} else if found.RowsAffected() != int64(len(projects)) {
			return kcred.Errorf(kcred.ENOTFOUND, "Project of a notice does not exist.")
		}
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return fail("create renewals", err, "")
			}
		}
		rows, err := br.Query()
		if err != nil {
			return fail("create renewals", err, "")
		}
		var done, renewals, notices, strays int64
		for rows.Next() {
			var ord int64
			if err := rows.Scan(&ord, &renewals, &notices, &strays); err != nil {
				rows.Close()
				return fail("create renewals", err, "")
			}
			written[ord-1] = true
			done++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fail("create renewals", err, "")
		}
		if err := br.Close(); err != nil {
			return fail("create renewals", err, "")
		}
		if strays != 0 {
			return kcred.Errorf(kcred.ENOTFOUND, "Old certificate of a renewal does not exist or is another user's.")
		}
		if renewals != done {
			return kcred.Errorf(kcred.ECONFLICT, "A renewal of a service user of the batch is already open.")
		}
		if notices != done {
			return kcred.Errorf(kcred.ECONFLICT, "Notice already exists.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return written, nil
}

// prepareRenewals checks a batch of CreateRenewals and fills in the
// defaults of its records. It returns the users' IDs, and the distinct
// services and projects of the notices.
func prepareRenewals(batch []*kcred.RenewalWrite) (users, services, projects []string, err error) {
	seen := make(map[string]bool, len(batch))
	inServices, inProjects := map[string]bool{}, map[string]bool{}
	users = make([]string, 0, len(batch))
	for i, w := range batch {
		if w == nil || w.Certificate == nil || w.Renewal == nil || w.Notice == nil || w.Event == nil {
			return nil, nil, nil, kcred.Errorf(kcred.EINVALID, "Renewal %d of the batch lacks its certificate, renewal, notice or event.", i)
		}
		c, r := w.Certificate, w.Renewal
		if r.UserID != c.UserID || r.NewCertID != c.ID {
			return nil, nil, nil, kcred.Errorf(kcred.EINVALID, "Renewal %d of the batch does not open the renewal to its certificate.", i)
		}
		if seen[c.UserID] {
			return nil, nil, nil, kcred.Errorf(kcred.EINVALID, "A service user is renewed twice in one batch.")
		}
		seen[c.UserID] = true
		users = append(users, c.UserID)
		if !inServices[w.Notice.ServiceID] {
			inServices[w.Notice.ServiceID] = true
			services = append(services, w.Notice.ServiceID)
		}
		if !inProjects[w.Notice.Project] {
			inProjects[w.Notice.Project] = true
			projects = append(projects, w.Notice.Project)
		}
	}
	for _, w := range batch {
		if err := prepareCertificate(w.Certificate); err != nil {
			return nil, nil, nil, err
		}
		prepareRenewal(w.Renewal)
		prepareNotice(w.Notice)
		prepareEvent(w.Event)
	}
	return users, services, projects, nil
}

// renewalArrays returns the arguments of sqlCreateRenewals: one array per
// column.
func renewalArrays(batch []*kcred.RenewalWrite) []any {
	n := len(batch)
	strs := func() []string { return make([]string, n) }
	times := func() []pgtype.Timestamptz { return make([]pgtype.Timestamptz, n) }
	var (
		certID, userID, serial, subject, keyType, certPEM, reason             = strs(), strs(), strs(), strs(), strs(), strs(), strs()
		generation, caGeneration, remindersSent                               = make([]int32, n), make([]int32, n), make([]int32, n)
		notBefore, notAfter, certCreate, renewAt                              = times(), times(), times(), times()
		sealedKey                                                             = make([][]byte, n)
		renewalID, oldCertID, ackBy                                           = strs(), strs(), strs()
		oldNotAfter, renewalCreate, ackAt, closedAt, nextAction               = times(), times(), times(), times(), times()
		lastReminder, offset                                                  = make([]int64, n), make([]int64, n)
		noticeID, project, serviceID, serviceName, noticeUser, username, kind = strs(), strs(), strs(), strs(), strs(), strs(), strs()
		oldSerial, newSerial                                                  = strs(), strs()
		noticeOldNotAfter, newNotAfter, noticeCreate, eventTime               = times(), times(), times(), times()
		eventID, actor, action, eventProject, service, target, source, detail = strs(), strs(), strs(), strs(), strs(), strs(), strs(), strs()
	)
	for i, w := range batch {
		c, r, no, e := w.Certificate, w.Renewal, w.Notice, w.Event
		certID[i], userID[i], generation[i], serial[i], subject[i], keyType[i] =
			c.ID, c.UserID, int32(c.Generation), c.Serial, c.Subject, string(c.KeyType)
		notBefore[i], notAfter[i], certPEM[i], sealedKey[i], reason[i], caGeneration[i] =
			timestamptz(c.NotBefore), timestamptz(c.NotAfter), c.CertPEM, blob(c.SealedKey), c.Reason, int32(c.CAGeneration)
		certCreate[i], renewAt[i] = timestamptz(c.CreateTime), timestamptz(c.RenewAt)

		renewalID[i], oldCertID[i], oldNotAfter[i], renewalCreate[i] =
			r.ID, r.OldCertID, timestamptz(r.OldNotAfter), timestamptz(r.CreateTime)
		ackAt[i], ackBy[i], lastReminder[i], remindersSent[i] =
			timestamptz(r.AcknowledgedAt), r.AcknowledgedBy, int64(r.LastReminder), int32(r.RemindersSent)
		closedAt[i], nextAction[i] = timestamptz(r.ClosedAt), timestamptz(r.NextActionAt)

		noticeID[i], project[i], serviceID[i], serviceName[i], noticeUser[i], username[i], kind[i] =
			no.ID, no.Project, no.ServiceID, no.ServiceName, no.UserID, no.Username, no.Kind
		oldSerial[i], newSerial[i], noticeOldNotAfter[i], newNotAfter[i], offset[i], noticeCreate[i] =
			no.OldSerial, no.NewSerial, timestamptz(no.OldNotAfter), timestamptz(no.NewNotAfter), int64(no.Offset),
			timestamptz(no.CreateTime)

		eventID[i], eventTime[i], actor[i], action[i], eventProject[i] = e.ID, timestamptz(e.Time), e.Actor, e.Action, e.Project
		service[i], target[i], source[i], detail[i] = e.Service, e.Target, e.Source, e.Detail
	}
	return []any{certID, userID, generation, serial, subject, keyType, notBefore, notAfter, certPEM, sealedKey,
		reason, caGeneration, certCreate, renewAt,
		renewalID, oldCertID, oldNotAfter, renewalCreate, ackAt, ackBy, lastReminder, remindersSent, closedAt, nextAction,
		noticeID, project, serviceID, serviceName, noticeUser, username, kind, oldSerial, newSerial, noticeOldNotAfter,
		newNotAfter, offset, noticeCreate,
		eventID, eventTime, actor, action, eventProject, service, target, source, detail}
}
