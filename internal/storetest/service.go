package storetest

import (
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func testServices(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	fx.project("other")

	services := []*kcred.Service{
		{ID: kcred.NewID(), Project: "proj", Name: "kafka-b", Type: kcred.ServiceTypeKafka, URI: "kafka-b.example:9093",
			TechEmails: []string{"x@example.com", "y@example.com"}, CreateTime: base, UpdateTime: base.Add(time.Hour)},
		{ID: kcred.NewID(), Project: "proj", Name: "kafka-a", Type: kcred.ServiceTypeKafka, // no URI, no contacts
			CreateTime: base.Add(time.Nanosecond), UpdateTime: base.Add(time.Nanosecond)},
		{ID: kcred.NewID(), Project: "other", Name: "kafka-b", Type: kcred.ServiceTypeKafka, // same name, other project
			CreateTime: base, UpdateTime: base},
	}
	var want []*kcred.Service
	for _, sv := range services {
		want = append(want, storedService(*sv))
		noErr(t, "CreateService", s.CreateService(ctx, sv))
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for _, w := range want {
			got, err := s.FindService(ctx, w.Project, w.Name)
			noErr(t, "FindService", err)
			equal(t, "service", got, w)
		}
	})

	t.Run("List", func(t *testing.T) {
		got, err := s.ListServices(ctx, "proj")
		noErr(t, "ListServices", err)
		equal(t, "ListServices by name", got, []*kcred.Service{want[1], want[0]})
		got, err = s.ListServices(ctx, "nope")
		noErr(t, "ListServices", err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListServices of a missing project = %#v, want an empty non-nil list", got)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		err := s.CreateService(ctx, &kcred.Service{ID: kcred.NewID(), Project: "proj", Name: "kafka-a",
			Type: kcred.ServiceTypeKafka, CreateTime: base, UpdateTime: base})
		wantCode(t, "CreateService with a taken name", err, kcred.ECONFLICT)
		err = s.CreateService(ctx, &kcred.Service{ID: kcred.NewID(), Project: "nope", Name: "kafka-a",
			Type: kcred.ServiceTypeKafka, CreateTime: base, UpdateTime: base})
		wantCode(t, "CreateService in a missing project", err, kcred.ENOTFOUND)
		_, err = s.FindService(ctx, "proj", "nope")
		wantCode(t, "FindService", err, kcred.ENOTFOUND)
		_, err = s.FindService(ctx, "nope", "kafka-a")
		wantCode(t, "FindService in a missing project", err, kcred.ENOTFOUND)
		err = s.DeleteService(ctx, kcred.NewID())
		wantCode(t, "DeleteService", err, kcred.ENOTFOUND)
	})

	t.Run("Delete", func(t *testing.T) {
		noErr(t, "DeleteService", s.DeleteService(ctx, want[0].ID))
		_, err := s.FindService(ctx, "proj", "kafka-b")
		wantCode(t, "FindService after delete", err, kcred.ENOTFOUND)
		err = s.DeleteService(ctx, want[0].ID)
		wantCode(t, "DeleteService twice", err, kcred.ENOTFOUND)
		got, err := s.FindService(ctx, "other", "kafka-b")
		noErr(t, "FindService of the other project", err)
		equal(t, "service of the other project", got, want[2])
	})
}

