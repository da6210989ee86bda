package notify

import (
	"cmp"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/kcred/kcred"
)

// Digest is what a notification is rendered from: the notices of one
// project and one kind gathered for the same recipients.
type Digest struct {
	Kind      string          // kcred.KindRenewed, KindReminder, KindExpiredUnacknowledged or KindTest
	Project   string          // the project's name
	Items     []*kcred.Notice // affected users; their own Kind and Project are not consulted
	PublicURL string          // e.g. https://kcred.example.com; console links are built from it ("" omits them)
	Now       time.Time       // the render time: relative expiry wording and the payload's created_at
}

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.New("").
			Funcs(texttemplate.FuncMap{"plural": plural}).
			ParseFS(templateFS, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").
			Funcs(htmltemplate.FuncMap{"plural": plural}).
			ParseFS(templateFS, "templates/*.html"))
)

// Render returns the subject, the text body, the HTML body and the webhook
// payload (see Event) of d. Items are listed sorted by service and username.
// Text comes from text/template, HTML from html/template, so names are
// escaped in the HTML part. An unknown kind, an empty project, a zero Now, no
// items for a kind other than test, or a PublicURL that is not an absolute
// http(s) URL is a kcred.EINVALID error.
func Render(d Digest) (subject, text, html string, payload []byte, err error) {
	v, err := newView(d)
	if err != nil {
		return "", "", "", nil, err
	}

	var b strings.Builder
	if err := textTemplates.ExecuteTemplate(&b, "subject.txt", v); err != nil {
		return "", "", "", nil, fmt.Errorf("notify: render subject: %w", err)
	}
	// A header is one line: fold whatever the template left into spaces.
	subject = strings.Join(strings.Fields(b.String()), " ")
	v.Subject = subject

	b.Reset()
	if err := textTemplates.ExecuteTemplate(&b, "body.txt", v); err != nil {
		return "", "", "", nil, fmt.Errorf("notify: render text body: %w", err)
	}
	text = b.String()

	b.Reset()
	if err := htmlTemplates.ExecuteTemplate(&b, "body.html", v); err != nil {
		return "", "", "", nil, fmt.Errorf("notify: render HTML body: %w", err)
	}
	html = b.String()

	payload, err = newEvent(d.Kind, d.Project, d.Now, v.notices).marshal()
	if err != nil {
		return "", "", "", nil, err
	}
	return subject, text, html, payload, nil
}

// MaxListed is how many affected users an email lists one by one; a
// digest of a bulk renewal names the rest by count and links to the
// console. Webhook payloads list MaxEventItems and count them all.
const MaxListed = 500

// view is what the templates see: every value already formatted, so the
// templates hold wording and layout only.
type view struct {
	Kind        string
	Project     string
	Subject     string // filled after the subject template ran; the HTML title
	Count       int
	Items       []itemView // at most MaxListed
	More        int        // items left out of Items
	PublicURL   string     // without a trailing slash; "" when not configured
	ProjectURL  string     // the project's console page; "" without PublicURL
	Now         string     // RFC 3339 UTC
	SoonestWhen string     // when the first old certificate to expire does: "in 12 days", "3 hours ago", "now"
	SoonestPast bool       // that was more than half a second ago
	SameExpiry  bool       // every item's relative expiry reads the same

	notices []*kcred.Notice // sorted, for the payload
}

// itemView is one affected user.
type itemView struct {
	Service        string
	Username       string
	OldSerial      string
	NewSerial      string
	OldNotAfter    string // RFC 3339 UTC
	OldNotAfterIn  string // "in 12 days", "3 hours ago", "now"
	OldExpired     bool
	NewNotAfter    string // RFC 3339 UTC; "" when unknown
	Download       string // kcred command lines, shell-quoted
	Acknowledge    string
	AvnDownload    string // the same with Aiven's avn CLI
	AvnAcknowledge string
	ConsoleURL     string // the service's users page; "" without PublicURL
}

