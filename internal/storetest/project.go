package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func testProjects(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	list, err := s.ListProjects(ctx)
	noErr(t, "ListProjects", err)
	if list == nil || len(list) != 0 {
		t.Fatalf("ListProjects of an empty store = %#v, want an empty non-nil list", list)
	}

	// Created out of order; listed by name.
	projects := []*kcred.Project{
		{ // every policy field set, durations that are not whole seconds
			Name: "proj-c", TechEmails: []string{"a@example.com", "b@example.com"},
			Policy: kcred.CertPolicy{KeyType: kcred.KeyTypeRSA4096, Validity: 820*day + time.Nanosecond,
				RenewBefore: 90*day + 999*time.Nanosecond, Reminders: []time.Duration{60 * day, 36 * time.Hour, time.Nanosecond}},
			CAGeneration: 3, CreateTime: base,
		},
		{ // the server's defaults: zero fields, nil reminders, no contacts
			Name: "proj-a", CreateTime: base.Add(time.Hour),
		},
		{ // explicitly no reminders: an empty, non-nil list
			Name: "proj-b", TechEmails: []string{}, Policy: kcred.CertPolicy{Reminders: []time.Duration{}},
			CAGeneration: 1, CreateTime: base.Add(2 * time.Hour),
		},
	}
	want := map[string]*kcred.Project{}
	for _, p := range projects {
		want[p.Name] = storedProject(*p)
		noErr(t, "CreateProject", s.CreateProject(ctx, p))
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for name, w := range want {
			got, err := s.FindProject(ctx, name)
			noErr(t, "FindProject", err)
			equal(t, "project "+name, got, w)
			if (got.Policy.Reminders == nil) != (w.Policy.Reminders == nil) {
				t.Fatalf("project %s: reminders nil = %v, want %v", name, got.Policy.Reminders == nil, w.Policy.Reminders == nil)
			}
		}
	})

	t.Run("List", func(t *testing.T) {
		got, err := s.ListProjects(ctx)
		noErr(t, "ListProjects", err)
		equal(t, "ListProjects", got, []*kcred.Project{want["proj-a"], want["proj-b"], want["proj-c"]})
	})

	t.Run("Errors", func(t *testing.T) {
		err := s.CreateProject(ctx, &kcred.Project{Name: "proj-a", CreateTime: base})
		wantCode(t, "CreateProject with a taken name", err, kcred.ECONFLICT)
		_, err = s.FindProject(ctx, "nope")
		wantCode(t, "FindProject", err, kcred.ENOTFOUND)
		if msg := kcred.ErrorMessage(err); !strings.Contains(msg, `"nope"`) {
			t.Errorf("FindProject message %q does not name the project", msg)
		}
		err = s.UpdateProject(ctx, &kcred.Project{Name: "nope"})
		wantCode(t, "UpdateProject", err, kcred.ENOTFOUND)
		err = s.DeleteProject(ctx, "nope")
		wantCode(t, "DeleteProject", err, kcred.ENOTFOUND)
	})

	t.Run("Update", func(t *testing.T) {
		// TechEmails, Policy and CAGeneration are written, CreateTime is not.
		p := *want["proj-a"]
		p.TechEmails = []string{"new@example.com"}
		p.Policy = kcred.CertPolicy{KeyType: kcred.KeyTypeECP256, Validity: 36 * time.Hour, RenewBefore: 45 * time.Second,
			Reminders: []time.Duration{time.Hour, time.Minute}}
		p.CAGeneration = 2
		p.CreateTime = base.Add(day)
		noErr(t, "UpdateProject", s.UpdateProject(ctx, &p))
		w := p
		w.CreateTime = want["proj-a"].CreateTime
		got, err := s.FindProject(ctx, "proj-a")
		noErr(t, "FindProject", err)
		equal(t, "project after update", got, &w)

		// Back to the defaults: nil reminders again.
		p = *want["proj-a"]
		noErr(t, "UpdateProject", s.UpdateProject(ctx, &p))
		got, err = s.FindProject(ctx, "proj-a")
		noErr(t, "FindProject", err)
		equal(t, "project after reset", got, want["proj-a"])
		if got.Policy.Reminders != nil {
			t.Fatalf("reminders after reset = %#v, want nil", got.Policy.Reminders)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		noErr(t, "DeleteProject", s.DeleteProject(ctx, "proj-b"))
		_, err := s.FindProject(ctx, "proj-b")
		wantCode(t, "FindProject after delete", err, kcred.ENOTFOUND)
		got, err := s.ListProjects(ctx)
		noErr(t, "ListProjects", err)
		equal(t, "ListProjects after delete", got, []*kcred.Project{want["proj-a"], want["proj-c"]})
	})
}

func testCAs(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	fx.project("other")
	newCA := func(project string, gen int) *kcred.CA {
		return &kcred.CA{ID: kcred.NewID(), Project: project, Generation: gen, CertPEM: fakePEM("CERTIFICATE", 600),
			SealedKey: randomBytes(180), NotAfter: base.Add(3650 * day), CreateTime: base.Add(time.Duration(gen) * time.Hour)}
	}
	var want []*kcred.CA
	for _, gen := range []int{1, 3, 2} {
		ca := newCA("proj", gen)
		want = append(want, storedCA(*ca))
		noErr(t, "CreateCA", s.CreateCA(ctx, ca))
	}
	noErr(t, "CreateCA", s.CreateCA(ctx, newCA("other", 1)))

	got, err := s.ListCAs(ctx, "proj")
	noErr(t, "ListCAs", err)
	equal(t, "ListCAs newest first", got, []*kcred.CA{want[1], want[2], want[0]})

	err = s.CreateCA(ctx, newCA("proj", 2))
	wantCode(t, "CreateCA with a taken generation", err, kcred.ECONFLICT)
	err = s.CreateCA(ctx, newCA("nope", 1))
	wantCode(t, "CreateCA in a missing project", err, kcred.ENOTFOUND)
	got, err = s.ListCAs(ctx, "nope")
	noErr(t, "ListCAs", err)
	if got == nil || len(got) != 0 {
		t.Fatalf("ListCAs of a missing project = %#v, want an empty non-nil list", got)
	}
}

