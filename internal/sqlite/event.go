package sqlite

import (
	"context"

	"github.com/kcred/kcred"
)

var (
	sqlCreateEvents = newMultiRow(`INSERT INTO events (id, time, actor, action, project, service, target, source, detail) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?)`, ``)
	// Newest first; seq (insertion order) breaks ties of time.
	sqlListEvents = stmt(`SELECT id, time, actor, action, project, service, target, source, detail
		FROM events WHERE project = ? ORDER BY time DESC, seq DESC LIMIT ?`)
)

// CreateEvent implements kcred.Queries. An event without ID or Time gets a
// new ID and the current time.
func (q queries) CreateEvent(ctx context.Context, e *kcred.Event) error {
	prepareEvent(e)
	if _, err := q.exec(ctx, sqlCreateEvents[1], eventArgs(make([]any, 0, 9), e)...); err != nil {
		return fail("create event", err, "")
	}
	return nil
}

// CreateEvents implements kcred.Queries with multi-row INSERTs, in one
// transaction (q's, or its own outside InTx): a statement per chunk of
// events, not per event, spares each event a statement's fixed cost.
func (q queries) CreateEvents(ctx context.Context, events []*kcred.Event) error {
	if len(events) == 0 {
		return nil
	}
	for _, e := range events {
		prepareEvent(e)
	}
	args := make([]any, 0, 9*min(len(events), maxRows))
	return q.atomic(ctx, func(q queries) error {
		return chunks(len(events), func(lo, hi int) error {
			args = args[:0]
			for _, e := range events[lo:hi] {
				args = eventArgs(args, e)
			}
			if _, err := q.exec(ctx, sqlCreateEvents[hi-lo], args...); err != nil {
				return fail("create events", err, "")
			}
			return nil
		})
	})
}

// eventArgs appends the arguments of e's row, in the order of the INSERTs'
// columns.
func eventArgs(args []any, e *kcred.Event) []any {
	return append(args, e.ID, timeArg(e.Time), e.Actor, e.Action, e.Project, e.Service, e.Target, e.Source, e.Detail)
}

// prepareEvent fills in what CreateEvent defaults.
func prepareEvent(e *kcred.Event) {
	ensureID(&e.ID)
	defaultNow(&e.Time)
	norm(&e.Time)
}

// ListEvents implements kcred.Queries. A limit of 0 or less means no limit.
func (q queries) ListEvents(ctx context.Context, project string, limit int) ([]*kcred.Event, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := q.read(ctx, sqlListEvents).QueryContext(ctx, project, limit)
	if err != nil {
		return nil, fail("list events", err, "")
	}
	defer rows.Close()
	out := []*kcred.Event{}
	for rows.Next() {
		e := &kcred.Event{}
		if err := rows.Scan(&e.ID, (*ntime)(&e.Time), &e.Actor, &e.Action, &e.Project, &e.Service, &e.Target,
			&e.Source, &e.Detail); err != nil {
			return nil, fail("list events", err, "")
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list events", err, "")
	}
	return out, nil
}
