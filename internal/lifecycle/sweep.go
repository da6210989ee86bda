package lifecycle

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/kcred/kcred"
)

// sweepBatch is how many users a sweep renews per transaction: large
// enough to amortise the commit and the statements (512 renewed 10 % more
// per second than 256), small enough that SQLite's one writer is never
// held for long (512 renewals hold it about 40 ms at 20,000 users).
// sweepRound is how many candidates a sweep reads at once. The reading
// runs ahead of the issuing by up to a round, so that the cores issue
// while the next round is read. Variables only so that tests can walk
// through many rounds with few users.
var (
	sweepBatch = 512
	sweepRound = 8 * sweepBatch
)

// sweepQueue is how many issued batches may wait for the writer. The
// writer is slower than the issuing now and then (a checkpoint, another
// transaction); with one batch of slack the issuing stopped then, and a
// core idled.
const sweepQueue = 4

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
	due     *kcred.DueCertificate
	project *kcred.Project
	now     time.Time           // when the candidate was read
	write   *kcred.RenewalWrite // what commitRenewals stores
	err     error
}

// renewDue renews the due certificates in a pipeline of three goroutines:
// readDue reads the candidates a round at a time, the next while the last
// is issued; the issuing makes the keys of a batch on every core; and
// renewDue itself commits the batches. So the cores stay busy with what a
// renewal costs, and SQLite's one writer does nothing but write. Each
// candidate is read once a sweep (see ListRenewalCandidates): one that
// fails to issue, or whose generation was taken, waits for the next sweep.
func (m *Manager) renewDue(ctx context.Context) (int, error) {
	// A failed commit stops the reading and issuing; what was issued is
	// dropped, and its users stay candidates.
	readCtx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		read             = make(chan []*renewal, sweepRound/sweepBatch)
		issued           = make(chan []*renewal, sweepQueue)
		readErr, sendErr error
	)
	go func() {
		defer close(read)
		readErr = m.readDue(readCtx, read)
	}()
	go func() {
		defer close(issued)
		for b := range read {
			m.issueAll(readCtx, b)
			select {
			case issued <- b:
			case <-readCtx.Done():
				sendErr = readCtx.Err()
				for range read { // let readDue end
				}
				return
			}
		}
	}()
	total := 0
	var err error
	for b := range issued {
		if err != nil {
			continue // drain the issuing
		}
		var n int
		n, err = m.commitRenewals(ctx, b)
		total += n
		if err != nil {
			stop()
		}
	}
	if err != nil {
		return total, err
	}
	if readErr != nil {
		return total, readErr
	}
	return total, sendErr
}

// readDue is the reading half of renewDue: it sends the candidates to
// read in batches until none is left, each with its project.
func (m *Manager) readDue(ctx context.Context, read chan<- []*renewal) error {
	ps := &projects{m: m, ps: map[string]*kcred.Project{}}
	var after kcred.CandidateKey
	for {
		now := m.Now()
		due, err := m.store.ListRenewalCandidates(ctx, now, after, sweepRound)
		if err != nil {
			return err
		}
		all := len(due) == sweepRound // else the read found all that is due now
		for len(due) > 0 {
			n := min(len(due), sweepBatch)
			batch := make([]*renewal, n)
			for i, d := range due[:n] {
				p, err := ps.get(ctx, d.Project)
				if err != nil {
					return err
				}
				batch[i] = &renewal{due: d, project: p, now: now}
			}
			after = due[n-1].Key()
			due = due[n:]
			select {
			case read <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !all {
			return nil
		}
	}
}

// issueAll makes the new keys and certificates of a batch, and the records
// that store them, on every core: key generation is the cost of a renewal,
// and the one writer should do nothing but write.
func (m *Manager) issueAll(ctx context.Context, batch []*renewal) {
	work := make(chan *renewal)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				r.write, r.err = m.issueRenewal(ctx, r)
			}
		}()
	}
	for _, r := range batch {
		work <- r
	}
	close(work)
	wg.Wait()
}

