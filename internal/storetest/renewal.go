package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// due is what ListRenewalCandidates returns for c of u in sv: neither
// secrets nor PEM.
func due(sv *kcred.Service, u *kcred.ServiceUser, c *kcred.Certificate) *kcred.DueCertificate {
	d := &kcred.DueCertificate{Project: sv.Project, ServiceName: sv.Name,
		Credentials: kcred.Credentials{User: *storedUser(*u), Current: *storedCert(*c)}}
	d.User.SealedPassword, d.Current.CertPEM, d.Current.SealedKey = nil, "", nil
	return d
}

func testRenewalCandidates(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	fx.project("other")
	sv := fx.service("proj", "kafka")
	ov := fx.service("other", "kafka-other")
	horizon := base.Add(10 * day)

	alice := fx.user(sv.ID, "alice") // one generation, due
	a1 := fx.certAt(alice.ID, 1, base.Add(5*day))

	bob := fx.user(sv.ID, "bob") // the old generation is due, the current one is not
	fx.certAt(bob.ID, 1, base.Add(day))
	b2 := fx.certAt(bob.ID, 2, base.Add(30*day))

	carol := fx.user(sv.ID, "carol") // due, but her renewal is open
	c1 := fx.certAt(carol.ID, 1, base.Add(2*day))
	c2 := fx.certAt(carol.ID, 2, base.Add(4*day))
	open := fx.renewal(c1, c2)

	dave := fx.user(sv.ID, "dave") // expires at the horizon: due
	d1 := fx.certAt(dave.ID, 1, horizon)

	erin := fx.user(sv.ID, "erin") // a microsecond after the horizon: not due
	fx.certAt(erin.ID, 1, horizon.Add(time.Microsecond))

	frank := fx.user(ov.ID, "frank") // in another project
	f1 := fx.certAt(frank.ID, 1, base.Add(6*day))

	fx.user(sv.ID, "gina") // no certificate

	harry := fx.user(sv.ID, "harry") // generations created out of order: 2 stays current
	h2 := fx.certAt(harry.ID, 2, base.Add(7*day))
	fx.certAt(harry.ID, 1, base.Add(3*day))

	list := func(t *testing.T, q kcred.RenewalQueries, horizon time.Time, limit int) []*kcred.DueCertificate {
		t.Helper()
		got, err := q.ListRenewalCandidates(ctx, horizon, kcred.CandidateKey{}, limit)
		noErr(t, "ListRenewalCandidates", err)
		return got
	}

	t.Run("Due", func(t *testing.T) {
		equal(t, "ListRenewalCandidates, soonest first", list(t, r, horizon, 100), []*kcred.DueCertificate{
			due(sv, alice, a1), due(ov, frank, f1), due(sv, harry, h2), due(sv, dave, d1)})
	})

	t.Run("Limit", func(t *testing.T) {
		equal(t, "ListRenewalCandidates limit 2", list(t, r, horizon, 2), []*kcred.DueCertificate{
			due(sv, alice, a1), due(ov, frank, f1)})
	})

	t.Run("Empty", func(t *testing.T) {
		got := list(t, r, base, 100)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListRenewalCandidates before anything is due = %s, want an empty non-nil list", show(got))
		}
	})

	t.Run("LaterHorizon", func(t *testing.T) {
		// The current generation only: bob once, with generation 2.
		got := list(t, r, base.Add(30*day), 100)
		if len(got) != 6 || got[5].User.ID != bob.ID {
			t.Fatalf("ListRenewalCandidates up to bob's expiry = %s, want 6 ending with bob", show(got))
		}
		equal(t, "bob", got[5], due(sv, bob, b2))
	})

	t.Run("AfterRenewalCloses", func(t *testing.T) {
		// Closed, carol's current certificate is a candidate again.
		closed := *open
		closed.ClosedAt = c1.NotAfter
		noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &closed))
		equal(t, "ListRenewalCandidates after closing carol's renewal", list(t, r, horizon, 100),
			[]*kcred.DueCertificate{due(sv, carol, c2), due(sv, alice, a1), due(ov, frank, f1), due(sv, harry, h2),
				due(sv, dave, d1)})
		// And opening one takes her out again.
		c3 := fx.certAt(carol.ID, 3, base.Add(40*day))
		fx.renewal(c2, c3)
		equal(t, "ListRenewalCandidates after renewing carol", list(t, r, horizon, 100), []*kcred.DueCertificate{
			due(sv, alice, a1), due(ov, frank, f1), due(sv, harry, h2), due(sv, dave, d1)})
	})

	t.Run("InTx", func(t *testing.T) {
		// A transaction sees its own certificates; a rollback takes them away.
		errRollback := errors.New("rollback")
		err := s.InTx(ctx, func(q kcred.Queries) error {
			ivan := newUser(sv.ID, "ivan")
			noErr(t, "CreateServiceUser", q.CreateServiceUser(ctx, ivan))
			i1 := newCert(ivan.ID, 1)
			i1.NotAfter = base.Add(time.Hour)
			noErr(t, "CreateCertificate", q.CreateCertificate(ctx, i1))
			got := list(t, rq(t, q), horizon, 1)
			equal(t, "ListRenewalCandidates in the transaction", got, []*kcred.DueCertificate{due(sv, ivan, i1)})
			return errRollback
		})
		if err != errRollback {
			t.Fatalf("InTx = %v", err)
		}
		got := list(t, r, horizon, 1)
		equal(t, "ListRenewalCandidates after rollback", got, []*kcred.DueCertificate{due(sv, alice, a1)})
	})
}