func testMembers(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	// Emails sort the other way round than creation.
	zed := fx.account("zed@example.com")
	amy := fx.account("amy@example.com")
	loner := fx.account("loner@example.com")
	for _, p := range []string{"proj-3", "proj-1", "proj-2"} {
		fx.project(p)
	}

	put := func(project string, a *kcred.Account, role kcred.Role, at time.Time) {
		t.Helper()
		noErr(t, "PutMember", s.PutMember(ctx, &kcred.Member{Project: project, AccountID: a.ID, Role: role, CreateTime: at}))
	}
	put("proj-1", zed, kcred.RoleAdmin, base)
	put("proj-1", amy, kcred.RoleReadOnly, base.Add(time.Minute))
	put("proj-3", zed, kcred.RoleDeveloper, base)

	t.Run("RoundTrip", func(t *testing.T) {
		got, err := s.FindMember(ctx, "proj-1", zed.ID)
		noErr(t, "FindMember", err)
		equal(t, "member", got, &kcred.Member{Project: "proj-1", AccountID: zed.ID, Email: zed.Email,
			Role: kcred.RoleAdmin, CreateTime: kcred.UTC(base)})
	})

	t.Run("ChangeRole", func(t *testing.T) {
		// Changing the role keeps the member's original CreateTime.
		put("proj-1", zed, kcred.RoleOperator, base.Add(day))
		got, err := s.FindMember(ctx, "proj-1", zed.ID)
		noErr(t, "FindMember", err)
		equal(t, "member after role change", got, &kcred.Member{Project: "proj-1", AccountID: zed.ID, Email: zed.Email,
			Role: kcred.RoleOperator, CreateTime: kcred.UTC(base)})
	})

	t.Run("List", func(t *testing.T) {
		got, err := s.ListMembers(ctx, "proj-1")
		noErr(t, "ListMembers", err)
		equal(t, "ListMembers by email", got, []*kcred.Member{
			{Project: "proj-1", AccountID: amy.ID, Email: amy.Email, Role: kcred.RoleReadOnly, CreateTime: kcred.UTC(base.Add(time.Minute))},
			{Project: "proj-1", AccountID: zed.ID, Email: zed.Email, Role: kcred.RoleOperator, CreateTime: kcred.UTC(base)},
		})
		got, err = s.ListMembers(ctx, "proj-2")
		noErr(t, "ListMembers", err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListMembers of a project without members = %#v, want an empty non-nil list", got)
		}
	})

	t.Run("ListProjectsByMember", func(t *testing.T) {
		got, err := s.ListProjectsByMember(ctx, zed.ID)
		noErr(t, "ListProjectsByMember", err)
		var names []string
		for _, p := range got {
			names = append(names, p.Name)
		}
		equal(t, "ListProjectsByMember names", names, []string{"proj-1", "proj-3"})
		p1, _ := s.FindProject(ctx, "proj-1")
		equal(t, "ListProjectsByMember project", got[0], p1)

		got, err = s.ListProjectsByMember(ctx, loner.ID)
		noErr(t, "ListProjectsByMember", err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListProjectsByMember of a non-member = %#v, want an empty non-nil list", got)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		err := s.PutMember(ctx, &kcred.Member{Project: "nope", AccountID: zed.ID, Role: kcred.RoleAdmin, CreateTime: base})
		wantCode(t, "PutMember in a missing project", err, kcred.ENOTFOUND)
		err = s.PutMember(ctx, &kcred.Member{Project: "proj-1", AccountID: kcred.NewID(), Role: kcred.RoleAdmin, CreateTime: base})
		wantCode(t, "PutMember of a missing account", err, kcred.ENOTFOUND)
		_, err = s.FindMember(ctx, "proj-2", zed.ID)
		wantCode(t, "FindMember of a non-member", err, kcred.ENOTFOUND)
		err = s.DeleteMember(ctx, "proj-2", zed.ID)
		wantCode(t, "DeleteMember of a non-member", err, kcred.ENOTFOUND)
	})

	t.Run("Delete", func(t *testing.T) {
		noErr(t, "DeleteMember", s.DeleteMember(ctx, "proj-1", amy.ID))
		_, err := s.FindMember(ctx, "proj-1", amy.ID)
		wantCode(t, "FindMember after delete", err, kcred.ENOTFOUND)
		err = s.DeleteMember(ctx, "proj-1", amy.ID)
		wantCode(t, "DeleteMember twice", err, kcred.ENOTFOUND)
		got, err := s.ListMembers(ctx, "proj-1")
		noErr(t, "ListMembers", err)
		if len(got) != 1 || got[0].AccountID != zed.ID {
			t.Fatalf("ListMembers after delete = %s", show(got))
		}
	})
}
