package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/kcred/kcred"
)

const (
	certCols = `c.id, c.user_id, c.generation, c.serial, c.subject, c.key_type, c.not_before, c.not_after,
	c.cert_pem, c.sealed_key, c.reason, c.ca_generation, c.create_time, c.renew_at`
	renewalCols = `r.id, r.user_id, r.old_cert_id, r.new_cert_id, r.old_not_after, r.create_time,
	r.acknowledged_at, r.acknowledged_by, r.last_reminder_ns, r.reminders_sent, r.closed_at, r.next_action_at`
)

var (
	sqlCreateCertificate = stmt(`INSERT INTO certificates (id, user_id, generation, serial, subject, key_type,
		not_before, not_after, cert_pem, sealed_key, reason, ca_generation, create_time, renew_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	// The new certificate is current unless the user has a newer one
	// (migration 00006).
	sqlSetCurrent = stmt(`INSERT INTO current_certificates (user_id, generation, renew_at) VALUES (?, ?, ?)
		ON CONFLICT DO UPDATE SET generation = excluded.generation, renew_at = excluded.renew_at
		WHERE excluded.generation > current_certificates.generation`)
	sqlListCertificates = stmt(`SELECT ` + certCols + ` FROM certificates c WHERE c.user_id = ?
		ORDER BY c.generation DESC`)

	// Renewals have no foreign keys to certificates (migration 00003): the
	// renewal is written only when both certificates are its user's, which
	// sqlRenewalCerts tells apart from a conflict when nothing was written.
	// (The WHERE also tells SQLite that ON CONFLICT is not a join's ON.)
	sqlCreateRenewal = stmt(`INSERT INTO renewals (id, user_id, old_cert_id, new_cert_id, old_not_after,
		create_time, acknowledged_at, acknowledged_by, last_reminder_ns, reminders_sent, closed_at, next_action_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12
		WHERE EXISTS (SELECT 1 FROM certificates WHERE id = ?3 AND user_id = ?2)
			AND EXISTS (SELECT 1 FROM certificates WHERE id = ?4 AND user_id = ?2)
		ON CONFLICT DO NOTHING`)
	sqlRenewalCerts = stmt(`SELECT EXISTS (SELECT 1 FROM certificates WHERE id = ?2 AND user_id = ?1)
		AND EXISTS (SELECT 1 FROM certificates WHERE id = ?3 AND user_id = ?1)`)
	sqlFindOpenRenewal = stmt(`SELECT ` + renewalCols + ` FROM renewals r WHERE r.user_id = ? AND r.closed_at IS NULL`)
	// An open renewal without a next action is due at once (see
	// UpdateRenewal); RETURNING gives the caller what was stored.
	// An acknowledgement and a closing are never undone, so that an update
	// from a stale read (a sweep racing an acknowledgement on another
	// replica) cannot take them back.
	sqlUpdateRenewal = stmt(`UPDATE renewals SET acknowledged_at = coalesce(acknowledged_at, ?1),
		acknowledged_by = CASE WHEN acknowledged_at IS NULL THEN ?2 ELSE acknowledged_by END,
		last_reminder_ns = ?3, reminders_sent = ?4, closed_at = coalesce(closed_at, ?5),
		next_action_at = CASE WHEN coalesce(closed_at, ?5) IS NULL THEN coalesce(?6, create_time) ELSE ?6 END
		WHERE id = ?7 RETURNING next_action_at`)
)

// certDest returns the scan destinations of certCols. They accept NULL
// (a user without certificate in a left join) as zero values.
func certDest(c *kcred.Certificate) []any {
	return []any{(*nstr)(&c.ID), (*nstr)(&c.UserID), (*nint)(&c.Generation), (*nstr)(&c.Serial),
		(*nstr)(&c.Subject), (*nstr)(&c.KeyType), (*ntime)(&c.NotBefore), (*ntime)(&c.NotAfter),
		(*nstr)(&c.CertPEM), (*nbytes)(&c.SealedKey), (*nstr)(&c.Reason), (*nint)(&c.CAGeneration),
		(*ntime)(&c.CreateTime), (*ntime)(&c.RenewAt)}
}

// renewalDest returns the scan destinations of renewalCols; NULL reads as zero.
func renewalDest(r *kcred.Renewal) []any {
	return []any{(*nstr)(&r.ID), (*nstr)(&r.UserID), (*nstr)(&r.OldCertID), (*nstr)(&r.NewCertID),
		(*ntime)(&r.OldNotAfter), (*ntime)(&r.CreateTime), (*ntime)(&r.AcknowledgedAt), (*nstr)(&r.AcknowledgedBy),
		(*nint64)(&r.LastReminder), (*nint)(&r.RemindersSent), (*ntime)(&r.ClosedAt), (*ntime)(&r.NextActionAt)}
}

// CreateCertificate implements kcred.Queries. ENOTFOUND when the user does
// not exist. The certificate becomes the user's current one when no newer
// generation exists, in one transaction with the insert (q's, or its own
// outside InTx).
func (q queries) CreateCertificate(ctx context.Context, c *kcred.Certificate) error {
	if err := prepareCertificate(c); err != nil {
		return err
	}
	return q.atomic(ctx, func(q queries) error {
		n, err := q.exec(ctx, sqlCreateCertificate, c.ID, c.UserID, c.Generation, c.Serial,
			c.Subject, string(c.KeyType), timeArg(c.NotBefore), timeArg(c.NotAfter), c.CertPEM, blob(c.SealedKey),
			c.Reason, c.CAGeneration, timeArg(c.CreateTime), timeArg(c.RenewAt))
		if isForeignKey(err) {
			return kcred.Errorf(kcred.ENOTFOUND, "Service user does not exist.")
		} else if err != nil {
			return fail("create certificate", err, "")
		}
		if n == 0 {
			return kcred.Errorf(kcred.ECONFLICT, "Certificate generation %d of the service user already exists.", c.Generation)
		}
		if _, err := q.exec(ctx, sqlSetCurrent, c.UserID, c.Generation, timeArg(c.RenewAt)); err != nil {
			return fail("create certificate", err, "")
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

// ListCertificates implements kcred.Queries.
func (q queries) ListCertificates(ctx context.Context, userID string) ([]*kcred.Certificate, error) {
	rows, err := q.read(ctx, sqlListCertificates).QueryContext(ctx, userID)
	if err != nil {
		return nil, fail("list certificates", err, "")
	}
	defer rows.Close()
	out := []*kcred.Certificate{}
	for rows.Next() {
		c := &kcred.Certificate{}
		if err := rows.Scan(certDest(c)...); err != nil {
			return nil, fail("list certificates", err, "")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list certificates", err, "")
	}
	return out, nil
}

// CreateRenewal implements kcred.Queries: the partial unique index on open
// renewals makes the second one ECONFLICT. ENOTFOUND when the user does
// not exist or either certificate is not one of the user's.
func (q queries) CreateRenewal(ctx context.Context, r *kcred.Renewal) error {
	prepareRenewal(r)
	n, err := q.exec(ctx, sqlCreateRenewal, r.ID, r.UserID, r.OldCertID, r.NewCertID, timeArg(r.OldNotAfter),
		timeArg(r.CreateTime), timeArg(r.AcknowledgedAt), r.AcknowledgedBy, int64(r.LastReminder), r.RemindersSent,
		timeArg(r.ClosedAt), timeArg(r.NextActionAt))
	if isForeignKey(err) {
		return kcred.Errorf(kcred.ENOTFOUND, "Service user or a certificate of the renewal does not exist.")
	} else if err != nil {
		return fail("create renewal", err, "")
	}
	if n == 1 {
		return nil
	}
	// Nothing written: a conflict, or a certificate missing. Outside a
	// transaction the user may go meanwhile, which is ENOTFOUND too.
	var found bool
	if err := q.read(ctx, sqlRenewalCerts).QueryRowContext(ctx, r.UserID, r.OldCertID, r.NewCertID).Scan(&found); err != nil {
		return fail("create renewal", err, "")
	}
	if !found {
		return kcred.Errorf(kcred.ENOTFOUND, "Service user or a certificate of the renewal does not exist.")
	}
	return kcred.Errorf(kcred.ECONFLICT, "A renewal of the service user is already open.")
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
	err := q.read(ctx, sqlFindOpenRenewal).QueryRowContext(ctx, userID).Scan(renewalDest(r)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "The service user has no open renewal.")
	} else if err != nil {
		return nil, fail("find open renewal", err, "")
	}
	return r, nil
}

// UpdateRenewal implements kcred.Queries. An open renewal with a zero
// NextActionAt gets its CreateTime, as in CreateRenewal: due at once, so
// that a caller that forgets it costs a sweep a look rather than the
// renewal its reminders and expiry. r.NextActionAt is set to what is stored.
func (q queries) UpdateRenewal(ctx context.Context, r *kcred.Renewal) error {
	norm(&r.AcknowledgedAt, &r.ClosedAt, &r.NextActionAt)
	err := q.write(ctx, sqlUpdateRenewal).QueryRowContext(ctx, timeArg(r.AcknowledgedAt), r.AcknowledgedBy,
		int64(r.LastReminder), r.RemindersSent, timeArg(r.ClosedAt), timeArg(r.NextActionAt), r.ID).
		Scan((*ntime)(&r.NextActionAt))
	if errors.Is(err, sql.ErrNoRows) {
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
