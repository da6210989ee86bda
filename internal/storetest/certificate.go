package storetest

import (
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func testCertificates(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	sv := fx.service("proj", "kafka")
	alice := fx.user(sv.ID, "alice")
	bob := fx.user(sv.ID, "bob")

	// Several key types, every reason; created out of order.
	certs := map[int]*kcred.Certificate{}
	for i, gen := range []int{2, 1, 3} {
		c := newCert(alice.ID, gen)
		c.KeyType = kcred.KeyTypes[i+2]
		c.Reason = []string{kcred.ReasonRenewal, kcred.ReasonCreate, kcred.ReasonReset}[i]
		c.CAGeneration = gen
		c.NotAfter = c.NotAfter.Add(time.Duration(gen) * time.Nanosecond)
		certs[gen] = storedCert(*c)
		noErr(t, "CreateCertificate", s.CreateCertificate(ctx, c))
	}
	bob1 := fx.cert(bob.ID, 1) // the same generation for another user

	t.Run("RoundTrip", func(t *testing.T) {
		got, err := s.ListCertificates(ctx, alice.ID)
		noErr(t, "ListCertificates", err)
		equal(t, "ListCertificates newest first", got, []*kcred.Certificate{certs[3], certs[2], certs[1]})
		got, err = s.ListCertificates(ctx, bob.ID)
		noErr(t, "ListCertificates", err)
		equal(t, "ListCertificates of bob", got, []*kcred.Certificate{storedCert(*bob1)})
		if n := len(got[0].CertPEM); n < 650 || n > 750 {
			t.Errorf("test certificate PEM is %d bytes, want a realistic ~700", n)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		c := newCert(alice.ID, 2)
		wantCode(t, "CreateCertificate with a taken generation", s.CreateCertificate(ctx, c), kcred.ECONFLICT)
		c = newCert(kcred.NewID(), 1)
		wantCode(t, "CreateCertificate of a missing user", s.CreateCertificate(ctx, c), kcred.ENOTFOUND)
		for _, gen := range []int{0, -1} {
			c = newCert(bob.ID, gen)
			wantCode(t, "CreateCertificate of a generation below 1", s.CreateCertificate(ctx, c), kcred.EINVALID)
		}
		got, err := s.ListCertificates(ctx, bob.ID)
		noErr(t, "ListCertificates", err)
		equal(t, "ListCertificates of bob after refused generations", got, []*kcred.Certificate{storedCert(*bob1)})
		got, err = s.ListCertificates(ctx, kcred.NewID())
		noErr(t, "ListCertificates", err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListCertificates of a missing user = %#v, want an empty non-nil list", got)
		}
	})
}

func testRenewals(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	sv := fx.service("proj", "kafka")
	u := fx.user(sv.ID, "alice")
	c1, c2, c3 := fx.cert(u.ID, 1), fx.cert(u.ID, 2), fx.cert(u.ID, 3)
	other := fx.user(sv.ID, "bob")
	o1, o2 := fx.cert(other.ID, 1), fx.cert(other.ID, 2)

	r1 := fx.renewal(c1, c2)
	w1 := storedRenewal(*r1)
	fx.renewal(o1, o2) // another user's open renewal does not conflict

	t.Run("RoundTrip", func(t *testing.T) {
		got, err := s.FindOpenRenewal(ctx, u.ID)
		noErr(t, "FindOpenRenewal", err)
		equal(t, "open renewal", got, w1)
		if !got.Open() || got.Acknowledged() || got.LastReminder != 0 {
			t.Fatalf("new renewal = %s, want open, unacknowledged, no reminder", show(got))
		}
		// Opened without NextActionAt, it is due at once: at its CreateTime.
		if !got.NextActionAt.Equal(kcred.UTC(r1.CreateTime)) {
			t.Fatalf("NextActionAt of a renewal opened without one = %v, want its CreateTime %v",
				got.NextActionAt, kcred.UTC(r1.CreateTime))
		}
	})

	t.Run("NextActionAt", func(t *testing.T) {
		carl := fx.user(sv.ID, "carl")
		k1, k2 := fx.cert(carl.ID, 1), fx.cert(carl.ID, 2)
		r := &kcred.Renewal{ID: kcred.NewID(), UserID: carl.ID, OldCertID: k1.ID, NewCertID: k2.ID,
			OldNotAfter: k1.NotAfter, CreateTime: k2.CreateTime, NextActionAt: k1.NotAfter.Add(-2*day + time.Nanosecond)}
		noErr(t, "CreateRenewal", s.CreateRenewal(ctx, r))
		want := storedRenewal(*r)
		equal(t, "renewal after CreateRenewal", r, want)
		got, err := s.FindOpenRenewal(ctx, carl.ID)
		noErr(t, "FindOpenRenewal", err)
		equal(t, "renewal with NextActionAt", got, want)
		creds, err := s.FindCredentials(ctx, sv.ID, "carl")
		noErr(t, "FindCredentials", err)
		equal(t, "renewal of FindCredentials", creds.Renewal, want)

		// Moved by UpdateRenewal.
		u := *want
		u.NextActionAt = k1.NotAfter.Add(-day - time.Nanosecond)
		noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &u))
		got, err = s.FindOpenRenewal(ctx, carl.ID)
		noErr(t, "FindOpenRenewal", err)
		equal(t, "renewal after moving NextActionAt", got, storedRenewal(u))

		// An open renewal updated without one is due at once, and u says so.
		u.NextActionAt = time.Time{}
		noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &u))
		if !u.NextActionAt.Equal(kcred.UTC(k2.CreateTime)) {
			t.Fatalf("UpdateRenewal without NextActionAt set it to %v, want the CreateTime %v", u.NextActionAt, kcred.UTC(k2.CreateTime))
		}
		got, err = s.FindOpenRenewal(ctx, carl.ID)
		noErr(t, "FindOpenRenewal", err)
		equal(t, "renewal updated without NextActionAt", got, &u)
	})

	t.Run("SecondOpen", func(t *testing.T) {
		r := &kcred.Renewal{ID: kcred.NewID(), UserID: u.ID, OldCertID: c2.ID, NewCertID: c3.ID,
			OldNotAfter: c2.NotAfter, CreateTime: base}
		wantCode(t, "CreateRenewal while one is open", s.CreateRenewal(ctx, r), kcred.ECONFLICT)
		got, err := s.FindOpenRenewal(ctx, u.ID)
		noErr(t, "FindOpenRenewal", err)
		equal(t, "open renewal after conflict", got, w1)
	})

	t.Run("Update", func(t *testing.T) {
		// Written: AcknowledgedAt, AcknowledgedBy, LastReminder, RemindersSent, ClosedAt, NextActionAt.
		r := *w1
		r.LastReminder, r.RemindersSent = 7*day+time.Nanosecond, 2
		r.NextActionAt = c1.NotAfter.Add(-day + time.Nanosecond)
		noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &r))
		got, err := s.FindOpenRenewal(ctx, u.ID)
		noErr(t, "FindOpenRenewal", err)
		equal(t, "renewal after a reminder", got, storedRenewal(r))

		r.AcknowledgedAt, r.AcknowledgedBy = base.Add(3*day+time.Nanosecond), "dev@example.com"
		ignored := r
		ignored.OldNotAfter, ignored.NewCertID, ignored.CreateTime = base, c3.ID, base.Add(time.Hour)
		noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &ignored))
		got, err = s.FindOpenRenewal(ctx, u.ID)
		noErr(t, "FindOpenRenewal", err)
		equal(t, "renewal after acknowledgement", got, storedRenewal(r))
		*w1 = *storedRenewal(r)
	})

	t.Run("CloseAndReopen", func(t *testing.T) {
		r := *w1
		r.ClosedAt = c1.NotAfter
		noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, &r))
		_, err := s.FindOpenRenewal(ctx, u.ID)
		wantCode(t, "FindOpenRenewal after close", err, kcred.ENOTFOUND)

		// Closed, the user may be renewed again.
		r2 := fx.renewal(c2, c3)
		got, err := s.FindOpenRenewal(ctx, u.ID)
		noErr(t, "FindOpenRenewal", err)
		equal(t, "second renewal", got, storedRenewal(*r2))

		// A closing is never undone: an update from a stale read that
		// would reopen the first leaves it closed and the second open.
		r.ClosedAt = time.Time{}
		noErr(t, "UpdateRenewal from a stale read", s.UpdateRenewal(ctx, &r))
		got, err = s.FindOpenRenewal(ctx, u.ID)
		noErr(t, "FindOpenRenewal", err)
		equal(t, "open renewal after a stale update", got, storedRenewal(*r2))
	})

	t.Run("AcknowledgementKept", func(t *testing.T) {
		r, err := s.FindOpenRenewal(ctx, u.ID)
		noErr(t, "FindOpenRenewal", err)
		stale := *r
		r.AcknowledgedAt, r.AcknowledgedBy = base.Add(5*day), "dev@example.com"
		noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, r))
		stale.LastReminder, stale.RemindersSent = time.Hour, stale.RemindersSent+1 // a sweep's reminder, read before the ack
		noErr(t, "UpdateRenewal from a stale read", s.UpdateRenewal(ctx, &stale))
		got, err := s.FindOpenRenewal(ctx, u.ID)
		noErr(t, "FindOpenRenewal", err)
		if !got.AcknowledgedAt.Equal(kcred.UTC(base.Add(5*day))) || got.AcknowledgedBy != "dev@example.com" || got.LastReminder != time.Hour {
			t.Errorf("after a stale update: acknowledged %v by %q, last reminder %v", got.AcknowledgedAt, got.AcknowledgedBy, got.LastReminder)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := s.FindOpenRenewal(ctx, kcred.NewID())
		wantCode(t, "FindOpenRenewal of a missing user", err, kcred.ENOTFOUND)
		err = s.UpdateRenewal(ctx, &kcred.Renewal{ID: kcred.NewID(), UserID: u.ID})
		wantCode(t, "UpdateRenewal", err, kcred.ENOTFOUND)
		nobody := &kcred.Renewal{ID: kcred.NewID(), UserID: kcred.NewID(), OldCertID: c1.ID, NewCertID: c2.ID,
			OldNotAfter: c1.NotAfter, CreateTime: base}
		wantCode(t, "CreateRenewal of a missing user", s.CreateRenewal(ctx, nobody), kcred.ENOTFOUND)
	})
}

