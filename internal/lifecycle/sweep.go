package lifecycle

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/kcred/kcred"
)

// sweepBatch is how many users a sweep handles per transaction: large
// enough to amortise the commit, small enough that SQLite's one writer is
// never held for long.
const sweepBatch = 256

// sweepRound is how many candidates a sweep reads at once and renews in
// pipelined batches before it reads again.
const sweepRound = 8 * sweepBatch

// SweepResult counts what one sweep did.
type SweepResult struct {
	Renewed       int
	Reminded      int
	Expired       int // renewals closed because the old certificate expired
	Notifications int
	Duration      time.Duration
}

// Sweep runs the lifecycle rules at the Manager's now: it renews the
// certificates that are due, sends due reminders, closes renewals whose old
// certificate expired, and gathers the notices these wrote into one digest
// per recipient, project and kind. Each step re-reads under its transaction
// and relies on the store's unique keys, so sweeps on several replicas at
// once renew each user exactly once. Its cost grows with what is due.
func (m *Manager) Sweep(ctx context.Context) (SweepResult, error) {
	start := time.Now()
	var res SweepResult
	var err error
	if res.Renewed, err = m.renewDue(ctx); err != nil {
		return res, err
	}
	if res.Reminded, res.Expired, err = m.advanceRenewals(ctx); err != nil {
		return res, err
	}
	if res.Notifications, err = m.Digest(ctx); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	m.observer.Swept(res.Renewed, res.Duration)
	return res, nil
}

// projects caches the projects of one sweep.
type projects struct {
	m  *Manager
	ps map[string]*kcred.Project
}

func (p *projects) get(ctx context.Context, name string) (*kcred.Project, error) {
	if pr, ok := p.ps[name]; ok {
		return pr, nil
	}
	pr, err := p.m.store.FindProject(ctx, name)
	if err != nil {
		return nil, err
	}
	p.ps[name] = pr
	return pr, nil
}

// renewal is a renewal being prepared outside the transaction.
type renewal struct {
	due    *kcred.DueCertificate
	policy kcred.CertPolicy
	cert   *kcred.Certificate
	err    error
}

func (m *Manager) renewDue(ctx context.Context) (int, error) {
	total := 0
	ps := &projects{m: m, ps: map[string]*kcred.Project{}}
	for {
		now := m.Now()
		due, err := m.store.ListRenewalCandidates(ctx, now, sweepRound)
		if err != nil || len(due) == 0 {
			return total, err
		}
		var batches [][]*renewal
		for i := 0; i < len(due); i += sweepBatch {
			batch := make([]*renewal, 0, sweepBatch)
			for _, d := range due[i:min(i+sweepBatch, len(due))] {
				p, err := ps.get(ctx, d.Project)
				if err != nil {
					return total, err
				}
				batch = append(batch, &renewal{due: d, policy: m.Policy(p)})
			}
			batches = append(batches, batch)
		}
		// Keys for the next batch are made while the last one commits, so
		// the cores stay busy with what a renewal costs.
		issued := make(chan []*renewal, 1)
		go func() {
			defer close(issued)
			for _, b := range batches {
				m.issueAll(ctx, ps, b)
				issued <- b
			}
		}()
		round := 0
		var cerr error
		for b := range issued {
			if cerr != nil {
				continue // drain the issuer
			}
			n, err := m.commitRenewals(ctx, b, now)
			round += n
			cerr = err
		}
		total += round
		if cerr != nil {
			return total, cerr
		}
		if round == 0 {
			// Every candidate failed to issue or lost a race; they stay
			// candidates, so stop rather than spin on them.
			return total, nil
		}
	}
}

// issueAll makes the new keys and certificates of a batch on every core:
// key generation is the cost of a renewal.
func (m *Manager) issueAll(ctx context.Context, ps *projects, batch []*renewal) {
	work := make(chan *renewal)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				r.cert, r.err = m.issueRenewal(ctx, ps, r)
			}
		}()
	}
	for _, r := range batch {
		work <- r
	}
	close(work)
	wg.Wait()
}

func (m *Manager) issueRenewal(ctx context.Context, ps *projects, r *renewal) (*kcred.Certificate, error) {
	p, err := ps.get(ctx, r.due.Project) // cached by renewDue; no store read here
	if err != nil {
		return nil, err
	}
	svc := &kcred.Service{ID: r.due.User.ServiceID, Name: r.due.ServiceName}
	u := r.due.User
	c, _, err := m.issue(ctx, p, svc, &u, r.due.Current.Generation+1, kcred.ReasonRenewal)
	return c, err
}

