package notify

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kcred/kcred"
)

// Webhook event types: the "type" field of an Event and the X-Kcred-Event
// header.
const (
	EventRenewed               = "certificate.renewed"
	EventReminder              = "certificate.reminder"
	EventExpiredUnacknowledged = "certificate.expired_unacknowledged"
	EventTest                  = "test"
)

// EventType returns the webhook event type of a notification kind, or ""
// for an unknown kind.
func EventType(kind string) string {
	switch kind {
	case kcred.KindRenewed:
		return EventRenewed
	case kcred.KindReminder:
		return EventReminder
	case kcred.KindExpiredUnacknowledged:
		return EventExpiredUnacknowledged
	case kcred.KindTest:
		return EventTest
	}
	return ""
}

// Event is the JSON body of a webhook call, one per notification:
//
//	{
//	  "type": "certificate.renewed",       // certificate.reminder, certificate.expired_unacknowledged, test
//	  "project": "p1",
//	  "created_at": "2026-05-01T12:00:00Z", // when the notification was rendered
//	  "items": [                           // never null; empty for a test event
//	    {
//	      "service": "kafka-1",
//	      "username": "alice",
//	      "old_serial": "5f1c…",             // lowercase hex
//	      "new_serial": "9a0b…",
//	      "old_not_after": "2026-07-30T12:00:00Z", // the old certificate stops working then
//	      "new_not_after": "2028-08-01T12:00:00Z"  // null when unknown
//	    }
//	  ],
//	  "total": 1                           // affected users; more than len(items) when truncated
//	}
//
// Items lists at most MaxEventItems users, so that the event of a bulk
// renewal stays small; "total" counts them all, and the project's open
// renewals (GET /v1/project/{p}/renewals) list every one. Field names are
// stable; new fields may be added, so receivers should
// ignore the ones they do not know. Times are RFC 3339 UTC. Items are
// sorted by service and username.
//
// The body holds only the notification's content, so that every delivery
// (and every retry) of one notification posts identical bytes under one
// signature. What identifies a delivery travels in headers:
//
//	X-Kcred-Delivery:  the delivery's ID; the same on each retry, so receivers drop duplicates by it
//	X-Kcred-Event:     the event type, as in "type"
//	X-Kcred-Signature: sha256=<hex HMAC-SHA256 of the body with the webhook's secret> (see Verify)
type Event struct {
	Type      string      `json:"type"`
	Project   string      `json:"project"`
	CreatedAt time.Time   `json:"created_at"`
	Items     []EventItem `json:"items"`
	Total     int         `json:"total"`
}

// MaxEventItems is how many users a webhook event lists one by one.
const MaxEventItems = 1000

// EventItem is one affected user of an Event.
type EventItem struct {
	Service     string     `json:"service"`
	Username    string     `json:"username"`
	OldSerial   string     `json:"old_serial"`
	NewSerial   string     `json:"new_serial"`
	OldNotAfter *time.Time `json:"old_not_after"`
	NewNotAfter *time.Time `json:"new_not_after"`
}

// newEvent builds the event of a digest from its sorted notices.
func newEvent(kind, project string, now time.Time, notices []*kcred.Notice) *Event {
	e := &Event{
		Type:      EventType(kind),
		Project:   project,
		CreatedAt: utcSecond(now),
		Items:     make([]EventItem, 0, min(len(notices), MaxEventItems)),
		Total:     len(notices),
	}
	for _, n := range notices[:min(len(notices), MaxEventItems)] {
		e.Items = append(e.Items, EventItem{
			Service:     n.ServiceName,
			Username:    n.Username,
			OldSerial:   n.OldSerial,
			NewSerial:   n.NewSerial,
			OldNotAfter: optionalTime(n.OldNotAfter),
			NewNotAfter: optionalTime(n.NewNotAfter),
		})
	}
	return e
}

// marshal encodes e as compact JSON.
func (e *Event) marshal() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("notify: encode webhook payload: %w", err)
	}
	return b, nil
}

// utcSecond returns t in UTC without fractions of a second, so it encodes as
// plain RFC 3339.
func utcSecond(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second)
}

// optionalTime returns nil for the zero time, which encodes as null.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := utcSecond(t)
	return &u
}
