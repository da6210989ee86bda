package lifecycle

import (
	"context"
	"strings"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/pki"
)

// ProjectUpdate holds the fields of a project to change; nil leaves one as it is.
type ProjectUpdate struct {
	TechEmails *[]string
	Policy     *kcred.CertPolicy
}

// CreateProject makes a project with its first CA and the actor as admin.
// Any account may. ECONFLICT when the name is taken.
func (m *Manager) CreateProject(ctx context.Context, a Actor, name string, techEmails []string, policy kcred.CertPolicy) (*kcred.Project, error) {
	if a.Account == nil {
		return nil, kcred.Errorf(kcred.EUNAUTHORIZED, "Authentication required.")
	}
	if err := kcred.ValidateName("project", name); err != nil {
		return nil, err
	}
	emails, err := kcred.ParseEmails(techEmails)
	if err != nil {
		return nil, err
	}
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	if err := m.policy.Merge(policy).Validate(); err != nil {
		return nil, err
	}
	now := m.Now()
	ca, err := pki.NewCA(name, 1, now)
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.MarshalKey(ca.Key)
	if err != nil {
		return nil, err
	}
	rec := &kcred.CA{ID: kcred.NewID(), Project: name, Generation: 1, CertPEM: ca.CertPEM, NotAfter: kcred.UTC(ca.Cert.NotAfter), CreateTime: now}
	rec.SealedKey = m.sealer.Seal(rec.ID, keyPEM)
	p := &kcred.Project{Name: name, TechEmails: emails, Policy: policy, CAGeneration: 1, CreateTime: now}
	err = m.store.InTx(ctx, func(q kcred.Queries) error {
		if err := q.CreateProject(ctx, p); err != nil {
			return err
		}
		if err := q.CreateCA(ctx, rec); err != nil {
			return err
		}
		if err := q.PutMember(ctx, &kcred.Member{Project: name, AccountID: a.Account.ID, Role: kcred.RoleAdmin, CreateTime: now}); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionProjectCreate, name, "", name, "Created project "+name))
	})
	if kcred.ErrorCode(err) == kcred.ECONFLICT {
		return nil, kcred.Errorf(kcred.ECONFLICT, "Project %q already exists.", name)
	} else if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.cas[rec.ID] = ca
	m.mu.Unlock()
	return p, nil
}

// ListProjects lists the projects the actor is a member of; the superuser
// sees all of them.
func (m *Manager) ListProjects(ctx context.Context, a Actor) ([]*kcred.Project, error) {
	if a.Account == nil {
		return nil, kcred.Errorf(kcred.EUNAUTHORIZED, "Authentication required.")
	}
	if a.Account.Superuser {
		return m.store.ListProjects(ctx)
	}
	return m.store.ListProjectsByMember(ctx, a.Account.ID)
}

// GetProject returns a project and the actor's role in it.
func (m *Manager) GetProject(ctx context.Context, a Actor, name string) (*kcred.Project, kcred.Role, error) {
	return m.access(ctx, m.store, a, name, kcred.RoleReadOnly)
}

// UpdateProject changes a project's contacts or policy. Admins only.
func (m *Manager) UpdateProject(ctx context.Context, a Actor, name string, u ProjectUpdate) (*kcred.Project, error) {
	var out *kcred.Project
	err := m.store.InTx(ctx, func(q kcred.Queries) error {
		p, _, err := m.access(ctx, q, a, name, kcred.RoleAdmin)
		if err != nil {
			return err
		}
		var changed []string
		if u.TechEmails != nil {
			emails, err := kcred.ParseEmails(*u.TechEmails)
			if err != nil {
				return err
			}
			p.TechEmails = emails
			changed = append(changed, "tech_emails")
		}
		if u.Policy != nil {
			// Fields not given keep the project's value.
			merged := p.Policy.Merge(*u.Policy)
			if err := u.Policy.Validate(); err != nil {
				return err
			}
			if err := m.policy.Merge(merged).Validate(); err != nil {
				return err
			}
			// Certificates already issued follow a new renew_before too.
			if rb := m.policy.Merge(merged).RenewBefore; rb != m.Policy(p).RenewBefore {
				if err := q.SetRenewBefore(ctx, name, rb); err != nil {
					return err
				}
			}
			p.Policy = merged
			changed = append(changed, "cert_policy")
		}
		if err := q.UpdateProject(ctx, p); err != nil {
			return err
		}
		out = p
		return q.CreateEvent(ctx, m.event(a, kcred.ActionProjectUpdate, name, "", name, "Updated "+strings.Join(changed, ", ")+" of project "+name))
	})
	m.forget()
	return out, err
}

// DeleteProject deletes a project and everything in it. Admins only.
func (m *Manager) DeleteProject(ctx context.Context, a Actor, name string) error {
	if _, _, err := m.access(ctx, m.store, a, name, kcred.RoleAdmin); err != nil {
		return err
	}
	err := m.store.DeleteProject(ctx, name)
	m.forget()
	if err != nil {
		return err
	}
	// The project's events are gone with it; the log keeps the fact.
	m.log.Info("project deleted", "project", name, "actor", a.Account.Email, "source", a.Source)
	return nil
}

// CACertificates returns the PEM of the project's CAs that are still valid,
// newest first: one certificate, or a bundle during a CA rotation. The CA
// certificate is public, so any member may read it.
func (m *Manager) CACertificates(ctx context.Context, a Actor, name string) (string, error) {
	if _, _, err := m.access(ctx, m.store, a, name, kcred.RoleReadOnly); err != nil {
		return "", err
	}
	cas, err := m.store.ListCAs(ctx, name)
	if err != nil {
		return "", err
	}
	now := m.Now()
	var b strings.Builder
	for _, ca := range cas {
		if now.Before(ca.NotAfter) || b.Len() == 0 {
			b.WriteString(ca.CertPEM)
		}
	}
	return b.String(), nil
}
