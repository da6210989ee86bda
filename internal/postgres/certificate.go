package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred"
)

const (
	certCols = `c.id, c.user_id, c.generation, c.serial, c.subject, c.key_type, c.not_before, c.not_after,
	c.cert_pem, c.sealed_key, c.reason, c.ca_generation, c.create_time, c.renew_at`
	renewalCols = `r.id, r.user_id, r.old_cert_id, r.new_cert_id, r.old_not_after, r.create_time,
	r.acknowledged_at, r.acknowledged_by, r.last_reminder_ns, r.reminders_sent, r.closed_at, r.next_action_at`

	// sqlLockUser makes CreateCertificates of one user wait for each other
	// (FOR NO KEY UPDATE lets readers and key locks through), so that the
	// next statement's snapshot sees every generation committed before it.
	// It also keeps the user from being deleted before the certificate
	// commits: certificates have no foreign key (migration 00005), and the
	// user's delete deletes them.
	sqlLockUser = `SELECT FROM service_users WHERE id = $1 FOR NO KEY UPDATE`
	// The new certificate becomes current unless the user has a newer one
	// (migration 00006).
	sqlCreateCertificate = `WITH c AS (
			INSERT INTO certificates (id, user_id, generation, serial, subject, key_type, not_before, not_after,
				cert_pem, sealed_key, reason, ca_generation, create_time, renew_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT DO NOTHING RETURNING user_id, generation, renew_at
		), cur AS (
			INSERT INTO current_certificates (user_id, generation, renew_at) SELECT * FROM c
			ON CONFLICT (user_id) DO UPDATE SET generation = excluded.generation, renew_at = excluded.renew_at
			WHERE current_certificates.generation < excluded.generation
		)
		SELECT count(*) FROM c`
	sqlListCertificates = `SELECT ` + certCols + ` FROM certificates c WHERE c.user_id = $1 ORDER BY c.generation DESC`

	// Renewals have no foreign keys (migrations 00003 and 00005): the
	// renewal is written only when its user exists and both certificates
	// are the user's. The user's row is locked as a key would lock it, so
	// that the user cannot be deleted before the renewal commits; its
	// delete then deletes the renewal (the trigger of 00005).
	sqlCreateRenewal = `WITH u AS (
			SELECT FROM service_users WHERE id = $2 FOR KEY SHARE
		), certs AS (
			SELECT EXISTS (SELECT FROM u)
				AND EXISTS (SELECT FROM certificates WHERE id = $3 AND user_id = $2)
				AND EXISTS (SELECT FROM certificates WHERE id = $4 AND user_id = $2) AS found
		), r AS (
			INSERT INTO renewals (id, user_id, old_cert_id, new_cert_id, old_not_after, create_time,
				acknowledged_at, acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM certs WHERE found
			ON CONFLICT DO NOTHING RETURNING 1
		)
		SELECT found, (SELECT count(*) FROM r) FROM certs`
	// FOR UPDATE: a transaction that reads the open renewal decides on it
	// (a sweep reminding or closing it, an acknowledgement); a concurrent
	// one on another replica waits, then sees the result, so two sweeps
	// never both close one renewal.
	sqlFindOpenRenewal = `SELECT ` + renewalCols + ` FROM renewals r WHERE r.user_id = $1 AND r.closed_at IS NULL FOR UPDATE`
	// An open renewal without a next action is due at once (see
	// UpdateRenewal); RETURNING gives the caller what was stored.
	// An acknowledgement and a closing are never undone, so that an update
	// from a stale read (a sweep racing an acknowledgement on another
	// replica) cannot take them back.
	sqlUpdateRenewal = `UPDATE renewals SET acknowledged_at = coalesce(acknowledged_at, $1::timestamptz),
		acknowledged_by = CASE WHEN acknowledged_at IS NULL THEN $2 ELSE acknowledged_by END,
		last_reminder_ns = $3, reminders_sent = $4, closed_at = coalesce(closed_at, $5::timestamptz),
		next_action_at = CASE WHEN coalesce(closed_at, $5::timestamptz) IS NULL THEN coalesce($6::timestamptz, create_time) ELSE $6 END
		WHERE id = $7 RETURNING next_action_at`
)

// certDest returns the scan destinations of certCols.
func certDest(c *kcred.Certificate) []any {
	return []any{&c.ID, &c.UserID, &c.Generation, &c.Serial, &c.Subject, (*string)(&c.KeyType),
		(*ntime)(&c.NotBefore), (*ntime)(&c.NotAfter), &c.CertPEM, &c.SealedKey, &c.Reason, &c.CAGeneration,
		(*ntime)(&c.CreateTime), (*ntime)(&c.RenewAt)}
}

// renewalDest returns the scan destinations of renewalCols.
func renewalDest(r *kcred.Renewal) []any {
	return []any{&r.ID, &r.UserID, &r.OldCertID, &r.NewCertID, (*ntime)(&r.OldNotAfter), (*ntime)(&r.CreateTime),
		(*ntime)(&r.AcknowledgedAt), &r.AcknowledgedBy, (*int64)(&r.LastReminder), &r.RemindersSent,
		(*ntime)(&r.ClosedAt), (*ntime)(&r.NextActionAt)}
}