// testCurrentGeneration checks that a new generation (a reset, a renewal)
// takes the place of the old one in the sweeps, inside InTx too.
func testCurrentGeneration(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	sv := fx.service("proj", "kafka")
	horizon := base.Add(10 * day)

	u := fx.user(sv.ID, "alice")
	c1 := fx.certAt(u.ID, 1, base.Add(2*day))
	got, err := r.ListRenewalCandidates(ctx, horizon, kcred.CandidateKey{}, 100)
	noErr(t, "ListRenewalCandidates", err)
	equal(t, "candidates before the reset", got, []*kcred.DueCertificate{due(sv, u, c1)})

	// A reset: a new generation, no renewal.
	c2 := newCert(u.ID, 2)
	c2.Reason, c2.NotAfter = kcred.ReasonReset, base.Add(100*day)
	noErr(t, "CreateCertificate", s.CreateCertificate(ctx, c2))
	got, err = r.ListRenewalCandidates(ctx, horizon, kcred.CandidateKey{}, 100)
	noErr(t, "ListRenewalCandidates", err)
	equal(t, "candidates after the reset", got, []*kcred.DueCertificate{})
	got, err = r.ListRenewalCandidates(ctx, base.Add(1000*day), kcred.CandidateKey{}, 100)
	noErr(t, "ListRenewalCandidates", err)
	equal(t, "candidates after the reset, far horizon", got, []*kcred.DueCertificate{due(sv, u, c2)})

	// In a transaction, with a due generation 3 that is rolled back: 2
	// stays current.
	errRollback := errors.New("rollback")
	err = s.InTx(ctx, func(q kcred.Queries) error {
		c3 := newCert(u.ID, 3)
		c3.NotAfter = base.Add(day)
		noErr(t, "CreateCertificate", q.CreateCertificate(ctx, c3))
		got, err := rq(t, q).ListRenewalCandidates(ctx, base.Add(1000*day), kcred.CandidateKey{}, 100)
		noErr(t, "ListRenewalCandidates", err)
		equal(t, "candidates in the transaction", got, []*kcred.DueCertificate{due(sv, u, c3)})
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("InTx = %v", err)
	}
	got, err = r.ListRenewalCandidates(ctx, base.Add(1000*day), kcred.CandidateKey{}, 100)
	noErr(t, "ListRenewalCandidates", err)
	equal(t, "candidates after the rollback", got, []*kcred.DueCertificate{due(sv, u, c2)})

	// A conflicting generation changes nothing.
	dup := newCert(u.ID, 1)
	dup.NotAfter = base.Add(time.Hour)
	wantCode(t, "CreateCertificate of a taken generation", s.CreateCertificate(ctx, dup), kcred.ECONFLICT)
	got, err = r.ListRenewalCandidates(ctx, base.Add(1000*day), kcred.CandidateKey{}, 100)
	noErr(t, "ListRenewalCandidates", err)
	equal(t, "candidates after the conflict", got, []*kcred.DueCertificate{due(sv, u, c2)})
}

// testConcurrentGenerations creates generations 2 to 9 of one user at once,
// on their own and in transactions: afterwards exactly the newest is current.
func testConcurrentGenerations(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	sv := fx.service("proj", "kafka")
	for _, inTx := range []bool{false, true} {
		t.Run(fmt.Sprintf("InTx=%v", inTx), func(t *testing.T) {
			u := fx.user(sv.ID, fmt.Sprintf("user-%v", inTx))
			fx.certAt(u.ID, 1, base)
			const n = 8
			certs := make([]*kcred.Certificate, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				certs[i] = newCert(u.ID, 2+i)
				wg.Go(func() {
					<-start
					if inTx {
						errs[i] = s.InTx(ctx, func(q kcred.Queries) error { return q.CreateCertificate(ctx, certs[i]) })
					} else {
						errs[i] = s.CreateCertificate(ctx, certs[i])
					}
				})
			}
			close(start)
			wg.Wait()
			for _, err := range errs {
				noErr(t, "CreateCertificate", err)
			}
			got, err := r.ListRenewalCandidates(ctx, base.Add(1000*day), kcred.CandidateKey{}, 100)
			noErr(t, "ListRenewalCandidates", err)
			var mine []*kcred.DueCertificate
			for _, d := range got {
				if d.User.ID == u.ID {
					mine = append(mine, d)
				}
			}
			equal(t, "current certificates after concurrent generations", mine,
				[]*kcred.DueCertificate{due(sv, u, certs[n-1])})
		})
	}
}

// dueRenewal is what ListDueRenewals and ListOpenRenewals return for r.
func dueRenewal(sv *kcred.Service, u *kcred.ServiceUser, old, new *kcred.Certificate, r *kcred.Renewal) *kcred.DueRenewal {
	return &kcred.DueRenewal{Project: sv.Project, ServiceID: sv.ID, ServiceName: sv.Name, Username: u.Username,
		OldSerial: old.Serial, NewSerial: new.Serial, NewNotAfter: kcred.UTC(new.NotAfter), Renewal: *storedRenewal(*r)}
}

// renewed makes a user of sv with two generations and opens the renewal
// between them, with nextAction (zero: none given).
func (f f) renewed(sv *kcred.Service, username string, oldNotAfter, nextAction time.Time) *kcred.DueRenewal {
	f.t.Helper()
	u := f.user(sv.ID, username)
	old := f.certAt(u.ID, 1, oldNotAfter)
	new := f.cert(u.ID, 2)
	r := &kcred.Renewal{ID: kcred.NewID(), UserID: u.ID, OldCertID: old.ID, NewCertID: new.ID,
		OldNotAfter: old.NotAfter, CreateTime: new.CreateTime, NextActionAt: nextAction}
	if err := f.q.CreateRenewal(f.t.Context(), r); err != nil {
		f.t.Fatalf("CreateRenewal: %v", err)
	}
	return dueRenewal(sv, u, old, new, r)
}

func testDueRenewals(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	fx.project("other")
	sv := fx.service("proj", "kafka")
	ov := fx.service("other", "kafka-other")
	now := base.Add(3 * day)

	first := fx.renewed(sv, "alice", base.Add(20*day), base.Add(day))
	third := fx.renewed(sv, "bob", base.Add(10*day), now) // due exactly now
	second := fx.renewed(ov, "carol", base.Add(30*day), base.Add(2*day))
	fx.renewed(sv, "dave", base.Add(40*day), now.Add(time.Microsecond)) // not yet
	closed := fx.renewed(sv, "erin", base.Add(5*day), base)
	closed.ClosedAt = base.Add(5 * day)
	noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &closed.Renewal))
	// Opened without NextActionAt: due at once, from its CreateTime.
	unset := fx.renewed(sv, "frank", base.Add(50*day), time.Time{})

	list := func(t *testing.T, q kcred.RenewalQueries, now time.Time, limit int) []*kcred.DueRenewal {
		t.Helper()
		got, err := q.ListDueRenewals(ctx, now, limit)
		noErr(t, "ListDueRenewals", err)
		return got
	}

	t.Run("Due", func(t *testing.T) {
		// frank's renewal was created at base+2d (generation 2's CreateTime).
		if !unset.NextActionAt.Equal(kcred.UTC(base.Add(2 * day))) {
			t.Fatalf("NextActionAt of a renewal opened without one = %v, want its CreateTime", unset.NextActionAt)
		}
		got := list(t, r, now, 100)
		if len(got) != 4 {
			t.Fatalf("ListDueRenewals = %s, want 4", show(got))
		}
		// second and frank's are due at the same time: either order.
		if got[1].Username == "frank" {
			got[1], got[2] = got[2], got[1]
		}
		equal(t, "ListDueRenewals, soonest first", got, []*kcred.DueRenewal{first, second, unset, third})
	})

	t.Run("Limit", func(t *testing.T) {
		equal(t, "ListDueRenewals limit 1", list(t, r, now, 1), []*kcred.DueRenewal{first})
	})

	t.Run("Empty", func(t *testing.T) {
		got := list(t, r, base.Add(-time.Microsecond), 100)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListDueRenewals before anything is due = %s, want an empty non-nil list", show(got))
		}
	})

	t.Run("Moved", func(t *testing.T) {
		// A sweep that handled alice's renewal moves its next action on.
		moved := first.Renewal
		moved.LastReminder, moved.RemindersSent, moved.NextActionAt = 2*day, 1, base.Add(18*day)
		noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &moved))
		got := list(t, r, now, 100)
		if len(got) != 3 || got[len(got)-1].ID != third.ID {
			t.Fatalf("ListDueRenewals after moving alice's = %s", show(got))
		}
		for _, d := range got {
			if d.ID == first.ID {
				t.Fatalf("ListDueRenewals lists a renewal whose next action moved past now: %s", show(d))
			}
		}
		later := list(t, r, base.Add(18*day), 100)
		want := *first
		want.Renewal = *storedRenewal(moved)
		equal(t, "alice's renewal, due again later", later[len(later)-1], &want)
	})

	t.Run("Closed", func(t *testing.T) {
		c := third.Renewal
		c.ClosedAt = now
		noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &c))
		for _, d := range list(t, r, base.Add(1000*day), 100) {
			if d.ID == third.ID || d.ID == closed.ID {
				t.Fatalf("ListDueRenewals lists a closed renewal: %s", show(d))
			}
		}
	})

	t.Run("InTx", func(t *testing.T) {
		noErr(t, "InTx", s.InTx(ctx, func(q kcred.Queries) error {
			got := list(t, rq(t, q), now, 1)
			if len(got) != 1 {
				t.Fatalf("ListDueRenewals in a transaction = %s", show(got))
			}
			return nil
		}))
	})
}

