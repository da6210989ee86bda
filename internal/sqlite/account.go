package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/kcred/kcred"
)

const accountCols = `id, email, real_name, password_hash, superuser, create_time`

var (
	sqlCreateAccount = stmt(`INSERT INTO accounts (` + accountCols + `) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`)
	sqlFindAccountByID    = stmt(`SELECT ` + accountCols + ` FROM accounts WHERE id = ?`)
	sqlFindAccountByEmail = stmt(`SELECT ` + accountCols + ` FROM accounts WHERE email = ?`)
	sqlUpdateAccount      = stmt(`UPDATE accounts SET real_name = ?, password_hash = ?, superuser = ? WHERE id = ?`)
	sqlCountAccounts      = stmt(`SELECT count(*) FROM accounts`)

	sqlCreateToken = stmt(`INSERT INTO tokens (id, account_id, hash, prefix, description, create_time, expiry_time)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	sqlFindTokenByHash = stmt(`SELECT id, account_id, hash, prefix, description, create_time, expiry_time
		FROM tokens WHERE hash = ?`)
	sqlDeleteToken = stmt(`DELETE FROM tokens WHERE id = ?`)
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

func scanAccount(row *sql.Row) (*kcred.Account, error) {
	a := &kcred.Account{}
	err := row.Scan(&a.ID, &a.Email, &a.RealName, &a.PasswordHash, &a.Superuser, (*ntime)(&a.CreateTime))
	return a, err
}

// FindAccountByID implements kcred.Queries.
func (q queries) FindAccountByID(ctx context.Context, id string) (*kcred.Account, error) {
	a, err := scanAccount(q.read(ctx, sqlFindAccountByID).QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Account does not exist.")
	} else if err != nil {
		return nil, fail("find account", err, "")
	}
	return a, nil
}

// FindAccountByEmail implements kcred.Queries.
func (q queries) FindAccountByEmail(ctx context.Context, email string) (*kcred.Account, error) {
	a, err := scanAccount(q.read(ctx, sqlFindAccountByEmail).QueryRowContext(ctx, email))
	if errors.Is(err, sql.ErrNoRows) {
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
	if err := q.read(ctx, sqlCountAccounts).QueryRowContext(ctx).Scan(&n); err != nil {
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
	if isForeignKey(err) {
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
	err := q.read(ctx, sqlFindTokenByHash).QueryRowContext(ctx, blob(hash)).Scan(&t.ID, &t.AccountID,
		(*nbytes)(&t.Hash), &t.Prefix, &t.Description, (*ntime)(&t.CreateTime), (*ntime)(&t.ExpiryTime))
	if errors.Is(err, sql.ErrNoRows) {
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
