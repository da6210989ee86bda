package storetest

import (
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func storedWebhook(w kcred.Webhook) *kcred.Webhook {
	w.CreateTime = kcred.UTC(w.CreateTime)
	return &w
}

func newWebhook(project string, at time.Time) *kcred.Webhook {
	return &kcred.Webhook{ID: kcred.NewID(), Project: project, URL: "https://hooks.example.com/kcred/" + kcred.NewID(),
		SealedSecret: randomBytes(60), CreateTime: at}
}

func testWebhooks(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	fx.project("other")

	// Created out of order; two at the same time.
	hooks := []*kcred.Webhook{newWebhook("proj", base.Add(time.Hour)), newWebhook("proj", base),
		newWebhook("proj", base.Add(time.Hour)), newWebhook("other", base)}
	for _, w := range hooks {
		noErr(t, "CreateWebhook", r.CreateWebhook(ctx, w))
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for _, w := range hooks {
			got, err := r.FindWebhook(ctx, w.ID)
			noErr(t, "FindWebhook", err)
			equal(t, "webhook", got, storedWebhook(*w))
		}
	})

	t.Run("List", func(t *testing.T) {
		got, err := r.ListWebhooks(ctx, "proj")
		noErr(t, "ListWebhooks", err)
		if len(got) != 3 {
			t.Fatalf("ListWebhooks = %s, want 3", show(got))
		}
		// Oldest first; the two of the same time in either order.
		if got[1].ID == hooks[2].ID {
			got[1], got[2] = got[2], got[1]
		}
		equal(t, "ListWebhooks, oldest first", got,
			[]*kcred.Webhook{storedWebhook(*hooks[1]), storedWebhook(*hooks[0]), storedWebhook(*hooks[2])})
		got, err = r.ListWebhooks(ctx, "nope")
		noErr(t, "ListWebhooks", err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListWebhooks of a missing project = %s, want an empty non-nil list", show(got))
		}
	})

	t.Run("Delete", func(t *testing.T) {
		noErr(t, "DeleteWebhook", r.DeleteWebhook(ctx, hooks[0].ID))
		_, err := r.FindWebhook(ctx, hooks[0].ID)
		wantCode(t, "FindWebhook after delete", err, kcred.ENOTFOUND)
		wantCode(t, "DeleteWebhook twice", r.DeleteWebhook(ctx, hooks[0].ID), kcred.ENOTFOUND)
		got, err := r.ListWebhooks(ctx, "proj")
		noErr(t, "ListWebhooks", err)
		if len(got) != 2 {
			t.Fatalf("ListWebhooks after delete = %s, want 2", show(got))
		}
	})

	t.Run("InTx", func(t *testing.T) {
		w := newWebhook("other", base.Add(time.Minute))
		noErr(t, "InTx", s.InTx(ctx, func(q kcred.Queries) error {
			tq := rq(t, q)
			noErr(t, "CreateWebhook", tq.CreateWebhook(ctx, w))
			got, err := tq.ListWebhooks(ctx, "other")
			noErr(t, "ListWebhooks", err)
			equal(t, "ListWebhooks in the transaction", got, []*kcred.Webhook{storedWebhook(*hooks[3]), storedWebhook(*w)})
			return tq.DeleteWebhook(ctx, hooks[3].ID)
		}))
		got, err := r.ListWebhooks(ctx, "other")
		noErr(t, "ListWebhooks", err)
		equal(t, "ListWebhooks after the transaction", got, []*kcred.Webhook{storedWebhook(*w)})
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := r.FindWebhook(ctx, kcred.NewID())
		wantCode(t, "FindWebhook", err, kcred.ENOTFOUND)
		wantCode(t, "DeleteWebhook", r.DeleteWebhook(ctx, kcred.NewID()), kcred.ENOTFOUND)
		wantCode(t, "CreateWebhook in a missing project", r.CreateWebhook(ctx, newWebhook("nope", base)), kcred.ENOTFOUND)
		dup := newWebhook("proj", base)
		dup.ID = hooks[1].ID
		wantCode(t, "CreateWebhook with a taken ID", r.CreateWebhook(ctx, dup), kcred.ECONFLICT)
		if err := r.CreateWebhook(ctx, &kcred.Webhook{Project: "proj", URL: "https://x.example"}); err == nil {
			t.Fatal("CreateWebhook without an ID succeeded; its secret is sealed with the ID")
		}
	})
}
