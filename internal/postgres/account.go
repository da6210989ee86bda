package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred"
)

const (
	accountCols = `id, email, real_name, password_hash, superuser, create_time`

	sqlCreateAccount = `INSERT INTO accounts (` + accountCols + `) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`
	sqlFindAccountByID    = `SELECT ` + accountCols + ` FROM accounts WHERE id = $1`
	sqlFindAccountByEmail = `SELECT ` + accountCols + ` FROM accounts WHERE email = $1`
	sqlUpdateAccount      = `UPDATE accounts SET real_name = $1, password_hash = $2, superuser = $3 WHERE id = $4`
	sqlCountAccounts      = `SELECT count(*) FROM accounts`

	sqlCreateToken = `INSERT INTO tokens (id, account_id, hash, prefix, description, create_time, expiry_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`
	sqlFindTokenByHash = `SELECT id, account_id, hash, prefix, description, create_time, expiry_time
		FROM tokens WHERE hash = $1`
	sqlDeleteToken = `DELETE FROM tokens WHERE id = $1`
)

// CreateAccount implements kcred.Queries.
func (q queries) CreateAccount(ctx context.Context, a *kcred.Account) error {
	ensureID(&a.ID)
	defaultNow(&a.CreateTime)
	norm(&a.CreateTime)
	n, err := q.exec(ctx, sqlCreateAccount, a.ID, a.Email, a.RealName, a.PasswordHash, a.Superuser, timeArg(a.CreateTime))
	if err != nil {
		return fail("create account", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "Account %q already exists.", a.Email)
	}
	return nil
}

func scanAccount(row pgx.Row) (*kcred.Account, error) {
	a := &kcred.Account{}
	err := row.Scan(&a.ID, &a.Email, &a.RealName, &a.PasswordHash, &a.Superuser, (*ntime)(&a.CreateTime))
	return a, err
}

// FindAccountByID implements kcred.Queries.
func (q queries) FindAccountByID(ctx context.Context, id string) (*kcred.Account, error) {
	a, err := scanAccount(q.db.QueryRow(ctx, sqlFindAccountByID, id))
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Account does not exist.")
	} else if err != nil {
		return nil, fail("find account", err, "")
	}
	return a, nil
}

// FindAccountByEmail implements kcred.Queries.
func (q queries) FindAccountByEmail(ctx context.Context, email string) (*kcred.Account, error) {
	a, err := scanAccount(q.db.QueryRow(ctx, sqlFindAccountByEmail, email))
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Account %q does not exist.", email)
	} else if err != nil {
		return nil, fail("find account", err, "")
	}
	return a, nil
}

// UpdateAccount implements kcred.Queries.
func (q queries) UpdateAccount(ctx context.Context, a *kcred.Account) error {
	n, err := q.exec(ctx, sqlUpdateAccount, a.RealName, a.PasswordHash, a.Superuser, a.ID)
	if err != nil {
		return fail("update account", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ENOTFOUND, "Account does not exist.")
	}
	return nil
}

// CountAccounts implements kcred.Queries.
func (q queries) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := q.db.QueryRow(ctx, sqlCountAccounts).Scan(&n); err != nil {
		return 0, fail("count accounts", err, "")
	}
	return n, nil
}

// CreateToken implements kcred.Queries. ENOTFOUND when the account does not
// exist, ECONFLICT when the hash or ID is taken.
func (q queries) CreateToken(ctx context.Context, t *kcred.Token) error {
	ensureID(&t.ID)
	defaultNow(&t.CreateTime)
	norm(&t.CreateTime, &t.ExpiryTime)
	n, err := q.exec(ctx, sqlCreateToken, t.ID, t.AccountID, blob(t.Hash), t.Prefix, t.Description,
		timeArg(t.CreateTime), timeArg(t.ExpiryTime))
	if foreignKey(err) != "" {
		return kcred.Errorf(kcred.ENOTFOUND, "Account does not exist.")
	} else if err != nil {
		return fail("create token", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "Token already exists.")
	}
	return nil
}

// FindTokenByHash implements kcred.Queries.
func (q queries) FindTokenByHash(ctx context.Context, hash []byte) (*kcred.Token, error) {
	t := &kcred.Token{}
	err := q.db.QueryRow(ctx, sqlFindTokenByHash, blob(hash)).Scan(&t.ID, &t.AccountID, &t.Hash, &t.Prefix,
		&t.Description, (*ntime)(&t.CreateTime), (*ntime)(&t.ExpiryTime))
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Token does not exist.")
	} else if err != nil {
		return nil, fail("find token", err, "")
	}
	return t, nil
}

// DeleteToken implements kcred.Queries.
func (q queries) DeleteToken(ctx context.Context, id string) error {
	n, err := q.exec(ctx, sqlDeleteToken, id)
	if err != nil {
		return fail("delete token", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ENOTFOUND, "Token does not exist.")
	}
	return nil
}
