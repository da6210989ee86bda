package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/metrics"
	"github.com/kcred/kcred/internal/pki"
	"github.com/kcred/kcred/internal/sqlite"
)

// TestScrape reads /metrics after a renewal: the current and the expiring
// certificate of the user, an open unacknowledged renewal, and the sweep
// and notification counters.
func TestScrape(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	key, _ := pki.GenerateMasterKey()
	sealer, _ := pki.NewSealer(key)
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	mets := metrics.New(store, slog.New(slog.DiscardHandler))
	m := lifecycle.New(lifecycle.Config{Store: store, Sealer: sealer, Observer: mets, Now: func() time.Time { return now },
		Policy: kcred.CertPolicy{Validity: 10 * 24 * time.Hour, RenewBefore: 3 * 24 * time.Hour}})
	defer m.Close()
	if _, _, err := m.Bootstrap(ctx, "root@example.com", "", "kcred_metrics_test_token_0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	root, _ := store.FindAccountByEmail(ctx, "root@example.com")
	a := lifecycle.Actor{Account: root}
	if _, err := m.CreateProject(ctx, a, "p1", nil, kcred.CertPolicy{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateService(ctx, a, "p1", lifecycle.ServiceSpec{Name: "k1"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(8 * 24 * time.Hour)
	if _, err := m.Sweep(ctx); err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	mets.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`kcred_certificate_not_after_seconds{generation="current",project="p1",service="k1",user="avnadmin"}`,
		`kcred_certificate_not_after_seconds{generation="expiring",project="p1",service="k1",user="avnadmin"}`,
		`kcred_open_renewals{acknowledged="false",project="p1"} 1`,
		`kcred_notifications_total{kind="renewed"} 1`,
		`kcred_sweep_renewals_sum 1`,
		`kcred_sweep_duration_seconds_count 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
