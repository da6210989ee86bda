package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/notify"
)

// CreateWebhook adds a webhook to a project. Admins only. An empty secret
// gets a random one. The secret is returned once and stored sealed.
func (m *Manager) CreateWebhook(ctx context.Context, a Actor, project, url, secret string) (*kcred.Webhook, string, error) {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleAdmin); err != nil {
		return nil, "", err
	}
	if err := notify.ValidateWebhookURL(url); err != nil {
		return nil, "", err
	}
	if secret == "" {
		var b [32]byte
		rand.Read(b[:])
		secret = hex.EncodeToString(b[:])
	} else if len(secret) < 16 || len(secret) > 256 {
		return nil, "", kcred.Errorf(kcred.EINVALID, "secret must be 16 to 256 characters long.")
	}
	w := &kcred.Webhook{ID: kcred.NewID(), Project: project, URL: url, CreateTime: m.Now()}
	w.SealedSecret = m.sealer.Seal(w.ID, []byte(secret))
	err := m.store.InTx(ctx, func(q kcred.Queries) error {
		if err := q.CreateWebhook(ctx, w); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionWebhookCreate, project, "", w.ID, "Added webhook "+url))
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// ListWebhooks lists a project's webhooks. Admins only.
func (m *Manager) ListWebhooks(ctx context.Context, a Actor, project string) ([]*kcred.Webhook, error) {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleAdmin); err != nil {
		return nil, err
	}
	return m.store.ListWebhooks(ctx, project)
}

// DeleteWebhook removes a webhook. Admins only.
func (m *Manager) DeleteWebhook(ctx context.Context, a Actor, project, id string) error {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleAdmin); err != nil {
		return err
	}
	w, err := m.findWebhook(ctx, project, id)
	if err != nil {
		return err
	}
	return m.store.InTx(ctx, func(q kcred.Queries) error {
		if err := q.DeleteWebhook(ctx, w.ID); err != nil {
			return err
		}
		return q.CreateEvent(ctx, m.event(a, kcred.ActionWebhookDelete, project, "", w.ID, "Removed webhook "+w.URL))
	})
}

// TestWebhook queues a test event to a webhook and returns its
// notification. Admins only.
func (m *Manager) TestWebhook(ctx context.Context, a Actor, project, id string) (*kcred.Notification, error) {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleAdmin); err != nil {
		return nil, err
	}
	w, err := m.findWebhook(ctx, project, id)
	if err != nil {
		return nil, err
	}
	n, err := m.notification(project, kcred.KindTest, nil, nil, true, []*kcred.Webhook{w})
	if err != nil {
		return nil, err
	}
	if err := m.store.InTx(ctx, func(q kcred.Queries) error { return q.CreateNotification(ctx, n, nil) }); err != nil {
		return nil, err
	}
	m.kick()
	return n, nil
}

func (m *Manager) findWebhook(ctx context.Context, project, id string) (*kcred.Webhook, error) {
	w, err := m.store.FindWebhook(ctx, id)
	if kcred.ErrorCode(err) == kcred.ENOTFOUND || (err == nil && w.Project != project) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Webhook %q does not exist.", clip(id))
	}
	return w, err
}

// ListNotifications lists a project's notifications with their
// deliveries, newest first. Any member may: they hold no secret.
func (m *Manager) ListNotifications(ctx context.Context, a Actor, project string, limit int) ([]*kcred.Notification, error) {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleReadOnly); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return m.store.ListNotifications(ctx, project, limit)
}

// OpenRenewals lists a project's open renewals. Any member may.
func (m *Manager) OpenRenewals(ctx context.Context, a Actor, project string) ([]*kcred.DueRenewal, error) {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleReadOnly); err != nil {
		return nil, err
	}
	return m.store.ListOpenRenewals(ctx, project)
}

// CertificateHistory lists a user's certificates, newest first, without
// keys. Any member may.
func (m *Manager) CertificateHistory(ctx context.Context, a Actor, project, service, username string) ([]*kcred.Certificate, error) {
	if _, _, err := m.access(ctx, m.store, a, project, kcred.RoleReadOnly); err != nil {
		return nil, err
	}
	_, creds, err := m.findCredentials(ctx, project, service, username)
	if err != nil {
		return nil, err
	}
	certs, err := m.store.ListCertificates(ctx, creds.User.ID)
	for _, c := range certs {
		c.SealedKey = nil
	}
	return certs, err
}
