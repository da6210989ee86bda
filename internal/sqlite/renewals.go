package sqlite

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/kcred/kcred"
)

// maxRows is the most rows one multi-row INSERT of CreateRenewals writes
// (64 certificates are 960 variables, far below SQLite's limit of 32,766).
// A statement's overhead (database/sql, the driver, the VDBE's start) is
// paid once for 64 rows instead of 64 times. More rows gain nothing: a
// statement that writes several rows in a transaction keeps a statement
// journal (a copy of every page it changes, which a failing foreign key
// would restore), and making and freeing a larger one costs as much as it
// saves. In BenchmarkCreateRenewals at 20,000 users 64 and 256 rows cost
// the same; with random IDs, under load, 256 cost a quarter more.
const maxRows = 64

// multiRow holds the statement numbers of one multi-row INSERT by its
// number of rows: the powers of two up to maxRows, so that any number of
// rows takes few statements and every one is prepared once, in Open.
type multiRow map[int]int

// newMultiRow registers head + n rows of row + tail for each size.
func newMultiRow(head, row, tail string) multiRow {
	m := multiRow{}
	for n := 1; n <= maxRows; n *= 2 {
		m[n] = wstmt(head + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + tail)
	}
	return m
}

// chunks calls fn for consecutive chunks [lo, hi) of n rows: full chunks of
// maxRows, then the rest in falling powers of two.
func chunks(n int, fn func(lo, hi int) error) error {
	lo := 0
	for size := maxRows; size >= 1; size /= 2 {
		for n-lo >= size {
			if err := fn(lo, lo+size); err != nil {
				return err
			}
			lo += size
		}
	}
	return nil
}

