package kcred

import "time"

// Account is a person or robot that logs in. The superuser is made at
// bootstrap; only it creates other accounts.
type Account struct {
	ID           string
	Email        string // lowercase; unique
	RealName     string
	PasswordHash string // bcrypt; empty when the account logs in by token only
	Superuser    bool
	CreateTime   time.Time
}

// Token is an API token. Only the SHA-256 of the secret is stored; Prefix
// (the first characters of the secret) lets people tell tokens apart.
type Token struct {
	ID          string
	AccountID   string
	Hash        []byte // SHA-256 of the full token
	Prefix      string
	Description string
	CreateTime  time.Time
	ExpiryTime  time.Time // zero: never expires
}

// Expired reports whether t can no longer be used at now.
func (t Token) Expired(now time.Time) bool {
	return !t.ExpiryTime.IsZero() && !now.Before(t.ExpiryTime)
}
