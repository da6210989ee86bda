package lifecycle

import (
	"context"
	"slices"
	"strings"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/notify"
)

// Digest gathers the pending notices into notifications: for each project
// and kind, one message per recipient listing every notice that concerns
// the recipient, and one webhook event with all of them. Recipients are the
// project's admins and operators, plus each service's technical contacts
// (the project's when the service has none). It returns the number of
// notifications made. The notifications and their deliveries are written,
// and the notices they digest deleted, in one transaction, so nothing is
// lost or sent twice.
func (m *Manager) Digest(ctx context.Context) (int, error) {
	made := 0
	for {
		// All pending notices at once, so that a sweep of thousands makes
		// one digest per recipient; the bound only splits a backlog too big
		// for memory.
		notices, err := m.store.ListPendingNotices(ctx, maxDigest)
		if err != nil || len(notices) == 0 {
			return made, err
		}
		byProject := map[string][]*kcred.Notice{}
		var order []string
		for _, n := range notices {
			if _, ok := byProject[n.Project]; !ok {
				order = append(order, n.Project)
			}
			byProject[n.Project] = append(byProject[n.Project], n)
		}
		for _, project := range order {
			n, err := m.digestProject(ctx, project, byProject[project])
			if err != nil {
				return made, err
			}
			made += n
		}
		if len(notices) < maxDigest {
			return made, nil
		}
	}
}

// maxDigest bounds the notices gathered into one round of digests.
const maxDigest = 200_000

// audience is who hears of a project's notices.
type audience struct {
	everything []string            // admins and operators
	byService  map[string][]string // service ID -> technical contacts
	webhooks   []*kcred.Webhook
}

func (m *Manager) audience(ctx context.Context, project string) (*audience, error) {
	members, err := m.store.ListMembers(ctx, project)
	if err != nil {
		return nil, err
	}
	p, err := m.store.FindProject(ctx, project)
	if err != nil {
		return nil, err
	}
	svcs, err := m.store.ListServices(ctx, project)
	if err != nil {
		return nil, err
	}
	hooks, err := m.store.ListWebhooks(ctx, project)
	if err != nil {
		return nil, err
	}
	a := &audience{byService: map[string][]string{}, webhooks: hooks}
	for _, mem := range members {
		if mem.Role == kcred.RoleAdmin || mem.Role == kcred.RoleOperator {
			a.everything = append(a.everything, mem.Email)
		}
	}
	for _, s := range svcs {
		emails := s.TechEmails
		if len(emails) == 0 {
			emails = p.TechEmails
		}
		// Each address once, so that each notice is listed once for it.
		emails = slices.Clone(emails)
		slices.Sort(emails)
		a.byService[s.ID] = slices.Compact(emails)
	}
	return a, nil
}

func (m *Manager) digestProject(ctx context.Context, project string, notices []*kcred.Notice) (int, error) {
	a, err := m.audience(ctx, project)
	if kcred.ErrorCode(err) == kcred.ENOTFOUND {
		return 0, nil // deleted with its notices meanwhile
	} else if err != nil {
		return 0, err
	}
	var out []*kcred.Notification
	var ids [][]string
	for _, kind := range []string{kcred.KindRenewed, kcred.KindReminder, kcred.KindExpiredUnacknowledged} {
		var all []*kcred.Notice
		for _, n := range notices {
			if n.Kind == kind {
				all = append(all, n)
			}
		}
		if len(all) == 0 {
			continue
		}
		// Each recipient's items; recipients with the same items share
		// one rendered notification (each still gets its own message).
		// Linear in the notices: a bulk renewal has tens of thousands.
		items := map[string][]*kcred.Notice{}
		everything := map[string]bool{}
		for _, e := range a.everything {
			items[e], everything[e] = all, true
		}
		for _, n := range all {
			for _, e := range a.byService[n.ServiceID] {
				if !everything[e] {
					items[e] = append(items[e], n)
				}
			}
		}
		groups := map[string][]string{} // notice IDs -> recipients
		for e, ns := range items {
			groups[noticeKey(ns)] = append(groups[noticeKey(ns)], e)
		}
		allKey := noticeKey(all)
		if _, ok := groups[allKey]; !ok && len(a.webhooks) > 0 {
			groups[allKey] = nil // webhooks hear of everything, even with no one to mail
		}
		for key, recipients := range groups {
			slices.Sort(recipients)
			ns := all
			if key != allKey {
				ns = items[recipients[0]]
			}
			n, err := m.notification(project, kind, recipients, ns, key == allKey, a.webhooks)
			if err != nil {
				return 0, err
			}
			out = append(out, n)
			noticeIDs := []string{}
			if key == allKey {
				for _, x := range ns {
					noticeIDs = append(noticeIDs, x.ID)
				}
			}
			ids = append(ids, noticeIDs)
		}
		if _, ok := groups[allKey]; !ok {
			// Nobody hears of everything: digest the notices into an
			// empty record so they are not digested again.
			n, err := m.notification(project, kind, nil, all, true, nil)
			if err != nil {
				return 0, err
			}
			out = append(out, n)
			var noticeIDs []string
			for _, x := range all {
				noticeIDs = append(noticeIDs, x.ID)
			}
			ids = append(ids, noticeIDs)
		}
	}
	err = m.store.InTx(ctx, func(q kcred.Queries) error {
		for i, n := range out {
			if err := q.CreateNotification(ctx, n, ids[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if kcred.ErrorCode(err) == kcred.ECONFLICT {
		return 0, nil // another replica digested these notices first
	} else if err != nil {
		return 0, err
	}
	for _, n := range out {
		m.observer.Notified(n.Kind)
	}
	return len(out), nil
}

func noticeKey(ns []*kcred.Notice) string {
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// notification renders one digest and its deliveries: an email delivery
// per recipient (undelivered when no SMTP server is configured) and, when
// it lists everything, a webhook delivery per webhook.
func (m *Manager) notification(project, kind string, recipients []string, items []*kcred.Notice, withHooks bool, hooks []*kcred.Webhook) (*kcred.Notification, error) {
	now := m.Now()
	subject, text, html, payload, err := notify.Render(notify.Digest{Kind: kind, Project: project, Items: items, PublicURL: m.publicURL, Now: now})
	if err != nil {
		return nil, err
	}
	n := &kcred.Notification{
		ID: kcred.NewID(), Project: project, Kind: kind, Recipients: recipients,
		Subject: subject, Text: text, HTML: html, Payload: string(payload), CreateTime: now,
	}
	for _, r := range recipients {
		d := &kcred.Delivery{ID: kcred.NewID(), NotificationID: n.ID, Project: project, Channel: kcred.ChannelEmail, Target: r,
			State: kcred.DeliveryPending, NextAttempt: now, CreateTime: now}
		if m.mailer == nil {
			d.State, d.LastError = kcred.DeliveryUndelivered, "no SMTP server is configured (--smtp-url)"
		}
		n.Deliveries = append(n.Deliveries, d)
	}
	if withHooks {
		for _, h := range hooks {
			n.Deliveries = append(n.Deliveries, &kcred.Delivery{ID: kcred.NewID(), NotificationID: n.ID, Project: project,
				Channel: kcred.ChannelWebhook, Target: h.ID, State: kcred.DeliveryPending, NextAttempt: now, CreateTime: now})
		}
	}
	return n, nil
}
