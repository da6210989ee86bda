package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/pki"
)

// Operations of PUT .../user/{username}, with Aiven's names.
const (
	OpAcknowledgeRenewal = "acknowledge-renewal"
	OpResetCredentials   = "reset-credentials"
	OpSetAccessControl   = "set-access-control"
)

// UserView is a service user as the API and console show it. Password and
// KeyPEM are filled only when Secrets is true.
type UserView struct {
	kcred.Credentials
	Secrets  bool
	Password string
	KeyPEM   string
}

func views(creds []*kcred.Credentials) []*UserView {
	out := make([]*UserView, len(creds))
	for i, c := range creds {
		out[i] = &UserView{Credentials: *c}
	}
	return out
}

// reveal unseals the password and key of each view and records the read.
// It fails closed: no event, no secret.
func (m *Manager) reveal(ctx context.Context, a Actor, svc *kcred.Service, vs ...*UserView) error {
	names := make([]string, len(vs))
	for i, v := range vs {
		pw, err := m.sealer.Open(v.User.ID, v.User.SealedPassword)
		if err != nil {
			return fmt.Errorf("open password of user %s: %w", v.User.ID, err)
		}
		key, err := m.sealer.Open(v.Current.ID, v.Current.SealedKey)
		if err != nil {
			return fmt.Errorf("open key of certificate %s: %w", v.Current.ID, err)
		}
		v.Password, v.KeyPEM, v.Secrets = string(pw), string(key), true
		names[i] = v.User.Username
	}
	ev := m.event(a, kcred.ActionCredentialsRead, svc.Project, svc.Name, strings.Join(names, ","),
		"Read password and access key of "+strconv.Itoa(len(vs))+" user(s) of service "+svc.Name)
	if err := m.audit.record(ctx, ev); err != nil {
		for _, v := range vs {
			v.Password, v.KeyPEM, v.Secrets = "", "", false
		}
		return err
	}
	return nil
}

// pendingUser is a user whose key and certificate are made but not yet
// stored. Keys are made before the transaction so that slow RSA key
// generation never holds the database's write lock.
type pendingUser struct {
	user *kcred.ServiceUser
	cert *kcred.Certificate
	view *UserView
}

func (p *pendingUser) insert(ctx context.Context, q kcred.Queries) error {
	if err := q.CreateServiceUser(ctx, p.user); err != nil {
		return err
	}
	return q.CreateCertificate(ctx, p.cert)
}

func (m *Manager) newUser(ctx context.Context, p *kcred.Project, svc *kcred.Service, username, typ string) (*pendingUser, error) {
	now := m.Now()
	u := &kcred.ServiceUser{ID: kcred.NewID(), ServiceID: svc.ID, Username: username, Type: typ, CreateTime: now, PasswordUpdateTime: now}
	password := newPassword()
	u.SealedPassword = m.sealer.Seal(u.ID, []byte(password))
	cert, key, err := m.issue(ctx, p, svc, u, 1, kcred.ReasonCreate)
	if err != nil {
		return nil, err
	}
	view := &UserView{Credentials: kcred.Credentials{User: *u, Current: *cert}, Secrets: true, Password: password, KeyPEM: string(key)}
	return &pendingUser{user: u, cert: cert, view: view}, nil
}

// issue makes generation gen of u's certificate under p's current CA.
func (m *Manager) issue(ctx context.Context, p *kcred.Project, svc *kcred.Service, u *kcred.ServiceUser, gen int, reason string) (*kcred.Certificate, []byte, error) {
	ca, signer, err := m.currentCA(ctx, m.store, p)
	if err != nil {
		return nil, nil, err
	}
	pol := m.Policy(p)
	now := m.Now()
	leaf, err := signer.Issue(pki.LeafRequest{
		Username: u.Username, ServiceName: svc.Name, UserID: u.ID,
		KeyType: pol.KeyType, Validity: pol.Validity, Now: now,
	})
	if err != nil {
		return nil, nil, err
	}
	c := &kcred.Certificate{
		ID: kcred.NewID(), UserID: u.ID, Generation: gen, Serial: leaf.Serial,
		Subject: leaf.Subject, KeyType: pol.KeyType,
		NotBefore: kcred.UTC(leaf.NotBefore), NotAfter: kcred.UTC(leaf.NotAfter),
		RenewAt: kcred.UTC(leaf.NotAfter.Add(-pol.RenewBefore)),
		CertPEM: leaf.CertPEM, Reason: reason, CAGeneration: ca.Generation, CreateTime: now,
	}
	c.SealedKey = m.sealer.Seal(c.ID, leaf.KeyPEM)
	return c, leaf.KeyPEM, nil
}

// newPassword returns a random 24-character password for SASL.
func newPassword() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	var b [24]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // 256 % 56 bias is negligible at 24 characters
	}
	return string(b[:])
}

