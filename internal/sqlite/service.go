package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/kcred/kcred"
)

const serviceCols = `id, project, name, type, uri, tech_emails, create_time, update_time`

var (
	sqlCreateService = stmt(`INSERT INTO services (` + serviceCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`)
	sqlFindService   = stmt(`SELECT ` + serviceCols + ` FROM services WHERE project = ? AND name = ?`)
	sqlListServices  = stmt(`SELECT ` + serviceCols + ` FROM services WHERE project = ? ORDER BY name`)
	sqlDeleteService = stmt(`DELETE FROM services WHERE id = ?`)
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
	emails, err := emailsArg(s.TechEmails)
	if err != nil {
		return fail("create service", err, "")
	}
	n, err := q.exec(ctx, sqlCreateService, s.ID, s.Project, s.Name, s.Type, s.URI, emails,
		timeArg(s.CreateTime), timeArg(s.UpdateTime))
	if isForeignKey(err) {
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, s.Project)
	} else if err != nil {
		return fail("create service", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "Service %q already exists in project %q.", s.Name, s.Project)
	}
	return nil
}

func scanService(row scanner) (*kcred.Service, error) {
	s := &kcred.Service{}
	err := row.Scan(&s.ID, &s.Project, &s.Name, &s.Type, &s.URI, (*emails)(&s.TechEmails),
		(*ntime)(&s.CreateTime), (*ntime)(&s.UpdateTime))
	return s, err
}

// FindService implements kcred.Queries.
func (q queries) FindService(ctx context.Context, project, name string) (*kcred.Service, error) {
	s, err := scanService(q.read(ctx, sqlFindService).QueryRowContext(ctx, project, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Service %q not found.", name)
	} else if err != nil {
		return nil, fail("find service", err, "")
	}
	return s, nil
}

// ListServices implements kcred.Queries.
func (q queries) ListServices(ctx context.Context, project string) ([]*kcred.Service, error) {
	rows, err := q.read(ctx, sqlListServices).QueryContext(ctx, project)
	if err != nil {
		return nil, fail("list services", err, "")
	}
	defer rows.Close()
	out := []*kcred.Service{}
	for rows.Next() {
		s, err := scanService(rows)
		if err != nil {
			return nil, fail("list services", err, "")
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list services", err, "")
	}
	return out, nil
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
