package lifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kcred/kcred"
)

// auditLog writes the events of secret reads. A read may only show its
// secret once its event is stored (fail closed), but a write transaction per
// GET would cap reads at the database's commit rate; so concurrent reads
// share one transaction (group commit), and each waits for the commit that
// holds its event.
type auditLog struct {
	store kcred.Store
	log   *slog.Logger
	reqs  chan auditRequest
	wg    sync.WaitGroup
	once  sync.Once
}

type auditRequest struct {
	ev   *kcred.Event
	done chan error
}

const (
	auditBatch  = 256
	auditWindow = 200 * time.Microsecond
)

func newAuditLog(store kcred.Store, log *slog.Logger) *auditLog {
	l := &auditLog{store: store, log: log, reqs: make(chan auditRequest, auditBatch)}
	l.wg.Add(1)
	go l.run()
	return l
}

// record stores ev and returns once it is committed.
func (l *auditLog) record(ctx context.Context, ev *kcred.Event) error {
	req := auditRequest{ev: ev, done: make(chan error, 1)}
	select {
	case l.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *auditLog) run() {
	defer l.wg.Done()
	batch := make([]auditRequest, 0, auditBatch)
	events := make([]*kcred.Event, 0, auditBatch)
	timer := time.NewTimer(0)
	<-timer.C
	for first := range l.reqs {
		batch = append(batch[:0], first)
		// Wait a moment for more: every commit costs WAL writes and
		// makes each reader drop its page cache, so fewer, larger
		// commits serve more reads on the same cores.
		timer.Reset(auditWindow)
	gather:
		for len(batch) < auditBatch {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		// The batch is not bound to any one request's context: a caller
		// that gives up must not roll back the others' events.
		events = events[:0]
		for _, r := range batch {
			events = append(events, r.ev)
		}
		err := l.store.CreateEvents(context.Background(), events)
		if err != nil {
			l.log.Error("write audit events", "count", len(batch), "err", err)
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (l *auditLog) close() {
	l.once.Do(func() { close(l.reqs) })
	l.wg.Wait()
}
