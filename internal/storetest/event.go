package storetest

import (
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