var (
	// sqlRenewalUsers returns the users of a JSON array of [user ID, old
	// certificate ID] that exist, and whether the old certificate is
	// theirs. Renewals have no foreign keys to certificates (migration
	// 00003): the check of the old certificate, one seek of the
	// certificates' primary key, keeps their references from dangling; the
	// new certificate is the one the batch writes. CROSS JOIN keeps the
	// array the outer loop: one seek of service_users per entry.
	sqlRenewalUsers = wstmt(`SELECT u.id, EXISTS (SELECT 1 FROM certificates o WHERE o.id = json_each.value ->> 1 AND o.user_id = u.id)
		FROM json_each(?) CROSS JOIN service_users u ON u.id = json_each.value ->> 0`)
	// RETURNING tells which rows were written; a user is in a batch once.
	sqlCreateCertificates = newMultiRow(`INSERT INTO certificates (id, user_id, generation, serial, subject, key_type,
		not_before, not_after, cert_pem, sealed_key, reason, ca_generation, create_time, renew_at) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ` ON CONFLICT DO NOTHING RETURNING user_id`)
	// sqlSetCurrents is sqlSetCurrent for many certificates.
	sqlSetCurrents = newMultiRow(`INSERT INTO current_certificates (user_id, generation, renew_at) VALUES `,
		`(?, ?, ?)`, ` ON CONFLICT DO UPDATE SET generation = excluded.generation, renew_at = excluded.renew_at
		WHERE excluded.generation > current_certificates.generation`)
	sqlCreateRenewals = newMultiRow(`INSERT INTO renewals (id, user_id, old_cert_id, new_cert_id, old_not_after,
		create_time, acknowledged_at, acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ` ON CONFLICT DO NOTHING`)
	sqlCreateNotices = newMultiRow(`INSERT INTO notices (`+noticeCols+`) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ` ON CONFLICT DO NOTHING`)
)

// CreateRenewals implements kcred.RenewalQueries with multi-row statements:
// one read of the users, then per table one INSERT (or, for
// current_certificates, upsert) of up to maxRows rows at a time. The single
// write connection keeps other writers out meanwhile, so the users read
// first are the users written.
func (q queries) CreateRenewals(ctx context.Context, batch []*kcred.RenewalWrite) ([]bool, error) {
	users, err := prepareRenewals(batch)
	if err != nil {
		return nil, err
	}
	written := make([]bool, len(batch))
	if len(batch) == 0 {
		return written, nil
	}
	err = q.atomic(ctx, func(q queries) error {
		found, err := q.renewalUsers(ctx, users)
		if err != nil {
			return err
		}
		todo := make([]*kcred.RenewalWrite, 0, len(batch))
		for _, w := range batch {
			if _, ok := found[w.Certificate.UserID]; ok { // else deleted meanwhile
				todo = append(todo, w)
			}
		}
		inserted, err := q.createCertificates(ctx, todo)
		if err != nil {
			return err
		}
		// From here only what was written: the generation was free.
		done := todo[:0]
		for _, w := range todo {
			if inserted[w.Certificate.UserID] {
				if !found[w.Certificate.UserID] {
					return kcred.Errorf(kcred.ENOTFOUND, "Old certificate of a renewal does not exist or is another user's.")
				}
				done = append(done, w)
			}
		}
		if err := q.setCurrents(ctx, done); err != nil {
			return err
		}
		if err := q.createRenewalRows(ctx, done); err != nil {
			return err
		}
		for i, w := range batch {
			written[i] = inserted[w.Certificate.UserID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return written, nil
}

// prepareRenewals checks a batch of CreateRenewals and fills in the
// defaults of its records. It returns the users' IDs with their old
// certificates' as a JSON array of pairs, the argument of sqlRenewalUsers.
func prepareRenewals(batch []*kcred.RenewalWrite) (string, error) {
	seen := make(map[string]bool, len(batch))
	ids := make([][2]string, 0, len(batch))
	for i, w := range batch {
		if w == nil || w.Certificate == nil || w.Renewal == nil || w.Notice == nil || w.Event == nil {
			return "", kcred.Errorf(kcred.EINVALID, "Renewal %d of the batch lacks its certificate, renewal, notice or event.", i)
		}
		c, r := w.Certificate, w.Renewal
		if r.UserID != c.UserID || r.NewCertID != c.ID {
			return "", kcred.Errorf(kcred.EINVALID, "Renewal %d of the batch does not open the renewal to its certificate.", i)
		}
		if seen[c.UserID] {
			return "", kcred.Errorf(kcred.EINVALID, "A service user is renewed twice in one batch.")
		}
		seen[c.UserID] = true
		ids = append(ids, [2]string{c.UserID, r.OldCertID})
	}
	for _, w := range batch {
		if err := prepareCertificate(w.Certificate); err != nil {
			return "", err
		}
		prepareRenewal(w.Renewal)
		prepareNotice(w.Notice)
		prepareEvent(w.Event)
	}
	b, err := json.Marshal(ids)
	return string(b), err
}

// renewalUsers returns the users of the JSON array ids (see
// prepareRenewals) that exist, and for each whether the old certificate of
// its renewal is its own.
func (q queries) renewalUsers(ctx context.Context, ids string) (map[string]bool, error) {
	rows, err := q.write(ctx, sqlRenewalUsers).QueryContext(ctx, ids)
	if err != nil {
		return nil, fail("create renewals", err, "")
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		var oldCert bool
		if err := rows.Scan(&id, &oldCert); err != nil {
			return nil, fail("create renewals", err, "")
		}
		out[id] = oldCert
	}
	if err := rows.Err(); err != nil {
		return nil, fail("create renewals", err, "")
	}
	return out, nil
}

// createCertificates inserts the certificates of todo and returns the
// users whose certificate was written: the others' generation (or ID) was
// taken.
func (q queries) createCertificates(ctx context.Context, todo []*kcred.RenewalWrite) (map[string]bool, error) {
	inserted := make(map[string]bool, len(todo))
	args := make([]any, 0, 14*min(len(todo), maxRows))
	err := chunks(len(todo), func(lo, hi int) error {
		args = args[:0]
		for _, w := range todo[lo:hi] {
			c := w.Certificate
			args = append(args, c.ID, c.UserID, c.Generation, c.Serial, c.Subject, string(c.KeyType),
				timeArg(c.NotBefore), timeArg(c.NotAfter), c.CertPEM, blob(c.SealedKey), c.Reason, c.CAGeneration,
				timeArg(c.CreateTime), timeArg(c.RenewAt))
		}
		rows, err := q.write(ctx, sqlCreateCertificates[hi-lo]).QueryContext(ctx, args...)
		if err != nil {
			return fail("create renewals", err, "")
		}
		defer rows.Close()
		for rows.Next() {
			var user string
			if err := rows.Scan(&user); err != nil {
				return fail("create renewals", err, "")
			}
			inserted[user] = true
		}
		if err := rows.Err(); err != nil {
			return fail("create renewals", err, "")
		}
		return nil
	})
	return inserted, err
}

// setCurrents makes the certificates of done their users' current ones,
// unless a user has a newer generation.
func (q queries) setCurrents(ctx context.Context, done []*kcred.RenewalWrite) error {
	args := make([]any, 0, 3*min(len(done), maxRows))
	return chunks(len(done), func(lo, hi int) error {
		args = args[:0]
		for _, w := range done[lo:hi] {
			c := w.Certificate
			args = append(args, c.UserID, c.Generation, timeArg(c.RenewAt))
		}
		if _, err := q.exec(ctx, sqlSetCurrents[hi-lo], args...); err != nil {
			return fail("create renewals", err, "")
		}
		return nil
	})
}

// createRenewalRows inserts the renewals, notices and events of done.
func (q queries) createRenewalRows(ctx context.Context, done []*kcred.RenewalWrite) error {
	args := make([]any, 0, 13*min(len(done), maxRows))
	return chunks(len(done), func(lo, hi int) error {
		args = args[:0]
		for _, w := range done[lo:hi] {
			r := w.Renewal
			args = append(args, r.ID, r.UserID, r.OldCertID, r.NewCertID, timeArg(r.OldNotAfter), timeArg(r.CreateTime),
				timeArg(r.AcknowledgedAt), r.AcknowledgedBy, int64(r.LastReminder), r.RemindersSent, timeArg(r.ClosedAt),
				timeArg(r.NextActionAt))
		}
		n, err := q.exec(ctx, sqlCreateRenewals[hi-lo], args...)
		if isForeignKey(err) { // only user_id, whose users were read in this transaction
			return kcred.Errorf(kcred.ENOTFOUND, "Service user of a renewal does not exist.")
		} else if err != nil {
			return fail("create renewals", err, "")
		} else if n != int64(hi-lo) {
			return kcred.Errorf(kcred.ECONFLICT, "A renewal of a service user of the batch is already open.")
		}

		args = args[:0]
		for _, w := range done[lo:hi] {
			n := w.Notice
			args = append(args, n.ID, n.Project, n.ServiceID, n.ServiceName, n.UserID, n.Username, n.Kind, n.OldSerial,
				n.NewSerial, timeArg(n.OldNotAfter), timeArg(n.NewNotAfter), int64(n.Offset), timeArg(n.CreateTime))
		}
		n, err = q.exec(ctx, sqlCreateNotices[hi-lo], args...)
		if isForeignKey(err) {
			return kcred.Errorf(kcred.ENOTFOUND, "Project of a notice does not exist.")
		} else if err != nil {
			return fail("create renewals", err, "")
		} else if n != int64(hi-lo) {
			return kcred.Errorf(kcred.ECONFLICT, "Notice already exists.")
		}

		args = args[:0]
		for _, w := range done[lo:hi] {
			args = eventArgs(args, w.Event)
		}
		if _, err := q.exec(ctx, sqlCreateEvents[hi-lo], args...); err != nil {
			return fail("create renewals", err, "")
		}
		return nil
	})
}
