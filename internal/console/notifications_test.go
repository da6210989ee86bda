package console_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

const day = 24 * time.Hour

// sweepAfter moves the clock by d and runs a renewal sweep, as the job
// runner would.
func (e *env) sweepAfter(d time.Duration) lifecycle.SweepResult {
	e.t.Helper()
	e.Clock.Add(d)
	res, err := e.M.Sweep(context.Background())
	if err != nil {
		e.t.Fatalf("sweep at %s: %v", e.M.Now(), err)
	}
	return res
}

// renewAll moves the clock to where the seeded users' certificates are due
// (the default policy renews 90 of 820 days before expiry) and sweeps: the
// three users are renewed and one digest goes to everyone.
func (e *env) renewAll() {
	e.t.Helper()
	if res := e.sweepAfter(731 * day); res.Renewed != 3 || res.Notifications != 1 {
		e.t.Fatalf("sweep: %+v, want 3 users renewed and one digest", res)
	}
}

// notifications returns the project's notifications, newest first.
func (e *env) notifications() []*kcred.Notification {
	e.t.Helper()
	ns, err := e.M.ListNotifications(context.Background(), e.super(), project, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return ns
}

// updateDelivery changes a delivery of n in the store, as a delivery round
// would, and returns it.
func (e *env) updateDelivery(n *kcred.Notification, channel string, change func(*kcred.Delivery)) *kcred.Delivery {
	e.t.Helper()
	for _, d := range n.Deliveries {
		if d.Channel == channel {
			change(d)
			if err := e.Store.UpdateDelivery(context.Background(), d); err != nil {
				e.t.Fatal(err)
			}
			return d
		}
	}
	e.t.Fatalf("notification %s has no %s delivery", n.ID, channel)
	return nil
}

// deliveryRow returns the HTML of the delivery row with the given target
// in the notification's part of a page.
func deliveryRow(t *testing.T, page, notificationID, target string) string {
	t.Helper()
	start := strings.Index(page, `id="notification-`+notificationID+`"`)
	if start < 0 {
		t.Fatalf("page has no notification %s", notificationID)
	}
	part := page[start:]
	if end := strings.Index(part, `<tbody class="notification"`); end >= 0 {
		part = part[:end]
	}
	m := regexp.MustCompile(`(?s)<tr class="delivery"[^>]*data-target="` + regexp.QuoteMeta(target) + `"[^>]*>.*?</tr>`).FindString(part)
	if m == "" {
		t.Fatalf("notification %s has no delivery to %s:\n%s", notificationID, target, part)
	}
	return m
}

// TestNotificationsPage runs a sweep after moving the clock: the renewal
// makes a digest, which the page lists with an undelivered email delivery
// per recipient, since no SMTP server is configured. Every member sees it;
// others get 404.
func TestNotificationsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.newClient()
	admin.login(e.Admin)
	const path = "/projects/demo/notifications"

	empty := admin.get(path)
	if empty.Status != 200 || !strings.Contains(empty.Body, `id="notifications-empty"`) || !strings.Contains(empty.Body, "No notifications yet.") {
		t.Fatalf("before any renewal: %d %.500s", empty.Status, empty.Body)
	}
	if strings.Contains(empty.Body, "once renewal notifications are enabled") {
		t.Error("the placeholder is still there")
	}

	e.renewAll()
	admin.login(e.Admin) // two years on: the session has ended
	ns := e.notifications()
	if len(ns) != 1 || ns[0].Kind != kcred.KindRenewed {
		t.Fatalf("notifications: %+v", ns)
	}
	n := ns[0]
	p := admin.get(path)
	if p.Status != 200 {
		t.Fatalf("GET %s: %d", path, p.Status)
	}
	if strings.Contains(p.Body, `id="notifications-empty"`) {
		t.Error("empty state beside a notification")
	}
	head := regexp.MustCompile(`(?s)<tbody class="notification" id="notification-` + n.ID + `" data-kind="renewed">.*?</tr>`).FindString(p.Body)
	if head == "" {
		t.Fatalf("no row of the renewed notification:\n%s", p.Body)
	}
	for _, want := range []string{
		`<span class="tag tag-kind kind-renewed">Renewed</span>`,
		`<time datetime="` + n.CreateTime.UTC().Format(time.RFC3339) + `">`,
		"[kcred] 3 certificates renewed in project demo — download and acknowledge",
		"<li>alice@example.com</li>", "<li>kafka-team@example.com</li>", "<li>oscar@example.com</li>",
	} {
		if !strings.Contains(head, want) {
			t.Errorf("notification row lacks %q:\n%s", want, head)
		}
	}
	for _, to := range []string{e.Admin.Email, e.Operator.Email, "kafka-team@example.com"} {
		row := deliveryRow(t, p.Body, n.ID, to)
		for _, want := range []string{
			`data-channel="email"`, `data-state="undelivered"`, `<td data-label="Channel">Email</td>`,
			`<span class="badge badge-undelivered">Undelivered</span><span class="sub">No SMTP server configured</span>`,
			`<td data-label="Attempts">0</td>`,
			`<span class="last-error">no SMTP server is configured (--smtp-url)</span>`,
			`<td data-label="Delivered at"><span class="muted">—</span></td>`,
		} {
			if !strings.Contains(row, want) {
				t.Errorf("delivery to %s lacks %q:\n%s", to, want, row)
			}
		}
	}
	if c := strings.Count(p.Body, `<tr class="delivery"`); c != 3 {
		t.Errorf("%d deliveries shown, want 3", c)
	}

	// Every member may read notifications; they hold no secret.
	ro := e.newClient()
	ro.login(e.ReadOnly)
	if r := ro.get(path); r.Status != 200 || !strings.Contains(r.Body, `id="notification-`+n.ID+`"`) {
		t.Errorf("read_only member: %d", r.Status)
	}
	// Others get the page every unknown project gets.
	out := e.newClient()
	out.login(e.Outsider)
	r := out.get(path)
	if r.Status != http.StatusNotFound || strings.Contains(r.Body, n.ID) || strings.Contains(r.Body, "kafka-team@example.com") {
		t.Errorf("non-member: %d %.300s", r.Status, r.Body)
	}
	if r := out.get("/projects/nope/notifications"); r.Status != http.StatusNotFound {
		t.Errorf("unknown project: %d", r.Status)
	}
}

