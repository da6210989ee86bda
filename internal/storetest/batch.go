package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// renewalWrite is what a sweep writes to renew old, of u in sv, with
// generation gen: every field set.
func renewalWrite(sv *kcred.Service, u *kcred.ServiceUser, old *kcred.Certificate, gen int) *kcred.RenewalWrite {
	c := newCert(u.ID, gen)
	c.RenewAt = c.NotAfter.Add(-3 * day)
	at := c.CreateTime
	return &kcred.RenewalWrite{
		Certificate: c,
		Renewal: &kcred.Renewal{ID: kcred.NewID(), UserID: u.ID, OldCertID: old.ID, NewCertID: c.ID,
			OldNotAfter: old.NotAfter, CreateTime: at, NextActionAt: old.NotAfter.Add(-day)},
		Notice: &kcred.Notice{ID: kcred.NewID(), Project: sv.Project, ServiceID: sv.ID, ServiceName: sv.Name,
			UserID: u.ID, Username: u.Username, Kind: kcred.KindRenewed, OldSerial: old.Serial, NewSerial: c.Serial,
			OldNotAfter: old.NotAfter, NewNotAfter: c.NotAfter, CreateTime: at},
		Event: &kcred.Event{ID: kcred.NewID(), Time: at, Actor: "kcred", Action: kcred.ActionRenewal,
			Project: sv.Project, Service: sv.Name, Target: u.Username, Detail: "Renewed the certificate of " + u.Username},
	}
}

// renewalState is what the reads of the store show of one user's renewal.
type renewalState struct {
	Certs   []*kcred.Certificate
	Open    *kcred.Renewal // nil: none
	Notices []*kcred.Notice
	Events  []*kcred.Event
}

// readRenewal reads u's certificates, open renewal, pending notices and
// events (of project) through q.
func readRenewal(t *testing.T, q kcred.Queries, project string, u *kcred.ServiceUser) renewalState {
	t.Helper()
	ctx := t.Context()
	var st renewalState
	var err error
	st.Certs, err = q.ListCertificates(ctx, u.ID)
	noErr(t, "ListCertificates", err)
	st.Open, err = q.FindOpenRenewal(ctx, u.ID)
	if kcred.ErrorCode(err) == kcred.ENOTFOUND {
		st.Open, err = nil, nil
	}
	noErr(t, "FindOpenRenewal", err)
	notices, err := rq(t, q).ListPendingNotices(ctx, 0)
	noErr(t, "ListPendingNotices", err)
	st.Notices = []*kcred.Notice{}
	for _, n := range notices {
		if n.UserID == u.ID {
			st.Notices = append(st.Notices, n)
		}
	}
	events, err := q.ListEvents(ctx, project, 0)
	noErr(t, "ListEvents", err)
	st.Events = []*kcred.Event{}
	for _, e := range events {
		if e.Target == u.Username {
			st.Events = append(st.Events, e)
		}
	}
	return st
}

// currentGenerations returns, by username, the generation of each current
// certificate that ListRenewalCandidates sees at a far horizon.
func currentGenerations(t *testing.T, q kcred.RenewalQueries) map[string][]int {
	t.Helper()
	got, err := q.ListRenewalCandidates(t.Context(), base.Add(1000*day), kcred.CandidateKey{}, 0)
	noErr(t, "ListRenewalCandidates", err)
	out := map[string][]int{}
	for _, d := range got {
		out[d.User.Username] = append(out[d.User.Username], d.Current.Generation)
	}
	return out
}