func testServiceUsers(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	s1 := fx.service("proj", "kafka-1")
	s2 := fx.service("proj", "kafka-2")

	users := []*kcred.ServiceUser{
		{ID: kcred.NewID(), ServiceID: s1.ID, Username: kcred.PrimaryUsername, Type: kcred.UserTypePrimary,
			SealedPassword: randomBytes(44), CreateTime: base, PasswordUpdateTime: base},
		{ID: kcred.NewID(), ServiceID: s1.ID, Username: "alice.app@team+1", Type: kcred.UserTypeNormal,
			SealedPassword: append([]byte{0, 0, 0xff}, randomBytes(40)...),
			AccessControl:  `{"pg_allow_replication":false}`, CreateTime: base.Add(time.Second)}, // password never set: zero time
		{ID: kcred.NewID(), ServiceID: s2.ID, Username: "alice.app@team+1", Type: kcred.UserTypeNormal, // same name, other service
			SealedPassword: randomBytes(44), CreateTime: base, PasswordUpdateTime: base.Add(time.Microsecond)},
	}
	var want []*kcred.ServiceUser
	for _, u := range users {
		want = append(want, storedUser(*u))
		noErr(t, "CreateServiceUser", s.CreateServiceUser(ctx, u))
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for _, w := range want {
			got, err := s.FindServiceUser(ctx, w.ServiceID, w.Username)
			noErr(t, "FindServiceUser", err)
			equal(t, "service user", got, w)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		u := newUser(s1.ID, kcred.PrimaryUsername)
		wantCode(t, "CreateServiceUser with a taken username", s.CreateServiceUser(ctx, u), kcred.ECONFLICT)
		u = newUser(kcred.NewID(), "bob")
		wantCode(t, "CreateServiceUser in a missing service", s.CreateServiceUser(ctx, u), kcred.ENOTFOUND)
		_, err := s.FindServiceUser(ctx, s1.ID, "nobody")
		wantCode(t, "FindServiceUser", err, kcred.ENOTFOUND)
		_, err = s.FindServiceUser(ctx, s2.ID, kcred.PrimaryUsername)
		wantCode(t, "FindServiceUser in the other service", err, kcred.ENOTFOUND)
		err = s.UpdateServiceUser(ctx, newUser(s1.ID, "nobody"))
		wantCode(t, "UpdateServiceUser", err, kcred.ENOTFOUND)
		err = s.DeleteServiceUser(ctx, kcred.NewID())
		wantCode(t, "DeleteServiceUser", err, kcred.ENOTFOUND)
	})

	t.Run("Update", func(t *testing.T) {
		// SealedPassword, PasswordUpdateTime and AccessControl are written.
		u := *want[1]
		u.SealedPassword = randomBytes(50)
		u.PasswordUpdateTime = base.Add(day + time.Nanosecond)
		u.AccessControl = `{"m":true}`
		u.Username, u.Type, u.CreateTime = "mallory", kcred.UserTypePrimary, base.Add(day)
		noErr(t, "UpdateServiceUser", s.UpdateServiceUser(ctx, &u))
		w := *want[1]
		w.SealedPassword, w.PasswordUpdateTime, w.AccessControl = u.SealedPassword, kcred.UTC(u.PasswordUpdateTime), u.AccessControl
		got, err := s.FindServiceUser(ctx, s1.ID, want[1].Username)
		noErr(t, "FindServiceUser", err)
		equal(t, "service user after update", got, &w)

		// Clearing: the zero time and no access control.
		w.PasswordUpdateTime, w.AccessControl = time.Time{}, ""
		u = w
		noErr(t, "UpdateServiceUser", s.UpdateServiceUser(ctx, &u))
		got, err = s.FindServiceUser(ctx, s1.ID, want[1].Username)
		noErr(t, "FindServiceUser", err)
		equal(t, "service user after clearing", got, &w)
	})

	t.Run("Delete", func(t *testing.T) {
		noErr(t, "DeleteServiceUser", s.DeleteServiceUser(ctx, want[0].ID))
		_, err := s.FindServiceUser(ctx, s1.ID, kcred.PrimaryUsername)
		wantCode(t, "FindServiceUser after delete", err, kcred.ENOTFOUND)
		err = s.DeleteServiceUser(ctx, want[0].ID)
		wantCode(t, "DeleteServiceUser twice", err, kcred.ENOTFOUND)
		got, err := s.FindServiceUser(ctx, s2.ID, want[2].Username)
		noErr(t, "FindServiceUser of the other service", err)
		equal(t, "service user of the other service", got, want[2])
	})
}
