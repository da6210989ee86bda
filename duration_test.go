package kcred_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"820d", 820 * 24 * time.Hour, true},
		{"90d", 90 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"36h", 36 * time.Hour, true},
		{"45s", 45 * time.Second, true},
		{" 3m ", 3 * time.Minute, true},
		{"", 0, false},
		{"d", 0, false},
		{"-5s", 0, false},
		{"5x", 0, false},
		{"1.5d", 0, false},
		{"forever", 0, false},
	} {
		got, err := kcred.ParseDuration(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if !tc.ok && kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("ParseDuration(%q) = %v, %v; want EINVALID", tc.in, got, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		820 * 24 * time.Hour:    "820d",
		36 * time.Hour:          "36h",
		90 * time.Minute:        "90m",
		45 * time.Second:        "45s",
		1500 * time.Millisecond: "1.5s",
		0:                       "0s",
	} {
		if got := kcred.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := kcred.ParseDuration(want); want != "1.5s" && (err != nil || back != d) {
			t.Errorf("round trip of %q = %v, %v", want, back, err)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	var v struct{ A, B kcred.Duration }
	if err := json.Unmarshal([]byte(`{"A": "90d", "B": 45}`), &v); err != nil {
		t.Fatal(err)
	}
	if time.Duration(v.A) != 90*24*time.Hour || time.Duration(v.B) != 45*time.Second {
		t.Errorf("decoded %v", v)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"A":"90d","B":"45s"}` {
		t.Errorf("encoded %s", b)
	}
	if err := json.Unmarshal([]byte(`{"A": true}`), &v); err == nil {
		t.Error("a boolean decoded as a duration")
	}
}

func TestParseDurations(t *testing.T) {
	got, err := kcred.ParseDurations("60d,30d, 14d")
	if err != nil || kcred.FormatDurations(got) != "60d,30d,14d" {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := kcred.ParseDurations("60d,soon"); err == nil {
		t.Error("accepted a bad offset")
	}
}
