package kcred

import "time"

// Notification kinds.
const (
	KindRenewed               = "renewed"                // a certificate was renewed; download the new one
	KindReminder              = "reminder"               // still not acknowledged
	KindExpiredUnacknowledged = "expired_unacknowledged" // the old certificate expired unacknowledged
	KindTest                  = "test"                   // sent by hand to check a webhook
)

// Notice is one affected user in a notification to come: the outbox entry a
// lifecycle transition writes in its own transaction. A later step gathers
// the pending notices of a project into one digest per recipient and
// deletes them in the notification's transaction, so a crash between the
// two loses nothing and sends nothing twice. Every notice stored is pending.
type Notice struct {
	ID          string
	Project     string
	ServiceID   string
	ServiceName string
	UserID      string
	Username    string
	Kind        string
	OldSerial   string
	NewSerial   string
	OldNotAfter time.Time
	NewNotAfter time.Time
	Offset      time.Duration // the reminder offset, for reminders
	CreateTime  time.Time
}

// Notification is one message: a digest of notices for a set of recipients
// who get the same content, rendered once, with one delivery per email
// recipient and per webhook.
type Notification struct {
	ID         string
	Project    string
	Kind       string
	Recipients []string
	Subject    string
	Text       string
	HTML       string
	Payload    string // the JSON body webhooks receive
	CreateTime time.Time
	Deliveries []*Delivery
}

// Delivery channels.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Delivery states.
const (
	DeliveryPending     = "pending"     // to be attempted at NextAttempt
	DeliveryDelivered   = "delivered"   // accepted by the SMTP server or the webhook
	DeliveryUndelivered = "undelivered" // no channel configured (no SMTP); kept for the record
	DeliveryFailed      = "failed"      // gave up after the last attempt
)

// Delivery is the sending of a notification over one channel to one target
// (an email address, or a webhook's ID). Its ID goes with it so receivers
// can drop duplicates: delivery is at least once.
type Delivery struct {
	ID             string
	NotificationID string
	Project        string
	Channel        string
	Target         string
	State          string
	Attempts       int
	NextAttempt    time.Time
	LastError      string
	DeliveredAt    time.Time
	CreateTime     time.Time
}

// Webhook is a project's HTTP endpoint for notifications. Its secret signs
// each body (X-Kcred-Signature) and is sealed with the webhook's ID.
type Webhook struct {
	ID           string
	Project      string
	URL          string
	SealedSecret []byte
	CreateTime   time.Time
}

// DueCertificate is a user's newest certificate that a renewal sweep looks
// at, with the names the notices need.
type DueCertificate struct {
	Project     string
	ServiceName string
	Credentials
}

// Key returns d's place in the order of ListRenewalCandidates.
func (d *DueCertificate) Key() CandidateKey {
	return CandidateKey{RenewAt: d.Current.RenewAt, UserID: d.User.ID}
}

// CandidateKey orders renewal candidates: by their current certificate's
// RenewAt, then by their user's ID. The zero CandidateKey is before every
// candidate.
type CandidateKey struct {
	RenewAt time.Time
	UserID  string
}

// DueRenewal is an open renewal with the names the notices need.
type DueRenewal struct {
	Project     string
	ServiceID   string
	ServiceName string
	Username    string
	OldSerial   string
	NewSerial   string
	NewNotAfter time.Time
	Renewal
}

// Backoff returns how long to wait before attempt n+1 after n failed
// attempts: 10 s doubling to at most 1 h.
func Backoff(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// MaxAttempts is how many times a delivery is tried before it is failed:
// with Backoff, about 2 days.
const MaxAttempts = 60
