package kcred_test

import (
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func TestNewIDSortsByTime(t *testing.T) {
	a := kcred.NewID()
	time.Sleep(2 * time.Millisecond)
	b := kcred.NewID()
	if len(a) != 32 || len(b) != 32 || a >= b {
		t.Errorf("NewID %q then %q: want 32 hex characters, the later sorting after", a, b)
	}
	seen := map[string]bool{}
	for range 10000 {
		id := kcred.NewID()
		if seen[id] {
			t.Fatalf("duplicate ID %s", id)
		}
		seen[id] = true
	}
}
