package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred"
)

const (
	serviceCols = `id, project, name, type, uri, tech_emails, create_time, update_time`

	sqlCreateService = `INSERT INTO services (` + serviceCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT DO NOTHING`
	sqlFindService   = `SELECT ` + serviceCols + ` FROM services WHERE project = $1 AND name = $2`
	sqlListServices  = `SELECT ` + serviceCols + ` FROM services WHERE project = $1 ORDER BY name`
	sqlDeleteService = `DELETE FROM services WHERE id = $1`
)

// CreateService implements kcred.Queries. ENOTFOUND when the project does
// not exist. A zero UpdateTime becomes CreateTime.
func (q queries) CreateService(ctx context.Context, s *kcred.Service) error {
	ensureID(&s.ID)
	defaultNow(&s.CreateTime)
	if s.UpdateTime.IsZero() {
		s.UpdateTime = s.CreateTime
	}
	norm(&s.CreateTime, &s.UpdateTime)
	n, err := q.exec(ctx, sqlCreateService, s.ID, s.Project, s.Name, s.Type, s.URI, textArray(s.TechEmails),
		timeArg(s.CreateTime), timeArg(s.UpdateTime))
	if foreignKey(err) != "" {
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, s.Project)
	} else if err != nil {
		return fail("create service", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "Service %q already exists in project %q.", s.Name, s.Project)
	}
	return nil
}

func scanService(row pgx.Row) (*kcred.Service, error) {
	s := &kcred.Service{}
	err := row.Scan(&s.ID, &s.Project, &s.Name, &s.Type, &s.URI, &s.TechEmails, (*ntime)(&s.CreateTime),
		(*ntime)(&s.UpdateTime))
	s.TechEmails = textArray(s.TechEmails)
	return s, err
}

// FindService implements kcred.Queries.
func (q queries) FindService(ctx context.Context, project, name string) (*kcred.Service, error) {
	s, err := scanService(q.db.QueryRow(ctx, sqlFindService, project, name))
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Service %q not found.", name)
	} else if err != nil {
		return nil, fail("find service", err, "")
	}
	return s, nil
}

// ListServices implements kcred.Queries.
func (q queries) ListServices(ctx context.Context, project string) ([]*kcred.Service, error) {
	return list(q, ctx, "list services", scanService, sqlListServices, project)
}

// DeleteService implements kcred.Queries; foreign keys cascade to users,
// certificates and renewals.
func (q queries) DeleteService(ctx context.Context, id string) error {
	n, err := q.exec(ctx, sqlDeleteService, id)
	if err != nil {
		return fail("delete service", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ENOTFOUND, "Service not found.")
	}
	return nil
}