// TestNotificationStates shows every delivery state, webhook deliveries and
// a last error that must be escaped.
func TestNotificationStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	admin := lifecycle.Actor{Account: e.Admin, Source: "test"}
	hook, _, err := e.M.CreateWebhook(ctx, admin, project, "https://hooks.example.com/kcred", "")
	if err != nil {
		t.Fatal(err)
	}
	e.renewAll()
	renewed := e.notifications()[0]
	e.tick()
	delivered := e.updateDelivery(renewed, kcred.ChannelWebhook, func(d *kcred.Delivery) {
		d.State, d.Attempts, d.DeliveredAt, d.LastError = kcred.DeliveryDelivered, 1, e.M.Now(), ""
	})
	e.tick()
	test, err := e.M.TestWebhook(ctx, admin, project, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.updateDelivery(test, kcred.ChannelWebhook, func(d *kcred.Delivery) {
		d.State, d.Attempts, d.NextAttempt = kcred.DeliveryPending, 3, e.M.Now().Add(80*time.Second)
		d.LastError = `webhook answered 502: <script>alert("x")</script>`
	})

	c := e.newClient()
	c.login(e.Developer)
	p := c.get("/projects/demo/notifications")
	if p.Status != 200 {
		t.Fatalf("status %d", p.Status)
	}
	if i, j := strings.Index(p.Body, "notification-"+test.ID), strings.Index(p.Body, "notification-"+renewed.ID); i < 0 || j < 0 || i > j {
		t.Errorf("notifications not newest first: test at %d, renewed at %d", i, j)
	}
	row := deliveryRow(t, p.Body, renewed.ID, "webhook")
	for _, want := range []string{
		`<td data-label="Channel">Webhook</td>`, `<span title="Webhook ` + hook.ID + `">webhook</span>`,
		`<span class="badge badge-delivered">Delivered</span></td>`, `<td data-label="Attempts">1</td>`,
		`<time datetime="` + delivered.DeliveredAt.UTC().Format(time.RFC3339) + `">`,
	} {
		if !strings.Contains(row, want) {
			t.Errorf("delivered webhook lacks %q:\n%s", want, row)
		}
	}
	if strings.Contains(row, hook.URL) {
		t.Error("a developer sees the webhook's URL")
	}
	row = deliveryRow(t, p.Body, test.ID, "webhook")
	for _, want := range []string{
		`<span class="badge badge-pending">Pending</span><span class="sub">Next attempt in 1 minute, `,
		`<td data-label="Attempts">3</td>`,
		`webhook answered 502: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,
	} {
		if !strings.Contains(row, want) {
			t.Errorf("pending webhook lacks %q:\n%s", want, row)
		}
	}
	if strings.Contains(p.Body, `<script>alert`) {
		t.Error("the last error is not escaped")
	}
	if !strings.Contains(p.Body, `<span class="tag tag-kind kind-test">Test</span>`) || !strings.Contains(p.Body, "<span class=\"muted\">None, webhooks only</span>") {
		t.Error("the test notification's kind or recipients are missing")
	}

	e.updateDelivery(test, kcred.ChannelWebhook, func(d *kcred.Delivery) {
		d.State, d.Attempts, d.LastError = kcred.DeliveryFailed, kcred.MaxAttempts, "webhook answered 503"
	})
	row = deliveryRow(t, c.get("/projects/demo/notifications").Body, test.ID, "webhook")
	if !strings.Contains(row, `<span class="badge badge-failed">Failed</span><span class="sub">Gave up after 60 attempts</span>`) {
		t.Errorf("failed webhook:\n%s", row)
	}
}

// TestProjectOpenRenewals lists open renewals on the project page, with
// whether they are acknowledged.
func TestProjectOpenRenewals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.newClient()
	c.login(e.Developer)
	if p := c.get("/projects/demo"); strings.Contains(p.Body, `id="renewals"`) {
		t.Error("open renewals card without renewals")
	}
	e.renewAll()
	c.login(e.Developer) // two years on: the session has ended
	if _, err := e.M.ConsoleAcknowledge(context.Background(), lifecycle.Actor{Account: e.Developer, Source: "test"}, project, service, "app1"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(3 * time.Second) // past the Manager's cache
	p := c.get("/projects/demo")
	if !strings.Contains(p.Body, `id="renewals"`) || !strings.Contains(p.Body, `<span class="count">3</span>`) {
		t.Fatalf("no open renewals card:\n%s", p.Body)
	}
	app1 := regexp.MustCompile(`(?s)<tr id="renewal-kafka1-app1">.*?</tr>`).FindString(p.Body)
	if !strings.Contains(app1, `<span class="badge badge-valid">Acknowledged</span><span class="sub">by dana@example.com, `) {
		t.Errorf("app1:\n%s", app1)
	}
	app2 := regexp.MustCompile(`(?s)<tr id="renewal-kafka1-app2">.*?</tr>`).FindString(p.Body)
	if !strings.Contains(app2, `<span class="badge badge-expiring">Waiting</span>`) || !strings.Contains(app2, `href="/projects/demo/services/kafka1/users/app2"`) {
		t.Errorf("app2:\n%s", app2)
	}
}

// notificationHistory gives the project a webhook and two years of
// notifications, one of each kind and a delivery in each state: the
// renewal (emails undelivered, the webhook delivered), a reminder about
// the users not acknowledged (its webhook pending after failed attempts),
// the expiry of their old certificates, and a failed test of the webhook.
// It returns the notifications, newest first.
func (e *env) notificationHistory() []*kcred.Notification {
	e.t.Helper()
	ctx := context.Background()
	admin := lifecycle.Actor{Account: e.Admin, Source: "test"}
	hook, _, err := e.M.CreateWebhook(ctx, admin, project, "https://hooks.example.com/kcred", "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.renewAll()
	e.Clock.Add(10 * time.Minute)
	e.updateDelivery(e.notifications()[0], kcred.ChannelWebhook, func(d *kcred.Delivery) {
		d.State, d.Attempts, d.DeliveredAt = kcred.DeliveryDelivered, 1, e.M.Now()
	})
	if _, err := e.M.ConsoleAcknowledge(ctx, lifecycle.Actor{Account: e.Developer, Source: "test"}, project, service, "app1"); err != nil {
		e.t.Fatal(err)
	}
	// 60 days before the old certificates expire.
	if res := e.sweepAfter(30 * day); res.Reminded != 2 || res.Notifications != 1 {
		e.t.Fatalf("reminder sweep: %+v, want avnadmin and app2 reminded", res)
	}
	e.Clock.Add(5 * time.Minute)
	e.updateDelivery(e.notifications()[0], kcred.ChannelWebhook, func(d *kcred.Delivery) {
		d.State, d.Attempts, d.NextAttempt = kcred.DeliveryPending, 4, e.M.Now().Add(kcred.Backoff(4))
		d.LastError = `POST https://hooks.example.com/kcred: 503 Service Unavailable: <html>busy</html>`
	})
	if res := e.sweepAfter(60 * day); res.Expired != 2 || res.Notifications != 1 {
		e.t.Fatalf("expiry sweep: %+v, want the old certificates of avnadmin and app2 expired", res)
	}
	e.Clock.Add(time.Hour)
	test, err := e.M.TestWebhook(ctx, admin, project, hook.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	e.updateDelivery(test, kcred.ChannelWebhook, func(d *kcred.Delivery) {
		d.State, d.Attempts = kcred.DeliveryFailed, kcred.MaxAttempts
		d.LastError = "POST https://hooks.example.com/kcred: dial tcp: lookup hooks.example.com: no such host"
	})
	e.Clock.Add(time.Minute)
	ns := e.notifications()
	if len(ns) != 4 {
		e.t.Fatalf("%d notifications, want 4", len(ns))
	}
	return ns
}
