package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kcred/kcred"
)

const userCols = `u.id, u.service_id, u.username, u.type, u.sealed_password, u.access_control, u.create_time,
	u.password_update_time`

// credentialsFrom joins a user with its newest certificate (the unique index
// on (user_id, generation) answers max(generation) with one seek) and its
// open renewal (the partial unique index). The certificate and renewal
// columns are NULL when there is none; their scanners read NULL as zero.
const credentialsFrom = `SELECT ` + userCols + `, ` + certCols + `, ` + renewalCols + `
	FROM service_users u
	%s JOIN certificates c ON c.user_id = u.id
		AND c.generation = (SELECT max(generation) FROM certificates WHERE user_id = u.id)
	LEFT JOIN renewals r ON r.user_id = u.id AND r.closed_at IS NULL`

var (
	sqlCreateServiceUser = stmt(`INSERT INTO service_users (id, service_id, username, type, sealed_password,
		access_control, create_time, password_update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	sqlFindServiceUser   = stmt(`SELECT ` + userCols + ` FROM service_users u WHERE u.service_id = ? AND u.username = ?`)
	sqlUpdateServiceUser = stmt(`UPDATE service_users SET sealed_password = ?, password_update_time = ?, access_control = ?
		WHERE id = ?`)
	sqlDeleteServiceUser = stmt(`DELETE FROM service_users WHERE id = ?`)
	sqlFindCredentials   = stmt(fmt.Sprintf(credentialsFrom, "LEFT") + ` WHERE u.service_id = ? AND u.username = ?`)
	sqlListCredentials   = stmt(fmt.Sprintf(credentialsFrom, "") + ` WHERE u.service_id = ? ORDER BY u.username`)
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
	if isForeignKey(err) {
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
	return []any{&u.ID, &u.ServiceID, &u.Username, &u.Type, (*nbytes)(&u.SealedPassword), &u.AccessControl,
		(*ntime)(&u.CreateTime), (*ntime)(&u.PasswordUpdateTime)}
}

// FindServiceUser implements kcred.Queries.
func (q queries) FindServiceUser(ctx context.Context, serviceID, username string) (*kcred.ServiceUser, error) {
	u := &kcred.ServiceUser{}
	err := q.read(ctx, sqlFindServiceUser).QueryRowContext(ctx, serviceID, username).Scan(userDest(u)...)
	if errors.Is(err, sql.ErrNoRows) {
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
func scanCredentials(row scanner) (*kcred.Credentials, error) {
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
	c, err := scanCredentials(q.read(ctx, sqlFindCredentials).QueryRowContext(ctx, serviceID, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Service user %q does not exist.", username)
	} else if err != nil {
		return nil, fail("find credentials", err, "")
	}
	return c, nil
}

// ListCredentials implements kcred.Queries in one query.
func (q queries) ListCredentials(ctx context.Context, serviceID string) ([]*kcred.Credentials, error) {
	rows, err := q.read(ctx, sqlListCredentials).QueryContext(ctx, serviceID)
	if err != nil {
		return nil, fail("list credentials", err, "")
	}
	defer rows.Close()
	out := []*kcred.Credentials{}
	for rows.Next() {
		c, err := scanCredentials(rows)
		if err != nil {
			return nil, fail("list credentials", err, "")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list credentials", err, "")
	}
	return out, nil
}
