package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kcred/kcred/internal/httpapi"
)

// Certificate states as the console shows them.
const (
	stateValid    = "Valid"
	stateExpiring = "Expiring"
	stateExpired  = "Expired"
)

// certState is what the STATE column says of a user's certificate at now:
// Expired once the served (newest) certificate is past its not-after;
// Expiring while a renewal waits for acknowledgement (the API sets
// expiring_cert_not_valid_after_time); Valid otherwise.
func certState(u httpapi.User, now time.Time) string {
	notAfter := time.Time(u.AccessCertNotValidAfterTime)
	switch {
	case !notAfter.IsZero() && !now.Before(notAfter):
		return stateExpired
	case u.ExpiringCertNotValidAfterTime != nil:
		return stateExpiring
	}
	return stateValid
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		// A tab or line break in a value would break the columns.
		cells[i] = strings.Join(strings.Fields(c), " ")
		if cells[i] == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func fmtTime(t httpapi.Time) string {
	if time.Time(t).IsZero() {
		return ""
	}
	return time.Time(t).UTC().Format(time.RFC3339)
}

func emails(list []httpapi.TechEmail) string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Email
	}
	return strings.Join(out, ",")
}

func printUsers(w io.Writer, users []httpapi.User, now time.Time, withPassword bool) error {
	header := []string{"USERNAME", "TYPE", "CERT NOT AFTER", "STATE"}
	if withPassword {
		header = append(header, "PASSWORD")
	}
	t := newTable(w, header...)
	for _, u := range users {
		cells := []string{u.Username, u.Type, fmtTime(u.AccessCertNotValidAfterTime), certState(u, now)}
		if withPassword {
			var pw string
			if u.Password != nil {
				pw = *u.Password
			}
			cells = append(cells, pw)
		}
		t.row(cells...)
	}
	return t.flush()
}

func printServices(w io.Writer, services []httpapi.Service) error {
	t := newTable(w, "SERVICE", "TYPE", "STATE", "SERVICE URI", "USERS", "TECH EMAILS", "CREATED")
	for _, s := range services {
		t.row(s.ServiceName, s.ServiceType, s.State, s.ServiceURI, strconv.Itoa(len(s.Users)), emails(s.TechEmails), fmtTime(s.CreateTime))
	}
	return t.flush()
}

func printProjects(w io.Writer, projects []httpapi.Project) error {
	t := newTable(w, "PROJECT", "KEY TYPE", "VALIDITY", "RENEW BEFORE", "REMINDERS", "TECH EMAILS", "CREATED")
	for _, p := range projects {
		pol := p.CertPolicy
		var validity, renew string
		if pol.Validity != nil {
			validity = pol.Validity.String()
		}
		if pol.RenewBefore != nil {
			renew = pol.RenewBefore.String()
		}
		reminders := make([]string, len(pol.Reminders))
		for i, r := range pol.Reminders {
			reminders[i] = r.String()
		}
		t.row(p.ProjectName, string(pol.KeyType), validity, renew, strings.Join(reminders, ","), emails(p.TechEmails), fmtTime(p.CreateTime))
	}
	return t.flush()
}

// untilNow says how long until t, for messages.
func untilNow(t time.Time, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "already passed"
	case d >= 48*time.Hour:
		return fmt.Sprintf("in %d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("in %d hours", int(d/time.Hour))
	}
	return "in " + d.Round(time.Second).String()
}
