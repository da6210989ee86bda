package kcred

import (
	"context"
	"time"
)

// Store is where kcred keeps its state. There are two implementations,
// internal/sqlite (the embedded default) and internal/postgres, and both pass
// the conformance suite in internal/storetest, which is the contract's
// executable form.
//
// The Queries methods of a Store run each on their own. InTx runs several as
// one transaction: the use cases in internal/lifecycle put a change, its
// certificate and its event in one InTx so that a crash never leaves half.
type Store interface {
	Queries

	// InTx runs fn with Queries bound to one read-write transaction. The
	// transaction commits when fn returns nil and rolls back otherwise; fn's
	// error is returned as it is. fn must not keep q after it returns.
	InTx(ctx context.Context, fn func(q Queries) error) error

	// Ping checks that the database answers (for /readyz).
	Ping(ctx context.Context) error

	Close() error
}

// Queries are the reads and writes of the store. Unless said otherwise:
// Find* return ENOTFOUND when nothing matches; Create* return ECONFLICT when
// the natural key is taken; Update* and Delete* return ENOTFOUND when the
// record does not exist. Lists are never nil on success. Times are stored
// and returned in UTC with at least microsecond precision. Secrets are stored
// sealed, as the caller gives them; the store never sees a plaintext secret.
type Queries interface {
	RenewalQueries

	// CreateAccount adds an account; ECONFLICT when the email is taken.
	CreateAccount(ctx context.Context, a *Account) error
	FindAccountByID(ctx context.Context, id string) (*Account, error)
	FindAccountByEmail(ctx context.Context, email string) (*Account, error)
	// UpdateAccount writes RealName, PasswordHash and Superuser.
	UpdateAccount(ctx context.Context, a *Account) error
	CountAccounts(ctx context.Context) (int, error)

	CreateToken(ctx context.Context, t *Token) error
	// FindTokenByHash finds a token by the SHA-256 of its secret, expired
	// or not; the caller checks expiry.
	FindTokenByHash(ctx context.Context, hash []byte) (*Token, error)
	DeleteToken(ctx context.Context, id string) error

	CreateProject(ctx context.Context, p *Project) error
	FindProject(ctx context.Context, name string) (*Project, error)
	// ListProjects lists every project, by name.
	ListProjects(ctx context.Context) ([]*Project, error)
	// ListProjectsByMember lists the projects accountID is a member of, by name.
	ListProjectsByMember(ctx context.Context, accountID string) ([]*Project, error)
	// UpdateProject writes TechEmails, Policy and CAGeneration.
	UpdateProject(ctx context.Context, p *Project) error
	// DeleteProject deletes the project and everything in it: CAs,
	// members, services, users, certificates, renewals, events, notices,
	// notifications with their deliveries, and webhooks.
	DeleteProject(ctx context.Context, name string) error

	// CreateCA adds a CA generation; ECONFLICT when (project, generation) exists.
	CreateCA(ctx context.Context, ca *CA) error
	// ListCAs lists a project's CAs, newest generation first.
	ListCAs(ctx context.Context, project string) ([]*CA, error)

	// PutMember adds a member or changes its role. The project and
	// account must exist (ENOTFOUND otherwise).
	PutMember(ctx context.Context, m *Member) error
	// FindMember returns the membership with Email filled in.
	FindMember(ctx context.Context, project, accountID string) (*Member, error)
	// ListMembers lists a project's members with Email, by email.
	ListMembers(ctx context.Context, project string) ([]*Member, error)
	DeleteMember(ctx context.Context, project, accountID string) error

	// CreateService adds a service; ECONFLICT when the name is taken in the project.
	CreateService(ctx context.Context, s *Service) error
	FindService(ctx context.Context, project, name string) (*Service, error)
	// ListServices lists a project's services, by name.
	ListServices(ctx context.Context, project string) ([]*Service, error)
	// DeleteService deletes a service with its users, certificates and renewals.
	DeleteService(ctx context.Context, id string) error

	// CreateServiceUser adds a user; ECONFLICT when the username is taken
	// in the service.
	CreateServiceUser(ctx context.Context, u *ServiceUser) error
	FindServiceUser(ctx context.Context, serviceID, username string) (*ServiceUser, error)
	// UpdateServiceUser writes SealedPassword, PasswordUpdateTime and AccessControl.
	UpdateServiceUser(ctx context.Context, u *ServiceUser) error
	// DeleteServiceUser deletes a user with its certificates and renewals.
	DeleteServiceUser(ctx context.Context, id string) error
	// FindCredentials returns a user with its newest certificate and its
	// open renewal in one read. ENOTFOUND when the user does not exist.
	FindCredentials(ctx context.Context, serviceID, username string) (*Credentials, error)
	// ListCredentials does FindCredentials for every user of a service, by
	// username. Users without a certificate are left out.
	ListCredentials(ctx context.Context, serviceID string) ([]*Credentials, error)

	// CreateCertificate adds a generation; ECONFLICT when (user, generation)
	// exists, EINVALID when the generation is below 1. The new certificate
	// becomes the user's current one (the one ListRenewalCandidates looks
	// at) when its generation is the newest. A zero RenewAt is stored as
	// NotAfter.
	CreateCertificate(ctx context.Context, c *Certificate) error
	// ListCertificates lists a user's certificates, newest generation first.
	ListCertificates(ctx context.Context, userID string) ([]*Certificate, error)

	// CreateRenewal opens a renewal; ECONFLICT when the user already has an
	// open one. This is what makes renewal exactly-once across replicas.
	// ENOTFOUND when the user does not exist or either certificate is not
	// one of the user's: a renewal's certificates go only with its user.
	CreateRenewal(ctx context.Context, r *Renewal) error
	// FindOpenRenewal returns the user's open renewal.
	FindOpenRenewal(ctx context.Context, userID string) (*Renewal, error)
	// UpdateRenewal writes AcknowledgedAt, AcknowledgedBy, LastReminder,
	// RemindersSent, ClosedAt and NextActionAt, except that an
	// acknowledgement or a closing already stored is kept: an update made
	// from a stale read never takes them back.
	UpdateRenewal(ctx context.Context, r *Renewal) error

	CreateEvent(ctx context.Context, e *Event) error
	// CreateEvents stores events as CreateEvent would one after the
	// other, in their order, in fewer statements (for the audit log's
	// batches of secret reads and a sweep's batch of reminders).
	CreateEvents(ctx context.Context, events []*Event) error
	// ListEvents lists a project's events, newest first, at most limit.
	ListEvents(ctx context.Context, project string, limit int) ([]*Event, error)
}

