package lifecycle

import (
	"context"
	"strings"
	"time"

	"github.com/kcred/kcred"
)

// The use cases of the web console that the API does not need. A console
// session is an API token like any other (stored hashed, so every replica
// serves it), only shorter-lived and made by a login form.

// ConsoleSessionDescription is the description of the tokens that back
// console sessions.
const ConsoleSessionDescription = "console session"

// ConsoleLogin checks an email and password like Login, with the same rate
// limits and the same EUNAUTHORIZED for a wrong email or password, and
// returns a new session token that expires after maxAge.
func (m *Manager) ConsoleLogin(ctx context.Context, email, password, source string, maxAge time.Duration) (string, *kcred.Token, *kcred.Account, error) {
	if maxAge <= 0 || maxAge > maxTokenAge {
		return "", nil, nil, kcred.Errorf(kcred.EINVALID, "Invalid session length.")
	}
	return m.login(ctx, email, password, source, ConsoleSessionDescription, maxAge)
}

// ConsoleExchangeToken checks an API token someone pasted into the console
// and returns a new session token for its account, so that logging out of
// the console revokes the session and never the pasted token (which a CLI
// or a robot may still use). The session lasts maxAge, but never longer
// than the pasted token. An unknown or expired token is EUNAUTHORIZED, and
// failures count against the source address like failed logins.
func (m *Manager) ConsoleExchangeToken(ctx context.Context, secret, source string, maxAge time.Duration) (string, *kcred.Token, *kcred.Account, error) {
	now := m.Now()
	addrKey := "addr:" + hostOf(source)
	if m.logins.blocked(addrKey, now) {
		return "", nil, nil, kcred.Errorf(kcred.ETOOMANY, "Too many failed logins; try again in a few minutes.")
	}
	if maxAge <= 0 || maxAge > maxTokenAge {
		return "", nil, nil, kcred.Errorf(kcred.EINVALID, "Invalid session length.")
	}
	secret = strings.TrimSpace(secret)
	bad := kcred.Errorf(kcred.EUNAUTHORIZED, "Invalid or expired token.")
	if secret == "" {
		return "", nil, nil, bad
	}
	t, err := m.store.FindTokenByHash(ctx, hashToken(secret))
	if kcred.ErrorCode(err) == kcred.ENOTFOUND || (err == nil && t.Expired(now)) {
		m.logins.fail(addrKey, now)
		m.log.Info("console token login failed", "source", source)
		return "", nil, nil, bad
	} else if err != nil {
		return "", nil, nil, err
	}
	acct, err := m.store.FindAccountByID(ctx, t.AccountID)
	if err != nil {
		return "", nil, nil, err
	}
	if !t.ExpiryTime.IsZero() && t.ExpiryTime.Sub(now) < maxAge {
		maxAge = t.ExpiryTime.Sub(now)
	}
	s, st, err := m.newToken(ctx, acct, ConsoleSessionDescription, maxAge, Actor{Account: acct, Source: source}, kcred.ActionLogin)
	if err != nil {
		return "", nil, nil, err
	}
	return s, st, acct, nil
}

// ConsoleUserHistory returns a service user without secrets and every
// generation of its certificate, newest first, with the sealed keys left
// out. Any member may; non-members get ENOTFOUND.
func (m *Manager) ConsoleUserHistory(ctx context.Context, a Actor, project, service, username string) (*UserView, []*kcred.Certificate, kcred.Role, error) {
	_, role, err := m.access(ctx, m.store, a, project, kcred.RoleReadOnly)
	if err != nil {
		return nil, nil, "", err
	}
	_, creds, err := m.findCredentials(ctx, project, service, username)
	if err != nil {
		return nil, nil, "", err
	}
	certs, err := m.store.ListCertificates(ctx, creds.User.ID)
	if err != nil {
		return nil, nil, "", err
	}
	for _, c := range certs {
		c.SealedKey = nil
	}
	return &UserView{Credentials: *creds}, certs, role, nil
}

// ConsoleAcknowledge is Modify with acknowledge-renewal (developer and up)
// for callers that show no secrets afterwards: it returns the user without
// reading any password or key, so the audit log holds no read that nobody
// saw.
func (m *Manager) ConsoleAcknowledge(ctx context.Context, a Actor, project, service, username string) (*UserView, error) {
	return m.consoleModify(ctx, a, project, service, username, OpAcknowledgeRenewal)
}

// ConsoleReset is Modify with reset-credentials and a random password
// (operator and up), returning the user without secrets like
// ConsoleAcknowledge.
func (m *Manager) ConsoleReset(ctx context.Context, a Actor, project, service, username string) (*UserView, error) {
	return m.consoleModify(ctx, a, project, service, username, OpResetCredentials)
}

func (m *Manager) consoleModify(ctx context.Context, a Actor, project, service, username, op string) (*UserView, error) {
	_, svc, err := m.apply(ctx, a, project, service, username, op, nil, nil)
	if err != nil {
		return nil, err
	}
	// Read from the database, not the cache: the caller shows the result.
	fresh, err := m.store.FindCredentials(ctx, svc.ID, username)
	if err != nil {
		return nil, err
	}
	return &UserView{Credentials: *fresh}, nil
}
