package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/kcred/kcred"
)

const (
	sqlCreateEvent = `INSERT INTO events (id, time, actor, action, project, service, target, source, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	// sqlCreateEvents writes one array per column in one statement, in
	// the arrays' order so that seq follows it.
	sqlCreateEvents = `INSERT INTO events (id, time, actor, action, project, service, target, source, detail)
		SELECT id, time, actor, action, project, service, target, source, detail
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[])
			WITH ORDINALITY AS e (id, time, actor, action, project, service, target, source, detail, ord)
		ORDER BY ord`
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

// CreateEvents implements kcred.Queries in one statement, one round trip.
func (q queries) CreateEvents(ctx context.Context, events []*kcred.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	strs := func() []string { return make([]string, n) }
	id, actor, action, project, service, target, source, detail := strs(), strs(), strs(), strs(), strs(), strs(), strs(), strs()
	at := make([]pgtype.Timestamptz, n)
	for i, e := range events {
		prepareEvent(e)
		id[i], at[i], actor[i], action[i], project[i] = e.ID, timestamptz(e.Time), e.Actor, e.Action, e.Project
		service[i], target[i], source[i], detail[i] = e.Service, e.Target, e.Source, e.Detail
	}
	if _, err := q.exec(ctx, sqlCreateEvents, id, at, actor, action, project, service, target, source, detail); err != nil {
		return fail("create events", err, "")
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
