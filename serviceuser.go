package kcred

import "time"

// Service user types, as Aiven names them.
const (
	UserTypePrimary = "primary" // avnadmin, made with the service
	UserTypeNormal  = "normal"
)

// PrimaryUsername is the user every service is created with.
const PrimaryUsername = "avnadmin"

// ServiceUser is a user of a service: a SASL password and a chain of
// certificates. The password is sealed with the user's ID as associated data.
type ServiceUser struct {
	ID                 string
	ServiceID          string
	Username           string
	Type               string
	SealedPassword     []byte
	AccessControl      string // JSON object stored as given by set-access-control; "" when unset
	CreateTime         time.Time
	PasswordUpdateTime time.Time
}

// Credentials is a service user with the certificate the API serves and the
// renewal that is open, if any.
type Credentials struct {
	User    ServiceUser
	Current Certificate // the newest generation
	Renewal *Renewal    // open renewal, nil when none
}

// Pending reports whether a renewal waits for acknowledgement.
func (c Credentials) Pending() bool {
	return c.Renewal != nil && !c.Renewal.Acknowledged()
}

// ExpiringNotAfter is the not_after of the certificate that an
// unacknowledged renewal replaces, and zero otherwise. The API serves it as
// expiring_cert_not_valid_after_time.
func (c Credentials) ExpiringNotAfter() time.Time {
	if !c.Pending() {
		return time.Time{}
	}
	return c.Renewal.OldNotAfter
}
