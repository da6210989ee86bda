// Package lifecycle holds kcred's use cases, written once for the API, the
// console and the CLI: accounts and tokens, projects and their CA, members,
// services, service users and their certificates. It decides who may do
// what (non-members see ENOTFOUND, members without the role EFORBIDDEN) and
// writes an audit event with every change and every read of a secret.
package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/pki"
)

// Config is what a Manager needs.
type Config struct {
	Store  kcred.Store
	Sealer *pki.Sealer
	// Policy is the server's default certificate policy; a project's own
	// policy overrides its fields.
	Policy kcred.CertPolicy
	// Now returns the current time; time.Now when nil. Tests move it.
	Now    func() time.Time
	Logger *slog.Logger

	// Mailer sends email notifications; nil records them as undelivered.
	Mailer Mailer
	// Webhooks posts webhook notifications.
	Webhooks WebhookPoster
	// PublicURL is where people reach kcred, for links in notifications.
	PublicURL string
	// Observer hears of sweeps, notifications and deliveries (metrics).
	Observer Observer
	// Kick asks for a delivery round soon (River); nil does nothing.
	Kick func()
}

// Mailer sends one email. internal/notify.Mailer is one.
type Mailer interface {
	Send(ctx context.Context, deliveryID, to, subject, text, html string) error
}

// WebhookPoster posts one signed webhook body. internal/notify.WebhookSender is one.
type WebhookPoster interface {
	Post(ctx context.Context, url string, secret []byte, deliveryID string, body []byte) error
}

// Observer hears of what the background work does. internal/metrics is one.
type Observer interface {
	Swept(renewed int, d time.Duration)
	Notified(kind string)
	Delivered(kind, channel, result string)
}

type noObserver struct{}

func (noObserver) Swept(int, time.Duration)         {}
func (noObserver) Notified(string)                  {}
func (noObserver) Delivered(string, string, string) {}

// Manager runs the use cases. It is safe for concurrent use.
type Manager struct {
	store  kcred.Store
	sealer *pki.Sealer
	policy kcred.CertPolicy
	now    func() time.Time
	log    *slog.Logger
	audit  *auditLog
	logins *limiter

	mailer    Mailer
	webhooks  WebhookPoster
	publicURL string
	observer  Observer
	kickFn    func()

	// cas caches parsed CAs by ID: a CA generation never changes, and
	// unsealing and parsing its key on every issue would cost more than
	// signing.
	mu  sync.Mutex
	cas map[string]*pki.CA

	// Short-lived caches of what every request reads (see cache).
	tokens      *cache[string, tokenEntry]
	accessCache *cache[string, accessEntry]
	services    *cache[string, *kcred.Service]
	caRecs      *cache[string, *kcred.CA]
	creds       *cache[string, kcred.Credentials]
}

// cacheTTL bounds how stale a cached token, membership, service, CA record
// or user's credentials may be on a replica that did not make the change.
const cacheTTL = 2 * time.Second

type tokenEntry struct {
	token   *kcred.Token
	account *kcred.Account
}

type accessEntry struct {
	project kcred.Project
	role    kcred.Role
}

// Actor is who asks for something, and from where.
type Actor struct {
	Account *kcred.Account
	Source  string // remote address, for events
}

