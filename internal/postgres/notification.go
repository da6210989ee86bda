package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/kcred/kcred"
)

const (
	noticeCols = `id, project, service_id, service_name, user_id, username, kind, old_serial, new_serial,
	old_not_after, new_not_after, offset_ns, create_time`
	notificationCols = `n.id, n.project, n.kind, n.recipients, n.subject, n.text, n.html, n.payload, n.create_time`
	// deliveryCols turn the NULLs of a left join without delivery into zero
	// values (times: ntime scans NULL as zero).
	deliveryCols = `coalesce(d.id, ''), coalesce(d.notification_id, ''), coalesce(d.project, ''),
	coalesce(d.channel, ''), coalesce(d.target, ''), coalesce(d.state, ''), coalesce(d.attempts, 0), d.next_attempt,
	coalesce(d.last_error, ''), d.delivered_at, d.create_time`

	// Notices have no foreign key to their project (migration 00005): the
	// project's row is locked as a key would lock it, and its delete
	// deletes the notice. It returns whether the project exists and how
	// many notices were written.
	sqlCreateNotice = `WITH p AS (
			SELECT FROM projects WHERE name = $2 FOR KEY SHARE
		), n AS (
			INSERT INTO notices (id, project, service_id, service_name, user_id, username, kind,
				old_serial, new_serial, old_not_after, new_not_after, offset_ns, create_time)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM p
			ON CONFLICT DO NOTHING RETURNING 1
		)
		SELECT EXISTS (SELECT FROM p), (SELECT count(*) FROM n)`
	// Every notice is pending until a digest deletes it (migration 00004).
	sqlListPendingNotices = `SELECT ` + noticeCols + ` FROM notices ORDER BY create_time, seq LIMIT $1`
	// sqlDeleteNotices deletes the notices of an array of distinct IDs when
	// all of them are there, and none otherwise: a digest takes all its
	// notices or conflicts. It locks them first, in the order of their IDs,
	// so that two replicas digesting the same notices wait for each other
	// instead of deadlocking; the one that waited finds fewer (a locked row
	// deleted meanwhile is skipped) and deletes none.
	sqlDeleteNotices = `WITH pending AS (SELECT seq FROM notices WHERE id = ANY($1) ORDER BY id FOR UPDATE)
		DELETE FROM notices WHERE seq IN (SELECT seq FROM pending)
			AND (SELECT count(*) FROM pending) = cardinality($1::text[])`

	sqlCreateNotification = `INSERT INTO notifications (id, project, kind, recipients, subject, text, html,
		payload, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`
	sqlDeleteNotification = `DELETE FROM notifications WHERE id = $1`
	// All deliveries of a notification in one statement, from arrays.
	sqlCreateDeliveries = `INSERT INTO deliveries (id, notification_id, project, channel, target, state,
		attempts, next_attempt, last_error, delivered_at, create_time)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
			$7::integer[], $8::timestamptz[], $9::text[], $10::timestamptz[], $11::timestamptz[])
		ON CONFLICT DO NOTHING`
	// Deliveries come in the order of the unique index on
	// (notification_id, channel, target).
	sqlFindNotification = `SELECT ` + notificationCols + `, ` + deliveryCols + `
		FROM notifications n LEFT JOIN deliveries d ON d.notification_id = n.id
		WHERE n.id = $1 ORDER BY d.channel, d.target`
	sqlListNotifications = `SELECT ` + notificationCols + `, ` + deliveryCols + `
		FROM (SELECT * FROM notifications WHERE project = $1 ORDER BY create_time DESC, seq DESC LIMIT $2) n
		LEFT JOIN deliveries d ON d.notification_id = n.id
		ORDER BY n.create_time DESC, n.seq DESC, d.channel, d.target`
	// The partial index deliveries_pending_next_attempt holds only pending
	// deliveries.
	sqlListDueDeliveries = `SELECT ` + deliveryCols + ` FROM deliveries d
		WHERE d.state = '` + kcred.DeliveryPending + `' AND d.next_attempt <= $1
		ORDER BY d.next_attempt LIMIT $2`
	// A pending delivery without a next attempt is due at once (see
	// UpdateDelivery); RETURNING gives the caller what was stored.
	sqlUpdateDelivery = `UPDATE deliveries SET state = $1::text, attempts = $2,
		next_attempt = CASE WHEN $1::text = '` + kcred.DeliveryPending + `'
			THEN coalesce($3::timestamptz, create_time) ELSE $3::timestamptz END,
		last_error = $4, delivered_at = $5
		WHERE id = $6 RETURNING next_attempt`

	errNoticesTaken = "Some of the notices are no longer pending: another server digested them first."
)

