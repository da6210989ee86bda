package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kcred/kcred"
)

// timeLayout is how times are stored: UTC, microseconds, fixed width, so
// that comparing the text compares the times (not_after < ?).
const timeLayout = "2006-01-02T15:04:05.000000Z"

// timeArg returns t as the store writes it: TEXT in UTC with microseconds,
// or nil (NULL) for the zero time. SQL added to this package later (sweeps)
// must compare times with arguments made by timeArg.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reads a stored time: timeLayout on the fast path, and the forms
// other writers of the file may use (RFC 3339, modernc's _time_format=sqlite).
func parseTime(s string) (time.Time, error) {
	if len(s) == len(timeLayout) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
		s[16] == ':' && s[19] == '.' && s[26] == 'Z' {
		y, ok1 := digits(s[0:4])
		mo, ok2 := digits(s[5:7])
		d, ok3 := digits(s[8:10])
		h, ok4 := digits(s[11:13])
		mi, ok5 := digits(s[14:16])
		sec, ok6 := digits(s[17:19])
		us, ok7 := digits(s[20:26])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 {
			return time.Date(y, time.Month(mo), d, h, mi, sec, us*1000, time.UTC), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return kcred.UTC(t), nil
		}
	}
	return time.Time{}, fmt.Errorf("sqlite: bad time %q", s)
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Scanners that accept NULL as the zero value. Left joins (FindCredentials)
// scan through them; so do plain reads, for one scan function per record.
// Use them by converting a field's address: (*nstr)(&c.ID).
type (
	ntime  time.Time
	nstr   string
	nint   int
	nint64 int64
	nbytes []byte
)

func (t *ntime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = ntime{}
	case string:
		p, err := parseTime(v)
		*t = ntime(p)
		return err
	case []byte:
		p, err := parseTime(string(v))
		*t = ntime(p)
		return err
	case time.Time:
		*t = ntime(kcred.UTC(v))
	default:
		return fmt.Errorf("sqlite: cannot scan %T into a time", src)
	}
	return nil
}

func (s *nstr) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s = ""
	case string:
		*s = nstr(v)
	case []byte:
		*s = nstr(v)
	default:
		return fmt.Errorf("sqlite: cannot scan %T into a string", src)
	}
	return nil
}

func (n *nint64) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n = 0
	case int64:
		*n = nint64(v)
	default:
		return fmt.Errorf("sqlite: cannot scan %T into an integer", src)
	}
	return nil
}

func (n *nint) Scan(src any) error {
	var v nint64
	err := v.Scan(src)
	*n = nint(v)
	return err
}

func (b *nbytes) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*b = nil
	case []byte:
		*b = append(nbytes{}, v...) // the driver may reuse v
	case string:
		*b = nbytes(v)
	default:
		return fmt.Errorf("sqlite: cannot scan %T into bytes", src)
	}
	return nil
}

// blob returns b for a NOT NULL BLOB column: never nil.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// emails is a []string stored as a JSON array; it scans NULL and "" as an
// empty, non-nil list.
type emails []string

func emailsArg(list []string) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}

func (e *emails) Scan(src any) error {
	var s nstr
	if err := s.Scan(src); err != nil {
		return err
	}
	out := []string{}
	if s != "" {
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return fmt.Errorf("sqlite: bad email list: %w", err)
		}
	}
	*e = out
	return nil
}

// durations is a []time.Duration stored as a JSON array of nanoseconds.
// NULL is nil (inherit the server's schedule) and "[]" is an empty list (no
// reminders), which CertPolicy.Merge tells apart.
type durations []time.Duration

func durationsArg(list []time.Duration) (any, error) {
	if list == nil {
		return nil, nil
	}
	ns := make([]int64, len(list))
	for i, d := range list {
		ns[i] = int64(d)
	}
	b, err := json.Marshal(ns)
	return string(b), err
}

func (d *durations) Scan(src any) error {
	var s nstr
	if err := s.Scan(src); err != nil {
		return err
	}
	if src == nil {
		*d = nil
		return nil
	}
	var ns []int64
	if err := json.Unmarshal([]byte(s), &ns); err != nil {
		return fmt.Errorf("sqlite: bad duration list: %w", err)
	}
	out := make(durations, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n)
	}
	*d = out
	return nil
}

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

// sqliteCode returns the extended result code of err, 0 if it has none.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// fail turns a driver error of op into the error the caller gets:
// *kcred.Error passes through, a unique violation becomes ECONFLICT with
// conflict (when given), anything else an internal error.
func fail(op string, err error, conflict string) error {
	var ke *kcred.Error
	switch {
	case errors.As(err, &ke):
		return err
	case conflict != "" && isUnique(err):
		return kcred.Errorf(kcred.ECONFLICT, "%s", conflict)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// mustID rejects a record without an ID where the ID is the associated data
// of a sealed secret: the store must not invent one.
func mustID(what, id string) error {
	if id == "" {
		return fmt.Errorf("sqlite: %s without an ID", what)
	}
	return nil
}

// ensureID gives a record without an ID a new one.
func ensureID(id *string) {
	if *id == "" {
		*id = kcred.NewID()
	}
}