// New returns a Manager. Call Close to flush pending events.
func New(cfg Config) *Manager {
	m := &Manager{
		store:  cfg.Store,
		sealer: cfg.Sealer,
		policy: kcred.DefaultCertPolicy().Merge(cfg.Policy),
		now:    cfg.Now,
		log:    cfg.Logger,
		logins: newLimiter(10, 5*time.Minute),
		cas:    map[string]*pki.CA{},

		tokens:      newCache[string, tokenEntry](cacheTTL, 100_000),
		accessCache: newCache[string, accessEntry](cacheTTL, 100_000),
		services:    newCache[string, *kcred.Service](cacheTTL, 100_000),
		caRecs:      newCache[string, *kcred.CA](cacheTTL, 10_000),
		creds:       newCache[string, kcred.Credentials](cacheTTL, 100_000),
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.mailer, m.webhooks, m.publicURL, m.observer, m.kickFn = cfg.Mailer, cfg.Webhooks, cfg.PublicURL, cfg.Observer, cfg.Kick
	if m.observer == nil {
		m.observer = noObserver{}
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.audit = newAuditLog(cfg.Store, m.log)
	return m
}

// kick asks for a delivery round, when someone listens.
func (m *Manager) kick() {
	if m.kickFn != nil {
		m.kickFn()
	}
}

// SetKick sets the function that asks for a delivery round; the wiring
// calls it once the job runner exists, which needs the Manager first.
func (m *Manager) SetKick(f func()) { m.kickFn = f }

// Close flushes events that wait to be written.
func (m *Manager) Close() { m.audit.close() }

// Store returns the store the Manager works on.
func (m *Manager) Store() kcred.Store { return m.store }

// Policy returns the effective certificate policy of p.
func (m *Manager) Policy(p *kcred.Project) kcred.CertPolicy { return m.policy.Merge(p.Policy) }

// DefaultPolicy returns the server's certificate policy.
func (m *Manager) DefaultPolicy() kcred.CertPolicy { return m.policy.Merge(kcred.CertPolicy{}) }

// Now returns the Manager's current time in UTC.
func (m *Manager) Now() time.Time { return kcred.UTC(m.now()) }

// access returns the project and the actor's role in it. Non-members get
// ENOTFOUND, exactly as if the project did not exist, so that project names
// do not leak; members whose role is below min get EFORBIDDEN. The
// superuser is an admin of every project.
func (m *Manager) access(ctx context.Context, q kcred.Queries, a Actor, project string, min kcred.Role) (*kcred.Project, kcred.Role, error) {
	if a.Account == nil {
		return nil, "", kcred.Errorf(kcred.EUNAUTHORIZED, "Authentication required.")
	}
	// Made only when needed: the error's message is a Sprintf, and most
	// calls find the project.
	notFound := func() error { return kcred.Errorf(kcred.ENOTFOUND, "Project %q does not exist.", project) }
	if kcred.ValidateName("project", project) != nil {
		return nil, "", notFound()
	}
	// Reads outside a transaction may use the cache; a transaction reads
	// the database so that what it decides on is what it writes against.
	key := project + "\x00" + a.Account.ID
	cached := q == kcred.Queries(m.store)
	if cached {
		if e, ok := m.accessCache.get(key, m.Now()); ok {
			if !e.role.AtLeast(min) {
				return nil, "", forbidden(project, e.role, min)
			}
			p := e.project
			return &p, e.role, nil
		}
	}
	p, err := q.FindProject(ctx, project)
	if kcred.ErrorCode(err) == kcred.ENOTFOUND {
		return nil, "", notFound()
	} else if err != nil {
		return nil, "", err
	}
	role := kcred.RoleAdmin
	if !a.Account.Superuser {
		mem, err := q.FindMember(ctx, project, a.Account.ID)
		if kcred.ErrorCode(err) == kcred.ENOTFOUND {
			return nil, "", notFound()
		} else if err != nil {
			return nil, "", err
		}
		role = mem.Role
	}
	if cached {
		m.accessCache.put(key, accessEntry{project: *p, role: role}, m.Now())
	}
	if !role.AtLeast(min) {
		return nil, "", forbidden(project, role, min)
	}
	return p, role, nil
}

func forbidden(project string, role, min kcred.Role) error {
	return kcred.Errorf(kcred.EFORBIDDEN, "Your role in project %q (%s) does not allow this; it needs %s.", project, role, min)
}

// forget drops cached memberships, services, CA records and credentials
// after a change to projects, members or services made through this Manager.
func (m *Manager) forget() {
	m.accessCache.reset()
	m.services.reset()
	m.caRecs.reset()
	m.creds.reset()
}

// event builds an audit event by a.
func (m *Manager) event(a Actor, action, project, service, target, detail string) *kcred.Event {
	actor := "kcred"
	if a.Account != nil {
		actor = a.Account.Email
	}
	return &kcred.Event{
		ID: kcred.NewID(), Time: m.Now(), Actor: actor, Action: action,
		Project: project, Service: service, Target: target, Source: a.Source, Detail: detail,
	}
}

// signer returns the parsed CA of ca, from the cache when it can.
func (m *Manager) signer(ca *kcred.CA) (*pki.CA, error) {
	m.mu.Lock()
	c, ok := m.cas[ca.ID]
	m.mu.Unlock()
	if ok {
		return c, nil
	}
	key, err := m.sealer.Open(ca.ID, ca.SealedKey)
	if err != nil {
		return nil, fmt.Errorf("open key of CA %s: %w", ca.ID, err)
	}
	c, err = pki.LoadCA(ca.CertPEM, key)
	if err != nil {
		return nil, fmt.Errorf("load CA %s: %w", ca.ID, err)
	}
	m.mu.Lock()
	m.cas[ca.ID] = c
	m.mu.Unlock()
	return c, nil
}

// currentCA returns the CA generation that signs p's new certificates.
func (m *Manager) currentCA(ctx context.Context, q kcred.Queries, p *kcred.Project) (*kcred.CA, *pki.CA, error) {
	// The creation time tells apart a project deleted and made anew.
	key := fmt.Sprintf("%s\x00%d\x00%d", p.Name, p.CAGeneration, p.CreateTime.UnixNano())
	if ca, ok := m.caRecs.get(key, m.Now()); ok {
		c, err := m.signer(ca)
		return ca, c, err
	}
	cas, err := q.ListCAs(ctx, p.Name)
	if err != nil {
		return nil, nil, err
	}
	for _, ca := range cas {
		if ca.Generation == p.CAGeneration {
			m.caRecs.put(key, ca, m.Now())
			c, err := m.signer(ca)
			return ca, c, err
		}
	}
	return nil, nil, fmt.Errorf("project %s has no CA generation %d", p.Name, p.CAGeneration)
}
