package lifecycle

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/kcred/kcred"
	"golang.org/x/crypto/bcrypt"
)

// tokenPrefix starts every token, so secret scanners can find leaked ones.
const tokenPrefix = "kcred_"

// maxTokenAge bounds max_age_seconds of a new token.
const maxTokenAge = 10 * 365 * 24 * time.Hour

// newTokenSecret returns a random token: 32 bytes, URL-safe base64.
func newTokenSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func hashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Authenticate returns the account of a token secret. A missing, unknown
// or expired token is EUNAUTHORIZED. Lookup is by the token's SHA-256, so
// the comparison never depends on how much of a secret matched.
func (m *Manager) Authenticate(ctx context.Context, secret string) (*kcred.Account, error) {
	if secret == "" {
		return nil, kcred.Errorf(kcred.EUNAUTHORIZED, "Authentication required: send Authorization: Bearer <token>.")
	}
	hash := hashToken(secret)
	now := m.Now()
	e, ok := m.tokens.get(string(hash), now)
	if !ok {
		t, err := m.store.FindTokenByHash(ctx, hash)
		if kcred.ErrorCode(err) == kcred.ENOTFOUND {
			return nil, kcred.Errorf(kcred.EUNAUTHORIZED, "Invalid token.")
		} else if err != nil {
			return nil, err
		}
		acct, err := m.store.FindAccountByID(ctx, t.AccountID)
		if err != nil {
			return nil, err
		}
		e = tokenEntry{token: t, account: acct}
		m.tokens.put(string(hash), e, now)
	}
	if e.token.Expired(now) {
		return nil, kcred.Errorf(kcred.EUNAUTHORIZED, "Token has expired.")
	}
	return e.account, nil
}

// Login checks an email and password and returns a new token valid for
// 30 days. Failures are EUNAUTHORIZED and the same whether the account
// exists or not; too many failures from one address or for one account are
// ETOOMANY for a while.
func (m *Manager) Login(ctx context.Context, email, password, source string) (string, *kcred.Account, error) {
	secret, _, a, err := m.login(ctx, email, password, source, "login", 30*24*time.Hour)
	return secret, a, err
}

// login is Login with the token's description and lifetime.
func (m *Manager) login(ctx context.Context, email, password, source, description string, maxAge time.Duration) (string, *kcred.Token, *kcred.Account, error) {
	now := m.Now()
	email = strings.ToLower(strings.TrimSpace(email))
	addrKey, acctKey := "addr:"+hostOf(source), "acct:"+email
	if m.logins.blocked(addrKey, now) || m.logins.blocked(acctKey, now) {
		return "", nil, nil, kcred.Errorf(kcred.ETOOMANY, "Too many failed logins; try again in a few minutes.")
	}
	a, err := m.store.FindAccountByEmail(ctx, email)
	if err != nil && kcred.ErrorCode(err) != kcred.ENOTFOUND {
		return "", nil, nil, err
	}
	ok := a != nil && a.PasswordHash != "" && bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(password)) == nil
	if !ok {
		m.logins.fail(addrKey, now)
		m.logins.fail(acctKey, now)
		m.log.Info("login failed", "email", email, "source", source, "via", description)
		return "", nil, nil, kcred.Errorf(kcred.EUNAUTHORIZED, "Invalid email or password.")
	}
	m.logins.reset(acctKey)
	secret, t, err := m.newToken(ctx, a, description, maxAge, Actor{Account: a, Source: source}, kcred.ActionLogin)
	if err != nil {
		return "", nil, nil, err
	}
	return secret, t, a, nil
}

// CreateToken makes an API token for the actor. maxAge 0 means it never
// expires. The secret is returned once and stored only as a hash.
func (m *Manager) CreateToken(ctx context.Context, a Actor, description string, maxAge time.Duration) (string, *kcred.Token, error) {
	if a.Account == nil {
		return "", nil, kcred.Errorf(kcred.EUNAUTHORIZED, "Authentication required.")
	}
	if maxAge < 0 || maxAge > maxTokenAge {
		return "", nil, kcred.Errorf(kcred.EINVALID, "max_age_seconds must be between 0 and %d.", int64(maxTokenAge/time.Second))
	}
	if len(description) > 1000 {
		return "", nil, kcred.Errorf(kcred.EINVALID, "description must be at most 1000 characters.")
	}
	return m.newToken(ctx, a.Account, description, maxAge, a, kcred.ActionTokenCreate)
}

