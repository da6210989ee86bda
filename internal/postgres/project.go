package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred"
)

const (
	projectCols = `p.name, p.tech_emails, p.key_type, p.validity_ns, p.renew_before_ns, p.reminders_ns,
	p.reminders_ns IS NULL, p.ca_generation, p.create_time`

	sqlCreateProject = `INSERT INTO projects (name, tech_emails, key_type, validity_ns, renew_before_ns,
		reminders_ns, ca_generation, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`
	sqlFindProject          = `SELECT ` + projectCols + ` FROM projects p WHERE p.name = $1`
	sqlListProjects         = `SELECT ` + projectCols + ` FROM projects p ORDER BY p.name`
	sqlListProjectsByMember = `SELECT ` + projectCols + ` FROM projects p JOIN members m ON m.project = p.name
		WHERE m.account_id = $1 ORDER BY m.project`
	sqlUpdateProject = `UPDATE projects SET tech_emails = $1, key_type = $2, validity_ns = $3, renew_before_ns = $4,
		reminders_ns = $5, ca_generation = $6 WHERE name = $7`
	// One statement deletes the project's events with it: events have no
	// foreign key (see the migration).
	sqlDeleteProject = `WITH events AS (DELETE FROM events WHERE project = $1)
		DELETE FROM projects WHERE name = $1`

	sqlCreateCA = `INSERT INTO cas (id, project, generation, cert_pem, sealed_key, not_after, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`
	sqlListCAs = `SELECT id, project, generation, cert_pem, sealed_key, not_after, create_time
		FROM cas WHERE project = $1 ORDER BY generation DESC`

	sqlPutMember = `INSERT INTO members (project, account_id, role, create_time) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project, account_id) DO UPDATE SET role = excluded.role RETURNING create_time`
	memberFrom      = `SELECT m.project, m.account_id, a.email, m.role, m.create_time FROM members m JOIN accounts a ON a.id = m.account_id`
	sqlFindMember   = memberFrom + ` WHERE m.project = $1 AND m.account_id = $2`
	sqlListMembers  = memberFrom + ` WHERE m.project = $1 ORDER BY a.email`
	sqlDeleteMember = `DELETE FROM members WHERE project = $1 AND account_id = $2`

	errProjectNotFoundFormat = "Project %q does not exist."
)

// CreateProject implements kcred.Queries.
func (q queries) CreateProject(ctx context.Context, p *kcred.Project) error {
	defaultNow(&p.CreateTime)
	norm(&p.CreateTime)
	n, err := q.exec(ctx, sqlCreateProject, p.Name, textArray(p.TechEmails), string(p.Policy.KeyType),
		int64(p.Policy.Validity), int64(p.Policy.RenewBefore), nanosArg(p.Policy.Reminders), p.CAGeneration,
		timeArg(p.CreateTime))
	if err != nil {
		return fail("create project", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "Project %q already exists.", p.Name)
	}
	return nil
}

func scanProject(row pgx.Row) (*kcred.Project, error) {
	p := &kcred.Project{}
	var reminders []int64
	var null bool
	err := row.Scan(&p.Name, &p.TechEmails, (*string)(&p.Policy.KeyType), (*int64)(&p.Policy.Validity),
		(*int64)(&p.Policy.RenewBefore), &reminders, &null, &p.CAGeneration, (*ntime)(&p.CreateTime))
	p.TechEmails = textArray(p.TechEmails)
	p.Policy.Reminders = durationsFrom(reminders, null)
	return p, err
}

// FindProject implements kcred.Queries.
func (q queries) FindProject(ctx context.Context, name string) (*kcred.Project, error) {
	p, err := scanProject(q.db.QueryRow(ctx, sqlFindProject, name))
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, name)
	} else if err != nil {
		return nil, fail("find project", err, "")
	}
	return p, nil
}

// ListProjects implements kcred.Queries.
func (q queries) ListProjects(ctx context.Context) ([]*kcred.Project, error) {
	return list(q, ctx, "list projects", scanProject, sqlListProjects)
}

// ListProjectsByMember implements kcred.Queries.
func (q queries) ListProjectsByMember(ctx context.Context, accountID string) ([]*kcred.Project, error) {
	return list(q, ctx, "list projects", scanProject, sqlListProjectsByMember, accountID)
}

