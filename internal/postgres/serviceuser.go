package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred"
)

const (
	userCols = `u.id, u.service_id, u.username, u.type, u.sealed_password, u.access_control, u.create_time,
	u.password_update_time`

	// credentialsFrom joins a user with its newest certificate (one index
	// seek on (user_id, generation) backwards) and its open renewal (the
	// partial unique index). Without them the columns are NULL; COALESCE
	// turns those into zero values (times: ntime scans NULL as zero).
	credentialsFrom = `SELECT ` + userCols + `,
		coalesce(c.id, ''), coalesce(c.user_id, ''), coalesce(c.generation, 0), coalesce(c.serial, ''),
		coalesce(c.subject, ''), coalesce(c.key_type, ''), c.not_before, c.not_after, coalesce(c.cert_pem, ''),
		c.sealed_key, coalesce(c.reason, ''), coalesce(c.ca_generation, 0), c.create_time, c.renew_at,
		coalesce(r.id, ''), coalesce(r.user_id, ''), coalesce(r.old_cert_id, ''), coalesce(r.new_cert_id, ''),
		r.old_not_after, r.create_time, r.acknowledged_at, coalesce(r.acknowledged_by, ''),
		coalesce(r.last_reminder_ns, 0), coalesce(r.reminders_sent, 0), r.closed_at, r.next_action_at
	FROM service_users u
	%s JOIN LATERAL (SELECT * FROM certificates WHERE user_id = u.id ORDER BY generation DESC LIMIT 1) c ON true
	LEFT JOIN renewals r ON r.user_id = u.id AND r.closed_at IS NULL`

	sqlCreateServiceUser = `INSERT INTO service_users (id, service_id, username, type, sealed_password,
		access_control, create_time, password_update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`
	sqlFindServiceUser   = `SELECT ` + userCols + ` FROM service_users u WHERE u.service_id = $1 AND u.username = $2`
	sqlUpdateServiceUser = `UPDATE service_users SET sealed_password = $1, password_update_time = $2, access_control = $3
		WHERE id = $4`
	sqlDeleteServiceUser = `DELETE FROM service_users WHERE id = $1`
)

var (
	sqlFindCredentials = fmt.Sprintf(credentialsFrom, "LEFT") + ` WHERE u.service_id = $1 AND u.username = $2`
	sqlListCredentials = fmt.Sprintf(credentialsFrom, "") + ` WHERE u.service_id = $1 ORDER BY u.username`
)

// CreateServiceUser implements kcred.Queries. ENOTFOUND when the service
// does not exist.
func (q queries) CreateServiceUser(ctx context.Context, u *kcred.ServiceUser) error {
	if err := mustID("service user", u.ID); err != nil {
		return err
	}
	defaultNow(&u.CreateTime)
	norm(&u.CreateTime, &u.PasswordUpdateTime)
	n, err := q.exec(ctx, sqlCreateServiceUser, u.ID, u.ServiceID, u.Username, u.Type, blob(u.SealedPassword),
		u.AccessControl, timeArg(u.CreateTime), timeArg(u.PasswordUpdateTime))
	if foreignKey(err) != "" {
		return kcred.Errorf(kcred.ENOTFOUND, "Service does not exist.")
	} else if err != nil {
		return fail("create service user", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "Service user %q already exists.", u.Username)
	}
	return nil
}

func userDest(u *kcred.ServiceUser) []any {
	return []any{&u.ID, &u.ServiceID, &u.Username, &u.Type, &u.SealedPassword, &u.AccessControl,
		(*ntime)(&u.CreateTime), (*ntime)(&u.PasswordUpdateTime)}
}

// FindServiceUser implements kcred.Queries.
func (q queries) FindServiceUser(ctx context.Context, serviceID, username string) (*kcred.ServiceUser, error) {
	u := &kcred.ServiceUser{}
	err := q.db.QueryRow(ctx, sqlFindServiceUser, serviceID, username).Scan(userDest(u)...)
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Service user %q does not exist.", username)
	} else if err != nil {
		return nil, fail("find service user", err, "")
	}
	return u, nil
}

// UpdateServiceUser implements kcred.Queries.
func (q queries) UpdateServiceUser(ctx context.Context, u *kcred.ServiceUser) error {
	norm(&u.PasswordUpdateTime)
	n, err := q.exec(ctx, sqlUpdateServiceUser, blob(u.SealedPassword), timeArg(u.PasswordUpdateTime),
		u.AccessControl, u.ID)
	if err != nil {
		return fail("update service user", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ENOTFOUND, "Service user does not exist.")
	}
	return nil
}

// DeleteServiceUser implements kcred.Queries; foreign keys cascade to
// certificates and renewals.
func (q queries) DeleteServiceUser(ctx context.Context, id string) error {
	n, err := q.exec(ctx, sqlDeleteServiceUser, id)
	if err != nil {
		return fail("delete service user", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ENOTFOUND, "Service user does not exist.")
	}
	return nil
}

// scanCredentials scans a row of credentialsFrom.
func scanCredentials(row pgx.Row) (*kcred.Credentials, error) {
	c := &kcred.Credentials{}
	r := &kcred.Renewal{}
	dest := append(userDest(&c.User), certDest(&c.Current)...)
	if err := row.Scan(append(dest, renewalDest(r)...)...); err != nil {
		return nil, err
	}
	if r.ID != "" {
		c.Renewal = r
	}
	return c, nil
}

// FindCredentials implements kcred.Queries in one query. A user without a
// certificate (only ever seen inside the transaction that creates it) comes
// with a zero Current.
func (q queries) FindCredentials(ctx context.Context, serviceID, username string) (*kcred.Credentials, error) {
	c, err := scanCredentials(q.db.QueryRow(ctx, sqlFindCredentials, serviceID, username))
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Service user %q does not exist.", username)
	} else if err != nil {
		return nil, fail("find credentials", err, "")
	}
	return c, nil
}

// ListCredentials implements kcred.Queries in one query.
func (q queries) ListCredentials(ctx context.Context, serviceID string) ([]*kcred.Credentials, error) {
	return list(q, ctx, "list credentials", scanCredentials, sqlListCredentials, serviceID)
}