// RevokeToken deletes the token whose secret is given (logout).
func (m *Manager) RevokeToken(ctx context.Context, secret string) error {
	hash := hashToken(secret)
	m.tokens.drop(string(hash))
	t, err := m.store.FindTokenByHash(ctx, hash)
	if err != nil {
		return err
	}
	return m.store.DeleteToken(ctx, t.ID)
}

func (m *Manager) newToken(ctx context.Context, acct *kcred.Account, description string, maxAge time.Duration, a Actor, action string) (string, *kcred.Token, error) {
	now := m.Now()
	secret := newTokenSecret()
	t := &kcred.Token{
		ID: kcred.NewID(), AccountID: acct.ID, Hash: hashToken(secret),
		Prefix: secret[:len(tokenPrefix)+6], Description: description, CreateTime: now,
	}
	if maxAge > 0 {
		t.ExpiryTime = now.Add(maxAge)
	}
	if err := m.store.CreateToken(ctx, t); err != nil {
		return "", nil, err
	}
	m.log.Info("token created", "account", acct.Email, "prefix", t.Prefix, "action", action)
	return secret, t, nil
}

// CreateAccount makes a new account. Only the superuser may. The password
// must be 8 to 72 bytes (bcrypt's limit).
func (m *Manager) CreateAccount(ctx context.Context, a Actor, email, password, realName string) (*kcred.Account, error) {
	if a.Account == nil || !a.Account.Superuser {
		return nil, kcred.Errorf(kcred.EFORBIDDEN, "Only the superuser creates accounts.")
	}
	acct, err := m.newAccount(email, password, realName, false)
	if err != nil {
		return nil, err
	}
	if err := m.store.CreateAccount(ctx, acct); err != nil {
		if kcred.ErrorCode(err) == kcred.ECONFLICT {
			return nil, kcred.Errorf(kcred.ECONFLICT, "User %q already exists.", acct.Email)
		}
		return nil, err
	}
	m.log.Info("account created", "email", acct.Email, "by", a.Account.Email)
	return acct, nil
}

func (m *Manager) newAccount(email, password, realName string, superuser bool) (*kcred.Account, error) {
	email, err := kcred.ParseEmail(email)
	if err != nil {
		return nil, err
	}
	if len(realName) > 256 {
		return nil, kcred.Errorf(kcred.EINVALID, "real_name must be at most 256 characters.")
	}
	acct := &kcred.Account{ID: kcred.NewID(), Email: email, RealName: realName, Superuser: superuser, CreateTime: m.Now()}
	if password != "" || !superuser {
		h, err := hashPassword(password)
		if err != nil {
			return nil, err
		}
		acct.PasswordHash = h
	}
	return acct, nil
}

func hashPassword(password string) (string, error) {
	if len(password) < 8 || len(password) > 72 {
		return "", kcred.Errorf(kcred.EINVALID, "Password must be 8 to 72 bytes long.")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// Bootstrap makes the superuser on an empty database, with password when
// it is not empty, and a token: token when it is not empty, else a random
// one. It returns the token and true when it made the superuser, and "" and
// false when accounts already exist.
func (m *Manager) Bootstrap(ctx context.Context, email, password, token string) (string, bool, error) {
	n, err := m.store.CountAccounts(ctx)
	if err != nil || n > 0 {
		return "", false, err
	}
	acct, err := m.newAccount(email, password, "Superuser", true)
	if err != nil {
		return "", false, err
	}
	if token == "" {
		token = newTokenSecret()
	} else if len(token) < 32 {
		return "", false, kcred.Errorf(kcred.EINVALID, "KCRED_BOOTSTRAP_TOKEN must be at least 32 characters.")
	}
	t := &kcred.Token{
		ID: kcred.NewID(), AccountID: acct.ID, Hash: hashToken(token),
		Prefix: token[:min(len(token), len(tokenPrefix)+6)], Description: "bootstrap", CreateTime: m.Now(),
	}
	// One transaction: a superuser without its token would lock everyone out.
	err = m.store.InTx(ctx, func(q kcred.Queries) error {
		if err := q.CreateAccount(ctx, acct); err != nil {
			return err
		}
		return q.CreateToken(ctx, t)
	})
	if err != nil {
		return "", false, err
	}
	return token, true, nil
}

// hostOf strips the port of a remote address.
func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 && !strings.HasSuffix(addr, "]") {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}
