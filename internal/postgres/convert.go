package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/kcred/kcred"
)

// ntime scans a timestamptz into a time.Time in UTC, NULL as the zero time:
// scan into (*ntime)(&x.CreateTime).
type ntime time.Time

// ScanTimestamptz implements pgtype.TimestamptzScanner.
func (t *ntime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		*t = ntime{}
		return nil
	}
	*t = ntime(v.Time.UTC())
	return nil
}

// timeArg is t as an argument: NULL for the zero time. PostgreSQL keeps
// microseconds and would round; kcred.UTC truncates, as SQLite does.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return kcred.UTC(t)
}

// textArray is a text[] argument for a NOT NULL column: never NULL.
func textArray(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// blob is a bytea argument for a NOT NULL column: never NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nanosArg is a bigint[] argument of durations: NULL for nil (inherit the
// server's schedule), '{}' for an empty list (no reminders).
func nanosArg(list []time.Duration) any {
	if list == nil {
		return nil
	}
	ns := make([]int64, len(list))
	for i, d := range list {
		ns[i] = int64(d)
	}
	return ns
}

func durationsFrom(ns []int64, null bool) []time.Duration {
	if null {
		return nil
	}
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n)
	}
	return out
}

func pgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// foreignKey returns the name of the foreign key err violates, "" if none.
func foreignKey(err error) string {
	if pe := pgError(err); pe != nil && pe.Code == "23503" {
		return pe.ConstraintName
	}
	return ""
}

// fail turns a driver error of op into the error the caller gets:
// *kcred.Error passes through, a unique violation becomes ECONFLICT with
// conflict (when given), anything else an internal error.
func fail(op string, err error, conflict string) error {
	var ke *kcred.Error
	if errors.As(err, &ke) {
		return err
	}
	if pe := pgError(err); conflict != "" && pe != nil && pe.Code == "23505" {
		return kcred.Errorf(kcred.ECONFLICT, "%s", conflict)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// norm stores kcred.UTC of each time back into it, so that a record passed
// to Create* or Update* holds afterwards exactly what a Find returns.
func norm(ts ...*time.Time) {
	for _, t := range ts {
		*t = kcred.UTC(*t)
	}
}

// defaultNow sets a zero *t to the current time: records made without a
// creation time get the time they were stored.
func defaultNow(t *time.Time) {
	if t.IsZero() {
		*t = kcred.UTC(time.Now())
	}
}

// mustID rejects a record without an ID where the ID is the associated data
// of a sealed secret: the store must not invent one.
func mustID(what, id string) error {
	if id == "" {
		return fmt.Errorf("postgres: %s without an ID", what)
	}
	return nil
}

// ensureID gives a record without an ID a new one.
func ensureID(id *string) {
	if *id == "" {
		*id = kcred.NewID()
	}
}