func testOpenRenewals(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	fx.project("other")
	fx.project("empty")
	sv := fx.service("proj", "kafka")
	sv2 := fx.service("proj", "kafka-2")
	ov := fx.service("other", "kafka")

	late := fx.renewed(sv, "alice", base.Add(20*day), base.Add(day))
	early := fx.renewed(sv2, "bob", base.Add(10*day), base.Add(3*day))
	mid := fx.renewed(sv, "carol", base.Add(15*day), base.Add(2*day))
	other := fx.renewed(ov, "alice", base.Add(12*day), base.Add(2*day))
	closed := fx.renewed(sv, "dave", base.Add(5*day), base)
	closed.ClosedAt = base.Add(5 * day)
	noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &closed.Renewal))

	got, err := r.ListOpenRenewals(ctx, "proj")
	noErr(t, "ListOpenRenewals", err)
	equal(t, "ListOpenRenewals, soonest old expiry first", got, []*kcred.DueRenewal{early, mid, late})
	got, err = r.ListOpenRenewals(ctx, "other")
	noErr(t, "ListOpenRenewals", err)
	equal(t, "ListOpenRenewals of the other project", got, []*kcred.DueRenewal{other})
	for _, name := range []string{"empty", "nope"} {
		got, err = r.ListOpenRenewals(ctx, name)
		noErr(t, "ListOpenRenewals", err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListOpenRenewals(%s) = %s, want an empty non-nil list", name, show(got))
		}
	}
	noErr(t, "InTx", s.InTx(ctx, func(q kcred.Queries) error {
		got, err := rq(t, q).ListOpenRenewals(ctx, "other")
		noErr(t, "ListOpenRenewals in a transaction", err)
		equal(t, "ListOpenRenewals in a transaction", got, []*kcred.DueRenewal{other})
		return nil
	}))
}

