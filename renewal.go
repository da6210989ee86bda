package kcred

import "time"

// Renewal records one automatic renewal: the old certificate stays valid
// until OldNotAfter while people move to the new one. At most one renewal per
// user is open (ClosedAt zero).
type Renewal struct {
	ID             string
	UserID         string
	OldCertID      string
	NewCertID      string
	OldNotAfter    time.Time
	CreateTime     time.Time
	AcknowledgedAt time.Time // zero until acknowledged
	AcknowledgedBy string
	LastReminder   time.Duration // offset of the last reminder sent; 0 when none
	RemindersSent  int
	ClosedAt       time.Time // zero while open
	// NextActionAt is when a sweep must look at the renewal again: the
	// next reminder or the old certificate's expiry (see NextAction). It
	// is indexed so that sweeps cost O(due).
	NextActionAt time.Time
}

// Acknowledged reports whether someone said the new certificate is in use.
func (r Renewal) Acknowledged() bool { return !r.AcknowledgedAt.IsZero() }

// Open reports whether the old certificate has not yet been closed out.
func (r Renewal) Open() bool { return r.ClosedAt.IsZero() }

// DueReminder returns the reminder offset to send at now, if any. Offsets
// are durations before OldNotAfter (schedule in any order). Only the latest
// offset that has passed counts, so downtime never causes a burst; an offset
// is sent once, and offsets that had already passed when the renewal opened
// are covered by the renewal notice itself.
func DueReminder(r Renewal, schedule []time.Duration, now time.Time) (time.Duration, bool) {
	if !r.Open() || r.Acknowledged() || !now.Before(r.OldNotAfter) {
		return 0, false
	}
	var latest time.Duration
	found := false
	for _, off := range schedule {
		at := r.OldNotAfter.Add(-off)
		if off <= 0 || now.Before(at) || !at.After(r.CreateTime) {
			continue
		}
		if !found || off < latest {
			latest, found = off, true
		}
	}
	if !found {
		return 0, false
	}
	if r.LastReminder != 0 && r.LastReminder <= latest {
		return 0, false // this offset, or a later one, was already sent
	}
	return latest, true
}

// ExpiryDue reports whether r's old certificate has expired at now, so the
// renewal must be closed (and, when unacknowledged, people told).
func ExpiryDue(r Renewal, now time.Time) bool {
	return r.Open() && !now.Before(r.OldNotAfter)
}

// NextAction returns when r next needs a sweep: the time of the next
// reminder offset that DueReminder could return, or the old certificate's
// expiry, whichever is first. Zero for a closed renewal.
func NextAction(r Renewal, schedule []time.Duration) time.Time {
	if !r.Open() {
		return time.Time{}
	}
	next := r.OldNotAfter
	if r.Acknowledged() {
		return next
	}
	for _, off := range schedule {
		at := r.OldNotAfter.Add(-off)
		if off <= 0 || !at.After(r.CreateTime) || (r.LastReminder != 0 && off >= r.LastReminder) {
			continue
		}
		if at.Before(next) {
			next = at
		}
	}
	return next
}
