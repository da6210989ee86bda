package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/kcred/kcred"
)

const projectCols = `p.name, p.tech_emails, p.key_type, p.validity_ns, p.renew_before_ns, p.reminders_ns,
	p.ca_generation, p.create_time`

var (
	sqlCreateProject = stmt(`INSERT INTO projects (name, tech_emails, key_type, validity_ns, renew_before_ns,
		reminders_ns, ca_generation, create_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	sqlFindProject          = stmt(`SELECT ` + projectCols + ` FROM projects p WHERE p.name = ?`)
	sqlListProjects         = stmt(`SELECT ` + projectCols + ` FROM projects p ORDER BY p.name`)
	sqlListProjectsByMember = stmt(`SELECT ` + projectCols + ` FROM projects p JOIN members m ON m.project = p.name WHERE m.account_id = ? ORDER BY m.project`)
	sqlUpdateProject        = stmt(`UPDATE projects SET tech_emails = ?, key_type = ?, validity_ns = ?, renew_before_ns = ?, reminders_ns = ?, ca_generation = ? WHERE name = ?`)
	sqlDeleteProject        = stmt(`DELETE FROM projects WHERE name = ?`) // the trigger deletes its events
	sqlProjectExists        = stmt(`SELECT count(*) FROM projects WHERE name = ?`)
	sqlCreateCA             = stmt(`INSERT INTO cas (id, project, generation, cert_pem, sealed_key, not_after, create_time) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	sqlListCAs              = stmt(`SELECT id, project, generation, cert_pem, sealed_key, not_after, create_time FROM cas WHERE project = ? ORDER BY generation DESC`)
	sqlPutMember            = stmt(`INSERT INTO members (project, account_id, role, create_time) VALUES (?, ?, ?, ?) ON CONFLICT (project, account_id) DO UPDATE SET role = excluded.role RETURNING create_time`)
	sqlFindMember           = stmt(`SELECT m.project, m.account_id, a.email, m.role, m.create_time FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.project = ? AND m.account_id = ?`)
	sqlListMembers          = stmt(`SELECT m.project, m.account_id, a.email, m.role, m.create_time FROM members m JOIN accounts a ON a.id = m.account_id WHERE m.project = ? ORDER BY a.email`)
	sqlDeleteMember         = stmt(`DELETE FROM members WHERE project = ? AND account_id = ?`)
)

const errProjectNotFoundFormat = "Project %q does not exist."

// CreateProject implements kcred.Queries.
func (q queries) CreateProject(ctx context.Context, p *kcred.Project) error {
	defaultNow(&p.CreateTime)
	norm(&p.CreateTime)
	emails, err := emailsArg(p.TechEmails)
	if err != nil {
		return fail("create project", err, "")
	}
	reminders, err := durationsArg(p.Policy.Reminders)
	if err != nil {
		return fail("create project", err, "")
	}
	n, err := q.exec(ctx, sqlCreateProject, p.Name, emails, string(p.Policy.KeyType), int64(p.Policy.Validity),
		int64(p.Policy.RenewBefore), reminders, p.CAGeneration, timeArg(p.CreateTime))
	if err != nil {
		return fail("create project", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "Project %q already exists.", p.Name)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanProject(row scanner) (*kcred.Project, error) {
	p := &kcred.Project{}
	err := row.Scan(&p.Name, (*emails)(&p.TechEmails), (*nstr)(&p.Policy.KeyType), (*nint64)(&p.Policy.Validity),
		(*nint64)(&p.Policy.RenewBefore), (*durations)(&p.Policy.Reminders), &p.CAGeneration, (*ntime)(&p.CreateTime))
	return p, err
}

// FindProject implements kcred.Queries.
func (q queries) FindProject(ctx context.Context, name string) (*kcred.Project, error) {
	p, err := scanProject(q.read(ctx, sqlFindProject).QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, name)
	} else if err != nil {
		return nil, fail("find project", err, "")
	}
	return p, nil
}

// ListProjects implements kcred.Queries.
func (q queries) ListProjects(ctx context.Context) ([]*kcred.Project, error) {
	return q.listProjects(ctx, sqlListProjects)
}

// ListProjectsByMember implements kcred.Queries.
func (q queries) ListProjectsByMember(ctx context.Context, accountID string) ([]*kcred.Project, error) {
	return q.listProjects(ctx, sqlListProjectsByMember, accountID)
}

func (q queries) listProjects(ctx context.Context, n int, args ...any) ([]*kcred.Project, error) {
	rows, err := q.read(ctx, n).QueryContext(ctx, args...)
	if err != nil {
		return nil, fail("list projects", err, "")
	}
	defer rows.Close()
	out := []*kcred.Project{}
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, fail("list projects", err, "")
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list projects", err, "")
	}
	return out, nil
}

// UpdateProject implements kcred.Queries.
func (q queries) UpdateProject(ctx context.Context, p *kcred.Project) error {
	emails, err := emailsArg(p.TechEmails)
	if err != nil {
		return fail("update project", err, "")
	}
	reminders, err := durationsArg(p.Policy.Reminders)
	if err != nil {
		return fail("update project", err, "")
	}
	n, err := q.exec(ctx, sqlUpdateProject, emails, string(p.Policy.KeyType), int64(p.Policy.Validity),
		int64(p.Policy.RenewBefore), reminders, p.CAGeneration, p.Name)
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
// deliveries, and webhooks; a trigger deletes the events.
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

// exists runs a count statement on the connection q writes with, so that
// it sees what q's transaction wrote.
func (q queries) exists(ctx context.Context, n int, args ...any) (bool, error) {
	var c int
	err := q.write(ctx, n).QueryRowContext(ctx, args...).Scan(&c)
	return c > 0, err
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
	if isForeignKey(err) {
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, ca.Project)
	} else if err != nil {
		return fail("create CA", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "CA generation %d of project %q already exists.", ca.Generation, ca.Project)
	}
	return nil
}

// ListCAs implements kcred.Queries.
func (q queries) ListCAs(ctx context.Context, project string) ([]*kcred.CA, error) {
	rows, err := q.read(ctx, sqlListCAs).QueryContext(ctx, project)
	if err != nil {
		return nil, fail("list CAs", err, "")
	}
	defer rows.Close()
	out := []*kcred.CA{}
	for rows.Next() {
		ca := &kcred.CA{}
		if err := rows.Scan(&ca.ID, &ca.Project, &ca.Generation, &ca.CertPEM, (*nbytes)(&ca.SealedKey),
			(*ntime)(&ca.NotAfter), (*ntime)(&ca.CreateTime)); err != nil {
			return nil, fail("list CAs", err, "")
		}
		out = append(out, ca)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list CAs", err, "")
	}
	return out, nil
}

// PutMember implements kcred.Queries. A new member gets m.CreateTime (now
// when zero); a changed one keeps its original, which is written back to m.
func (q queries) PutMember(ctx context.Context, m *kcred.Member) error {
	defaultNow(&m.CreateTime)
	norm(&m.CreateTime)
	err := q.write(ctx, sqlPutMember).QueryRowContext(ctx, m.Project, m.AccountID, string(m.Role),
		timeArg(m.CreateTime)).Scan((*ntime)(&m.CreateTime))
	if isForeignKey(err) {
		if ok, err := q.exists(ctx, sqlProjectExists, m.Project); err != nil {
			return fail("put member", err, "")
		} else if !ok {
			return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, m.Project)
		}
		return kcred.Errorf(kcred.ENOTFOUND, "Account does not exist.")
	} else if err != nil {
		return fail("put member", err, "")
	}
	return nil
}

func scanMember(row scanner) (*kcred.Member, error) {
	m := &kcred.Member{}
	err := row.Scan(&m.Project, &m.AccountID, &m.Email, (*nstr)(&m.Role), (*ntime)(&m.CreateTime))
	return m, err
}

// FindMember implements kcred.Queries.
func (q queries) FindMember(ctx context.Context, project, accountID string) (*kcred.Member, error) {
	m, err := scanMember(q.read(ctx, sqlFindMember).QueryRowContext(ctx, project, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Account is not a member of project %q.", project)
	} else if err != nil {
		return nil, fail("find member", err, "")
	}
	return m, nil
}

// ListMembers implements kcred.Queries.
func (q queries) ListMembers(ctx context.Context, project string) ([]*kcred.Member, error) {
	rows, err := q.read(ctx, sqlListMembers).QueryContext(ctx, project)
	if err != nil {
		return nil, fail("list members", err, "")
	}
	defer rows.Close()
	out := []*kcred.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fail("list members", err, "")
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list members", err, "")
	}
	return out, nil
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