// list runs a query and scans every row with scan; never nil on success.
func list[T any](q queries, ctx context.Context, op string, scan func(pgx.Row) (*T, error), sql string, args ...any) ([]*T, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fail(op, err, "")
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fail(op, err, "")
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(op, err, "")
	}
	return out, nil
}

// UpdateProject implements kcred.Queries.
func (q queries) UpdateProject(ctx context.Context, p *kcred.Project) error {
	n, err := q.exec(ctx, sqlUpdateProject, textArray(p.TechEmails), string(p.Policy.KeyType), int64(p.Policy.Validity),
		int64(p.Policy.RenewBefore), nanosArg(p.Policy.Reminders), p.CAGeneration, p.Name)
	if err != nil {
		return fail("update project", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, p.Name)
	}
	return nil
}

// DeleteProject implements kcred.Queries. Foreign keys cascade to CAs,
// members, services and what is in them, notices, notifications with their
// deliveries, and webhooks; the statement deletes the events.
func (q queries) DeleteProject(ctx context.Context, name string) error {
	n, err := q.exec(ctx, sqlDeleteProject, name)
	if err != nil {
		return fail("delete project", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, name)
	}
	return nil
}

// CreateCA implements kcred.Queries. ENOTFOUND when the project does not exist.
func (q queries) CreateCA(ctx context.Context, ca *kcred.CA) error {
	if err := mustID("CA", ca.ID); err != nil {
		return err
	}
	defaultNow(&ca.CreateTime)
	norm(&ca.CreateTime, &ca.NotAfter)
	n, err := q.exec(ctx, sqlCreateCA, ca.ID, ca.Project, ca.Generation, ca.CertPEM, blob(ca.SealedKey),
		timeArg(ca.NotAfter), timeArg(ca.CreateTime))
	if foreignKey(err) != "" {
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, ca.Project)
	} else if err != nil {
		return fail("create CA", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "CA generation %d of project %q already exists.", ca.Generation, ca.Project)
	}
	return nil
}

func scanCA(row pgx.Row) (*kcred.CA, error) {
	ca := &kcred.CA{}
	err := row.Scan(&ca.ID, &ca.Project, &ca.Generation, &ca.CertPEM, &ca.SealedKey, (*ntime)(&ca.NotAfter),
		(*ntime)(&ca.CreateTime))
	return ca, err
}

// ListCAs implements kcred.Queries.
func (q queries) ListCAs(ctx context.Context, project string) ([]*kcred.CA, error) {
	return list(q, ctx, "list CAs", scanCA, sqlListCAs, project)
}

// PutMember implements kcred.Queries. A new member gets m.CreateTime (now
// when zero); a changed one keeps its original, which is written back to m.
func (q queries) PutMember(ctx context.Context, m *kcred.Member) error {
	defaultNow(&m.CreateTime)
	norm(&m.CreateTime)
	err := q.db.QueryRow(ctx, sqlPutMember, m.Project, m.AccountID, string(m.Role), timeArg(m.CreateTime)).
		Scan((*ntime)(&m.CreateTime))
	switch foreignKey(err) {
	case "":
	case "members_project_fk":
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, m.Project)
	default:
		return kcred.Errorf(kcred.ENOTFOUND, "Account does not exist.")
	}
	if err != nil {
		return fail("put member", err, "")
	}
	return nil
}

func scanMember(row pgx.Row) (*kcred.Member, error) {
	m := &kcred.Member{}
	err := row.Scan(&m.Project, &m.AccountID, &m.Email, (*string)(&m.Role), (*ntime)(&m.CreateTime))
	return m, err
}

// FindMember implements kcred.Queries.
func (q queries) FindMember(ctx context.Context, project, accountID string) (*kcred.Member, error) {
	m, err := scanMember(q.db.QueryRow(ctx, sqlFindMember, project, accountID))
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Account is not a member of project %q.", project)
	} else if err != nil {
		return nil, fail("find member", err, "")
	}
	return m, nil
}

// ListMembers implements kcred.Queries.
func (q queries) ListMembers(ctx context.Context, project string) ([]*kcred.Member, error) {
	return list(q, ctx, "list members", scanMember, sqlListMembers, project)
}

// DeleteMember implements kcred.Queries.
func (q queries) DeleteMember(ctx context.Context, project, accountID string) error {
	n, err := q.exec(ctx, sqlDeleteMember, project, accountID)
	if err != nil {
		return fail("delete member", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ENOTFOUND, "Account is not a member of project %q.", project)
	}
	return nil
}
