package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// notice adds a pending notice of project with every field set, created at
// at.
func (f f) notice(project, username string, at time.Time) *kcred.Notice {
	f.t.Helper()
	n := &kcred.Notice{ID: kcred.NewID(), Project: project, ServiceID: kcred.NewID(), ServiceName: "kafka",
		UserID: kcred.NewID(), Username: username, Kind: kcred.KindReminder, OldSerial: "0a1b", NewSerial: "2c3d",
		OldNotAfter: at.Add(7*day + time.Nanosecond), NewNotAfter: at.Add(800 * day), Offset: 7*day + time.Nanosecond,
		CreateTime: at}
	if err := rq(f.t, f.q).CreateNotice(f.t.Context(), n); err != nil {
		f.t.Fatalf("CreateNotice: %v", err)
	}
	return n
}

func storedNotice(n kcred.Notice) *kcred.Notice {
	n.OldNotAfter, n.NewNotAfter, n.CreateTime = kcred.UTC(n.OldNotAfter), kcred.UTC(n.NewNotAfter), kcred.UTC(n.CreateTime)
	return &n
}

func storedNotification(n kcred.Notification) *kcred.Notification {
	n.Recipients = nonNil(n.Recipients)
	n.CreateTime = kcred.UTC(n.CreateTime)
	ds := []*kcred.Delivery{}
	for _, d := range n.Deliveries {
		ds = append(ds, storedDelivery(*d))
	}
	n.Deliveries = ds
	return &n
}

func storedDelivery(d kcred.Delivery) *kcred.Delivery {
	d.NextAttempt, d.DeliveredAt, d.CreateTime = kcred.UTC(d.NextAttempt), kcred.UTC(d.DeliveredAt), kcred.UTC(d.CreateTime)
	return &d
}

// newNotification is a digest for two people and a webhook, its deliveries
// given out of order.
func newNotification(project string, at time.Time) *kcred.Notification {
	return &kcred.Notification{ID: kcred.NewID(), Project: project, Kind: kcred.KindRenewed,
		Recipients: []string{"b@example.com", "a@example.com"}, Subject: "Certificates renewed in " + project,
		Text: "Download the new certificates.", HTML: "<p>Download the new certificates.</p>",
		Payload: `{"kind":"renewed"}`, CreateTime: at,
		Deliveries: []*kcred.Delivery{
			{ID: kcred.NewID(), Channel: kcred.ChannelWebhook, Target: kcred.NewID(), State: kcred.DeliveryPending,
				NextAttempt: at.Add(time.Nanosecond), CreateTime: at},
			{ID: kcred.NewID(), Channel: kcred.ChannelEmail, Target: "b@example.com", State: kcred.DeliveryPending,
				NextAttempt: at.Add(time.Second), CreateTime: at},
			{ID: kcred.NewID(), Channel: kcred.ChannelEmail, Target: "a@example.com", State: kcred.DeliveryUndelivered,
				Attempts: 1, LastError: "no SMTP server", CreateTime: at},
		}}
}

// sorted returns n's deliveries by channel and target, as stores return them.
func sorted(n *kcred.Notification) *kcred.Notification {
	ds := append([]*kcred.Delivery{}, n.Deliveries...)
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			if ds[j].Channel < ds[i].Channel || ds[j].Channel == ds[i].Channel && ds[j].Target < ds[i].Target {
				ds[i], ds[j] = ds[j], ds[i]
			}
		}
	}
	n.Deliveries = ds
	return n
}

