package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kcred/kcred"
)

const (
	noticeCols = `id, project, service_id, service_name, user_id, username, kind, old_serial, new_serial,
	old_not_after, new_not_after, offset_ns, create_time`
	notificationCols = `n.id, n.project, n.kind, n.recipients, n.subject, n.text, n.html, n.payload, n.create_time`
	deliveryCols     = `d.id, d.notification_id, d.project, d.channel, d.target, d.state, d.attempts, d.next_attempt,
	d.last_error, d.delivered_at, d.create_time`

	errNoticesTaken = "Some of the notices are no longer pending: another server digested them first."
)

var (
	sqlCreateNotice = stmt(`INSERT INTO notices (` + noticeCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	// Every notice is pending until a digest deletes it (migration 00004).
	sqlListPendingNotices = stmt(`SELECT ` + noticeCols + ` FROM notices ORDER BY create_time, seq LIMIT ?`)
	// sqlCountNotices and sqlDeleteNotices take a JSON array of distinct
	// notice IDs, so that one prepared statement takes any number of them,
	// each a seek on the unique index of id.
	sqlCountNotices  = stmt(`SELECT count(*) FROM notices WHERE id IN (SELECT value FROM json_each(?))`)
	sqlDeleteNotices = stmt(`DELETE FROM notices WHERE id IN (SELECT value FROM json_each(?))`)

	sqlCreateNotification = stmt(`INSERT INTO notifications (id, project, kind, recipients, subject, text, html,
		payload, create_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	sqlDeleteNotification = stmt(`DELETE FROM notifications WHERE id = ?`)
	sqlCreateDelivery     = stmt(`INSERT INTO deliveries (id, notification_id, project, channel, target, state,
		attempts, next_attempt, last_error, delivered_at, create_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	// Deliveries come in the order of the unique index on
	// (notification_id, channel, target).
	sqlFindNotification = stmt(`SELECT ` + notificationCols + `, ` + deliveryCols + `
		FROM notifications n LEFT JOIN deliveries d ON d.notification_id = n.id
		WHERE n.id = ? ORDER BY d.channel, d.target`)
	sqlListNotifications = stmt(`SELECT ` + notificationCols + `, ` + deliveryCols + `
		FROM (SELECT * FROM notifications WHERE project = ? ORDER BY create_time DESC, seq DESC LIMIT ?) n
		LEFT JOIN deliveries d ON d.notification_id = n.id
		ORDER BY n.create_time DESC, n.seq DESC, d.channel, d.target`)
	// The condition of the partial index deliveries_pending_next_attempt
	// must be the literal 'pending' for SQLite to use it.
	sqlListDueDeliveries = stmt(`SELECT ` + deliveryCols + ` FROM deliveries d
		WHERE d.state = '` + kcred.DeliveryPending + `' AND d.next_attempt <= ?
		ORDER BY d.next_attempt LIMIT ?`)
	// A pending delivery without a next attempt is due at once (see
	// UpdateDelivery); RETURNING gives the caller what was stored.
	sqlUpdateDelivery = stmt(`UPDATE deliveries SET state = ?1, attempts = ?2,
		next_attempt = CASE WHEN ?1 = '` + kcred.DeliveryPending + `' THEN coalesce(?3, create_time) ELSE ?3 END,
		last_error = ?4, delivered_at = ?5
		WHERE id = ?6 RETURNING next_attempt`)
)

// CreateNotice implements kcred.RenewalQueries. A notice without ID or
// CreateTime gets a new ID and the current time. ENOTFOUND when the project
// does not exist, ECONFLICT when the ID is taken.
func (q queries) CreateNotice(ctx context.Context, n *kcred.Notice) error {
	prepareNotice(n)
	c, err := q.exec(ctx, sqlCreateNotice, n.ID, n.Project, n.ServiceID, n.ServiceName, n.UserID, n.Username,
		n.Kind, n.OldSerial, n.NewSerial, timeArg(n.OldNotAfter), timeArg(n.NewNotAfter), int64(n.Offset),
		timeArg(n.CreateTime))
	if isForeignKey(err) {
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, n.Project)
	} else if err != nil {
		return fail("create notice", err, "")
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

// ListPendingNotices implements kcred.RenewalQueries. A limit of 0 or less
// means no limit.
func (q queries) ListPendingNotices(ctx context.Context, limit int) ([]*kcred.Notice, error) {
	rows, err := q.read(ctx, sqlListPendingNotices).QueryContext(ctx, noLimit(limit))
	if err != nil {
		return nil, fail("list pending notices", err, "")
	}
	defer rows.Close()
	out := []*kcred.Notice{}
	for rows.Next() {
		n := &kcred.Notice{}
		if err := rows.Scan(&n.ID, &n.Project, &n.ServiceID, &n.ServiceName, &n.UserID, &n.Username, &n.Kind,
			&n.OldSerial, &n.NewSerial, (*ntime)(&n.OldNotAfter), (*ntime)(&n.NewNotAfter), (*nint64)(&n.Offset),
			(*ntime)(&n.CreateTime)); err != nil {
			return nil, fail("list pending notices", err, "")
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list pending notices", err, "")
	}
	return out, nil
}

// CreateNotification implements kcred.RenewalQueries in one transaction
// (q's, or its own outside InTx). ECONFLICT when a notice of noticeIDs is
// not pending (or does not exist), or the notification's or a delivery's ID
// is taken: then nothing is written, also inside InTx, so a caller may go
// on with its transaction. ENOTFOUND when the project does not exist;
// EINVALID when two deliveries have the same channel and target.
//
// The notification gets an ID and the current time when it has none; each
// delivery gets an ID, the notification's ID and project, the
// notification's CreateTime when it has none, state pending when it has
// none, and when pending without NextAttempt its CreateTime (due at once).
func (q queries) CreateNotification(ctx context.Context, n *kcred.Notification, noticeIDs []string) error {
	if err := prepareNotification(n); err != nil {
		return err
	}
	recipients, err := emailsArg(n.Recipients)
	if err != nil {
		return fail("create notification", err, "")
	}
	pending, err := noticeChunks(distinct(noticeIDs))
	if err != nil {
		return fail("create notification", err, "")
	}
	return q.atomic(ctx, func(q queries) error {
		c, err := q.exec(ctx, sqlCreateNotification, n.ID, n.Project, n.Kind, recipients, n.Subject, n.Text, n.HTML,
			n.Payload, timeArg(n.CreateTime))
		if isForeignKey(err) {
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
		for _, d := range n.Deliveries {
			c, err := q.exec(ctx, sqlCreateDelivery, d.ID, d.NotificationID, d.Project, d.Channel, d.Target, d.State,
				d.Attempts, timeArg(d.NextAttempt), d.LastError, timeArg(d.DeliveredAt), timeArg(d.CreateTime))
			if err != nil {
				return fail("create notification", err, "")
			} else if c == 0 {
				return undo(kcred.Errorf(kcred.ECONFLICT, "Delivery already exists."))
			}
		}
		// All the notices or none: counted first, then deleted. The
		// transaction holds the only writer, so nothing changes between.
		if ok, err := q.deleteNotices(ctx, pending); err != nil {
			return fail("create notification", err, "")
		} else if !ok {
			return undo(kcred.Errorf(kcred.ECONFLICT, errNoticesTaken))
		}
		return nil
	})
}

// noticeChunk is a JSON array of at most maxNoticeChunk notice IDs and
// their number.
type noticeChunk struct {
	ids string
	n   int64
}

// maxNoticeChunk bounds the notice IDs one statement takes: SQLite builds
// an index in memory of the values of an IN list, and a digest of a bulk
// renewal has tens of thousands. Deleting the 100,000 notices of a
// 100,000-user sweep in one statement peaked at 245 MB of RSS, in chunks at
// 133 MB.
const maxNoticeChunk = 1000

// noticeChunks splits distinct notice IDs into noticeChunks.
func noticeChunks(ids []string) ([]noticeChunk, error) {
	var out []noticeChunk
	for len(ids) > 0 {
		n := min(len(ids), maxNoticeChunk)
		b, err := json.Marshal(ids[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, noticeChunk{string(b), int64(n)})
		ids = ids[n:]
	}
	return out, nil
}

// deleteNotices deletes the notices of chunks if all of them are there,
// and reports whether it did. It must run in a transaction.
func (q queries) deleteNotices(ctx context.Context, chunks []noticeChunk) (bool, error) {
	for _, c := range chunks {
		var n int64
		if err := q.write(ctx, sqlCountNotices).QueryRowContext(ctx, c.ids).Scan(&n); err != nil {
			return false, err
		} else if n != c.n {
			return false, nil
		}
	}
	for _, c := range chunks {
		if n, err := q.exec(ctx, sqlDeleteNotices, c.ids); err != nil {
			return false, err
		} else if n != c.n {
			return false, fmt.Errorf("deleted %d of %d notices counted in the same transaction", n, c.n)
		}
	}
	return true, nil
}

// prepareNotification fills in what CreateNotification defaults (see there)
// and checks the deliveries.
func prepareNotification(n *kcred.Notification) error {
	ensureID(&n.ID)
	defaultNow(&n.CreateTime)
	norm(&n.CreateTime)
	n.Recipients = nonNil(n.Recipients)
	n.Deliveries = nonNil(n.Deliveries)
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

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func notificationDest(n *kcred.Notification) []any {
	return []any{&n.ID, &n.Project, &n.Kind, (*emails)(&n.Recipients), &n.Subject, &n.Text, &n.HTML, &n.Payload,
		(*ntime)(&n.CreateTime)}
}

// deliveryDest returns the scan destinations of deliveryCols; NULL (no
// delivery in a left join) reads as zero.
func deliveryDest(d *kcred.Delivery) []any {
	return []any{(*nstr)(&d.ID), (*nstr)(&d.NotificationID), (*nstr)(&d.Project), (*nstr)(&d.Channel),
		(*nstr)(&d.Target), (*nstr)(&d.State), (*nint)(&d.Attempts), (*ntime)(&d.NextAttempt), (*nstr)(&d.LastError),
		(*ntime)(&d.DeliveredAt), (*ntime)(&d.CreateTime)}
}

// scanNotifications reads rows of notifications left-joined with their
// deliveries, a notification's rows next to each other.
func scanNotifications(rows *sql.Rows) ([]*kcred.Notification, error) {
	out := []*kcred.Notification{}
	var last *kcred.Notification
	for rows.Next() {
		n, d := &kcred.Notification{}, &kcred.Delivery{}
		if err := rows.Scan(append(notificationDest(n), deliveryDest(d)...)...); err != nil {
			return nil, err
		}
		if last == nil || last.ID != n.ID {
			n.Deliveries = []*kcred.Delivery{}
			out = append(out, n)
			last = n
		}
		if d.ID != "" {
			last.Deliveries = append(last.Deliveries, d)
		}
	}
	return out, rows.Err()
}

// FindNotification implements kcred.RenewalQueries: the notification with
// its deliveries by channel and target, in one query.
func (q queries) FindNotification(ctx context.Context, id string) (*kcred.Notification, error) {
	rows, err := q.read(ctx, sqlFindNotification).QueryContext(ctx, id)
	if err != nil {
		return nil, fail("find notification", err, "")
	}
	defer rows.Close()
	list, err := scanNotifications(rows)
	if err != nil {
		return nil, fail("find notification", err, "")
	}
	if len(list) == 0 {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Notification does not exist.")
	}
	return list[0], nil
}

// ListNotifications implements kcred.RenewalQueries in one query. A limit
// of 0 or less means no limit.
func (q queries) ListNotifications(ctx context.Context, project string, limit int) ([]*kcred.Notification, error) {
	rows, err := q.read(ctx, sqlListNotifications).QueryContext(ctx, project, noLimit(limit))
	if err != nil {
		return nil, fail("list notifications", err, "")
	}
	defer rows.Close()
	list, err := scanNotifications(rows)
	if err != nil {
		return nil, fail("list notifications", err, "")
	}
	return list, nil
}

// ListDueDeliveries implements kcred.RenewalQueries. A limit of 0 or less
// means no limit.
func (q queries) ListDueDeliveries(ctx context.Context, now time.Time, limit int) ([]*kcred.Delivery, error) {
	rows, err := q.read(ctx, sqlListDueDeliveries).QueryContext(ctx, timeArg(kcred.UTC(now)), noLimit(limit))
	if err != nil {
		return nil, fail("list due deliveries", err, "")
	}
	defer rows.Close()
	out := []*kcred.Delivery{}
	for rows.Next() {
		d := &kcred.Delivery{}
		if err := rows.Scan(deliveryDest(d)...); err != nil {
			return nil, fail("list due deliveries", err, "")
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list due deliveries", err, "")
	}
	return out, nil
}

// UpdateDelivery implements kcred.RenewalQueries. A pending delivery with a
// zero NextAttempt gets its CreateTime, as in CreateNotification: due at
// once rather than never. d.NextAttempt is set to what is stored.
func (q queries) UpdateDelivery(ctx context.Context, d *kcred.Delivery) error {
	norm(&d.NextAttempt, &d.DeliveredAt)
	err := q.write(ctx, sqlUpdateDelivery).QueryRowContext(ctx, d.State, d.Attempts, timeArg(d.NextAttempt),
		d.LastError, timeArg(d.DeliveredAt), d.ID).Scan((*ntime)(&d.NextAttempt))
	if errors.Is(err, sql.ErrNoRows) {
		return kcred.Errorf(kcred.ENOTFOUND, "Delivery does not exist.")
	} else if err != nil {
		return fail("update delivery", err, "")
	}
	return nil
}