func testCredentials(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	sv := fx.service("proj", "kafka")
	sv2 := fx.service("proj", "kafka-2")

	// Created in an order unlike the usernames'.
	carol := fx.user(sv.ID, "carol") // renewed once, acknowledged, closed
	c1, c2 := fx.cert(carol.ID, 1), fx.cert(carol.ID, 2)
	closed := fx.renewal(c1, c2)
	closed.AcknowledgedAt, closed.ClosedAt = base.Add(day), base.Add(2*day)
	noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, closed))

	bob := fx.user(sv.ID, "bob") // renewed twice: one closed renewal, one open
	b1, b2 := fx.cert(bob.ID, 1), fx.cert(bob.ID, 2)
	old := fx.renewal(b1, b2)
	old.ClosedAt = b1.NotAfter
	noErr(t, "UpdateRenewal", s.UpdateRenewal(ctx, old))
	b3 := fx.cert(bob.ID, 3)
	open := fx.renewal(b2, b3)

	alice := fx.user(sv.ID, "alice") // never renewed
	a1 := fx.cert(alice.ID, 1)

	dave := fx.user(sv.ID, "dave") // no certificate (only seen inside the transaction creating him)
	other := fx.user(sv2.ID, "alice")
	fx.cert(other.ID, 1)

	want := map[string]*kcred.Credentials{
		"alice": {User: *storedUser(*alice), Current: *storedCert(*a1)},
		"bob":   {User: *storedUser(*bob), Current: *storedCert(*b3), Renewal: storedRenewal(*open)},
		"carol": {User: *storedUser(*carol), Current: *storedCert(*c2)},
	}

	t.Run("Find", func(t *testing.T) {
		for name, w := range want {
			got, err := s.FindCredentials(ctx, sv.ID, name)
			noErr(t, "FindCredentials", err)
			equal(t, "credentials of "+name, got, w)
		}
		got, err := s.FindCredentials(ctx, sv.ID, "bob")
		noErr(t, "FindCredentials", err)
		if !got.Pending() || !got.ExpiringNotAfter().Equal(b2.NotAfter) {
			t.Fatalf("bob: Pending %v, ExpiringNotAfter %v, want true, %v", got.Pending(), got.ExpiringNotAfter(), b2.NotAfter)
		}
	})

	t.Run("NoCertificate", func(t *testing.T) {
		got, err := s.FindCredentials(ctx, sv.ID, "dave")
		noErr(t, "FindCredentials", err)
		equal(t, "credentials of a user without certificate", got, &kcred.Credentials{User: *storedUser(*dave)})
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.FindCredentials(ctx, sv.ID, "nobody")
		wantCode(t, "FindCredentials", err, kcred.ENOTFOUND)
		_, err = s.FindCredentials(ctx, kcred.NewID(), "alice")
		wantCode(t, "FindCredentials in a missing service", err, kcred.ENOTFOUND)
	})

	t.Run("List", func(t *testing.T) {
		got, err := s.ListCredentials(ctx, sv.ID)
		noErr(t, "ListCredentials", err)
		equal(t, "ListCredentials by username, without dave", got,
			[]*kcred.Credentials{want["alice"], want["bob"], want["carol"]})
		got, err = s.ListCredentials(ctx, kcred.NewID())
		noErr(t, "ListCredentials", err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListCredentials of a missing service = %#v, want an empty non-nil list", got)
		}
	})
}
