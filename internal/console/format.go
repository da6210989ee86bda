package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/kcred/kcred"
)

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":      h.asset,
		"date":       func(t time.Time) string { return fmtDate(t) },
		"datetime":   fmtDateTime,
		"timestamp":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"isotime":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"relative":   func(t time.Time) string { return relative(t, h.m.Now()) },
		"plural":     plural,
		"atLeast":    func(r kcred.Role, min string) bool { return r.AtLeast(kcred.Role(min)) },
		"projectURL": projectURL,
		"serviceURL": serviceURL,
		"userURL":    userURL,
		"action":     actionLabel,
		"roles": func() []kcred.Role {
			return []kcred.Role{kcred.RoleAdmin, kcred.RoleOperator, kcred.RoleDeveloper, kcred.RoleReadOnly}
		},
		"roleLabel": roleLabel,
		"join":      strings.Join,
		"domID":     domID,
		"duration":  humanDuration,
		"durations": humanDurations,
		"dict":      dict,
	}
}

// dict makes a map of its key and value arguments, to hand several values
// to a partial template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict needs pairs")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

func projectURL(p string) string { return "/projects/" + url.PathEscape(p) }

func serviceURL(p, s string) string { return projectURL(p) + "/services/" + url.PathEscape(s) }

func userURL(p, s, u string) string { return serviceURL(p, s) + "/users/" + url.PathEscape(u) }

func fmtDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02")
}

func fmtDateTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// relative says how far t is from now in words: "in 3 days", "5 hours ago".
func relative(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute", "minutes")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour", "hours")
	case d < 120*24*time.Hour:
		s = plural(int(d/(24*time.Hour)), "day", "days")
	case d < 730*24*time.Hour:
		s = plural(int(d/(30*24*time.Hour)), "month", "months")
	default:
		s = plural(int(d/(365*24*time.Hour)), "year", "years")
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}

// humanDuration says a policy duration in words where it is whole days
// ("90 days"), and in kcred's duration syntax otherwise ("36h").
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return plural(int(d/day), "day", "days")
	}
	return kcred.FormatDuration(d)
}

func humanDurations(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = humanDuration(d)
	}
	return strings.Join(out, ", ")
}

// plural returns "1 user" or "3 users".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func roleLabel(r kcred.Role) string {
	switch r {
	case kcred.RoleAdmin:
		return "Admin"
	case kcred.RoleOperator:
		return "Operator"
	case kcred.RoleDeveloper:
		return "Developer"
	case kcred.RoleReadOnly:
		return "Read only"
	}
	return string(r)
}

// domID turns a username into a string safe in an id attribute.
func domID(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteRune(c)
		} else {
			fmt.Fprintf(&b, "_%x_", c)
		}
	}
	return b.String()
}

var actionLabels = map[string]string{
	kcred.ActionProjectCreate:    "Project created",
	kcred.ActionProjectUpdate:    "Project updated",
	kcred.ActionProjectDelete:    "Project deleted",
	kcred.ActionCARead:           "CA read",
	kcred.ActionMemberAdd:        "Member added",
	kcred.ActionMemberUpdate:     "Member role changed",
	kcred.ActionMemberRemove:     "Member removed",
	kcred.ActionServiceCreate:    "Service created",
	kcred.ActionServiceDelete:    "Service deleted",
	kcred.ActionUserCreate:       "Service user created",
	kcred.ActionUserDelete:       "Service user deleted",
	kcred.ActionCredentialsRead:  "Credentials read",
	kcred.ActionCredentialsReset: "Credentials reset",
	kcred.ActionAccessControlSet: "Access control set",
	kcred.ActionRenewalAck:       "Renewal acknowledged",
	kcred.ActionRenewal:          "Certificate renewed",
	kcred.ActionReminder:         "Renewal reminder",
	kcred.ActionExpired:          "Old certificate expired",
	kcred.ActionLogin:            "Login",
	kcred.ActionLoginFailed:      "Login failed",
	kcred.ActionTokenCreate:      "Token created",
	kcred.ActionAccountCreate:    "Account created",
	kcred.ActionWebhookCreate:    "Webhook added",
	kcred.ActionWebhookDelete:    "Webhook removed",
}

func actionLabel(a string) string {
	if l, ok := actionLabels[a]; ok {
		return l
	}
	return a
}

// Certificate validity as the users table shows it: always a word, never
// colour alone.
const (
	statusValid    = "valid"
	statusExpiring = "expiring"
	statusExpired  = "expired"
)

type validity struct {
	Status string // statusValid, statusExpiring or statusExpired
	Label  string // "Valid", "Expiring", "Expired"
	Detail string // one line with the date that matters
}

// certValidity is the state of a user's certificates at now: Expired when
// the newest certificate has expired; Expiring while a renewed certificate
// waits for acknowledgement (the old one is about to stop working) or
// while the newest one is due for renewal; Valid otherwise.
func certValidity(c kcred.Credentials, renewBefore time.Duration, now time.Time) validity {
	na := c.Current.NotAfter
	switch {
	case !now.Before(na):
		return validity{statusExpired, "Expired", "Expired " + fmtDate(na)}
	case c.Pending():
		old := c.Renewal.OldNotAfter
		if now.Before(old) {
			return validity{statusExpiring, "Expiring", "Old certificate expires " + fmtDate(old) + "; renewed one is ready"}
		}
		return validity{statusExpiring, "Expiring", "Old certificate expired " + fmtDate(old) + "; renewed one is ready"}
	case renewBefore > 0 && !now.Before(na.Add(-renewBefore)):
		return validity{statusExpiring, "Expiring", "Expires " + fmtDate(na) + "; renewal due"}
	}
	return validity{statusValid, "Valid", "Until " + fmtDate(na)}
}
