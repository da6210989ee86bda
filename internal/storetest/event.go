package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func testEvents(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")

	// Events need no project row: logins have none, and the event of a
	// project's deletion outlives it.
	var want []*kcred.Event // in creation order
	for _, at := range []time.Duration{0, 2 * time.Second, time.Second, 3 * time.Second, 3 * time.Second} {
		want = append(want, storedEvent(*fx.event("proj", base.Add(at), kcred.ActionUserCreate)))
	}
	fx.event("other", base.Add(time.Hour), kcred.ActionProjectCreate)
	fx.event("", base, kcred.ActionLogin)

	t.Run("NewestFirst", func(t *testing.T) {
		got, err := s.ListEvents(ctx, "proj", 100)
		noErr(t, "ListEvents", err)
		// Same times keep the order of creation, newest first.
		equal(t, "ListEvents", got, []*kcred.Event{want[4], want[3], want[1], want[2], want[0]})
	})

	t.Run("Limit", func(t *testing.T) {
		got, err := s.ListEvents(ctx, "proj", 2)
		noErr(t, "ListEvents", err)
		equal(t, "ListEvents limit 2", got, []*kcred.Event{want[4], want[3]})
	})

	t.Run("Empty", func(t *testing.T) {
		got, err := s.ListEvents(ctx, "nope", 10)
		noErr(t, "ListEvents", err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListEvents of a project without events = %#v, want an empty non-nil list", got)
		}
	})

	t.Run("NoProject", func(t *testing.T) {
		got, err := s.ListEvents(ctx, "", 10)
		noErr(t, "ListEvents", err)
		if len(got) != 1 || got[0].Action != kcred.ActionLogin {
			t.Fatalf("ListEvents without project = %s", show(got))
		}
	})
}

func testCreateEvents(t *testing.T, s kcred.Store) {
	ctx := t.Context()

	t.Run("InOrder", func(t *testing.T) {
		// More than one multi-row statement holds, and the same time for
		// all: only the order of creation tells them apart.
		var events, want []*kcred.Event
		for i := range 100 {
			e := &kcred.Event{ID: kcred.NewID(), Time: base, Actor: "admin@kcred.local", Action: kcred.ActionCredentialsRead,
				Project: "many", Service: "kafka-1", Target: fmt.Sprintf("user-%d", i), Source: "192.0.2.1:4711",
				Detail: fmt.Sprintf("Read %d.", i)}
			events = append(events, e)
			want = append(want, storedEvent(*e))
		}
		noErr(t, "CreateEvents", s.CreateEvents(ctx, events))
		got, err := s.ListEvents(ctx, "many", 0)
		noErr(t, "ListEvents", err)
		slices.Reverse(want) // newest first
		equal(t, "ListEvents after CreateEvents", got, want)
	})

	t.Run("Defaults", func(t *testing.T) {
		before := time.Now().Add(-time.Minute)
		e := &kcred.Event{Action: kcred.ActionCredentialsRead, Project: "defaults", Target: "bob"}
		noErr(t, "CreateEvents", s.CreateEvents(ctx, []*kcred.Event{e}))
		if e.ID == "" || e.Time.Before(before) {
			t.Fatalf("CreateEvents left ID %q and time %v, want a new ID and the current time", e.ID, e.Time)
		}
		got, err := s.ListEvents(ctx, "defaults", 0)
		noErr(t, "ListEvents", err)
		equal(t, "ListEvents", got, []*kcred.Event{storedEvent(*e)})
	})

	t.Run("None", func(t *testing.T) {
		noErr(t, "CreateEvents of none", s.CreateEvents(ctx, nil))
	})

	t.Run("RolledBackWithItsTransaction", func(t *testing.T) {
		boom := errors.New("boom")
		err := s.InTx(ctx, func(q kcred.Queries) error {
			noErr(t, "CreateEvents", q.CreateEvents(ctx, []*kcred.Event{
				{Action: kcred.ActionCredentialsRead, Project: "undone", Target: "a"},
				{Action: kcred.ActionCredentialsRead, Project: "undone", Target: "b"},
			}))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want %v", err, boom)
		}
		got, err := s.ListEvents(ctx, "undone", 0)
		noErr(t, "ListEvents", err)
		if len(got) != 0 {
			t.Fatalf("events of a rolled-back transaction were kept: %s", show(got))
		}
	})
}
