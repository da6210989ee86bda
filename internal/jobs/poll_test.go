package jobs

import (
	"testing"
	"time"
)

func TestFetchPollInterval(t *testing.T) {
	for _, tc := range []struct {
		sweep, deliver, want time.Duration
	}{
		{time.Minute, 5 * time.Second, 500 * time.Millisecond}, // the defaults: a tenth of the deliveries' interval
		{time.Hour, time.Hour, time.Second},                    // never slower than a second
		{time.Second, 5 * time.Second, 100 * time.Millisecond}, // a 1 s sweep, as in the end-to-end tests
		{100 * time.Millisecond, time.Second, 50 * time.Millisecond},
	} {
		if got := fetchPollInterval(Config{SweepInterval: tc.sweep, DeliverInterval: tc.deliver}); got != tc.want {
			t.Errorf("sweeps every %v, deliveries every %v: poll every %v, want %v", tc.sweep, tc.deliver, got, tc.want)
		}
	}
}