// CreateUser makes a service user with a first certificate. Operators and
// admins only. The view carries the new secrets; the creation event stands
// for that read.
func (m *Manager) CreateUser(ctx context.Context, a Actor, project, service, username string) (*UserView, error) {
	if err := kcred.ValidateUsername(username); err != nil {
		return nil, err
	}
	p, _, err := m.access(ctx, m.store, a, project, kcred.RoleOperator)
	if err != nil {
		return nil, err
	}
	svc, err := m.findService(ctx, m.store, project, service)
	if err != nil {
		return nil, err
	}
	pending, err := m.newUser(ctx, p, svc, username, kcred.UserTypeNormal)
	if err != nil {
		return nil, err
	}
	defer m.changed(svc.ID, username)
	err = m.store.InTx(ctx, func(q kcred.Queries) error {
		if err := pending.insert(ctx, q); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionUserCreate, project, service, username,
			"Created service user "+username+" (certificate "+pending.cert.Serial+")"))
	})
	if kcred.ErrorCode(err) == kcred.ECONFLICT {
		return nil, kcred.Errorf(kcred.ECONFLICT, "Service user %q already exists in service %q.", username, service)
	} else if err != nil {
		return nil, err
	}
	return pending.view, nil
}

// GetUser returns a service user. With secrets, members who may read
// credentials get the password and key, and the read is an audit event.
func (m *Manager) GetUser(ctx context.Context, a Actor, project, service, username string, secrets bool) (*UserView, kcred.Role, error) {
	_, role, err := m.access(ctx, m.store, a, project, kcred.RoleReadOnly)
	if err != nil {
		return nil, "", err
	}
	svc, creds, err := m.findCredentials(ctx, project, service, username)
	if err != nil {
		return nil, "", err
	}
	v := &UserView{Credentials: *creds}
	if secrets && role.AtLeast(kcred.RoleDeveloper) {
		if err := m.reveal(ctx, a, svc, v); err != nil {
			return nil, "", err
		}
	}
	return v, role, nil
}

func (m *Manager) findCredentials(ctx context.Context, project, service, username string) (*kcred.Service, *kcred.Credentials, error) {
	svc, err := m.findService(ctx, m.store, project, service)
	if err != nil {
		return nil, nil, err
	}
	notFound := func() error { return kcred.Errorf(kcred.ENOTFOUND, "Service user %q does not exist.", username) }
	if kcred.ValidateUsername(username) != nil {
		return nil, nil, notFound()
	}
	key := credsKey(svc.ID, username)
	if c, ok := m.creds.get(key, m.Now()); ok {
		if c.Renewal != nil {
			r := *c.Renewal
			c.Renewal = &r
		}
		return svc, &c, nil
	}
	creds, err := m.store.FindCredentials(ctx, svc.ID, username)
	if kcred.ErrorCode(err) == kcred.ENOTFOUND {
		return nil, nil, notFound()
	} else if err != nil {
		return nil, nil, err
	}
	c := *creds
	if c.Renewal != nil {
		r := *c.Renewal
		c.Renewal = &r
	}
	m.creds.put(key, c, m.Now())
	return svc, creds, nil
}

func credsKey(serviceID, username string) string { return serviceID + "\x00" + username }

// changed drops the cached credentials of a user after a change to them.
func (m *Manager) changed(serviceID, username string) { m.creds.drop(credsKey(serviceID, username)) }

// DeleteUser deletes a service user and its certificates. Operators and
// admins only; the primary user goes only with its service.
func (m *Manager) DeleteUser(ctx context.Context, a Actor, project, service, username string) error {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleOperator); err != nil {
		return err
	}
	_, creds, err := m.findCredentials(ctx, project, service, username)
	if err != nil {
		return err
	}
	if creds.User.Type == kcred.UserTypePrimary {
		return kcred.Errorf(kcred.EINVALID, "The primary user %s is deleted only with its service.", username)
	}
	defer m.changed(creds.User.ServiceID, username)
	return m.store.InTx(ctx, func(q kcred.Queries) error {
		if err := q.DeleteServiceUser(ctx, creds.User.ID); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionUserDelete, project, service, username, "Deleted service user "+username))
	})
}

// Modify runs one of the PUT .../user/{username} operations and returns
// the service as the caller may see it afterwards.
//   - acknowledge-renewal (developer and up): records who and when, which
//     stops reminders; a success that changes nothing when no renewal waits.
//   - reset-credentials (operator and up): a new password (newPassword, or a
//     random one) and a new key and certificate at once; an open renewal is
//     closed, since its certificates are replaced.
//   - set-access-control (operator and up): stores accessControl, a JSON object.
//
// Any other operation is EINVALID.
func (m *Manager) Modify(ctx context.Context, a Actor, project, service, username, op string, newPassword *string, accessControl json.RawMessage) (*ServiceView, error) {
	role, svc, err := m.apply(ctx, a, project, service, username, op, newPassword, accessControl)
	if err != nil {
		return nil, err
	}
	// The answer is the whole service, as Aiven's, but only the user that
	// was changed comes with its secrets: an acknowledgement must not
	// unseal (and log a read of) every key of the service.
	v, err := m.serviceView(ctx, a, role, project, service, false)
	if err != nil {
		return nil, err
	}
	if role.AtLeast(kcred.RoleDeveloper) {
		for _, u := range v.Users {
			if u.User.Username == username {
				if err := m.reveal(ctx, a, svc, u); err != nil {
					return nil, err
				}
			}
		}
	}
	return v, nil
}