// testRenewAt checks that a certificate is a candidate from its RenewAt on,
// not from its NotAfter, and that RenewAt round-trips.
func testRenewAt(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	sv := fx.service("proj", "kafka")
	u := fx.user(sv.ID, "early")
	c := newCert(u.ID, 1)
	c.NotAfter, c.RenewAt = base.Add(90*day), base.Add(30*day)
	noErr(t, "CreateCertificate", s.CreateCertificate(ctx, c))

	got, err := r.ListRenewalCandidates(ctx, base.Add(30*day-time.Microsecond), kcred.CandidateKey{}, 100)
	noErr(t, "ListRenewalCandidates", err)
	equal(t, "candidates just before RenewAt", got, []*kcred.DueCertificate{})
	got, err = r.ListRenewalCandidates(ctx, base.Add(30*day), kcred.CandidateKey{}, 100)
	noErr(t, "ListRenewalCandidates", err)
	equal(t, "candidates at RenewAt", got, []*kcred.DueCertificate{due(sv, u, c)})
	if !got[0].Current.RenewAt.Equal(kcred.UTC(base.Add(30 * day))) {
		t.Errorf("RenewAt = %v", got[0].Current.RenewAt)
	}

	// A policy change moves the renewal of the project's current
	// certificates, and of no other project's.
	fx.project("other")
	osv := fx.service("other", "kafka")
	ou := fx.user(osv.ID, "other")
	oc := newCert(ou.ID, 1)
	oc.NotAfter, oc.RenewAt = base.Add(90*day), base.Add(30*day)
	noErr(t, "CreateCertificate", s.CreateCertificate(ctx, oc))
	noErr(t, "SetRenewBefore", r.SetRenewBefore(ctx, "proj", 10*day))
	got, err = r.ListRenewalCandidates(ctx, base.Add(79*day), kcred.CandidateKey{}, 100)
	noErr(t, "ListRenewalCandidates", err)
	equal(t, "candidates after SetRenewBefore, before the new RenewAt", got, []*kcred.DueCertificate{due(osv, ou, oc)})
	got, err = r.ListRenewalCandidates(ctx, base.Add(80*day), kcred.CandidateKey{}, 100)
	noErr(t, "ListRenewalCandidates", err)
	if len(got) != 2 || got[1].User.Username != "early" || !got[1].Current.RenewAt.Equal(kcred.UTC(base.Add(80*day))) {
		t.Errorf("candidates at the new RenewAt: %s", show(got))
	}
	noErr(t, "SetRenewBefore of a project without users", r.SetRenewBefore(ctx, "nobody-here", day))
}

