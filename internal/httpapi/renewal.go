package httpapi

import (
	"net/http"
	"strconv"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

// The kcred additions to Aiven's API: certificate history, open renewals,
// notifications with their deliveries, and webhooks.

// Certificate is one generation of a user's credentials, without its key.
type Certificate struct {
	Generation   int    `json:"generation"`
	Serial       string `json:"serial"`
	Subject      string `json:"subject"`
	KeyType      string `json:"key_type"`
	Reason       string `json:"reason"`
	CAGeneration int    `json:"ca_generation"`
	NotBefore    Time   `json:"not_valid_before_time"`
	NotAfter     Time   `json:"not_valid_after_time"`
	CertPEM      string `json:"certificate"`
	CreateTime   Time   `json:"create_time"`
}

// Renewal is an open renewal.
type Renewal struct {
	ServiceName    string `json:"service_name"`
	Username       string `json:"username"`
	OldSerial      string `json:"old_serial"`
	NewSerial      string `json:"new_serial"`
	OldNotAfter    Time   `json:"old_not_valid_after_time"`
	NewNotAfter    Time   `json:"new_not_valid_after_time"`
	CreateTime     Time   `json:"create_time"`
	Acknowledged   bool   `json:"acknowledged"`
	AcknowledgedAt *Time  `json:"acknowledged_time,omitempty"`
	AcknowledgedBy string `json:"acknowledged_by,omitempty"`
	RemindersSent  int    `json:"reminders_sent"`
}

// Notification is a notification with its deliveries.
type Notification struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Recipients []string   `json:"recipients"`
	Subject    string     `json:"subject"`
	CreateTime Time       `json:"create_time"`
	Deliveries []Delivery `json:"deliveries"`
}

// Delivery is the sending of a notification over one channel.
type Delivery struct {
	ID          string `json:"id"`
	Channel     string `json:"channel"`
	Target      string `json:"target"`
	State       string `json:"state"`
	Attempts    int    `json:"attempts"`
	NextAttempt *Time  `json:"next_attempt_time,omitempty"`
	LastError   string `json:"last_error,omitempty"`
	DeliveredAt *Time  `json:"delivered_time,omitempty"`
}

// Webhook is a project's webhook; its secret is shown once, at creation.
type Webhook struct {
	ID         string `json:"id"`
	URL        string `json:"url"`
	CreateTime Time   `json:"create_time"`
}

func (s *Server) certificateHistory(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	certs, err := s.m.CertificateHistory(r.Context(), a, r.PathValue("project"), r.PathValue("service"), r.PathValue("username"))
	if err != nil {
		return err
	}
	out := make([]Certificate, len(certs))
	for i, c := range certs {
		out[i] = Certificate{Generation: c.Generation, Serial: c.Serial, Subject: c.Subject, KeyType: string(c.KeyType), Reason: c.Reason,
			CAGeneration: c.CAGeneration, NotBefore: Time(c.NotBefore), NotAfter: Time(c.NotAfter), CertPEM: c.CertPEM, CreateTime: Time(c.CreateTime)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"certificates": out})
	return nil
}

func (s *Server) openRenewals(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	rs, err := s.m.OpenRenewals(r.Context(), a, r.PathValue("project"))
	if err != nil {
		return err
	}
	out := make([]Renewal, len(rs))
	for i, d := range rs {
		out[i] = Renewal{ServiceName: d.ServiceName, Username: d.Username, OldSerial: d.OldSerial, NewSerial: d.NewSerial,
			OldNotAfter: Time(d.OldNotAfter), NewNotAfter: Time(d.NewNotAfter), CreateTime: Time(d.CreateTime),
			Acknowledged: d.Acknowledged(), AcknowledgedAt: timePtr(d.AcknowledgedAt), AcknowledgedBy: d.AcknowledgedBy,
			RemindersSent: d.RemindersSent}
	}
	writeJSON(w, http.StatusOK, map[string]any{"renewals": out})
	return nil
}

func notification(n *kcred.Notification) Notification {
	out := Notification{ID: n.ID, Kind: n.Kind, Recipients: n.Recipients, Subject: n.Subject, CreateTime: Time(n.CreateTime), Deliveries: make([]Delivery, len(n.Deliveries))}
	if out.Recipients == nil {
		out.Recipients = []string{}
	}
	for i, d := range n.Deliveries {
		out.Deliveries[i] = Delivery{ID: d.ID, Channel: d.Channel, Target: d.Target, State: d.State, Attempts: d.Attempts,
			LastError: d.LastError, DeliveredAt: timePtr(d.DeliveredAt)}
		if d.State == kcred.DeliveryPending {
			out.Deliveries[i].NextAttempt = timePtr(d.NextAttempt)
		}
	}
	return out
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ns, err := s.m.ListNotifications(r.Context(), a, r.PathValue("project"), limit)
	if err != nil {
		return err
	}
	out := make([]Notification, len(ns))
	for i, n := range ns {
		out[i] = notification(n)
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": out})
	return nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		URL    string `json:"url"`
		Secret string `json:"secret"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	h, secret, err := s.m.CreateWebhook(r.Context(), a, r.PathValue("project"), in.URL, in.Secret)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhook": Webhook{ID: h.ID, URL: h.URL, CreateTime: Time(h.CreateTime)}, "secret": secret})
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	hs, err := s.m.ListWebhooks(r.Context(), a, r.PathValue("project"))
	if err != nil {
		return err
	}
	out := make([]Webhook, len(hs))
	for i, h := range hs {
		out[i] = Webhook{ID: h.ID, URL: h.URL, CreateTime: Time(h.CreateTime)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	if err := s.m.DeleteWebhook(r.Context(), a, r.PathValue("project"), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Webhook deleted."})
	return nil
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	n, err := s.m.TestWebhook(r.Context(), a, r.PathValue("project"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Test event queued.", "notification": notification(n)})
	return nil
}
