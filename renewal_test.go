package kcred_test

import (
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func TestRenewalDue(t *testing.T) {
	notAfter := time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	c := kcred.Certificate{NotAfter: notAfter}
	rb := 90 * 24 * time.Hour
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{notAfter.Add(-rb - time.Second), false},
		{notAfter.Add(-rb), true},
		{notAfter.Add(time.Hour), true},
	} {
		if got := kcred.RenewalDue(c, rb, tc.now); got != tc.want {
			t.Errorf("RenewalDue at %v = %v", tc.now, got)
		}
	}
}

func TestDueReminder(t *testing.T) {
	day := 24 * time.Hour
	exp := time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	opened := exp.Add(-90 * day)
	schedule := []time.Duration{60 * day, 30 * day, 14 * day, 7 * day, 3 * day, day}
	base := kcred.Renewal{OldNotAfter: exp, CreateTime: opened}
	for _, tc := range []struct {
		name string
		r    func(kcred.Renewal) kcred.Renewal
		now  time.Time
		want time.Duration
		ok   bool
	}{
		{"before the first offset", nil, exp.Add(-61 * day), 0, false},
		{"at the first offset", nil, exp.Add(-60 * day), 60 * day, true},
		{"first already sent", func(r kcred.Renewal) kcred.Renewal { r.LastReminder = 60 * day; return r }, exp.Add(-45 * day), 0, false},
		{"second due after first", func(r kcred.Renewal) kcred.Renewal { r.LastReminder = 60 * day; return r }, exp.Add(-30 * day), 30 * day, true},
		{"downtime skips to the latest", nil, exp.Add(-5 * day), 7 * day, true},
		{"downtime after some sent", func(r kcred.Renewal) kcred.Renewal { r.LastReminder = 30 * day; return r }, exp.Add(-2 * day), 3 * day, true},
		{"acknowledged", func(r kcred.Renewal) kcred.Renewal { r.AcknowledgedAt = opened; return r }, exp.Add(-day), 0, false},
		{"closed", func(r kcred.Renewal) kcred.Renewal { r.ClosedAt = exp; return r }, exp.Add(-day), 0, false},
		{"after expiry", nil, exp.Add(time.Second), 0, false},
		{"offsets before the renewal opened are skipped", func(r kcred.Renewal) kcred.Renewal { r.CreateTime = exp.Add(-10 * day); return r }, exp.Add(-9 * day), 0, false},
		{"then the next one counts", func(r kcred.Renewal) kcred.Renewal { r.CreateTime = exp.Add(-10 * day); return r }, exp.Add(-7 * day), 7 * day, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			if tc.r != nil {
				r = tc.r(r)
			}
			got, ok := kcred.DueReminder(r, schedule, tc.now)
			if ok != tc.ok || got != tc.want {
				t.Errorf("DueReminder = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestExpiryDue(t *testing.T) {
	exp := time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	r := kcred.Renewal{OldNotAfter: exp}
	if kcred.ExpiryDue(r, exp.Add(-time.Second)) || !kcred.ExpiryDue(r, exp) {
		t.Error("wrong around expiry")
	}
	r.ClosedAt = exp
	if kcred.ExpiryDue(r, exp.Add(time.Hour)) {
		t.Error("closed renewal is due")
	}
}

func TestCredentialsExpiring(t *testing.T) {
	exp := time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	c := kcred.Credentials{}
	if !c.ExpiringNotAfter().IsZero() || c.Pending() {
		t.Error("no renewal but expiring")
	}
	c.Renewal = &kcred.Renewal{OldNotAfter: exp}
	if !c.ExpiringNotAfter().Equal(exp) || !c.Pending() {
		t.Error("open renewal not expiring")
	}
	c.Renewal.AcknowledgedAt = exp.Add(-time.Hour)
	if !c.ExpiringNotAfter().IsZero() || c.Pending() {
		t.Error("acknowledged renewal still expiring")
	}
}
