package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kcred/kcred"
)

// deliverBatch is how many deliveries one round sends, concurrently.
const deliverBatch = 64

// Deliver sends the deliveries that are due, until none is. A delivery that
// fails waits kcred.Backoff(attempts) and is failed for good after
// kcred.MaxAttempts. Delivery is at least once: a crash after sending and
// before recording sends again, with the same delivery ID for receivers to
// drop. It returns how many were delivered.
func (m *Manager) Deliver(ctx context.Context) (int, error) {
	delivered := 0
	for {
		due, err := m.store.ListDueDeliveries(ctx, m.Now(), deliverBatch)
		if err != nil || len(due) == 0 {
			return delivered, err
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		notes := map[string]*kcred.Notification{}
		for _, d := range due {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ctx.Err() != nil {
					return // the round was cut short: not an attempt
				}
				n, err := m.notificationOf(ctx, &mu, notes, d.NotificationID)
				if err == nil {
					err = m.send(ctx, n, d)
				}
				now := m.Now()
				d.Attempts++
				switch {
				case err == nil:
					d.State, d.DeliveredAt, d.LastError = kcred.DeliveryDelivered, now, ""
				case d.Attempts >= kcred.MaxAttempts:
					d.State, d.LastError = kcred.DeliveryFailed, err.Error()
				default:
					d.NextAttempt, d.LastError = now.Add(kcred.Backoff(d.Attempts)), err.Error()
				}
				if err != nil {
					m.log.Warn("delivery failed", "delivery", d.ID, "channel", d.Channel, "target", d.Target, "attempt", d.Attempts, "err", err)
				}
				// Recorded even when the round is being cut short: a sent
				// message that is not recorded would be sent again.
				if uerr := m.store.UpdateDelivery(context.WithoutCancel(ctx), d); uerr != nil {
					m.log.Error("record delivery", "delivery", d.ID, "err", uerr)
				}
				kind := ""
				if n != nil {
					kind = n.Kind
				}
				m.observer.Delivered(kind, d.Channel, d.State)
				if d.State == kcred.DeliveryDelivered {
					mu.Lock()
					delivered++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return delivered, ctx.Err()
		}
	}
}

func (m *Manager) notificationOf(ctx context.Context, mu *sync.Mutex, cache map[string]*kcred.Notification, id string) (*kcred.Notification, error) {
	mu.Lock()
	defer mu.Unlock()
	if n, ok := cache[id]; ok {
		return n, nil
	}
	n, err := m.store.FindNotification(ctx, id)
	if err != nil {
		return nil, err
	}
	cache[id] = n
	return n, nil
}

var errNoMailer = errors.New("no SMTP server is configured (--smtp-url)")

func (m *Manager) send(ctx context.Context, n *kcred.Notification, d *kcred.Delivery) error {
	switch d.Channel {
	case kcred.ChannelEmail:
		if m.mailer == nil {
			return errNoMailer
		}
		return m.mailer.Send(ctx, d.ID, d.Target, n.Subject, n.Text, n.HTML)
	case kcred.ChannelWebhook:
		h, err := m.store.FindWebhook(ctx, d.Target)
		if kcred.ErrorCode(err) == kcred.ENOTFOUND {
			return fmt.Errorf("webhook %s was deleted", d.Target)
		} else if err != nil {
			return err
		}
		secret, err := m.sealer.Open(h.ID, h.SealedSecret)
		if err != nil {
			return fmt.Errorf("open webhook secret: %w", err)
		}
		return m.webhooks.Post(ctx, h.URL, secret, d.ID, []byte(n.Payload))
	}
	return fmt.Errorf("unknown channel %q", d.Channel)
}