func testCreateRenewals(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	fx.project("proj")
	sv := fx.service("proj", "kafka")

	t.Run("Batch", func(t *testing.T) {
		alice := fx.user(sv.ID, "alice") // renewed
		a1 := fx.cert(alice.ID, 1)
		carol := fx.user(sv.ID, "carol") // reset to generation 2 first: skipped
		c1 := fx.cert(carol.ID, 1)
		c2 := fx.cert(carol.ID, 2)
		dave := fx.user(sv.ID, "dave") // deleted first: skipped
		d1 := fx.cert(dave.ID, 1)
		bob := fx.user(sv.ID, "bob") // renewed
		b1 := fx.cert(bob.ID, 1)
		harry := fx.user(sv.ID, "harry") // has generation 3: 2 is written, 3 stays current
		h1 := fx.cert(harry.ID, 1)
		fx.cert(harry.ID, 3)

		batch := []*kcred.RenewalWrite{renewalWrite(sv, alice, a1, 2), renewalWrite(sv, carol, c1, 2),
			renewalWrite(sv, dave, d1, 2), renewalWrite(sv, bob, b1, 2), renewalWrite(sv, harry, h1, 2)}
		noErr(t, "DeleteServiceUser", s.DeleteServiceUser(ctx, dave.ID))
		carolBefore := readRenewal(t, s, "proj", carol)

		written, err := r.CreateRenewals(ctx, batch)
		noErr(t, "CreateRenewals", err)
		equal(t, "CreateRenewals written", written, []bool{true, false, false, true, true})

		for _, tt := range []struct {
			u *kcred.ServiceUser
			w *kcred.RenewalWrite
		}{{alice, batch[0]}, {bob, batch[3]}, {harry, batch[4]}} {
			got := readRenewal(t, s, "proj", tt.u)
			var cert *kcred.Certificate
			for _, c := range got.Certs {
				if c.Generation == 2 {
					cert = c
				}
			}
			name := tt.u.Username
			equal(t, name+"'s new certificate", cert, storedCert(*tt.w.Certificate))
			equal(t, name+"'s open renewal", got.Open, storedRenewal(*tt.w.Renewal))
			equal(t, name+"'s notices", got.Notices, []*kcred.Notice{storedNotice(*tt.w.Notice)})
			equal(t, name+"'s events", got.Events, []*kcred.Event{storedEvent(*tt.w.Event)})
		}
		equal(t, "carol, whose generation was taken", readRenewal(t, s, "proj", carol), carolBefore)
		equal(t, "carol's certificates", carolBefore.Certs, []*kcred.Certificate{storedCert(*c2), storedCert(*c1)})
		events, err := s.ListEvents(ctx, "proj", 0)
		noErr(t, "ListEvents", err)
		if len(events) != 3 || events[0].Target != "harry" || events[2].Target != "alice" {
			t.Fatalf("events = %s, want harry's, bob's and alice's, in the batch's order (newest first)", show(events))
		}

		// The new generation took current from the old one, except where a
		// newer one exists: closed, each renewed user is a candidate once.
		for _, w := range []*kcred.RenewalWrite{batch[0], batch[3], batch[4]} {
			closed := *w.Renewal
			closed.ClosedAt = base.Add(3 * day)
			noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &closed))
		}
		equal(t, "current generations", currentGenerations(t, r),
			map[string][]int{"alice": {2}, "bob": {2}, "carol": {2}, "harry": {3}})
	})

	t.Run("SameAsOneByOne", func(t *testing.T) {
		// The same records written one by one in a transaction that rolls
		// back, then as a batch: the same rows, the same defaults filled in.
		u := fx.user(sv.ID, "ivan")
		i1 := fx.cert(u.ID, 1)
		w := renewalWrite(sv, u, i1, 2)
		w.Certificate.RenewAt, w.Renewal.NextActionAt = time.Time{}, time.Time{} // the stores' defaults
		var want renewalState
		var wantRecords kcred.RenewalWrite
		errRollback := errors.New("rollback")
		err := s.InTx(ctx, func(q kcred.Queries) error {
			c, rn, n, e := *w.Certificate, *w.Renewal, *w.Notice, *w.Event
			noErr(t, "CreateCertificate", q.CreateCertificate(ctx, &c))
			noErr(t, "CreateRenewal", q.CreateRenewal(ctx, &rn))
			noErr(t, "CreateNotice", rq(t, q).CreateNotice(ctx, &n))
			noErr(t, "CreateEvent", q.CreateEvent(ctx, &e))
			want = readRenewal(t, q, "proj", u)
			wantRecords = kcred.RenewalWrite{Certificate: &c, Renewal: &rn, Notice: &n, Event: &e}
			return errRollback
		})
		if err != errRollback {
			t.Fatalf("InTx = %v", err)
		}
		if len(want.Certs) != 2 || want.Open == nil || len(want.Notices) != 1 || len(want.Events) != 1 {
			t.Fatalf("written one by one: %s", show(want))
		}
		equal(t, "after the rollback", readRenewal(t, s, "proj", u).Certs, want.Certs[1:])

		written, err := r.CreateRenewals(ctx, []*kcred.RenewalWrite{w})
		noErr(t, "CreateRenewals", err)
		equal(t, "CreateRenewals written", written, []bool{true})
		equal(t, "stored by CreateRenewals", readRenewal(t, s, "proj", u), want)
		equal(t, "records after CreateRenewals", w, &wantRecords)
		if !w.Renewal.NextActionAt.Equal(w.Renewal.CreateTime) || !w.Certificate.RenewAt.Equal(w.Certificate.NotAfter) {
			t.Errorf("defaults: NextActionAt %v (CreateTime %v), RenewAt %v (NotAfter %v)", w.Renewal.NextActionAt,
				w.Renewal.CreateTime, w.Certificate.RenewAt, w.Certificate.NotAfter)
		}
	})

	t.Run("Large", func(t *testing.T) {
		// More than fits one statement, with conflicts spread across it.
		fx.project("bulk")
		bv := fx.service("bulk", "kafka")
		const n = 150
		var batch []*kcred.RenewalWrite
		var want []bool
		wantUsers := []string{}
		for i := range n {
			u := fx.user(bv.ID, fmt.Sprintf("u%03d", i))
			old := fx.cert(u.ID, 1)
			if i%7 == 3 {
				fx.cert(u.ID, 2) // taken
			} else {
				wantUsers = append(wantUsers, u.Username)
			}
			batch = append(batch, renewalWrite(bv, u, old, 2))
			want = append(want, i%7 != 3)
		}
		written, err := r.CreateRenewals(ctx, batch)
		noErr(t, "CreateRenewals", err)
		equal(t, "CreateRenewals written", written, want)

		open, err := r.ListOpenRenewals(ctx, "bulk")
		noErr(t, "ListOpenRenewals", err)
		if len(open) != len(wantUsers) {
			t.Fatalf("%d open renewals, want %d", len(open), len(wantUsers))
		}
		byUser := map[string]*kcred.DueRenewal{}
		for _, d := range open {
			byUser[d.Username] = d
		}
		for i, w := range batch {
			d := byUser[w.Notice.Username]
			if written[i] != (d != nil) {
				t.Fatalf("%s: written %v, open renewal %s", w.Notice.Username, written[i], show(d))
			}
			if d != nil {
				equal(t, w.Notice.Username+"'s renewal", &d.Renewal, storedRenewal(*w.Renewal))
			}
		}
		notices, err := r.ListPendingNotices(ctx, 0)
		noErr(t, "ListPendingNotices", err)
		got := []string{}
		for _, no := range notices {
			if no.Project == "bulk" {
				got = append(got, no.Username)
			}
		}
		equal(t, "pending notices, in the batch's order", got, wantUsers)
		events, err := s.ListEvents(ctx, "bulk", 0)
		noErr(t, "ListEvents", err)
		if len(events) != len(wantUsers) || events[0].Target != wantUsers[len(wantUsers)-1] {
			t.Fatalf("%d events, the newest %s; want %d, the newest %s's", len(events), show(events[:min(1, len(events))]),
				len(wantUsers), wantUsers[len(wantUsers)-1])
		}
	})

	t.Run("InTx", func(t *testing.T) {
		u := fx.user(sv.ID, "judy")
		j1 := fx.cert(u.ID, 1)
		before := readRenewal(t, s, "proj", u)
		errRollback := errors.New("rollback")
		err := s.InTx(ctx, func(q kcred.Queries) error {
			written, err := rq(t, q).CreateRenewals(ctx, []*kcred.RenewalWrite{renewalWrite(sv, u, j1, 2)})
			noErr(t, "CreateRenewals", err)
			equal(t, "CreateRenewals written", written, []bool{true})
			if st := readRenewal(t, q, "proj", u); st.Open == nil || len(st.Certs) != 2 {
				t.Fatalf("in the transaction: %s", show(st))
			}
			return errRollback
		})
		if err != errRollback {
			t.Fatalf("InTx = %v", err)
		}
		equal(t, "after the rollback", readRenewal(t, s, "proj", u), before)
	})

	t.Run("Errors", func(t *testing.T) {
		k := fx.user(sv.ID, "karl")
		k1 := fx.cert(k.ID, 1)
		l := fx.user(sv.ID, "lena")
		l1 := fx.cert(l.ID, 1)
		l2 := fx.cert(l.ID, 2)
		fx.renewal(l1, l2) // lena's renewal is open, her generation 3 free
		karl, lena := readRenewal(t, s, "proj", k), readRenewal(t, s, "proj", l)

		written, err := r.CreateRenewals(ctx, []*kcred.RenewalWrite{})
		noErr(t, "CreateRenewals of nothing", err)
		if written == nil || len(written) != 0 {
			t.Fatalf("CreateRenewals of nothing = %v, want an empty non-nil list", written)
		}

		tests := []struct {
			name  string
			batch func() []*kcred.RenewalWrite
			code  string
		}{
			{"UserTwice", func() []*kcred.RenewalWrite {
				return []*kcred.RenewalWrite{renewalWrite(sv, k, k1, 2), renewalWrite(sv, k, k1, 3)}
			}, kcred.EINVALID},
			{"NoNotice", func() []*kcred.RenewalWrite {
				w := renewalWrite(sv, k, k1, 2)
				w.Notice = nil
				return []*kcred.RenewalWrite{w}
			}, kcred.EINVALID},
			{"RenewalOfAnotherCertificate", func() []*kcred.RenewalWrite {
				w := renewalWrite(sv, k, k1, 2)
				w.Renewal.NewCertID = k1.ID
				return []*kcred.RenewalWrite{w}
			}, kcred.EINVALID},
			{"RenewalOpen", func() []*kcred.RenewalWrite {
				return []*kcred.RenewalWrite{renewalWrite(sv, k, k1, 2), renewalWrite(sv, l, l2, 3)}
			}, kcred.ECONFLICT},
			{"NoticeOfMissingProject", func() []*kcred.RenewalWrite {
				w := renewalWrite(sv, k, k1, 2)
				w.Notice.Project = "nope"
				return []*kcred.RenewalWrite{w}
			}, kcred.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := r.CreateRenewals(ctx, tt.batch())
				wantCode(t, "CreateRenewals", err, tt.code)
				// Outside InTx the batch is its own transaction: nothing stays.
				equal(t, "karl after the error", readRenewal(t, s, "proj", k), karl)
				equal(t, "lena after the error", readRenewal(t, s, "proj", l), lena)
			})
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		// Replicas renewing the same users at once, in opposite orders:
		// each user is renewed exactly once, and nobody deadlocks.
		fx.project("race")
		rv := fx.service("race", "kafka")
		const users, replicas = 40, 4
		var us []*kcred.ServiceUser
		var olds []*kcred.Certificate
		for i := range users {
			u := fx.user(rv.ID, fmt.Sprintf("r%02d", i))
			us, olds = append(us, u), append(olds, fx.cert(u.ID, 1))
		}
		written := make([][]bool, replicas)
		batches := make([][]*kcred.RenewalWrite, replicas)
		errs := make([]error, replicas)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for p := range replicas {
			for i := range users {
				if p%2 == 1 {
					i = users - 1 - i
				}
				batches[p] = append(batches[p], renewalWrite(rv, us[i], olds[i], 2))
			}
			wg.Go(func() {
				<-start
				errs[p] = s.InTx(ctx, func(q kcred.Queries) error {
					var err error
					written[p], err = rq(t, q).CreateRenewals(ctx, batches[p])
					return err
				})
			})
		}
		close(start)
		wg.Wait()
		wins := map[string]int{}
		for p := range replicas {
			noErr(t, fmt.Sprintf("CreateRenewals of replica %d", p), errs[p])
			for i, ok := range written[p] {
				if ok {
					wins[batches[p][i].Notice.Username]++
				}
			}
		}
		for _, u := range us {
			if wins[u.Username] != 1 {
				t.Errorf("%s renewed %d times, want 1", u.Username, wins[u.Username])
			}
		}
		open, err := r.ListOpenRenewals(ctx, "race")
		noErr(t, "ListOpenRenewals", err)
		if len(open) != users {
			t.Fatalf("%d open renewals, want %d", len(open), users)
		}
	})
}
