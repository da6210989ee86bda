package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// now is the render time of the fixtures.
var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// notice returns a notice of kind for service/username whose old
// certificate expires at oldNotAfter.
func notice(kind, service, username string, oldNotAfter time.Time) *kcred.Notice {
	return &kcred.Notice{
		ID:          "n-" + service + "-" + username,
		Project:     "p1",
		ServiceName: service,
		Username:    username,
		Kind:        kind,
		OldSerial:   "5f1c0e2b9d7a4c3e8b6a1d0f2e4c6a8b",
		NewSerial:   "9a0b1c2d3e4f5061728394a5b6c7d8e9",
		OldNotAfter: oldNotAfter,
		NewNotAfter: now.Add(820 * day),
	}
}

// goldenCases are the digests rendered into testdata/<name>.{txt,html,json}.golden.
var goldenCases = []struct {
	name string
	d    Digest
}{
	{"renewed", Digest{
		Kind: kcred.KindRenewed, Project: "p1", PublicURL: "https://kcred.example.com", Now: now,
		Items: []*kcred.Notice{
			// Out of order on purpose: Render sorts by service and username.
			notice(kcred.KindRenewed, "kafka-2", "avnadmin", now.Add(90*day)),
			notice(kcred.KindRenewed, "kafka-1", "bob", now.Add(90*day-time.Minute)),
			notice(kcred.KindRenewed, "kafka-1", "alice", now.Add(90*day)),
		},
	}},
	{"renewed-no-url", Digest{
		Kind: kcred.KindRenewed, Project: "p1", Now: now,
		Items: []*kcred.Notice{notice(kcred.KindRenewed, "kafka-1", "alice", now.Add(90*day))},
	}},
	{"reminder", Digest{
		Kind: kcred.KindReminder, Project: "p1", PublicURL: "https://kcred.example.com/", Now: now,
		Items: []*kcred.Notice{notice(kcred.KindReminder, "kafka-1", "alice", now.Add(12*day-30*time.Second))},
	}},
	{"reminder-mixed", Digest{
		Kind: kcred.KindReminder, Project: "p1", PublicURL: "https://kcred.example.com", Now: now,
		Items: []*kcred.Notice{
			notice(kcred.KindReminder, "kafka-1", "alice", now.Add(14*day)),
			notice(kcred.KindReminder, "kafka-1", "bob", now.Add(23*time.Hour)),
		},
	}},
	{"expired_unacknowledged", Digest{
		Kind: kcred.KindExpiredUnacknowledged, Project: "p1", PublicURL: "https://kcred.example.com", Now: now,
		Items: []*kcred.Notice{
			notice(kcred.KindExpiredUnacknowledged, "kafka-1", "alice", now.Add(-3*time.Minute)),
			notice(kcred.KindExpiredUnacknowledged, "kafka-1", "bob", now.Add(-40*time.Second)),
		},
	}},
	{"test", Digest{Kind: kcred.KindTest, Project: "p1", PublicURL: "https://kcred.example.com", Now: now}},
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			subject, text, html, payload, err := Render(tc.d)
			if err != nil {
				t.Fatal(err)
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, payload, "", "  "); err != nil {
				t.Fatalf("payload is not JSON: %v\n%s", err, payload)
			}
			golden(t, tc.name+".txt.golden", "Subject: "+subject+"\n\n"+text)
			golden(t, tc.name+".html.golden", html)
			golden(t, tc.name+".json.golden", indented.String()+"\n")
		})
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (run go test -update after checking):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestRenderSubject(t *testing.T) {
	for _, tc := range []struct {
		kind  string
		items []*kcred.Notice
		want  string
	}{
		{kcred.KindRenewed, []*kcred.Notice{
			notice(kcred.KindRenewed, "kafka-1", "a", now.Add(90*day)),
			notice(kcred.KindRenewed, "kafka-1", "b", now.Add(90*day)),
			notice(kcred.KindRenewed, "kafka-2", "c", now.Add(90*day)),
		}, "[kcred] 3 certificates renewed in project p1 — download and acknowledge"},
		{kcred.KindRenewed, []*kcred.Notice{notice(kcred.KindRenewed, "kafka-1", "a", now.Add(90*day))},
			"[kcred] 1 certificate renewed in project p1 — download and acknowledge"},
		{kcred.KindReminder, []*kcred.Notice{notice(kcred.KindReminder, "kafka-1", "a", now.Add(12*day))},
			"[kcred] 1 renewed certificate still not acknowledged in project p1 — old certificate expires in 12 days"},
		{kcred.KindReminder, []*kcred.Notice{
			notice(kcred.KindReminder, "kafka-1", "a", now.Add(7*day)),
			notice(kcred.KindReminder, "kafka-1", "b", now.Add(7*day+time.Hour)),
		}, "[kcred] 2 renewed certificates still not acknowledged in project p1 — old certificates expire in 7 days"},
		{kcred.KindReminder, []*kcred.Notice{
			notice(kcred.KindReminder, "kafka-1", "a", now.Add(30*day)),
			notice(kcred.KindReminder, "kafka-1", "b", now.Add(3*time.Hour)),
		}, "[kcred] 2 renewed certificates still not acknowledged in project p1 — first old certificate expires in 3 hours"},
		{kcred.KindReminder, []*kcred.Notice{notice(kcred.KindReminder, "kafka-1", "a", now.Add(12*time.Second))},
			"[kcred] 1 renewed certificate still not acknowledged in project p1 — old certificate expires in 12 seconds"},
		{kcred.KindReminder, []*kcred.Notice{notice(kcred.KindReminder, "kafka-1", "a", now.Add(-2*time.Hour))},
			"[kcred] 1 renewed certificate still not acknowledged in project p1 — old certificate expired 2 hours ago"},
		{kcred.KindExpiredUnacknowledged, []*kcred.Notice{notice(kcred.KindExpiredUnacknowledged, "kafka-1", "a", now)},
			"[kcred] 1 old certificate expired in project p1 before the new one was acknowledged"},
		{kcred.KindExpiredUnacknowledged, []*kcred.Notice{
			notice(kcred.KindExpiredUnacknowledged, "kafka-1", "a", now),
			notice(kcred.KindExpiredUnacknowledged, "kafka-1", "b", now),
		}, "[kcred] 2 old certificates expired in project p1 before the new ones were acknowledged"},
		{kcred.KindTest, nil, "[kcred] Test notification for project p1"},
	} {
		subject, _, html, _, err := Render(Digest{Kind: tc.kind, Project: "p1", Items: tc.items, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if subject != tc.want {
			t.Errorf("subject\n got %q\nwant %q", subject, tc.want)
		}
		if !strings.Contains(html, "<title>"+tc.want+"</title>") {
			t.Errorf("HTML title is not the subject %q", tc.want)
		}
	}
}

func TestRelative(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "now"},
		{400 * time.Millisecond, "now"},
		{-400 * time.Millisecond, "now"},
		{time.Second, "in 1 second"},
		{12 * time.Second, "in 12 seconds"},
		{-40 * time.Second, "40 seconds ago"},
		{89 * time.Second, "in 89 seconds"},
		{90 * time.Second, "in 2 minutes"},
		{time.Hour, "in 60 minutes"},
		{-3 * time.Minute, "3 minutes ago"},
		{89 * time.Minute, "in 89 minutes"},
		{90 * time.Minute, "in 2 hours"},
		{day - 30*time.Second, "in 24 hours"}, // the 1-day reminder, sent a little late
		{35 * time.Hour, "in 35 hours"},
		{36 * time.Hour, "in 2 days"},
		{14*day - time.Minute, "in 14 days"}, // the 14-day reminder
		{12*day + 11*time.Hour, "in 12 days"},
		{12*day + 12*time.Hour, "in 13 days"},
		{-90 * day, "90 days ago"},
		{820 * day, "in 820 days"},
	} {
		if got := relative(now.Add(tc.d), now); got != tc.want {
			t.Errorf("relative(now%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestRenderContent(t *testing.T) {
	d := goldenCases[0].d
	_, text, html, _, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"5f1c0e2b9d7a4c3e8b6a1d0f2e4c6a8b → 9a0b1c2d3e4f5061728394a5b6c7d8e9",
		"2026-07-30T12:00:00Z (in 90 days)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text body lacks %q", want)
		}
	}
	for _, want := range []string{
		"5f1c0e2b9d7a4c3e8b6a1d0f2e4c6a8b →<br>9a0b1c2d3e4f5061728394a5b6c7d8e9",
		"2026-07-30T12:00:00Z<br><span style=\"color:#6b778c;\">in 90 days</span>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	for _, want := range []string{
		"kafka-1 / alice",
		"kcred service user-creds-download --project p1 --username alice -d ./alice kafka-1",
		"kcred service user-creds-acknowledge --project p1 --username alice kafka-1",
		"avn service user-creds-download --project p1 --username bob -d ./bob kafka-1",
		"avn service user-creds-acknowledge --project p1 --username avnadmin kafka-2",
		"https://kcred.example.com/projects/p1/services/kafka-2/users",
		"AIVEN_WEB_URL=https://kcred.example.com",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text body lacks %q", want)
		}
		if !strings.Contains(html, want) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	// Sorted by service, then username.
	a, b, c := strings.Index(text, "kafka-1 / alice"), strings.Index(text, "kafka-1 / bob"), strings.Index(text, "kafka-2 / avnadmin")
	if !(a < b && b < c) {
		t.Errorf("items not sorted: alice %d, bob %d, avnadmin %d", a, b, c)
	}

	// Without a public URL there are no links at all.
	d.PublicURL = ""
	_, text, html, _, err = Render(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{text, html} {
		if strings.Contains(body, "/projects/") || strings.Contains(body, "https://") || strings.Contains(body, "href=") {
			t.Errorf("body has a link without a public URL:\n%s", body)
		}
	}

	// An expired renewal is closed: no acknowledge command.
	_, text, html, _, err = Render(goldenCases[4].d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "user-creds-acknowledge") || strings.Contains(html, "user-creds-acknowledge") {
		t.Error("expired_unacknowledged tells people to acknowledge")
	}
	if !strings.Contains(text, "(3 minutes ago)") || !strings.Contains(html, "expired 3 minutes ago") {
		t.Error("expired_unacknowledged lacks the relative expiry")
	}
}

func TestRenderOrderIndependent(t *testing.T) {
	d := goldenCases[0].d
	s1, t1, h1, p1, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	rev := d
	rev.Items = []*kcred.Notice{d.Items[2], nil, d.Items[0], d.Items[1]}
	s2, t2, h2, p2, err := Render(rev)
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 || t1 != t2 || h1 != h2 || !bytes.Equal(p1, p2) {
		t.Error("the order of the notices changes the rendering")
	}
}

func TestRenderEscapes(t *testing.T) {
	// Validation never admits these names; the templates must be safe anyway.
	n := notice(kcred.KindRenewed, `svc"><script>alert(1)</script>`, `<script>alert("u")</script>`, now.Add(90*day))
	n.OldSerial = `<b>&`
	_, text, html, payload, err := Render(Digest{Kind: kcred.KindRenewed, Project: `p<i>1`, Items: []*kcred.Notice{n}, PublicURL: "https://kcred.example.com", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, "<i>") || strings.Contains(html, "<b>&") {
		t.Errorf("HTML body has unescaped input:\n%s", html)
	}
	for _, want := range []string{
		"&lt;script&gt;alert(&#34;u&#34;)&lt;/script&gt;",
		"svc&#34;&gt;&lt;script&gt;",
		"&lt;b&gt;&amp;",
		// Links are path-escaped, then attribute-escaped.
		`href="https://kcred.example.com/projects/p%3Ci%3E1/services/svc%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E/users"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	// The text part is not HTML: names appear as they are, and commands
	// quote them for the shell.
	for _, want := range []string{
		`svc"><script>alert(1)</script> / <script>alert("u")</script>`,
		`kcred service user-creds-download --project 'p<i>1' --username '<script>alert("u")</script>' -d './<script>alert("u")</script>' 'svc"><script>alert(1)</script>'`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text body lacks %q", want)
		}
	}
	var e Event
	if err := json.Unmarshal(payload, &e); err != nil {
		t.Fatal(err)
	}
	if e.Project != `p<i>1` || e.Items[0].Username != `<script>alert("u")</script>` {
		t.Errorf("payload does not round-trip the names: %+v", e)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"alice":             "alice",
		"a.b+c@example.com": "a.b+c@example.com",
		"./user_1":          "./user_1",
		"":                  "''",
		"a b":               "'a b'",
		"it's":              `'it'\''s'`,
		"$(rm -rf /)":       "'$(rm -rf /)'",
		"x;echo pwned":      "'x;echo pwned'",
		"back`tick`":        "'back`tick`'",
		"glob*?[a]~!#":      "'glob*?[a]~!#'",
		"new\nline":         "'new\nline'",
		"unicodé":           "'unicodé'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderPayload(t *testing.T) {
	d := goldenCases[0].d
	d.Now = now.Add(1500 * time.Millisecond).In(time.FixedZone("CEST", 2*3600))
	d.Items = append(d.Items, &kcred.Notice{ServiceName: "kafka-3", Username: "zed", OldSerial: "01", OldNotAfter: now.Add(90 * day)})
	_, _, _, payload, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["type"] != "certificate.renewed" || raw["project"] != "p1" || raw["created_at"] != "2026-05-01T12:00:01Z" {
		t.Errorf("payload header fields: %v", raw)
	}
	items := raw["items"].([]any)
	if len(items) != 4 {
		t.Fatalf("%d items, want 4", len(items))
	}
	first := items[0].(map[string]any)
	for k, want := range map[string]any{
		"service": "kafka-1", "username": "alice",
		"old_serial": "5f1c0e2b9d7a4c3e8b6a1d0f2e4c6a8b", "new_serial": "9a0b1c2d3e4f5061728394a5b6c7d8e9",
		"old_not_after": "2026-07-30T12:00:00Z", "new_not_after": "2028-07-29T12:00:00Z",
	} {
		if first[k] != want {
			t.Errorf("items[0].%s = %v, want %v", k, first[k], want)
		}
	}
	last := items[3].(map[string]any)
	if v, ok := last["new_not_after"]; !ok || v != nil {
		t.Errorf("unknown new_not_after = %v (present %v), want null", v, ok)
	}
	if last["new_serial"] != "" {
		t.Errorf("unknown new_serial = %v", last["new_serial"])
	}

	// Each kind has its event type; a test event has an empty list, not null.
	for kind, typ := range map[string]string{
		kcred.KindRenewed: "certificate.renewed", kcred.KindReminder: "certificate.reminder",
		kcred.KindExpiredUnacknowledged: "certificate.expired_unacknowledged", kcred.KindTest: "test",
	} {
		items := goldenCases[0].d.Items
		if kind == kcred.KindTest {
			items = nil
		}
		_, _, _, payload, err := Render(Digest{Kind: kind, Project: "p1", Items: items, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		var e Event
		if err := json.Unmarshal(payload, &e); err != nil {
			t.Fatal(err)
		}
		if e.Type != typ || EventType(kind) != typ {
			t.Errorf("kind %s: type %q, want %q", kind, e.Type, typ)
		}
		if kind == kcred.KindTest && !bytes.Contains(payload, []byte(`"items":[]`)) {
			t.Errorf("test payload items are not []: %s", payload)
		}
	}
	if EventType("bogus") != "" {
		t.Error("EventType of an unknown kind is not empty")
	}
}

func TestRenderInvalid(t *testing.T) {
	items := []*kcred.Notice{notice(kcred.KindRenewed, "kafka-1", "alice", now.Add(90*day))}
	for name, d := range map[string]Digest{
		"unknown kind":      {Kind: "bogus", Project: "p1", Items: items, Now: now},
		"no project":        {Kind: kcred.KindRenewed, Items: items, Now: now},
		"no time":           {Kind: kcred.KindRenewed, Project: "p1", Items: items},
		"no items":          {Kind: kcred.KindRenewed, Project: "p1", Now: now},
		"only nil items":    {Kind: kcred.KindReminder, Project: "p1", Items: []*kcred.Notice{nil}, Now: now},
		"relative URL":      {Kind: kcred.KindRenewed, Project: "p1", Items: items, Now: now, PublicURL: "kcred.example.com"},
		"ftp URL":           {Kind: kcred.KindRenewed, Project: "p1", Items: items, Now: now, PublicURL: "ftp://kcred.example.com"},
		"URL with userinfo": {Kind: kcred.KindRenewed, Project: "p1", Items: items, Now: now, PublicURL: "https://u:p@kcred.example.com"},
	} {
		_, _, _, _, err := Render(d)
		if kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("%s: error %v, want %s", name, err, kcred.EINVALID)
		}
	}
}

// TestRenderManyListsSome: a bulk digest lists MaxListed users by name and
// the rest by count; the subject counts all; the payload lists all.
func TestRenderManyListsSome(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var items []*kcred.Notice
	for i := range MaxListed + 2 {
		items = append(items, &kcred.Notice{ServiceName: "k1", Username: fmt.Sprintf("u%04d", i),
			OldSerial: "aa", NewSerial: "bb", OldNotAfter: now.Add(90 * 24 * time.Hour)})
	}
	subject, text, html, payload, err := Render(Digest{Kind: kcred.KindRenewed, Project: "p1", Items: items, PublicURL: "https://kcred.example.com", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(subject, fmt.Sprint(MaxListed+2)) {
		t.Errorf("subject %q does not count every user", subject)
	}
	for name, body := range map[string]string{"text": text, "html": html} {
		if !strings.Contains(body, "and 2 more users") || strings.Contains(body, fmt.Sprintf("u%04d", MaxListed)) {
			t.Errorf("%s body does not list %d users and count the rest", name, MaxListed)
		}
	}
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil || len(ev.Items) != MaxListed+2 || ev.Total != MaxListed+2 {
		t.Errorf("payload lists %d items of %d (%v), want all %d", len(ev.Items), ev.Total, err, MaxListed+2)
	}
}

// TestEventTruncated: a webhook event lists MaxEventItems users and counts
// them all.
func TestEventTruncated(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var items []*kcred.Notice
	for i := range MaxEventItems + 5 {
		items = append(items, &kcred.Notice{ServiceName: "k1", Username: fmt.Sprintf("u%05d", i), OldNotAfter: now})
	}
	_, _, _, payload, err := Render(Digest{Kind: kcred.KindRenewed, Project: "p1", Items: items, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil || len(ev.Items) != MaxEventItems || ev.Total != MaxEventItems+5 {
		t.Errorf("payload lists %d items of %d (%v), want %d of %d", len(ev.Items), ev.Total, err, MaxEventItems, MaxEventItems+5)
	}
}
