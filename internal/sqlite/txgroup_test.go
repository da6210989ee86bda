package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// TestGroupCommit queues six transactions behind one that holds the write
// connection, so that they run as one group, and checks that each fails or
// commits alone: an error and a panic roll back their own writes only and
// reach their own callers, so does a statement that SQLite refuses, a
// cancelled call does not run, and the others commit.
func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	event := func(q kcred.Queries, target string) error {
		return q.CreateEvent(ctx, &kcred.Event{Time: time.Now(), Actor: "kcred", Action: kcred.ActionRenewal,
			Project: "p", Target: target})
	}
	queued := func() int {
		s.group.mu.Lock()
		defer s.group.mu.Unlock()
		return len(s.group.waiting)
	}
	wait := func(cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("timed out")
			}
		}
	}

	release := make(chan struct{})
	holding := make(chan error, 1)
	go func() {
		holding <- s.InTx(ctx, func(q kcred.Queries) error {
			<-release
			return event(q, "first")
		})
	}()
	wait(func() bool {
		s.group.mu.Lock()
		defer s.group.mu.Unlock()
		return s.group.leading && len(s.group.waiting) == 0
	})

	errNo := errors.New("no")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ran := make([]bool, 6)
	calls := []struct {
		ctx context.Context
		fn  func(q kcred.Queries) error
	}{
		{ctx, func(q kcred.Queries) error { ran[0] = true; return event(q, "ok-1") }},
		{ctx, func(q kcred.Queries) error {
			ran[1] = true
			if err := event(q, "failed"); err != nil {
				return err
			}
			return errNo
		}},
		{ctx, func(q kcred.Queries) error {
			ran[2] = true
			if err := event(q, "panicked"); err != nil {
				return err
			}
			panic("boom")
		}},
		{cancelled, func(q kcred.Queries) error { ran[3] = true; return event(q, "cancelled") }},
		{ctx, func(q kcred.Queries) error { ran[4] = true; return event(q, "ok-2") }},
		{ctx, func(q kcred.Queries) error {
			ran[5] = true
			if err := event(q, "foreign-key"); err != nil {
				return err
			}
			// A statement that fails in SQLite, not in Go.
			return q.(kcred.RenewalQueries).CreateNotice(ctx, &kcred.Notice{Project: "missing", Kind: kcred.KindRenewed})
		}},
	}
	errs := make([]error, len(calls))
	recovered := make([]any, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { recovered[i] = recover() }()
			errs[i] = s.InTx(c.ctx, c.fn)
		}()
	}
	wait(func() bool { return queued() == len(calls) })
	close(release)
	wg.Wait()
	if err := <-holding; err != nil {
		t.Fatalf("the transaction that held the connection: %v", err)
	}

	if errs[0] != nil || errs[4] != nil {
		t.Errorf("the good calls returned %v and %v", errs[0], errs[4])
	}
	if !errors.Is(errs[1], errNo) {
		t.Errorf("the failing call returned %v, want its own error", errs[1])
	}
	if kcred.ErrorCode(errs[5]) != kcred.ENOTFOUND {
		t.Errorf("the call whose statement failed returned %v, want ENOTFOUND", errs[5])
	}
	if recovered[2] != "boom" || errs[2] != nil {
		t.Errorf("the panicking call recovered %v (err %v), want its own panic", recovered[2], errs[2])
	}
	for i, r := range recovered {
		if i != 2 && r != nil {
			t.Errorf("call %d panicked with %v", i, r)
		}
	}
	if !errors.Is(errs[3], context.Canceled) || ran[3] {
		t.Errorf("the cancelled call returned %v and ran %v, want context.Canceled without running", errs[3], ran[3])
	}
	if !ran[0] || !ran[1] || !ran[2] || !ran[4] || !ran[5] {
		t.Errorf("ran %v, want every call but the cancelled one run", ran)
	}
	events, err := s.ListEvents(ctx, "p", 100)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, e := range events {
		targets = append(targets, e.Target)
	}
	slices.Sort(targets)
	if want := []string{"first", "ok-1", "ok-2"}; !slices.Equal(targets, want) {
		t.Errorf("committed events %q, want %q", targets, want)
	}
}