// newView validates d and formats it for the templates.
func newView(d Digest) (*view, error) {
	switch d.Kind {
	case kcred.KindRenewed, kcred.KindReminder, kcred.KindExpiredUnacknowledged, kcred.KindTest:
	default:
		return nil, kcred.Errorf(kcred.EINVALID, "Unknown notification kind %q.", d.Kind)
	}
	if d.Project == "" {
		return nil, kcred.Errorf(kcred.EINVALID, "A notification needs a project.")
	} else if d.Now.IsZero() {
		return nil, kcred.Errorf(kcred.EINVALID, "A notification needs the current time.")
	}
	base, err := publicBase(d.PublicURL)
	if err != nil {
		return nil, err
	}

	notices := make([]*kcred.Notice, 0, len(d.Items))
	for _, n := range d.Items {
		if n != nil {
			notices = append(notices, n)
		}
	}
	if len(notices) == 0 && d.Kind != kcred.KindTest {
		return nil, kcred.Errorf(kcred.EINVALID, "A %s notification needs at least one affected user.", d.Kind)
	}
	// Sorted so that a digest reads (and diffs, and signs) the same
	// whatever order the notices were gathered in.
	slices.SortStableFunc(notices, func(a, b *kcred.Notice) int {
		return cmp.Or(
			cmp.Compare(a.ServiceName, b.ServiceName),
			cmp.Compare(a.Username, b.Username),
			a.OldNotAfter.Compare(b.OldNotAfter),
		)
	})

	v := &view{
		Kind:       d.Kind,
		Project:    d.Project,
		Count:      len(notices),
		PublicURL:  base,
		Now:        rfc3339(d.Now),
		SameExpiry: true,
		notices:    notices,
	}
	if base != "" {
		v.ProjectURL = base + "/projects/" + url.PathEscape(d.Project)
	}
	var soonest time.Time
	for i, n := range notices {
		if i == 0 || n.OldNotAfter.Before(soonest) {
			soonest = n.OldNotAfter
		}
		if i >= MaxListed {
			v.More++
			continue
		}
		it := itemView{
			Service:        n.ServiceName,
			Username:       n.Username,
			OldSerial:      n.OldSerial,
			NewSerial:      n.NewSerial,
			OldNotAfter:    rfc3339(n.OldNotAfter),
			OldNotAfterIn:  relative(n.OldNotAfter, d.Now),
			OldExpired:     strings.HasSuffix(relative(n.OldNotAfter, d.Now), " ago"),
			NewNotAfter:    rfc3339(n.NewNotAfter),
			Download:       command("kcred", "user-creds-download", d.Project, n.Username, n.ServiceName, true),
			Acknowledge:    command("kcred", "user-creds-acknowledge", d.Project, n.Username, n.ServiceName, false),
			AvnDownload:    command("avn", "user-creds-download", d.Project, n.Username, n.ServiceName, true),
			AvnAcknowledge: command("avn", "user-creds-acknowledge", d.Project, n.Username, n.ServiceName, false),
		}
		if base != "" {
			it.ConsoleURL = v.ProjectURL + "/services/" + url.PathEscape(n.ServiceName) + "/users"
		}
		v.Items = append(v.Items, it)
		if i > 0 && it.OldNotAfterIn != v.Items[0].OldNotAfterIn {
			v.SameExpiry = false
		}
	}
	if len(notices) > 0 {
		v.SoonestWhen = relative(soonest, d.Now)
		v.SoonestPast = strings.HasSuffix(v.SoonestWhen, " ago")
	}
	return v, nil
}

// publicBase checks the configured public URL and returns it without a
// trailing slash.
func publicBase(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", kcred.Errorf(kcred.EINVALID, "Invalid public URL %q: use an absolute http or https URL such as https://kcred.example.com.", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// rfc3339 formats t in UTC to the second, or "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// relative says when t is from now's point of view: "in 12 days",
// "3 hours ago", or "now" within half a second.
func relative(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d.Abs() < time.Second/2:
		return "now"
	case d > 0:
		return "in " + duration(d)
	default:
		return duration(d) + " ago"
	}
}

// duration words |d| in its largest fitting unit, rounded to the nearest:
// days from 36 hours, hours from 90 minutes, minutes from 90 seconds, else
// seconds. So a reminder sent 14 days ahead by a sweep a few seconds late
// still reads "14 days", and the 1-day reminder "24 hours".
func duration(d time.Duration) string {
	d = d.Abs()
	switch {
	case d >= 36*time.Hour:
		return count(int((d+12*time.Hour)/(24*time.Hour)), "day")
	case d >= 90*time.Minute:
		return count(int((d+30*time.Minute)/time.Hour), "hour")
	case d >= 90*time.Second:
		return count(int((d+30*time.Second)/time.Minute), "minute")
	default:
		return count(int((d+time.Second/2)/time.Second), "second")
	}
}

// count returns "1 day", "2 days".
func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// plural returns one when n is 1, else many; for the templates.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// command returns the CLI line (kcred or avn) that downloads or acknowledges
// a user's credentials. kcred mirrors avn, so both take the same arguments.
func command(cli, sub, project, username, service string, download bool) string {
	args := []string{cli, "service", sub, "--project", shellQuote(project), "--username", shellQuote(username)}
	if download {
		args = append(args, "-d", shellQuote("./"+username))
	}
	args = append(args, shellQuote(service))
	return strings.Join(args, " ")
}

// shellSafe matches words a POSIX shell takes literally. Validated names
// always match; quoting the rest keeps a pasted command harmless anyway.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_.@+/:=,-]+$`)

// shellQuote returns s as one POSIX shell word.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
