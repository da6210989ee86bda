package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kcred/kcred"
)

// dueRenewalFrom joins open renewals with the names and serials notices
// need. A renewal's certificates are its user's (checked when it is
// written) and go only with the user, which takes the renewal along, so
// inner joins lose nothing.
const dueRenewalFrom = `SELECT ` + renewalCols + `, u.username, u.service_id, s.name, s.project,
		oc.serial, nc.serial, nc.not_after
	FROM renewals r
	JOIN service_users u ON u.id = r.user_id
	JOIN services s ON s.id = u.service_id
	JOIN certificates oc ON oc.id = r.old_cert_id
	JOIN certificates nc ON nc.id = r.new_cert_id`

// candidateCols are userCols and certCols without the secrets and the PEM,
// which a sweep does not need: reading them was half the cost of listing.
// The certificate's renew_at is read from current_certificates, where the
// key of ListRenewalCandidates is.
var candidateCols = strings.NewReplacer("u.sealed_password", "NULL", "c.cert_pem", "NULL", "c.sealed_key", "NULL",
	"c.renew_at", "cc.renew_at").Replace(userCols + ", " + certCols)

var (
	// The index current_certificates_renew_at gives the due users in
	// order, from the key after on (a row value: one seek); the partial
	// unique index renewals_one_open answers NOT EXISTS with one seek. Its
	// condition (closed_at IS NULL) must stay as it is written in the
	// migration for SQLite to use it.
	sqlListRenewalCandidates = stmt(`SELECT ` + candidateCols + `, s.project, s.name
		FROM current_certificates cc
		JOIN certificates c ON c.user_id = cc.user_id AND c.generation = cc.generation
		JOIN service_users u ON u.id = cc.user_id
		JOIN services s ON s.id = u.service_id
		WHERE cc.renew_at <= ?1 AND (cc.renew_at, cc.user_id) > (?2, ?3)
			AND NOT EXISTS (SELECT 1 FROM renewals r WHERE r.user_id = cc.user_id AND r.closed_at IS NULL)
		ORDER BY cc.renew_at, cc.user_id LIMIT ?4`)
	// Whole seconds move by the modifier; the stored ".ffffffZ" stays. The
	// certificates first, then their copy of renew_at in
	// current_certificates.
	sqlSetRenewBefore = stmt(`UPDATE certificates SET renew_at = strftime('%Y-%m-%dT%H:%M:%S', not_after, ?) || substr(not_after, 20)
		FROM current_certificates cc
		WHERE cc.user_id = certificates.user_id AND cc.generation = certificates.generation
			AND cc.user_id IN (SELECT u.id FROM service_users u JOIN services s ON s.id = u.service_id WHERE s.project = ?)`)
	sqlCopyRenewAt = stmt(`UPDATE current_certificates SET renew_at = c.renew_at
		FROM certificates c
		WHERE c.user_id = current_certificates.user_id AND c.generation = current_certificates.generation
			AND current_certificates.user_id IN (SELECT u.id FROM service_users u JOIN services s ON s.id = u.service_id WHERE s.project = ?)`)
	sqlListDueRenewals = stmt(dueRenewalFrom + ` WHERE r.closed_at IS NULL AND r.next_action_at <= ?
		ORDER BY r.next_action_at LIMIT ?`)
	// Through the project's services and users: O(users of the project).
	sqlListOpenRenewals = stmt(dueRenewalFrom + ` WHERE s.project = ? AND r.closed_at IS NULL
		ORDER BY r.old_not_after, r.id`)
)

// noLimit turns a limit of 0 or less into SQLite's "no limit", as ListEvents does.
func noLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// ListRenewalCandidates implements kcred.RenewalQueries: one query, whose
// cost grows with the certificates returned. A limit of 0 or less means no
// limit.
func (q queries) ListRenewalCandidates(ctx context.Context, horizon time.Time, after kcred.CandidateKey, limit int) ([]*kcred.DueCertificate, error) {
	afterRenewAt := "" // before every stored time; timeArg makes the zero time NULL
	if !after.RenewAt.IsZero() {
		afterRenewAt = timeArg(after.RenewAt).(string)
	}
	rows, err := q.read(ctx, sqlListRenewalCandidates).QueryContext(ctx, timeArg(kcred.UTC(horizon)),
		afterRenewAt, after.UserID, noLimit(limit))
	if err != nil {
		return nil, fail("list renewal candidates", err, "")
	}
	defer rows.Close()
	out := []*kcred.DueCertificate{}
	for rows.Next() {
		d := &kcred.DueCertificate{}
		dest := append(userDest(&d.User), certDest(&d.Current)...)
		if err := rows.Scan(append(dest, &d.Project, &d.ServiceName)...); err != nil {
			return nil, fail("list renewal candidates", err, "")
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list renewal candidates", err, "")
	}
	return out, nil
}

// ListDueRenewals implements kcred.RenewalQueries. A limit of 0 or less
// means no limit.
func (q queries) ListDueRenewals(ctx context.Context, now time.Time, limit int) ([]*kcred.DueRenewal, error) {
	return q.listDueRenewals(ctx, "list due renewals", sqlListDueRenewals, timeArg(kcred.UTC(now)), noLimit(limit))
}

// ListOpenRenewals implements kcred.RenewalQueries.
func (q queries) ListOpenRenewals(ctx context.Context, project string) ([]*kcred.DueRenewal, error) {
	return q.listDueRenewals(ctx, "list open renewals", sqlListOpenRenewals, project)
}

func (q queries) listDueRenewals(ctx context.Context, op string, n int, args ...any) ([]*kcred.DueRenewal, error) {
	rows, err := q.read(ctx, n).QueryContext(ctx, args...)
	if err != nil {
		return nil, fail(op, err, "")
	}
	defer rows.Close()
	out := []*kcred.DueRenewal{}
	for rows.Next() {
		d := &kcred.DueRenewal{}
		dest := append(renewalDest(&d.Renewal), &d.Username, &d.ServiceID, &d.ServiceName, &d.Project,
			&d.OldSerial, &d.NewSerial, (*ntime)(&d.NewNotAfter))
		if err := rows.Scan(dest...); err != nil {
			return nil, fail(op, err, "")
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(op, err, "")
	}
	return out, nil
}

// SetRenewBefore implements kcred.RenewalQueries.
func (q queries) SetRenewBefore(ctx context.Context, project string, renewBefore time.Duration) error {
	modifier := fmt.Sprintf("-%d seconds", int64(renewBefore/time.Second))
	return q.atomic(ctx, func(q queries) error {
		if _, err := q.exec(ctx, sqlSetRenewBefore, modifier, project); err != nil {
			return fail("set renew before", err, "")
		}
		if _, err := q.exec(ctx, sqlCopyRenewAt, project); err != nil {
			return fail("set renew before", err, "")
		}
		return nil
	})
}