// CreateNotice implements kcred.RenewalQueries. A notice without ID or
// CreateTime gets a new ID and the current time. ENOTFOUND when the project
// does not exist, ECONFLICT when the ID is taken.
func (q queries) CreateNotice(ctx context.Context, n *kcred.Notice) error {
	prepareNotice(n)
	var project bool
	var c int64
	err := q.db.QueryRow(ctx, sqlCreateNotice, n.ID, n.Project, n.ServiceID, n.ServiceName, n.UserID, n.Username,
		n.Kind, n.OldSerial, n.NewSerial, timeArg(n.OldNotAfter), timeArg(n.NewNotAfter), int64(n.Offset),
		timeArg(n.CreateTime)).Scan(&project, &c)
	if err != nil {
		return fail("create notice", err, "")
	}
	if !project {
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, n.Project)
	}
	if c == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "Notice already exists.")
	}
	return nil
}

// prepareNotice fills in what CreateNotice defaults.
func prepareNotice(n *kcred.Notice) {
	ensureID(&n.ID)
	defaultNow(&n.CreateTime)
	norm(&n.OldNotAfter, &n.NewNotAfter, &n.CreateTime)
}

func scanNotice(row pgx.Row) (*kcred.Notice, error) {
	n := &kcred.Notice{}
	err := row.Scan(&n.ID, &n.Project, &n.ServiceID, &n.ServiceName, &n.UserID, &n.Username, &n.Kind, &n.OldSerial,
		&n.NewSerial, (*ntime)(&n.OldNotAfter), (*ntime)(&n.NewNotAfter), (*int64)(&n.Offset), (*ntime)(&n.CreateTime))
	return n, err
}

// ListPendingNotices implements kcred.RenewalQueries. A limit of 0 or less
// means no limit.
func (q queries) ListPendingNotices(ctx context.Context, limit int) ([]*kcred.Notice, error) {
	return list(q, ctx, "list pending notices", scanNotice, sqlListPendingNotices, limitArg(limit))
}

// CreateNotification implements kcred.RenewalQueries in one transaction
// (q's, or its own on the pool). ECONFLICT when a notice of noticeIDs is not
// pending (or does not exist), or the notification's or a delivery's ID is
// taken: then nothing is written, also inside InTx, and the transaction stays
// usable. ENOTFOUND when the project does not exist; EINVALID when two
// deliveries have the same channel and target.
//
// The notification gets an ID and the current time when it has none; each
// delivery gets an ID, the notification's ID and project, the
// notification's CreateTime when it has none, state pending when it has
// none, and when pending without NextAttempt its CreateTime (due at once).
func (q queries) CreateNotification(ctx context.Context, n *kcred.Notification, noticeIDs []string) error {
	if err := prepareNotification(n); err != nil {
		return err
	}
	ids := distinct(noticeIDs)
	return q.atomic(ctx, func(q queries) error {
		c, err := q.exec(ctx, sqlCreateNotification, n.ID, n.Project, n.Kind, textArray(n.Recipients), n.Subject,
			n.Text, n.HTML, n.Payload, timeArg(n.CreateTime))
		if foreignKey(err) != "" {
			return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, n.Project)
		} else if err != nil {
			return fail("create notification", err, "")
		} else if c == 0 {
			return kcred.Errorf(kcred.ECONFLICT, "Notification already exists.")
		}
		// From here a conflict deletes the notification, whose deliveries
		// go with it, so that it leaves nothing behind in a transaction of
		// the caller either. The notices go last: once deleted they cannot
		// be put back.
		undo := func(conflict error) error {
			if _, err := q.exec(ctx, sqlDeleteNotification, n.ID); err != nil {
				return fail("create notification", err, "")
			}
			return conflict
		}
		if len(n.Deliveries) > 0 {
			c, err = q.exec(ctx, sqlCreateDeliveries, deliveryArrays(n.Deliveries)...)
			if err != nil {
				return fail("create notification", err, "")
			} else if c != int64(len(n.Deliveries)) {
				return undo(kcred.Errorf(kcred.ECONFLICT, "Delivery already exists."))
			}
		}
		if len(ids) > 0 {
			c, err := q.exec(ctx, sqlDeleteNotices, ids)
			if err != nil {
				return fail("create notification", err, "")
			} else if c != int64(len(ids)) {
				return undo(kcred.Errorf(kcred.ECONFLICT, "%s", errNoticesTaken))
			}
		}
		return nil
	})
}

// deliveryArrays returns the arguments of sqlCreateDeliveries: one array
// per column.
func deliveryArrays(list []*kcred.Delivery) []any {
	n := len(list)
	var (
		id, notification, project, channel, target, state, lastError = make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempts                          = make([]int32, n)
		nextAttempt, deliveredAt, created = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n),
			make([]pgtype.Timestamptz, n)
	)
	for i, d := range list {
		id[i], notification[i], project[i], channel[i], target[i], state[i], lastError[i] =
			d.ID, d.NotificationID, d.Project, d.Channel, d.Target, d.State, d.LastError
		attempts[i] = int32(d.Attempts)
		nextAttempt[i], deliveredAt[i], created[i] = timestamptz(d.NextAttempt), timestamptz(d.DeliveredAt),
			timestamptz(d.CreateTime)
	}
	return []any{id, notification, project, channel, target, state, attempts, nextAttempt, lastError, deliveredAt,
		created}
}

