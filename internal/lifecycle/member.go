package lifecycle

import (
	"context"

	"github.com/kcred/kcred"
)

// ListMembers lists a project's members. Any member may.
func (m *Manager) ListMembers(ctx context.Context, a Actor, project string) ([]*kcred.Member, error) {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleReadOnly); err != nil {
		return nil, err
	}
	return m.store.ListMembers(ctx, project)
}

// Invite adds an existing account to a project with role, or changes its
// role. Admins only. ENOTFOUND when no account has the email.
func (m *Manager) Invite(ctx context.Context, a Actor, project, email string, role kcred.Role) error {
	return m.setMember(ctx, a, project, email, role, kcred.ActionMemberAdd)
}

// SetMemberRole changes a member's role. Admins only. ECONFLICT when it
// would leave the project without an admin.
func (m *Manager) SetMemberRole(ctx context.Context, a Actor, project, email string, role kcred.Role) error {
	return m.setMember(ctx, a, project, email, role, kcred.ActionMemberUpdate)
}

func (m *Manager) setMember(ctx context.Context, a Actor, project, email string, role kcred.Role, action string) error {
	if !role.Valid() {
		return kcred.Errorf(kcred.EINVALID, "Invalid member_type %q: use admin, operator, developer or read_only.", role)
	}
	email, err := kcred.ParseEmail(email)
	if err != nil {
		return err
	}
	defer m.forget()
	return m.store.InTx(ctx, func(q kcred.Queries) error {
		if _, _, err := m.access(ctx, q, a, project, kcred.RoleAdmin); err != nil {
			return err
		}
		acct, err := q.FindAccountByEmail(ctx, email)
		if kcred.ErrorCode(err) == kcred.ENOTFOUND {
			return kcred.Errorf(kcred.ENOTFOUND, "User %q does not exist; the superuser creates accounts.", email)
		} else if err != nil {
			return err
		}
		old, err := q.FindMember(ctx, project, acct.ID)
		switch {
		case kcred.ErrorCode(err) == kcred.ENOTFOUND:
			if action == kcred.ActionMemberUpdate {
				return kcred.Errorf(kcred.ENOTFOUND, "User %q is not a member of project %q.", email, project)
			}
		case err != nil:
			return err
		case old.Role == kcred.RoleAdmin && role != kcred.RoleAdmin:
			if err := m.keepAnAdmin(ctx, q, project, acct.ID); err != nil {
				return err
			}
		}
		if err := q.PutMember(ctx, &kcred.Member{Project: project, AccountID: acct.ID, Role: role, CreateTime: m.Now()}); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, action, project, "", email, "Set role of "+email+" to "+string(role)))
	})
}

// RemoveMember removes a member. Admins only; ECONFLICT for the last admin.
func (m *Manager) RemoveMember(ctx context.Context, a Actor, project, email string) error {
	email, err := kcred.ParseEmail(email)
	if err != nil {
		return err
	}
	defer m.forget()
	return m.store.InTx(ctx, func(q kcred.Queries) error {
		if _, _, err := m.access(ctx, q, a, project, kcred.RoleAdmin); err != nil {
			return err
		}
		notMember := kcred.Errorf(kcred.ENOTFOUND, "User %q is not a member of project %q.", email, project)
		acct, err := q.FindAccountByEmail(ctx, email)
		if kcred.ErrorCode(err) == kcred.ENOTFOUND {
			return notMember
		} else if err != nil {
			return err
		}
		old, err := q.FindMember(ctx, project, acct.ID)
		if kcred.ErrorCode(err) == kcred.ENOTFOUND {
			return notMember
		} else if err != nil {
			return err
		}
		if old.Role == kcred.RoleAdmin {
			if err := m.keepAnAdmin(ctx, q, project, acct.ID); err != nil {
				return err
			}
		}
		if err := q.DeleteMember(ctx, project, acct.ID); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionMemberRemove, project, "", email, "Removed "+email+" from project "+project))
	})
}

// keepAnAdmin fails when accountID is the project's only admin.
func (m *Manager) keepAnAdmin(ctx context.Context, q kcred.Queries, project, accountID string) error {
	members, err := q.ListMembers(ctx, project)
	if err != nil {
		return err
	}
	for _, mem := range members {
		if mem.Role == kcred.RoleAdmin && mem.AccountID != accountID {
			return nil
		}
	}
	return kcred.Errorf(kcred.ECONFLICT, "A project needs at least one admin.")
}