// RenewalQueries are the reads and writes of renewal sweeps and
// notifications, under the same rules as Queries.
type RenewalQueries interface {
	// ListRenewalCandidates lists the current certificates with
	// RenewAt <= horizon whose user has no open renewal, in the order of
	// their CandidateKey (soonest RenewAt first, then by user ID) and
	// after the key after, at most limit, with their users, without what
	// a renewal does not need: the certificates' CertPEM and SealedKey and
	// the users' SealedPassword are left empty. A sweep passes the key of
	// the last candidate it read, and reads each candidate once. Its cost
	// grows with the number returned, not with the number of users (an
	// index on the current certificates' RenewAt).
	ListRenewalCandidates(ctx context.Context, horizon time.Time, after CandidateKey, limit int) ([]*DueCertificate, error)
	// CreateRenewals writes a batch of renewals, each as CreateCertificate,
	// CreateRenewal, CreateNotice and CreateEvent would write its parts (the
	// same defaults, the new certificate current unless a newer generation
	// exists), in far fewer statements. written[i] reports whether batch[i]
	// was written. It is false, and nothing of batch[i] is written, when
	// the user already has the certificate's generation (the generation is
	// the lock: another replica or a reset got there first) or no longer
	// exists; neither is an error.
	//
	// Every part of an entry must be given, the Renewal of the Certificate's
	// user and naming it as NewCertID, each user at most once in a batch
	// (EINVALID otherwise). ECONFLICT when a user whose certificate was
	// written already has an open renewal, or the ID of a notice is taken;
	// ENOTFOUND when a notice's project does not exist or the old
	// certificate of an entry written is not its user's. On an error the
	// batch may be partly written: the transaction must be rolled back, as
	// InTx does when fn returns it. Outside InTx it runs in a transaction of
	// its own.
	CreateRenewals(ctx context.Context, batch []*RenewalWrite) (written []bool, err error)
	// SetRenewBefore sets RenewAt = NotAfter - renewBefore (to the second)
	// on the current certificates of a project's users, after its policy
	// changed. It is a no-op for a project without users.
	SetRenewBefore(ctx context.Context, project string, renewBefore time.Duration) error
	// ListDueRenewals lists the open renewals with NextActionAt <= now,
	// soonest first, at most limit. O(result), like ListRenewalCandidates.
	ListDueRenewals(ctx context.Context, now time.Time, limit int) ([]*DueRenewal, error)
	// ListOpenRenewals lists a project's open renewals, soonest
	// OldNotAfter first.
	ListOpenRenewals(ctx context.Context, project string) ([]*DueRenewal, error)

	// CreateNotice adds a pending notice.
	CreateNotice(ctx context.Context, n *Notice) error
	// ListPendingNotices lists the notices not yet digested, oldest first,
	// at most limit.
	ListPendingNotices(ctx context.Context, limit int) ([]*Notice, error)
	// CreateNotification adds a notification with its Deliveries and
	// deletes the notices noticeIDs it digests, which must all be pending
	// (ECONFLICT otherwise, and nothing is written: another replica
	// digested them first).
	CreateNotification(ctx context.Context, n *Notification, noticeIDs []string) error
	// FindNotification returns a notification with its deliveries.
	FindNotification(ctx context.Context, id string) (*Notification, error)
	// ListNotifications lists a project's notifications with their
	// deliveries, newest first, at most limit.
	ListNotifications(ctx context.Context, project string, limit int) ([]*Notification, error)
	// ListDueDeliveries lists pending deliveries with NextAttempt <= now,
	// oldest NextAttempt first, at most limit.
	ListDueDeliveries(ctx context.Context, now time.Time, limit int) ([]*Delivery, error)
	// UpdateDelivery writes State, Attempts, NextAttempt, LastError and
	// DeliveredAt.
	UpdateDelivery(ctx context.Context, d *Delivery) error

	// CreateWebhook adds a webhook.
	CreateWebhook(ctx context.Context, w *Webhook) error
	FindWebhook(ctx context.Context, id string) (*Webhook, error)
	// ListWebhooks lists a project's webhooks, oldest first.
	ListWebhooks(ctx context.Context, project string) ([]*Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
}

// RenewalWrite is one entry of RenewalQueries.CreateRenewals: a user's new
// certificate, the renewal from the old one it opens, and the notice and the
// event that tell of it.
type RenewalWrite struct {
	Certificate *Certificate
	Renewal     *Renewal
	Notice      *Notice
	Event       *Event
}

// UTC returns t in UTC truncated to microseconds, the precision both stores keep.
func UTC(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