// issueRenewal makes the new certificate of r and the renewal, notice and
// event that go with it.
func (m *Manager) issueRenewal(ctx context.Context, r *renewal) (*kcred.RenewalWrite, error) {
	p, now := r.project, r.now
	svc := &kcred.Service{ID: r.due.User.ServiceID, Name: r.due.ServiceName}
	u := r.due.User
	c, _, err := m.issue(ctx, p, svc, &u, r.due.Current.Generation+1, kcred.ReasonRenewal)
	if err != nil {
		return nil, err
	}
	old := r.due.Current
	rn := &kcred.Renewal{
		ID: kcred.NewID(), UserID: old.UserID, OldCertID: old.ID, NewCertID: c.ID,
		OldNotAfter: old.NotAfter, CreateTime: now,
	}
	rn.NextActionAt = kcred.NextAction(*rn, m.Policy(p).Reminders)
	return &kcred.RenewalWrite{
		Certificate: c,
		Renewal:     rn,
		Notice: &kcred.Notice{
			ID: kcred.NewID(), Project: r.due.Project, ServiceID: u.ServiceID, ServiceName: r.due.ServiceName,
			UserID: old.UserID, Username: u.Username, Kind: kcred.KindRenewed,
			OldSerial: old.Serial, NewSerial: c.Serial, OldNotAfter: old.NotAfter, NewNotAfter: c.NotAfter, CreateTime: now,
		},
		Event: m.event(Actor{}, kcred.ActionRenewal, r.due.Project, r.due.ServiceName, u.Username,
			fmt.Sprintf("Renewed certificate of %s: %s replaces %s, which stays valid until %s",
				u.Username, c.Serial, old.Serial, old.NotAfter.Format(time.RFC3339))),
	}, nil
}

// commitRenewals stores a batch: for each user the new certificate, the
// open renewal, its notice and its event, in one transaction and a few
// statements (CreateRenewals). It returns how many it renewed.
func (m *Manager) commitRenewals(ctx context.Context, batch []*renewal) (int, error) {
	issued := make([]*renewal, 0, len(batch))
	writes := make([]*kcred.RenewalWrite, 0, len(batch))
	for _, r := range batch {
		if r.err != nil {
			m.log.Error("issue renewed certificate", "project", r.due.Project, "service", r.due.ServiceName, "user", r.due.User.Username, "err", r.err)
			continue
		}
		issued, writes = append(issued, r), append(writes, r.write)
	}
	if len(writes) == 0 {
		return 0, nil
	}
	// The generation is the lock: a user whose new generation a reset or
	// another replica took first is skipped, with its renewal.
	written, err := m.store.CreateRenewals(ctx, writes)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, r := range issued {
		if written[i] {
			m.changed(r.due.User.ServiceID, r.due.User.Username)
			n++
		}
	}
	return n, nil
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
			var events []*kcred.Event // written together: a round trip each saved on PostgreSQL
			for i, d := range due {
				ev, ok, err := m.advance(ctx, q, d, policies[i].Reminders, now)
				if err != nil {
					return err
				}
				if ev != nil { // a reminder, or an expiry unacknowledged
					events = append(events, ev)
					if ev.Action == kcred.ActionReminder {
						r++
					} else {
						e++
					}
				}
				if ok {
					moved++
				}
			}
			return q.CreateEvents(ctx, events)
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
// counts. It returns the event of a reminder or of an unacknowledged
// expiry, for the caller to write, and whether the renewal's next action
// moved.
func (m *Manager) advance(ctx context.Context, q kcred.Queries, d *kcred.DueRenewal, schedule []time.Duration, now time.Time) (ev *kcred.Event, moved bool, err error) {
	r, err := q.FindOpenRenewal(ctx, d.UserID)
	if kcred.ErrorCode(err) == kcred.ENOTFOUND || (err == nil && r.ID != d.ID) {
		return nil, true, nil // closed meanwhile (a reset)
	} else if err != nil {
		return nil, false, err
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
			ev = m.event(Actor{}, kcred.ActionExpired, d.Project, d.ServiceName, d.Username,
				fmt.Sprintf("Certificate %s of %s expired before its renewal was acknowledged", d.OldSerial, d.Username))
		}
	case due:
		r.LastReminder, r.RemindersSent = off, r.RemindersSent+1
		notice.Kind, notice.Offset = kcred.KindReminder, off
		ev = m.event(Actor{}, kcred.ActionReminder, d.Project, d.ServiceName, d.Username,
			fmt.Sprintf("Reminded that the renewal of %s is not acknowledged; %s expires in %s", d.Username, d.OldSerial, kcred.FormatDuration(off)))
	}
	r.NextActionAt = kcred.NextAction(*r, schedule)
	if notice.Kind != "" {
		if err := q.CreateNotice(ctx, notice); err != nil {
			return nil, false, err
		}
	}
	if err := q.UpdateRenewal(ctx, r); err != nil {
		return nil, false, err
	}
	return ev, notice.Kind != "" || !r.NextActionAt.Equal(before), nil
}
