package console

import (
	"net/http"
	"time"

	"github.com/kcred/kcred"
)

// notificationLimit is how many notifications the notifications page
// shows, newest first.
const notificationLimit = 100

type notificationsData struct {
	Notifications []notificationRow
	Limit         int
	RenewBefore   time.Duration // of the project's policy, for the empty page
}

// notificationRow is one notification as the page shows it: every label
// is worked out here, so that the template holds layout only.
type notificationRow struct {
	ID         string
	Time       time.Time
	Kind       string // kcred.Kind*, for tests and scripts
	KindClass  string // CSS modifier of the kind's tag
	KindLabel  string
	Subject    string
	Text       string // the plain-text message
	Recipients []string
	Deliveries []deliveryRow
}

type deliveryRow struct {
	ID          string
	Channel     string // kcred.Channel*
	Webhook     bool
	Target      string // the email address, or "" for a webhook
	WebhookID   string
	State       string // kcred.Delivery*, the badge's CSS modifier
	StateLabel  string
	StateDetail string // one line under the badge, or ""
	Attempts    int
	LastError   string
	DeliveredAt time.Time
}

// kinds are the labels of notification kinds: words, never colour alone.
var kinds = map[string]struct{ class, label string }{
	kcred.KindRenewed:               {"renewed", "Renewed"},
	kcred.KindReminder:              {"reminder", "Reminder"},
	kcred.KindExpiredUnacknowledged: {"expired", "Expired unacknowledged"},
	kcred.KindTest:                  {"test", "Test"},
}

func newNotificationRow(n *kcred.Notification, now time.Time) notificationRow {
	k, ok := kinds[n.Kind]
	if !ok {
		k.class, k.label = "other", n.Kind
	}
	row := notificationRow{
		ID: n.ID, Time: n.CreateTime, Kind: n.Kind, KindClass: k.class, KindLabel: k.label,
		Subject: n.Subject, Text: n.Text, Recipients: n.Recipients,
	}
	for _, d := range n.Deliveries {
		row.Deliveries = append(row.Deliveries, newDeliveryRow(d, now))
	}
	return row
}

func newDeliveryRow(d *kcred.Delivery, now time.Time) deliveryRow {
	row := deliveryRow{
		ID: d.ID, Channel: d.Channel, Target: d.Target, State: d.State,
		Attempts: d.Attempts, LastError: d.LastError, DeliveredAt: d.DeliveredAt,
	}
	if d.Channel == kcred.ChannelWebhook {
		// A webhook's target is its ID; its URL is for admins only.
		row.Webhook, row.Target, row.WebhookID = true, "", d.Target
	}
	switch d.State {
	case kcred.DeliveryDelivered:
		row.StateLabel = "Delivered"
	case kcred.DeliveryPending:
		row.StateLabel = "Pending"
		switch {
		case d.NextAttempt.IsZero() || !d.NextAttempt.After(now):
			row.StateDetail = "Next attempt due now"
		case d.NextAttempt.Sub(now) < time.Minute:
			row.StateDetail = "Next attempt in " + plural(int(d.NextAttempt.Sub(now).Round(time.Second)/time.Second), "second", "seconds")
		default:
			row.StateDetail = "Next attempt " + relative(d.NextAttempt, now) + ", " + fmtDateTime(d.NextAttempt)
		}
	case kcred.DeliveryUndelivered:
		row.StateLabel = "Undelivered"
		if d.Channel == kcred.ChannelEmail {
			row.StateDetail = "No SMTP server configured"
		} else {
			row.StateDetail = "No channel configured"
		}
	case kcred.DeliveryFailed:
		row.StateLabel = "Failed"
		row.StateDetail = "Gave up after " + plural(d.Attempts, "attempt", "attempts")
	default:
		row.State, row.StateLabel = "other", d.State
	}
	return row
}

func (h *Handler) notifications(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("project")
	p, role, err := h.m.GetProject(r.Context(), s.Actor, name)
	if err != nil {
		return err
	}
	ns, err := h.m.ListNotifications(r.Context(), s.Actor, name, notificationLimit)
	if err != nil {
		return err
	}
	now := h.m.Now()
	d := notificationsData{Notifications: make([]notificationRow, 0, len(ns)), Limit: notificationLimit, RenewBefore: h.m.Policy(p).RenewBefore}
	for _, n := range ns {
		d.Notifications = append(d.Notifications, newNotificationRow(n, now))
	}
	h.render(w, r, http.StatusOK, "notifications", sessionPage(s, "Notifications · "+name, nav{Project: name, Tab: "notifications", Role: role},
		[]crumb{{Label: "Projects", URL: "/projects"}, {Label: name, URL: projectURL(name)}, {Label: "Notifications"}}, d))
	return nil
}

// openRenewalLimit is how many open renewals the project page lists.
const openRenewalLimit = 10

// renewalRow is an open renewal on the project page.
type renewalRow struct {
	Service, Username string
	OldNotAfter       time.Time
	OldExpired        bool
	Acknowledged      bool
	AcknowledgedBy    string
	AcknowledgedAt    time.Time
	RemindersSent     string // "", or "2 reminders sent"
}

// openRenewals lists the first of a project's open renewals, soonest old
// expiry first, and how many there are.
func openRenewals(rs []*kcred.DueRenewal, now time.Time) (rows []renewalRow, total int) {
	for _, r := range rs {
		if len(rows) == openRenewalLimit {
			break
		}
		row := renewalRow{
			Service: r.ServiceName, Username: r.Username, OldNotAfter: r.OldNotAfter, OldExpired: !now.Before(r.OldNotAfter),
			Acknowledged: r.Acknowledged(), AcknowledgedBy: r.AcknowledgedBy, AcknowledgedAt: r.AcknowledgedAt,
		}
		if r.RemindersSent > 0 {
			row.RemindersSent = plural(r.RemindersSent, "reminder", "reminders") + " sent"
		}
		rows = append(rows, row)
	}
	return rows, len(rs)
}
