package kcred

import (
	"time"
)

// Project is a tenant: it has one CA, members, technical contacts and a
// certificate policy.
type Project struct {
	Name         string
	TechEmails   []string
	Policy       CertPolicy // overrides of the server's defaults; zero fields inherit
	CAGeneration int        // generation of the CA that signs new certificates
	CreateTime   time.Time
}

// Member is an account's role in a project.
type Member struct {
	Project    string
	AccountID  string
	Email      string // the account's email, filled in by reads
	Role       Role
	CreateTime time.Time
}

// CA is one generation of a project's certificate authority. Its private key
// is sealed with the CA's ID as associated data.
type CA struct {
	ID         string
	Project    string
	Generation int
	CertPEM    string
	SealedKey  []byte
	NotAfter   time.Time
	CreateTime time.Time
}