// apply checks the actor's role for op and runs it on the user; Modify and
// the console's actions share it. It returns the actor's role and the
// service.
func (m *Manager) apply(ctx context.Context, a Actor, project, service, username, op string, newPassword *string, accessControl json.RawMessage) (kcred.Role, *kcred.Service, error) {
	min := map[string]kcred.Role{
		OpAcknowledgeRenewal: kcred.RoleDeveloper,
		OpResetCredentials:   kcred.RoleOperator,
		OpSetAccessControl:   kcred.RoleOperator,
	}[op]
	if min == "" {
		return "", nil, kcred.Errorf(kcred.EINVALID, "Invalid operation %q: use acknowledge-renewal, reset-credentials or set-access-control.", clip(op))
	}
	p, role, err := m.access(ctx, m.store, a, project, min)
	if err != nil {
		return "", nil, err
	}
	svc, creds, err := m.findCredentials(ctx, project, service, username)
	if err != nil {
		return "", nil, err
	}
	m.changed(svc.ID, username)
	defer m.changed(svc.ID, username)
	switch op {
	case OpAcknowledgeRenewal:
		err = m.acknowledge(ctx, a, svc, creds)
	case OpResetCredentials:
		err = m.reset(ctx, a, p, svc, creds, newPassword)
	case OpSetAccessControl:
		err = m.setAccessControl(ctx, a, svc, creds, accessControl)
	}
	return role, svc, err
}

// ResetCredentials is Modify with reset-credentials and a random password.
func (m *Manager) ResetCredentials(ctx context.Context, a Actor, project, service, username string) (*ServiceView, error) {
	return m.Modify(ctx, a, project, service, username, OpResetCredentials, nil, nil)
}

func (m *Manager) acknowledge(ctx context.Context, a Actor, svc *kcred.Service, creds *kcred.Credentials) error {
	if !creds.Pending() {
		return nil
	}
	return m.store.InTx(ctx, func(q kcred.Queries) error {
		// Re-read under the transaction: another replica may have
		// acknowledged or closed the renewal meanwhile.
		r, err := q.FindOpenRenewal(ctx, creds.User.ID)
		if kcred.ErrorCode(err) == kcred.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		if r.Acknowledged() {
			return nil
		}
		r.AcknowledgedAt, r.AcknowledgedBy = m.Now(), a.Account.Email
		if err := q.UpdateRenewal(ctx, r); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionRenewalAck, svc.Project, svc.Name, creds.User.Username,
			"Acknowledged renewed certificate of "+creds.User.Username))
	})
}

func (m *Manager) reset(ctx context.Context, a Actor, p *kcred.Project, svc *kcred.Service, creds *kcred.Credentials, newPW *string) error {
	password := newPassword()
	if newPW != nil {
		if len(*newPW) < 8 || len(*newPW) > 256 {
			return kcred.Errorf(kcred.EINVALID, "new_password must be 8 to 256 characters long.")
		}
		password = *newPW
	}
	u := creds.User
	cert, _, err := m.issue(ctx, p, svc, &u, creds.Current.Generation+1, kcred.ReasonReset)
	if err != nil {
		return err
	}
	now := m.Now()
	u.SealedPassword, u.PasswordUpdateTime = m.sealer.Seal(u.ID, []byte(password)), now
	err = m.store.InTx(ctx, func(q kcred.Queries) error {
		if err := q.CreateCertificate(ctx, cert); err != nil {
			return err
		}
		if err := q.UpdateServiceUser(ctx, &u); err != nil {
			return err
		}
		r, err := q.FindOpenRenewal(ctx, u.ID)
		if err == nil {
			r.ClosedAt = now
			if err := q.UpdateRenewal(ctx, r); err != nil {
				return err
			}
		} else if kcred.ErrorCode(err) != kcred.ENOTFOUND {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionCredentialsReset, svc.Project, svc.Name, u.Username,
			"Reset credentials of "+u.Username+" (certificate "+cert.Serial+")"))
	})
	if kcred.ErrorCode(err) == kcred.ECONFLICT {
		return kcred.Errorf(kcred.ECONFLICT, "The credentials of %q changed meanwhile; try again.", u.Username)
	}
	return err
}

func (m *Manager) setAccessControl(ctx context.Context, a Actor, svc *kcred.Service, creds *kcred.Credentials, ac json.RawMessage) error {
	var obj map[string]any
	if len(ac) == 0 || string(ac) == "null" {
		obj = map[string]any{}
	} else if err := json.Unmarshal(ac, &obj); err != nil {
		return kcred.Errorf(kcred.EINVALID, "access_control must be a JSON object.")
	}
	b, _ := json.Marshal(obj)
	u := creds.User
	u.AccessControl = string(b)
	return m.store.InTx(ctx, func(q kcred.Queries) error {
		if err := q.UpdateServiceUser(ctx, &u); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionAccessControlSet, svc.Project, svc.Name, u.Username,
			"Set access control of "+u.Username))
	})
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}
