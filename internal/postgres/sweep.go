package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred"
)

const (
	// dueRenewalFrom joins the renewals r (a subquery) with the names and
	// serials notices need. A renewal's certificates are its user's
	// (checked when it is written) and go only with the user, which takes
	// the renewal along, so inner joins lose nothing.
	dueRenewalFrom = `SELECT ` + renewalCols + `, u.username, u.service_id, s.name, s.project,
			oc.serial, nc.serial, nc.not_after
		FROM (%s) r
		CROSS JOIN LATERAL (SELECT * FROM service_users WHERE id = r.user_id LIMIT 1) u
		CROSS JOIN LATERAL (SELECT * FROM services WHERE id = u.service_id LIMIT 1) s
		CROSS JOIN LATERAL (SELECT * FROM certificates WHERE id = r.old_cert_id LIMIT 1) oc
		CROSS JOIN LATERAL (SELECT * FROM certificates WHERE id = r.new_cert_id LIMIT 1) nc`
)

// candidateCols are userCols and certCols without the secrets and the PEM,
// which a sweep does not need (NULL scans into []byte as nil): reading them
// was half the cost of listing.
// The certificate's renew_at is read from current_certificates, where the
// key of ListRenewalCandidates is.
var candidateCols = strings.NewReplacer("u.sealed_password", "NULL::bytea", "c.cert_pem", "''", "c.sealed_key", "NULL::bytea",
	"c.renew_at", "d.renew_at").Replace(userCols + ", " + certCols)

var (
	// The sweep queries are written so that no estimate can make them read
	// every user: with an estimate of thousands of due rows PostgreSQL
	// would rather hash-join a sequential scan of service_users than probe
	// its index. So the due rows are found and limited first, from the
	// index of current_certificates alone, and the joins are
	// LATERAL subqueries with LIMIT 1, which PostgreSQL runs as one index
	// probe per row. OFFSET 0 keeps NOT EXISTS a probe of renewals_one_open
	// per certificate instead of an anti-join that may hash every open
	// renewal. LIMIT NULL is no limit.
	sqlListRenewalCandidates = `SELECT ` + candidateCols + `, s.project, s.name
		FROM (SELECT * FROM current_certificates d
			WHERE d.renew_at <= $1 AND (d.renew_at, d.user_id) > ($3, $4)
				AND NOT EXISTS (SELECT FROM renewals r WHERE r.user_id = d.user_id AND r.closed_at IS NULL OFFSET 0)
			ORDER BY d.renew_at, d.user_id LIMIT $2) d
		CROSS JOIN LATERAL (SELECT * FROM certificates WHERE user_id = d.user_id AND generation = d.generation LIMIT 1) c
		CROSS JOIN LATERAL (SELECT * FROM service_users WHERE id = d.user_id LIMIT 1) u
		CROSS JOIN LATERAL (SELECT * FROM services WHERE id = u.service_id LIMIT 1) s
		ORDER BY d.renew_at, d.user_id`
	sqlListDueRenewals = fmt.Sprintf(dueRenewalFrom, `SELECT * FROM renewals
		WHERE closed_at IS NULL AND next_action_at <= $1 ORDER BY next_action_at LIMIT $2`) +
		` ORDER BY r.next_action_at`
	// Through the project's services and users: O(users of the project).
	sqlListOpenRenewals = fmt.Sprintf(dueRenewalFrom, `SELECT r.* FROM services s
		JOIN service_users u ON u.service_id = s.id
		JOIN renewals r ON r.user_id = u.id AND r.closed_at IS NULL
		WHERE s.project = $1`) + ` ORDER BY r.old_not_after, r.id`
)

// limitArg is a LIMIT argument: NULL (no limit) for 0 or less, as in ListEvents.
func limitArg(limit int) any {
	if limit <= 0 {
		return nil
	}
	return limit
}

func scanDueCertificate(row pgx.Row) (*kcred.DueCertificate, error) {
	d := &kcred.DueCertificate{}
	dest := append(userDest(&d.User), certDest(&d.Current)...)
	return d, row.Scan(append(dest, &d.Project, &d.ServiceName)...)
}

// ListRenewalCandidates implements kcred.RenewalQueries: one query, whose
// cost grows with the certificates returned. A limit of 0 or less means no
// limit.
func (q queries) ListRenewalCandidates(ctx context.Context, horizon time.Time, after kcred.CandidateKey, limit int) ([]*kcred.DueCertificate, error) {
	// The zero time, year 1, is before every stored one.
	return list(q, ctx, "list renewal candidates", scanDueCertificate, sqlListRenewalCandidates,
		kcred.UTC(horizon), limitArg(limit), after.RenewAt.UTC(), after.UserID)
}

func scanDueRenewal(row pgx.Row) (*kcred.DueRenewal, error) {
	d := &kcred.DueRenewal{}
	dest := append(renewalDest(&d.Renewal), &d.Username, &d.ServiceID, &d.ServiceName, &d.Project,
		&d.OldSerial, &d.NewSerial, (*ntime)(&d.NewNotAfter))
	return d, row.Scan(dest...)
}

// ListDueRenewals implements kcred.RenewalQueries. A limit of 0 or less
// means no limit.
func (q queries) ListDueRenewals(ctx context.Context, now time.Time, limit int) ([]*kcred.DueRenewal, error) {
	return list(q, ctx, "list due renewals", scanDueRenewal, sqlListDueRenewals, kcred.UTC(now), limitArg(limit))
}

// ListOpenRenewals implements kcred.RenewalQueries.
func (q queries) ListOpenRenewals(ctx context.Context, project string) ([]*kcred.DueRenewal, error) {
	return list(q, ctx, "list open renewals", scanDueRenewal, sqlListOpenRenewals, project)
}

// sqlSetRenewBefore sets renew_at of the current certificates, then its
// copy in current_certificates.
const sqlSetRenewBefore = `WITH c AS (
		UPDATE certificates c SET renew_at = c.not_after - make_interval(secs => $2)
		FROM current_certificates cc, service_users u JOIN services s ON s.id = u.service_id
		WHERE cc.user_id = c.user_id AND cc.generation = c.generation AND u.id = c.user_id AND s.project = $1
		RETURNING c.user_id, c.renew_at
	)
	UPDATE current_certificates cc SET renew_at = c.renew_at FROM c WHERE cc.user_id = c.user_id`

// SetRenewBefore implements kcred.RenewalQueries.
func (q queries) SetRenewBefore(ctx context.Context, project string, renewBefore time.Duration) error {
	if _, err := q.exec(ctx, sqlSetRenewBefore, project, float64(renewBefore/time.Second)); err != nil {
		return fail("set renew before", err, "")
	}
	return nil
}