// timestamptz is t as an element of a timestamptz[] argument: NULL for the
// zero time, like timeArg.
func timestamptz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: kcred.UTC(t), Valid: !t.IsZero()}
}

// prepareNotification fills in what CreateNotification defaults (see there)
// and checks the deliveries.
func prepareNotification(n *kcred.Notification) error {
	ensureID(&n.ID)
	defaultNow(&n.CreateTime)
	norm(&n.CreateTime)
	n.Recipients = textArray(n.Recipients)
	if n.Deliveries == nil {
		n.Deliveries = []*kcred.Delivery{}
	}
	type key struct{ channel, target string }
	seen := map[key]bool{}
	for _, d := range n.Deliveries {
		k := key{d.Channel, d.Target}
		if seen[k] {
			return kcred.Errorf(kcred.EINVALID, "Two deliveries of the notification go to %s %q.", d.Channel, d.Target)
		}
		seen[k] = true
		ensureID(&d.ID)
		d.NotificationID, d.Project = n.ID, n.Project
		if d.CreateTime.IsZero() {
			d.CreateTime = n.CreateTime
		}
		if d.State == "" {
			d.State = kcred.DeliveryPending
		}
		if d.State == kcred.DeliveryPending && d.NextAttempt.IsZero() {
			d.NextAttempt = d.CreateTime
		}
		norm(&d.NextAttempt, &d.DeliveredAt, &d.CreateTime)
	}
	return nil
}

// distinct returns ids without repetitions, in their order.
func distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func deliveryDest(d *kcred.Delivery) []any {
	return []any{&d.ID, &d.NotificationID, &d.Project, &d.Channel, &d.Target, &d.State, &d.Attempts,
		(*ntime)(&d.NextAttempt), &d.LastError, (*ntime)(&d.DeliveredAt), (*ntime)(&d.CreateTime)}
}

// listNotifications runs a query of notifications left-joined with their
// deliveries, a notification's rows next to each other.
func (q queries) listNotifications(ctx context.Context, op, sql string, args ...any) ([]*kcred.Notification, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fail(op, err, "")
	}
	defer rows.Close()
	out := []*kcred.Notification{}
	var last *kcred.Notification
	for rows.Next() {
		n, d := &kcred.Notification{}, &kcred.Delivery{}
		err := rows.Scan(append([]any{&n.ID, &n.Project, &n.Kind, &n.Recipients, &n.Subject, &n.Text, &n.HTML,
			&n.Payload, (*ntime)(&n.CreateTime)}, deliveryDest(d)...)...)
		if err != nil {
			return nil, fail(op, err, "")
		}
		if last == nil || last.ID != n.ID {
			n.Recipients = textArray(n.Recipients)
			n.Deliveries = []*kcred.Delivery{}
			out = append(out, n)
			last = n
		}
		if d.ID != "" {
			last.Deliveries = append(last.Deliveries, d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fail(op, err, "")
	}
	return out, nil
}

// FindNotification implements kcred.RenewalQueries: the notification with
// its deliveries by channel and target, in one query.
func (q queries) FindNotification(ctx context.Context, id string) (*kcred.Notification, error) {
	list, err := q.listNotifications(ctx, "find notification", sqlFindNotification, id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Notification does not exist.")
	}
	return list[0], nil
}

// ListNotifications implements kcred.RenewalQueries in one query. A limit
// of 0 or less means no limit.
func (q queries) ListNotifications(ctx context.Context, project string, limit int) ([]*kcred.Notification, error) {
	return q.listNotifications(ctx, "list notifications", sqlListNotifications, project, limitArg(limit))
}

func scanDelivery(row pgx.Row) (*kcred.Delivery, error) {
	d := &kcred.Delivery{}
	return d, row.Scan(deliveryDest(d)...)
}

// ListDueDeliveries implements kcred.RenewalQueries. A limit of 0 or less
// means no limit.
func (q queries) ListDueDeliveries(ctx context.Context, now time.Time, limit int) ([]*kcred.Delivery, error) {
	return list(q, ctx, "list due deliveries", scanDelivery, sqlListDueDeliveries, kcred.UTC(now), limitArg(limit))
}

// UpdateDelivery implements kcred.RenewalQueries. A pending delivery with a
// zero NextAttempt gets its CreateTime, as in CreateNotification: due at
// once rather than never. d.NextAttempt is set to what is stored.
func (q queries) UpdateDelivery(ctx context.Context, d *kcred.Delivery) error {
	norm(&d.NextAttempt, &d.DeliveredAt)
	err := q.db.QueryRow(ctx, sqlUpdateDelivery, d.State, d.Attempts, timeArg(d.NextAttempt), d.LastError,
		timeArg(d.DeliveredAt), d.ID).Scan((*ntime)(&d.NextAttempt))
	if noRows(err) {
		return kcred.Errorf(kcred.ENOTFOUND, "Delivery does not exist.")
	} else if err != nil {
		return fail("update delivery", err, "")
	}
	return nil
}
