package console

import (
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

func userView(notAfter time.Time, renewal *kcred.Renewal) *lifecycle.UserView {
	return &lifecycle.UserView{Credentials: kcred.Credentials{
		Current: kcred.Certificate{NotAfter: notAfter},
		Renewal: renewal,
	}}
}

func TestExpiryChart(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	svcs := []*lifecycle.ServiceView{{
		Service: &kcred.Service{Name: "a"},
		Users: []*lifecycle.UserView{
			userView(now.AddDate(0, 0, 820), nil),                        // 2029-02-23: the last bar
			userView(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), nil), // this month
			userView(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), nil),   // March 2027
			userView(time.Date(2029, 3, 1, 0, 0, 0, 0, time.UTC), nil),   // after the chart
			userView(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), nil),  // already expired: not shown
			userView(time.Date(2029, 1, 10, 0, 0, 0, 0, time.UTC), &kcred.Renewal{ // pending: the old one counts too
				OldNotAfter: time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC),
			}),
			userView(time.Date(2029, 1, 10, 0, 0, 0, 0, time.UTC), &kcred.Renewal{ // acknowledged: only the new one
				OldNotAfter:    time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC),
				AcknowledgedAt: now,
			}),
		},
	}}
	c := newExpiryChart(svcs, now)
	if len(c.Bars) != 28 {
		t.Fatalf("%d bars, want the current month and 27 more", len(c.Bars))
	}
	if c.Bars[0].Month != "Nov" || c.Bars[0].Year != "2026" || c.Bars[27].Month != "Feb" || c.Bars[27].Year != "2029" {
		t.Errorf("bars from %s %s to %s %s", c.Bars[0].Month, c.Bars[0].Year, c.Bars[27].Month, c.Bars[27].Year)
	}
	want := map[int][2]int{0: {1, 0}, 4: {0, 0}, 26: {2, 0}, 27: {1, 0}}
	want[4] = [2]int{1, 1} // March 2027: one current, one old
	for i, b := range c.Bars {
		w := want[i]
		if b.Current != w[0] || b.Old != w[1] {
			t.Errorf("bar %d (%s %s): current %d old %d, want %v", i, b.Month, b.Year, b.Current, b.Old, w)
		}
	}
	if c.Total != 6 || c.Old != 1 || c.Later != 1 {
		t.Errorf("total %d old %d later %d, want 6, 1, 1", c.Total, c.Old, c.Later)
	}
	if !strings.Contains(c.Summary, "November 2026 to February 2029: 6 certificates") {
		t.Errorf("summary %q", c.Summary)
	}
	// Bars stack and stay inside the plot.
	for _, b := range c.Bars {
		if b.YOld < chartTop-0.001 || b.YCur+b.HCur > c.PlotBottom+0.001 {
			t.Errorf("bar %s %s leaves the plot: %+v", b.Month, b.Year, b)
		}
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct{ max, step, top int }{
		{0, 1, 4}, {3, 1, 4}, {5, 2, 6}, {8, 2, 8}, {9, 5, 10}, {17, 5, 20}, {40, 10, 40}, {41, 20, 60}, {950, 500, 1000},
	} {
		step, top := niceScale(tc.max)
		if top < tc.max || step <= 0 || top%step != 0 {
			t.Errorf("niceScale(%d) = %d, %d: does not cover", tc.max, step, top)
		}
		if step != tc.step || top != tc.top {
			t.Errorf("niceScale(%d) = %d, %d, want %d, %d", tc.max, step, top, tc.step, tc.top)
		}
	}
}

func TestCertValidity(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	rb := 90 * 24 * time.Hour
	c := func(na time.Time, r *kcred.Renewal) kcred.Credentials {
		return kcred.Credentials{Current: kcred.Certificate{NotAfter: na}, Renewal: r}
	}
	for _, tc := range []struct {
		name string
		c    kcred.Credentials
		want string
	}{
		{"fresh", c(now.AddDate(2, 0, 0), nil), "Valid"},
		{"due", c(now.AddDate(0, 0, 30), nil), "Expiring"},
		{"expired", c(now.Add(-time.Hour), nil), "Expired"},
		{"pending", c(now.AddDate(2, 0, 0), &kcred.Renewal{OldNotAfter: now.AddDate(0, 0, 60)}), "Expiring"},
		{"acknowledged", c(now.AddDate(2, 0, 0), &kcred.Renewal{OldNotAfter: now.AddDate(0, 0, 60), AcknowledgedAt: now}), "Valid"},
	} {
		if got := certValidity(tc.c, rb, now); got.Label != tc.want || got.Detail == "" {
			t.Errorf("%s: %+v, want %s", tc.name, got, tc.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "/projects",
		"/projects/demo":        "/projects/demo",
		"/projects/demo?q=a":    "/projects/demo?q=a",
		"//evil.example/x":      "/projects",
		"https://evil.example/": "/projects",
		"/\\evil.example":       "/projects",
		"javascript:alert(1)":   "/projects",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