// CreateCertificate implements kcred.Queries. ENOTFOUND when the user does
// not exist. The certificate becomes the user's current one when no newer
// generation exists, in one transaction (q's, or its own on the pool) that
// holds the user's row lock until it ends, so that concurrent creations of
// different generations leave exactly the newest one current.
func (q queries) CreateCertificate(ctx context.Context, c *kcred.Certificate) error {
	if err := prepareCertificate(c); err != nil {
		return err
	}
	return q.atomic(ctx, func(q queries) error {
		if err := q.db.QueryRow(ctx, sqlLockUser, c.UserID).Scan(); noRows(err) {
			return kcred.Errorf(kcred.ENOTFOUND, "Service user does not exist.")
		} else if err != nil {
			return fail("create certificate", err, "")
		}
		var n int
		err := q.db.QueryRow(ctx, sqlCreateCertificate, c.ID, c.UserID, c.Generation, c.Serial, c.Subject,
			string(c.KeyType), timeArg(c.NotBefore), timeArg(c.NotAfter), c.CertPEM, blob(c.SealedKey), c.Reason,
			c.CAGeneration, timeArg(c.CreateTime), timeArg(c.RenewAt)).Scan(&n)
		if err != nil {
			return fail("create certificate", err, "")
		}
		if n == 0 {
			return kcred.Errorf(kcred.ECONFLICT, "Certificate generation %d of the service user already exists.", c.Generation)
		}
		return nil
	})
}

// prepareCertificate fills in what CreateCertificate defaults.
func prepareCertificate(c *kcred.Certificate) error {
	if err := mustID("certificate", c.ID); err != nil {
		return err
	}
	if c.Generation < 1 {
		return kcred.Errorf(kcred.EINVALID, "Certificate generation must be at least 1, got %d.", c.Generation)
	}
	defaultNow(&c.CreateTime)
	if c.RenewAt.IsZero() {
		c.RenewAt = c.NotAfter // no policy said earlier: due when it expires
	}
	norm(&c.CreateTime, &c.NotBefore, &c.NotAfter, &c.RenewAt)
	return nil
}

func scanCertificate(row pgx.Row) (*kcred.Certificate, error) {
	c := &kcred.Certificate{}
	return c, row.Scan(certDest(c)...)
}

// ListCertificates implements kcred.Queries.
func (q queries) ListCertificates(ctx context.Context, userID string) ([]*kcred.Certificate, error) {
	return list(q, ctx, "list certificates", scanCertificate, sqlListCertificates, userID)
}

// CreateRenewal implements kcred.Queries: the partial unique index on open
// renewals makes the second one ECONFLICT, also when two transactions race
// (the second waits for the first to commit). ENOTFOUND when the user does
// not exist or either certificate is not one of the user's.
func (q queries) CreateRenewal(ctx context.Context, r *kcred.Renewal) error {
	prepareRenewal(r)
	var found bool
	var n int64
	err := q.db.QueryRow(ctx, sqlCreateRenewal, r.ID, r.UserID, r.OldCertID, r.NewCertID, timeArg(r.OldNotAfter),
		timeArg(r.CreateTime), timeArg(r.AcknowledgedAt), r.AcknowledgedBy, int64(r.LastReminder), r.RemindersSent,
		timeArg(r.ClosedAt), timeArg(r.NextActionAt)).Scan(&found, &n)
	if err != nil {
		return fail("create renewal", err, "")
	}
	if !found {
		return kcred.Errorf(kcred.ENOTFOUND, "Service user or a certificate of the renewal does not exist.")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "A renewal of the service user is already open.")
	}
	return nil
}

// prepareRenewal fills in what CreateRenewal defaults.
func prepareRenewal(r *kcred.Renewal) {
	ensureID(&r.ID)
	defaultNow(&r.CreateTime)
	defaultNextAction(r)
	norm(&r.OldNotAfter, &r.CreateTime, &r.AcknowledgedAt, &r.ClosedAt, &r.NextActionAt)
}

// FindOpenRenewal implements kcred.Queries.
func (q queries) FindOpenRenewal(ctx context.Context, userID string) (*kcred.Renewal, error) {
	r := &kcred.Renewal{}
	err := q.db.QueryRow(ctx, sqlFindOpenRenewal, userID).Scan(renewalDest(r)...)
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "The service user has no open renewal.")
	} else if err != nil {
		return nil, fail("find open renewal", err, "")
	}
	return r, nil
}

// UpdateRenewal implements kcred.Queries. Reopening a renewal while another
// of the user is open is ECONFLICT. An open renewal with a zero NextActionAt
// gets its CreateTime, as in CreateRenewal: due at once, so that a caller
// that forgets it costs a sweep a look rather than the renewal its reminders
// and expiry. r.NextActionAt is set to what is stored.
func (q queries) UpdateRenewal(ctx context.Context, r *kcred.Renewal) error {
	norm(&r.AcknowledgedAt, &r.ClosedAt, &r.NextActionAt)
	err := q.db.QueryRow(ctx, sqlUpdateRenewal, timeArg(r.AcknowledgedAt), r.AcknowledgedBy, int64(r.LastReminder),
		r.RemindersSent, timeArg(r.ClosedAt), timeArg(r.NextActionAt), r.ID).Scan((*ntime)(&r.NextActionAt))
	if noRows(err) {
		return kcred.Errorf(kcred.ENOTFOUND, "Renewal does not exist.")
	} else if err != nil {
		return fail("update renewal", err, "A renewal of the service user is already open.")
	}
	return nil
}

// defaultNextAction makes an open renewal without a next action due at
// once: at its CreateTime. A renewal no sweep would ever look at again
// would never be reminded of nor closed.
func defaultNextAction(r *kcred.Renewal) {
	if r.Open() && r.NextActionAt.IsZero() {
		r.NextActionAt = r.CreateTime
	}
}