// commitRenewals stores a batch: for each user the new certificate, the
// open renewal, its notice and its event, in one transaction.
func (m *Manager) commitRenewals(ctx context.Context, batch []*renewal, now time.Time) (int, error) {
	var done []*renewal
	err := m.store.InTx(ctx, func(q kcred.Queries) error {
		done = done[:0]
		for _, r := range batch {
			if r.err != nil {
				m.log.Error("issue renewed certificate", "project", r.due.Project, "service", r.due.ServiceName, "user", r.due.User.Username, "err", r.err)
				continue
			}
			old := r.due.Current
			// The generation is the lock: a reset or another replica that
			// got there first holds it, and this renewal is dropped.
			if err := q.CreateCertificate(ctx, r.cert); kcred.ErrorCode(err) == kcred.ECONFLICT {
				continue
			} else if err != nil {
				return err
			}
			rn := &kcred.Renewal{
				ID: kcred.NewID(), UserID: old.UserID, OldCertID: old.ID, NewCertID: r.cert.ID,
				OldNotAfter: old.NotAfter, CreateTime: now,
			}
			rn.NextActionAt = kcred.NextAction(*rn, r.policy.Reminders)
			if err := q.CreateRenewal(ctx, rn); err != nil {
				return fmt.Errorf("open renewal of %s: %w", r.due.User.Username, err)
			}
			if err := q.CreateNotice(ctx, &kcred.Notice{
				ID: kcred.NewID(), Project: r.due.Project, ServiceID: r.due.User.ServiceID, ServiceName: r.due.ServiceName,
				UserID: old.UserID, Username: r.due.User.Username, Kind: kcred.KindRenewed,
				OldSerial: old.Serial, NewSerial: r.cert.Serial, OldNotAfter: old.NotAfter, NewNotAfter: r.cert.NotAfter, CreateTime: now,
			}); err != nil {
				return err
			}
			if err := q.CreateEvent(ctx, m.event(Actor{}, kcred.ActionRenewal, r.due.Project, r.due.ServiceName, r.due.User.Username,
				fmt.Sprintf("Renewed certificate of %s: %s replaces %s, which stays valid until %s",
					r.due.User.Username, r.cert.Serial, old.Serial, old.NotAfter.Format(time.RFC3339)))); err != nil {
				return err
			}
			done = append(done, r)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range done {
		m.changed(r.due.User.ServiceID, r.due.User.Username)
	}
	return len(done), nil
}

// advanceRenewals sends due reminders and closes renewals whose old
// certificate expired.
func (m *Manager) advanceRenewals(ctx context.Context) (reminded, expired int, err error) {
	ps := &projects{m: m, ps: map[string]*kcred.Project{}}
	for {
		now := m.Now()
		due, err := m.store.ListDueRenewals(ctx, now, sweepBatch)
		if err != nil || len(due) == 0 {
			return reminded, expired, err
		}
		policies := make([]kcred.CertPolicy, len(due))
		for i, d := range due {
			p, err := ps.get(ctx, d.Project)
			if err != nil {
				return reminded, expired, err
			}
			policies[i] = m.Policy(p)
		}
		var r, e, moved int
		err = m.store.InTx(ctx, func(q kcred.Queries) error {
			r, e, moved = 0, 0, 0
			for i, d := range due {
				rr, ee, ok, err := m.advance(ctx, q, d, policies[i].Reminders, now)
				if err != nil {
					return err
				}
				r, e = r+rr, e+ee
				if ok {
					moved++
				}
			}
			return nil
		})
		if err != nil {
			return reminded, expired, err
		}
		reminded, expired = reminded+r, expired+e
		for _, d := range due {
			m.changed(d.ServiceID, d.Username)
		}
		if moved == 0 {
			return reminded, expired, nil
		}
	}
}

// advance applies the rules to one due renewal inside a transaction. It
// re-reads the renewal so that an acknowledgement committed meanwhile
// counts, and reports whether the renewal's next action moved.
func (m *Manager) advance(ctx context.Context, q kcred.Queries, d *kcred.DueRenewal, schedule []time.Duration, now time.Time) (reminded, expired int, moved bool, err error) {
	r, err := q.FindOpenRenewal(ctx, d.UserID)
	if kcred.ErrorCode(err) == kcred.ENOTFOUND || (err == nil && r.ID != d.ID) {
		return 0, 0, true, nil // closed meanwhile (a reset)
	} else if err != nil {
		return 0, 0, false, err
	}
	notice := &kcred.Notice{
		ID: kcred.NewID(), Project: d.Project, ServiceID: d.ServiceID, ServiceName: d.ServiceName,
		UserID: d.UserID, Username: d.Username, OldSerial: d.OldSerial, NewSerial: d.NewSerial,
		OldNotAfter: r.OldNotAfter, NewNotAfter: d.NewNotAfter, CreateTime: now,
	}
	before := r.NextActionAt
	switch off, due := kcred.DueReminder(*r, schedule, now); {
	case kcred.ExpiryDue(*r, now):
		r.ClosedAt = now
		if !r.Acknowledged() {
			notice.Kind = kcred.KindExpiredUnacknowledged
			expired = 1
			if err := q.CreateEvent(ctx, m.event(Actor{}, kcred.ActionExpired, d.Project, d.ServiceName, d.Username,
				fmt.Sprintf("Certificate %s of %s expired before its renewal was acknowledged", d.OldSerial, d.Username))); err != nil {
				return 0, 0, false, err
			}
		}
	case due:
		r.LastReminder, r.RemindersSent = off, r.RemindersSent+1
		notice.Kind, notice.Offset = kcred.KindReminder, off
		reminded = 1
		if err := q.CreateEvent(ctx, m.event(Actor{}, kcred.ActionReminder, d.Project, d.ServiceName, d.Username,
			fmt.Sprintf("Reminded that the renewal of %s is not acknowledged; %s expires in %s", d.Username, d.OldSerial, kcred.FormatDuration(off)))); err != nil {
			return 0, 0, false, err
		}
	}
	r.NextActionAt = kcred.NextAction(*r, schedule)
	if notice.Kind != "" {
		if err := q.CreateNotice(ctx, notice); err != nil {
			return 0, 0, false, err
		}
	}
	if err := q.UpdateRenewal(ctx, r); err != nil {
		return 0, 0, false, err
	}
	return reminded, expired, notice.Kind != "" || !r.NextActionAt.Equal(before), nil
}
