package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRenewalEndpoints covers kcred's additions: a sweep (run by hand with
// a moved clock) renews, and the API shows the open renewal, the history,
// the notifications and their deliveries; webhooks are admin-only.
func TestRenewalEndpoints(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.must(200, "PUT", "/v1/project/p1", e.Token, map[string]any{"cert_policy": map[string]any{"validity": "10d", "renew_before": "4d", "reminders": []string{"2d"}}})
	e.must(200, "PUT", "/v1/project/p1/service/kafka-1/user/app1/credentials/reset", e.Token, nil) // a 10-day certificate

	e.Clock.Add(6 * 24 * time.Hour)
	res, err := e.M.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Renewed != 1 || res.Notifications != 1 {
		t.Fatalf("sweep: %+v, want app1 renewed and one digest", res)
	}

	var rs struct {
		Renewals []struct {
			Username     string `json:"username"`
			OldSerial    string `json:"old_serial"`
			NewSerial    string `json:"new_serial"`
			Acknowledged bool   `json:"acknowledged"`
		} `json:"renewals"`
	}
	e.must(200, "GET", "/v1/project/p1/renewals", e.Token, nil).Decode(t, &rs)
	if len(rs.Renewals) != 1 || rs.Renewals[0].Username != "app1" || rs.Renewals[0].Acknowledged || rs.Renewals[0].OldSerial == rs.Renewals[0].NewSerial {
		t.Fatalf("renewals = %+v", rs.Renewals)
	}
	var hist struct {
		Certificates []struct {
			Generation int    `json:"generation"`
			Serial     string `json:"serial"`
			Reason     string `json:"reason"`
		} `json:"certificates"`
	}
	r := e.must(200, "GET", "/v1/project/p1/service/kafka-1/user/app1/certificates", e.Token, nil)
	r.Decode(t, &hist)
	if len(hist.Certificates) != 3 || hist.Certificates[0].Reason != "renewal" || hist.Certificates[0].Serial != rs.Renewals[0].NewSerial {
		t.Errorf("history = %+v", hist.Certificates)
	}
	if strings.Contains(string(r.Body), "PRIVATE KEY") {
		t.Error("history holds a key")
	}

	var ns struct {
		Notifications []struct {
			Kind       string   `json:"kind"`
			Recipients []string `json:"recipients"`
			Deliveries []struct {
				Channel, Target, State string
			} `json:"deliveries"`
		} `json:"notifications"`
	}
	e.must(200, "GET", "/v1/project/p1/notifications", e.Token, nil).Decode(t, &ns)
	if len(ns.Notifications) != 1 || ns.Notifications[0].Kind != "renewed" || len(ns.Notifications[0].Deliveries) != 2 {
		t.Fatalf("notifications = %+v", ns.Notifications)
	}
	for _, d := range ns.Notifications[0].Deliveries {
		if d.Channel != "email" || d.State != "undelivered" { // no SMTP server in this test
			t.Errorf("delivery %+v", d)
		}
	}

	// Webhooks: validation, roles, the test event, deletion.
	e.must(400, "POST", "/v1/project/p1/webhooks", e.Token, map[string]any{"url": "ftp://example.com/x"})
	e.must(400, "POST", "/v1/project/p1/webhooks", e.Token, map[string]any{"url": "https://example.com/x", "secret": "short"})
	op := e.account("op@example.com")
	e.must(200, "POST", "/v1/project/p1/invite", e.Token, map[string]any{"user_email": "op@example.com", "member_type": "operator"})
	e.must(403, "POST", "/v1/project/p1/webhooks", op, map[string]any{"url": "https://example.com/x"})
	outsider := e.account("out@example.com")
	e.must(404, "GET", "/v1/project/p1/notifications", outsider, nil)

	created := e.must(200, "POST", "/v1/project/p1/webhooks", e.Token, map[string]any{"url": "https://hooks.example.com/kcred"}).JSON(t)
	if s, _ := created["secret"].(string); len(s) < 32 {
		t.Errorf("generated secret %q", s)
	}
	id := created["webhook"].(map[string]any)["id"].(string)
	list := e.must(200, "GET", "/v1/project/p1/webhooks", e.Token, nil)
	if !strings.Contains(string(list.Body), id) || strings.Contains(string(list.Body), "secret") {
		t.Errorf("webhook list: %s", list.Body)
	}
	test := e.must(200, "POST", "/v1/project/p1/webhooks/"+id+"/test", e.Token, nil)
	if !strings.Contains(string(test.Body), `"kind":"test"`) || !strings.Contains(string(test.Body), `"channel":"webhook"`) {
		t.Errorf("test event: %s", test.Body)
	}
	e.must(200, "DELETE", "/v1/project/p1/webhooks/"+id, e.Token, nil)
	e.must(404, "DELETE", "/v1/project/p1/webhooks/"+id, e.Token, nil)
	e.must(404, "POST", "/v1/project/p1/webhooks/nope/test", e.Token, nil)
}
