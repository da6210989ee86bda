package lifecycle

import (
	"context"

	"github.com/kcred/kcred"
)

// ServiceSpec is what a new service is made from.
type ServiceSpec struct {
	Name       string
	Type       string // "kafka"; empty means kafka
	URI        string
	TechEmails []string
}

// ServiceView is a service with its users, as the API and console show it.
type ServiceView struct {
	Service *kcred.Service
	Users   []*UserView
}

// CreateService registers a service and its primary user avnadmin with a
// first certificate. Operators and admins only; ECONFLICT when the name is
// taken in the project. The view carries avnadmin's secrets; the creation
// event stands for that read.
func (m *Manager) CreateService(ctx context.Context, a Actor, project string, spec ServiceSpec) (*ServiceView, error) {
	if spec.Type == "" {
		spec.Type = kcred.ServiceTypeKafka
	}
	if spec.Type != kcred.ServiceTypeKafka {
		return nil, kcred.Errorf(kcred.EINVALID, "Invalid service_type %q: kcred manages kafka services.", spec.Type)
	}
	if err := kcred.ValidateName("service", spec.Name); err != nil {
		return nil, err
	}
	if err := kcred.ValidateServiceURI(spec.URI); err != nil {
		return nil, err
	}
	emails, err := kcred.ParseEmails(spec.TechEmails)
	if err != nil {
		return nil, err
	}
	p, _, err := m.access(ctx, m.store, a, project, kcred.RoleOperator)
	if err != nil {
		return nil, err
	}
	now := m.Now()
	svc := &kcred.Service{ID: kcred.NewID(), Project: project, Name: spec.Name, Type: spec.Type, URI: spec.URI, TechEmails: emails, CreateTime: now, UpdateTime: now}
	pending, err := m.newUser(ctx, p, svc, kcred.PrimaryUsername, kcred.UserTypePrimary)
	if err != nil {
		return nil, err
	}
	err = m.store.InTx(ctx, func(q kcred.Queries) error {
		if err := q.CreateService(ctx, svc); err != nil {
			return err
		}
		if err := pending.insert(ctx, q); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionServiceCreate, project, svc.Name, svc.Name,
			"Created service "+svc.Name+" with user "+kcred.PrimaryUsername+" (certificate "+pending.view.Current.Serial+")"))
	})
	if kcred.ErrorCode(err) == kcred.ECONFLICT {
		return nil, kcred.Errorf(kcred.ECONFLICT, "Service %q already exists in project %q.", spec.Name, project)
	} else if err != nil {
		return nil, err
	}
	return &ServiceView{Service: svc, Users: []*UserView{pending.view}}, nil
}

// ListServices lists a project's services with their users, never with
// secrets: a list is for finding things, and would otherwise hand out every
// key of a project in one read. Any member may.
func (m *Manager) ListServices(ctx context.Context, a Actor, project string) ([]*ServiceView, error) {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleReadOnly); err != nil {
		return nil, err
	}
	svcs, err := m.store.ListServices(ctx, project)
	if err != nil {
		return nil, err
	}
	out := make([]*ServiceView, 0, len(svcs))
	for _, s := range svcs {
		creds, err := m.store.ListCredentials(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, &ServiceView{Service: s, Users: views(creds)})
	}
	return out, nil
}

// GetService returns a service with its users. With secrets, members who
// may read credentials (developer and up) get passwords and keys, and the
// read is an audit event; read_only members never get them.
func (m *Manager) GetService(ctx context.Context, a Actor, project, name string, secrets bool) (*ServiceView, kcred.Role, error) {
	_, role, err := m.access(ctx, m.store, a, project, kcred.RoleReadOnly)
	if err != nil {
		return nil, "", err
	}
	v, err := m.serviceView(ctx, a, role, project, name, secrets)
	return v, role, err
}

func (m *Manager) serviceView(ctx context.Context, a Actor, role kcred.Role, project, name string, secrets bool) (*ServiceView, error) {
	svc, err := m.findService(ctx, m.store, project, name)
	if err != nil {
		return nil, err
	}
	creds, err := m.store.ListCredentials(ctx, svc.ID)
	if err != nil {
		return nil, err
	}
	v := &ServiceView{Service: svc, Users: views(creds)}
	if secrets && role.AtLeast(kcred.RoleDeveloper) && len(v.Users) > 0 {
		if err := m.reveal(ctx, a, svc, v.Users...); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// DeleteService deletes a service with its users and certificates.
// Operators and admins only.
func (m *Manager) DeleteService(ctx context.Context, a Actor, project, name string) error {
	err := m.store.InTx(ctx, func(q kcred.Queries) error {
		if _, _, err := m.access(ctx, q, a, project, kcred.RoleOperator); err != nil {
			return err
		}
		svc, err := m.findService(ctx, q, project, name)
		if err != nil {
			return err
		}
		if err := q.DeleteService(ctx, svc.ID); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionServiceDelete, project, name, name, "Deleted service "+name))
	})
	m.forget()
	return err
}

func (m *Manager) findService(ctx context.Context, q kcred.Queries, project, name string) (*kcred.Service, error) {
	// Not "Service x does not exist": Aiven's Go client retries a POST for a
	// minute on a 404 that matches that, as Aiven says it while a service
	// is being built.
	notFound := func() error {
		return kcred.Errorf(kcred.ENOTFOUND, "Service %q not found in project %q.", name, project)
	}
	if kcred.ValidateName("service", name) != nil {
		return nil, notFound()
	}
	key := project + "\x00" + name
	cached := q == kcred.Queries(m.store)
	if cached {
		if svc, ok := m.services.get(key, m.Now()); ok {
			return svc, nil
		}
	}
	svc, err := q.FindService(ctx, project, name)
	if kcred.ErrorCode(err) == kcred.ENOTFOUND {
		return nil, notFound()
	} else if err != nil {
		return nil, err
	}
	if cached {
		m.services.put(key, svc, m.Now())
	}
	return svc, nil
}

// ListEvents returns a project's audit log, newest first. Any member may.
func (m *Manager) ListEvents(ctx context.Context, a Actor, project string, limit int) ([]*kcred.Event, error) {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleReadOnly); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	return m.store.ListEvents(ctx, project, limit)
}