func pendingIDs(t *testing.T, q kcred.RenewalQueries, project string) []string {
	t.Helper()
	list, err := q.ListPendingNotices(t.Context(), 1000)
	noErr(t, "ListPendingNotices", err)
	ids := []string{}
	for _, n := range list {
		if n.Project == project {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func testNotices(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	fx.project("other")

	var want []*kcred.Notice // oldest first
	n2 := fx.notice("proj", "bob", base.Add(time.Second))
	n0 := fx.notice("other", "alice", base)
	n3 := fx.notice("proj", "carol", base.Add(time.Second)) // same time as bob's, created later
	n1 := fx.notice("proj", "alice", base.Add(time.Nanosecond))
	for _, n := range []*kcred.Notice{n0, n1, n2, n3} {
		want = append(want, storedNotice(*n))
	}

	t.Run("RoundTrip", func(t *testing.T) {
		got, err := r.ListPendingNotices(ctx, 100)
		noErr(t, "ListPendingNotices", err)
		// n0 and n1 fall on the same microsecond, as do n2 and n3: they
		// keep the order of creation.
		equal(t, "ListPendingNotices, oldest first", got, want)
	})

	t.Run("Limit", func(t *testing.T) {
		got, err := r.ListPendingNotices(ctx, 3)
		noErr(t, "ListPendingNotices", err)
		if len(got) != 3 || got[2].ID != n2.ID {
			t.Fatalf("ListPendingNotices limit 3 = %s, want the 3 oldest", show(got))
		}
	})

	t.Run("Defaults", func(t *testing.T) {
		// No ID, no time: given.
		n := &kcred.Notice{Project: "proj", Kind: kcred.KindRenewed, Username: "dave"}
		noErr(t, "CreateNotice", r.CreateNotice(ctx, n))
		if n.ID == "" || n.CreateTime.IsZero() {
			t.Fatalf("CreateNotice without ID and time = %s", show(n))
		}
		got, err := r.ListPendingNotices(ctx, 100)
		noErr(t, "ListPendingNotices", err)
		var found *kcred.Notice
		for _, x := range got {
			if x.ID == n.ID {
				found = x
			}
		}
		equal(t, "the notice made without ID and time", found, n)
	})

	t.Run("Errors", func(t *testing.T) {
		n := &kcred.Notice{ID: kcred.NewID(), Project: "nope", Kind: kcred.KindRenewed, CreateTime: base}
		wantCode(t, "CreateNotice in a missing project", r.CreateNotice(ctx, n), kcred.ENOTFOUND)
		n = &kcred.Notice{ID: n1.ID, Project: "proj", Kind: kcred.KindRenewed, CreateTime: base}
		wantCode(t, "CreateNotice with a taken ID", r.CreateNotice(ctx, n), kcred.ECONFLICT)
	})

	t.Run("InTx", func(t *testing.T) {
		noErr(t, "InTx", s.InTx(ctx, func(q kcred.Queries) error {
			n := f{t, q}.notice("proj", "erin", base.Add(-1000*day))
			got, err := rq(t, q).ListPendingNotices(ctx, 1)
			noErr(t, "ListPendingNotices", err)
			equal(t, "the oldest notice in the transaction", got, []*kcred.Notice{storedNotice(*n)})
			return nil
		}))
	})
}

func testNotifications(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	fx.project("other")
	notices := []*kcred.Notice{
		fx.notice("proj", "alice", base), fx.notice("proj", "bob", base.Add(time.Second)),
		fx.notice("proj", "carol", base.Add(2*time.Second)), fx.notice("proj", "dave", base.Add(3*time.Second)),
	}
	other := fx.notice("other", "alice", base)

	first := newNotification("proj", base.Add(time.Minute))
	t.Run("Create", func(t *testing.T) {
		noErr(t, "CreateNotification", r.CreateNotification(ctx, first, []string{notices[0].ID, notices[1].ID}))
		for _, d := range first.Deliveries {
			if d.NotificationID != first.ID || d.Project != "proj" {
				t.Fatalf("CreateNotification left delivery %s without its notification", show(d))
			}
		}
		got, err := r.FindNotification(ctx, first.ID)
		noErr(t, "FindNotification", err)
		equal(t, "notification, deliveries by channel and target", got, sorted(storedNotification(*first)))
		equal(t, "pending notices", pendingIDs(t, r, "proj"), []string{notices[2].ID, notices[3].ID})
		equal(t, "pending notices of the other project", pendingIDs(t, r, "other"), []string{other.ID})
	})

	t.Run("NoticeTaken", func(t *testing.T) {
		// bob's notice is in the first notification: nothing is written.
		n := newNotification("proj", base.Add(2*time.Minute))
		err := r.CreateNotification(ctx, n, []string{notices[2].ID, notices[1].ID})
		wantCode(t, "CreateNotification with a digested notice", err, kcred.ECONFLICT)
		_, err = r.FindNotification(ctx, n.ID)
		wantCode(t, "FindNotification of the conflicting notification", err, kcred.ENOTFOUND)
		equal(t, "pending notices after the conflict", pendingIDs(t, r, "proj"), []string{notices[2].ID, notices[3].ID})
		due, err := r.ListDueDeliveries(ctx, base.Add(time.Hour), 100)
		noErr(t, "ListDueDeliveries", err)
		for _, d := range due {
			if d.NotificationID == n.ID {
				t.Fatalf("the conflicting notification left delivery %s", show(d))
			}
		}
	})

	t.Run("NoticeMissing", func(t *testing.T) {
		n := newNotification("proj", base.Add(2*time.Minute))
		err := r.CreateNotification(ctx, n, []string{notices[2].ID, kcred.NewID()})
		wantCode(t, "CreateNotification with a missing notice", err, kcred.ECONFLICT)
		equal(t, "pending notices after the conflict", pendingIDs(t, r, "proj"), []string{notices[2].ID, notices[3].ID})
	})

	second := &kcred.Notification{ID: kcred.NewID(), Project: "proj", Kind: kcred.KindTest, CreateTime: base.Add(3 * time.Minute)}
	t.Run("NoDeliveriesNoNotices", func(t *testing.T) {
		noErr(t, "CreateNotification", r.CreateNotification(ctx, second, nil))
		got, err := r.FindNotification(ctx, second.ID)
		noErr(t, "FindNotification", err)
		equal(t, "notification without deliveries", got, storedNotification(*second))
		if got.Deliveries == nil || got.Recipients == nil {
			t.Fatalf("FindNotification = %s, want empty non-nil lists", show(got))
		}
	})

	third := newNotification("proj", base.Add(3*time.Minute)) // the same time as second, created later
	t.Run("List", func(t *testing.T) {
		// The same notice twice counts once.
		noErr(t, "CreateNotification", r.CreateNotification(ctx, third, []string{notices[3].ID, notices[3].ID}))
		noErr(t, "CreateNotification", r.CreateNotification(ctx, newNotification("other", base), []string{other.ID}))
		got, err := r.ListNotifications(ctx, "proj", 100)
		noErr(t, "ListNotifications", err)
		equal(t, "ListNotifications, newest first", got, []*kcred.Notification{
			sorted(storedNotification(*third)), storedNotification(*second), sorted(storedNotification(*first))})
		got, err = r.ListNotifications(ctx, "proj", 2)
		noErr(t, "ListNotifications", err)
		equal(t, "ListNotifications limit 2", got, []*kcred.Notification{
			sorted(storedNotification(*third)), storedNotification(*second)})
		got, err = r.ListNotifications(ctx, "nope", 10)
		noErr(t, "ListNotifications", err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListNotifications of a missing project = %s, want an empty non-nil list", show(got))
		}
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := r.FindNotification(ctx, kcred.NewID())
		wantCode(t, "FindNotification", err, kcred.ENOTFOUND)
		n := newNotification("proj", base)
		n.ID = first.ID
		wantCode(t, "CreateNotification with a taken ID", r.CreateNotification(ctx, n, []string{notices[2].ID}), kcred.ECONFLICT)
		n = newNotification("proj", base)
		n.Deliveries[0].ID = first.Deliveries[0].ID
		wantCode(t, "CreateNotification with a taken delivery ID", r.CreateNotification(ctx, n, []string{notices[2].ID}),
			kcred.ECONFLICT)
		_, err = r.FindNotification(ctx, n.ID)
		wantCode(t, "FindNotification after a delivery conflict", err, kcred.ENOTFOUND)
		n = newNotification("nope", base)
		wantCode(t, "CreateNotification in a missing project", r.CreateNotification(ctx, n, nil), kcred.ENOTFOUND)
		n = newNotification("proj", base)
		n.Deliveries[2].Target = n.Deliveries[1].Target
		wantCode(t, "CreateNotification with two deliveries to one target", r.CreateNotification(ctx, n, nil), kcred.EINVALID)
		equal(t, "pending notices after the errors", pendingIDs(t, r, "proj"), []string{notices[2].ID})
	})
}

// testNotificationManyNotices digests more notices than a store's statement
// may take at once (SQLite's take 1,000): all of them, or none when one is
// no longer pending, wherever it falls.
func testNotificationManyNotices(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	r := rq(t, s)
	f{t, s}.project("proj")
	var ids []string
	noErr(t, "InTx", s.InTx(ctx, func(q kcred.Queries) error {
		for i := range 2100 {
			ids = append(ids, f{t, q}.notice("proj", fmt.Sprintf("user-%d", i), base.Add(time.Duration(i)*time.Second)).ID)
		}
		return nil
	}))
	pending := func() int {
		t.Helper()
		list, err := r.ListPendingNotices(ctx, 0)
		noErr(t, "ListPendingNotices", err)
		return len(list)
	}
	// The last notice is digested first: the digest of all of them
	// conflicts and deletes none.
	noErr(t, "CreateNotification", r.CreateNotification(ctx, newNotification("proj", base), ids[len(ids)-1:]))
	n := newNotification("proj", base)
	wantCode(t, "CreateNotification with a digested notice last", r.CreateNotification(ctx, n, ids), kcred.ECONFLICT)
	if got := pending(); got != len(ids)-1 {
		t.Fatalf("%d notices pending after the conflict, want %d", got, len(ids)-1)
	}
	_, err := r.FindNotification(ctx, n.ID)
	wantCode(t, "FindNotification of the conflicting notification", err, kcred.ENOTFOUND)
	noErr(t, "CreateNotification", r.CreateNotification(ctx, newNotification("proj", base), ids[:len(ids)-1]))
	if got := pending(); got != 0 {
		t.Fatalf("%d notices pending after digesting them all, want 0", got)
	}
}

// testNotificationConflictInTx checks that a conflict of CreateNotification
// inside InTx leaves nothing behind and the transaction usable: a digest
// step may skip the conflicting batch and go on.
func testNotificationConflictInTx(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	a, b, c := fx.notice("proj", "alice", base), fx.notice("proj", "bob", base.Add(time.Second)),
		fx.notice("proj", "carol", base.Add(2*time.Second))
	first := newNotification("proj", base)
	noErr(t, "CreateNotification", r.CreateNotification(ctx, first, []string{a.ID}))

	var won *kcred.Notification
	noErr(t, "InTx", s.InTx(ctx, func(q kcred.Queries) error {
		tq := rq(t, q)
		lost := newNotification("proj", base.Add(time.Minute))
		wantCode(t, "CreateNotification with a digested notice in a transaction",
			tq.CreateNotification(ctx, lost, []string{b.ID, a.ID}), kcred.ECONFLICT)
		_, err := tq.FindNotification(ctx, lost.ID)
		wantCode(t, "FindNotification of the conflicting notification in the transaction", err, kcred.ENOTFOUND)
		equal(t, "pending notices in the transaction", pendingIDs(t, tq, "proj"), []string{b.ID, c.ID})
		won = newNotification("proj", base.Add(2*time.Minute))
		return tq.CreateNotification(ctx, won, []string{b.ID, c.ID})
	}))
	equal(t, "pending notices after the transaction", pendingIDs(t, r, "proj"), []string{})
	got, err := r.ListNotifications(ctx, "proj", 10)
	noErr(t, "ListNotifications", err)
	equal(t, "notifications after the transaction", got, []*kcred.Notification{
		sorted(storedNotification(*won)), sorted(storedNotification(*first))})

	// A conflict that the caller returns rolls back the whole transaction.
	d := fx.notice("proj", "dave", base.Add(3*time.Second))
	err = s.InTx(ctx, func(q kcred.Queries) error {
		tq := rq(t, q)
		noErr(t, "CreateNotification", tq.CreateNotification(ctx, newNotification("proj", base), []string{d.ID}))
		return tq.CreateNotification(ctx, newNotification("proj", base), []string{d.ID})
	})
	wantCode(t, "InTx with a second digest of one notice", err, kcred.ECONFLICT)
	equal(t, "pending notices after the rollback", pendingIDs(t, r, "proj"), []string{d.ID})
}

// testConcurrentNotification digests the same pending notices from 4
// goroutines at once, each in a transaction, as several replicas would:
// exactly one notification is made; the others conflict or find nothing.
func testConcurrentNotification(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	for round := range 3 {
		project := fmt.Sprintf("proj-%d", round)
		fx.project(project)
		for i := range 6 {
			fx.notice(project, fmt.Sprintf("user-%d", i), base.Add(time.Duration(i)*time.Second))
		}
		const n = 4
		errs := make([]error, n)
		digested := make([]int, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.InTx(ctx, func(q kcred.Queries) error {
					r := rq(t, q)
					pending, err := r.ListPendingNotices(ctx, 100)
					if err != nil {
						return err
					}
					var ids []string
					for _, p := range pending {
						if p.Project == project {
							ids = append(ids, p.ID)
						}
					}
					if len(ids) == 0 {
						return nil // another replica was first
					}
					digested[i] = len(ids)
					return r.CreateNotification(ctx, newNotification(project, base), ids)
				})
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch kcred.ErrorCode(err) {
			case "":
				if digested[i] > 0 {
					won++
					if digested[i] != 6 {
						t.Errorf("round %d: the winner digested %d notices, want 6", round, digested[i])
					}
				}
			case kcred.ECONFLICT:
			default:
				t.Errorf("round %d: digest: %v, want success or ECONFLICT", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d concurrent digests made a notification, want exactly 1", round, won, n)
		}
		list, err := rq(t, s).ListNotifications(ctx, project, 10)
		noErr(t, "ListNotifications", err)
		if len(list) != 1 || len(list[0].Deliveries) != 3 {
			t.Fatalf("round %d: notifications after the race: %s, want one with 3 deliveries", round, show(list))
		}
		equal(t, "pending notices after the race", pendingIDs(t, rq(t, s), project), []string{})
	}
}

func testDeliveries(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	at := base
	n := &kcred.Notification{ID: kcred.NewID(), Project: "proj", Kind: kcred.KindReminder,
		Recipients: []string{"a@example.com"}, Subject: "s", Text: "t", HTML: "h", Payload: "{}", CreateTime: at,
		Deliveries: []*kcred.Delivery{
			{Channel: kcred.ChannelEmail, Target: "a@example.com", State: kcred.DeliveryPending, NextAttempt: at.Add(time.Minute)},
			{Channel: kcred.ChannelEmail, Target: "b@example.com", State: kcred.DeliveryPending, NextAttempt: at.Add(2 * time.Minute)},
			{Channel: kcred.ChannelEmail, Target: "c@example.com", State: kcred.DeliveryDelivered, Attempts: 1,
				NextAttempt: at, DeliveredAt: at.Add(time.Second)},
			{Channel: kcred.ChannelEmail, Target: "d@example.com", State: kcred.DeliveryUndelivered},
			{Channel: kcred.ChannelWebhook, Target: kcred.NewID(), State: kcred.DeliveryPending, NextAttempt: at.Add(time.Hour)},
			{Channel: kcred.ChannelWebhook, Target: kcred.NewID(), State: kcred.DeliveryFailed, Attempts: kcred.MaxAttempts,
				LastError: "503 Service Unavailable"},
			// Neither state nor NextAttempt nor CreateTime: pending, due at
			// once, made with the notification.
			{Channel: kcred.ChannelWebhook, Target: kcred.NewID()},
		}}
	noErr(t, "CreateNotification", r.CreateNotification(ctx, n, nil))
	ds := n.Deliveries
	for _, d := range ds {
		if d.ID == "" || d.NotificationID != n.ID || d.Project != "proj" || d.CreateTime.IsZero() {
			t.Fatalf("CreateNotification left delivery %s without its defaults", show(d))
		}
	}
	unset := ds[6]
	if unset.State != kcred.DeliveryPending || !unset.NextAttempt.Equal(kcred.UTC(at)) || !unset.CreateTime.Equal(kcred.UTC(at)) {
		t.Fatalf("delivery created without state and times = %s, want pending, due at the notification's time", show(unset))
	}

	list := func(t *testing.T, q kcred.RenewalQueries, now time.Time, limit int) []*kcred.Delivery {
		t.Helper()
		got, err := q.ListDueDeliveries(ctx, now, limit)
		noErr(t, "ListDueDeliveries", err)
		return got
	}

	t.Run("Due", func(t *testing.T) {
		equal(t, "ListDueDeliveries, oldest NextAttempt first", list(t, r, at.Add(5*time.Minute), 100),
			[]*kcred.Delivery{storedDelivery(*unset), storedDelivery(*ds[0]), storedDelivery(*ds[1])})
		equal(t, "ListDueDeliveries limit 2", list(t, r, at.Add(2*time.Minute), 2),
			[]*kcred.Delivery{storedDelivery(*unset), storedDelivery(*ds[0])})
		equal(t, "ListDueDeliveries at the second's NextAttempt", list(t, r, at.Add(2*time.Minute), 100),
			[]*kcred.Delivery{storedDelivery(*unset), storedDelivery(*ds[0]), storedDelivery(*ds[1])})
		got := list(t, r, at.Add(-time.Microsecond), 100)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListDueDeliveries before anything is due = %s, want an empty non-nil list", show(got))
		}
	})

	t.Run("Update", func(t *testing.T) {
		// A failed attempt: written State, Attempts, NextAttempt, LastError, DeliveredAt.
		d := *ds[0]
		d.Attempts, d.NextAttempt, d.LastError = 1, at.Add(10*time.Minute+time.Nanosecond), "421 try again later"
		ignored := d
		ignored.Target, ignored.Channel, ignored.CreateTime = "x@example.com", kcred.ChannelWebhook, at.Add(time.Hour)
		noErr(t, "UpdateDelivery", r.UpdateDelivery(ctx, &ignored))
		got, err := r.FindNotification(ctx, n.ID)
		noErr(t, "FindNotification", err)
		equal(t, "delivery after a failed attempt", got.Deliveries[0], storedDelivery(d))
		due := list(t, r, at.Add(5*time.Minute), 100)
		equal(t, "ListDueDeliveries after a failed attempt", due,
			[]*kcred.Delivery{storedDelivery(*unset), storedDelivery(*ds[1])})

		// Delivered: out of the due list for good.
		d.State, d.Attempts, d.NextAttempt, d.LastError, d.DeliveredAt = kcred.DeliveryDelivered, 2, time.Time{}, "",
			at.Add(time.Minute+time.Nanosecond)
		noErr(t, "UpdateDelivery", r.UpdateDelivery(ctx, &d))
		got, err = r.FindNotification(ctx, n.ID)
		noErr(t, "FindNotification", err)
		equal(t, "delivered delivery", got.Deliveries[0], storedDelivery(d))
		for _, x := range list(t, r, at.Add(1000*day), 100) {
			if x.ID == d.ID {
				t.Fatalf("ListDueDeliveries lists a delivered delivery")
			}
		}

		// Pending without NextAttempt: due at once, and the caller's copy says so.
		p := *ds[1]
		p.NextAttempt = time.Time{}
		noErr(t, "UpdateDelivery", r.UpdateDelivery(ctx, &p))
		if !p.NextAttempt.Equal(kcred.UTC(p.CreateTime)) {
			t.Fatalf("UpdateDelivery of a pending delivery without NextAttempt set it to %v, want its CreateTime", p.NextAttempt)
		}
		// Both due at the same time: either order.
		due = list(t, r, at, 100)
		if len(due) == 2 && due[0].ID == p.ID {
			due[0], due[1] = due[1], due[0]
		}
		equal(t, "ListDueDeliveries at the notification's time", due,
			[]*kcred.Delivery{storedDelivery(*unset), storedDelivery(p)})
	})

	t.Run("InTx", func(t *testing.T) {
		noErr(t, "InTx", s.InTx(ctx, func(q kcred.Queries) error {
			tq := rq(t, q)
			d := *unset
			d.State, d.DeliveredAt, d.Attempts = kcred.DeliveryDelivered, at.Add(time.Second), 1
			noErr(t, "UpdateDelivery", tq.UpdateDelivery(ctx, &d))
			for _, x := range list(t, tq, at.Add(1000*day), 100) {
				if x.ID == d.ID {
					t.Fatalf("ListDueDeliveries in the transaction lists what it delivered")
				}
			}
			return nil
		}))
		for _, x := range list(t, r, at.Add(1000*day), 100) {
			if x.ID == unset.ID {
				t.Fatalf("ListDueDeliveries lists what a committed transaction delivered")
			}
		}
	})

	t.Run("Errors", func(t *testing.T) {
		d := &kcred.Delivery{ID: kcred.NewID(), State: kcred.DeliveryDelivered}
		wantCode(t, "UpdateDelivery of a missing delivery", r.UpdateDelivery(ctx, d), kcred.ENOTFOUND)
	})
}
