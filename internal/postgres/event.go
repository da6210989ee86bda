package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred"
)

const (
	sqlCreateEvent = `INSERT INTO events (id, time, actor, action, project, service, target, source, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	// Newest first; seq (insertion order) breaks ties of time. LIMIT NULL is no limit.
	sqlListEvents = `SELECT id, time, actor, action, project, service, target, source, detail
		FROM events WHERE project = $1 ORDER BY time DESC, seq DESC LIMIT $2`
)

// CreateEvent implements kcred.Queries. An event without ID or Time gets a
// new ID and the current time.
func (q queries) CreateEvent(ctx context.Context, e *kcred.Event) error {
	prepareEvent(e)
	if _, err := q.exec(ctx, sqlCreateEvent, e.ID, timeArg(e.Time), e.Actor, e.Action, e.Project, e.Service,
		e.Target, e.Source, e.Detail); err != nil {
		return fail("create event", err, "")
	}
	return nil
}

// prepareEvent fills in what CreateEvent defaults.
func prepareEvent(e *kcred.Event) {
	ensureID(&e.ID)
	defaultNow(&e.Time)
	norm(&e.Time)
}

func scanEvent(row pgx.Row) (*kcred.Event, error) {
	e := &kcred.Event{}
	err := row.Scan(&e.ID, (*ntime)(&e.Time), &e.Actor, &e.Action, &e.Project, &e.Service, &e.Target, &e.Source,
		&e.Detail)
	return e, err
}

// ListEvents implements kcred.Queries. A limit of 0 or less means no limit.
func (q queries) ListEvents(ctx context.Context, project string, limit int) ([]*kcred.Event, error) {
	var lim any = limit
	if limit <= 0 {
		lim = nil
	}
	return list(q, ctx, "list events", scanEvent, sqlListEvents, project, lim)
}