// testCandidateKey checks the order of ListRenewalCandidates, by RenewAt
// and then by user ID, and that listing after the key of the last
// candidate read continues where it stopped: pages of any size add up to
// the whole list, each candidate once, ties of RenewAt included.
func testCandidateKey(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	sv := fx.service("proj", "kafka")
	at := base.Add(10 * day)
	var want []*kcred.DueCertificate
	add := func(name string, notAfter time.Time) {
		u := fx.user(sv.ID, name)
		want = append(want, due(sv, u, fx.certAt(u.ID, 1, notAfter)))
	}
	add("late", at.Add(day))
	for _, name := range []string{"tie-a", "tie-b", "tie-c", "tie-d"} {
		add(name, at)
	}
	add("early", at.Add(-day))
	fx.user(sv.ID, "none") // no certificate
	slices.SortFunc(want, func(a, b *kcred.DueCertificate) int {
		if c := a.Current.NotAfter.Compare(b.Current.NotAfter); c != 0 {
			return c
		}
		return strings.Compare(a.User.ID, b.User.ID)
	})
	list := func(after kcred.CandidateKey, limit int) []*kcred.DueCertificate {
		t.Helper()
		got, err := r.ListRenewalCandidates(ctx, base.Add(100*day), after, limit)
		noErr(t, "ListRenewalCandidates", err)
		return got
	}
	equal(t, "candidates by RenewAt, then user ID", list(kcred.CandidateKey{}, 100), want)
	for _, size := range []int{1, 2, 4} {
		var got []*kcred.DueCertificate
		var after kcred.CandidateKey
		for range len(want) + 1 {
			page := list(after, size)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Key()
		}
		equal(t, fmt.Sprintf("pages of %d", size), got, want)
	}
	equal(t, "after the second tie", list(want[2].Key(), 100), want[3:])
	equal(t, "after a time between", list(kcred.CandidateKey{RenewAt: at.Add(-time.Hour)}, 100), want[1:])
	equal(t, "after the last", list(want[len(want)-1].Key(), 100), []*kcred.DueCertificate{})
}
