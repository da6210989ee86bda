package kcred

import "time"

// Why a certificate was made.
const (
	ReasonCreate  = "create"
	ReasonRenewal = "renewal"
	ReasonReset   = "reset"
)

// Certificate is one generation of a service user's credentials. The private
// key is sealed with the certificate's ID as associated data.
type Certificate struct {
	ID         string
	UserID     string
	Generation int // 1 for the first
	Serial     string
	Subject    string
	KeyType    KeyType
	NotBefore  time.Time
	NotAfter   time.Time
	// RenewAt is NotAfter less the project's renew_before when the
	// certificate was made, kept current when the policy changes; renewal
	// sweeps find due certificates by it.
	RenewAt      time.Time
	CertPEM      string
	SealedKey    []byte
	Reason       string
	CAGeneration int
	CreateTime   time.Time
}

// RenewalDue reports whether c must be renewed at now, given renewBefore.
// The caller also checks that c is the newest generation and that no renewal
// of the user is open.
func RenewalDue(c Certificate, renewBefore time.Duration, now time.Time) bool {
	return !now.Before(c.NotAfter.Add(-renewBefore))
}
