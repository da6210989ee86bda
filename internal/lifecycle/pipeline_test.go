package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

// The renewal pipeline with tiny batches and rounds: the reading, the
// issuing and the commits each go through many steps, and a failure of
// either store call stops the sweep without losing or doubling a renewal.

var errInjected = errors.New("injected store failure")

// faultyStore fails one call of CreateRenewals or ListRenewalCandidates:
// the failCreate-th or failList-th (from 1; 0 fails none). It counts the
// renewals handed to CreateRenewals.
type faultyStore struct {
	kcred.Store
	mu                   sync.Mutex
	failCreate, failList int
	creates, lists       int
	entries              int
}

func (s *faultyStore) CreateRenewals(ctx context.Context, batch []*kcred.RenewalWrite) ([]bool, error) {
	s.mu.Lock()
	s.creates++
	fail := s.creates == s.failCreate
	s.entries += len(batch)
	s.mu.Unlock()
	if fail {
		return nil, errInjected
	}
	return s.Store.CreateRenewals(ctx, batch)
}

func (s *faultyStore) ListRenewalCandidates(ctx context.Context, horizon time.Time, after kcred.CandidateKey, limit int) ([]*kcred.DueCertificate, error) {
	s.mu.Lock()
	s.lists++
	fail := s.lists == s.failList
	s.mu.Unlock()
	if fail {
		return nil, errInjected
	}
	return s.Store.ListRenewalCandidates(ctx, horizon, after, limit)
}

// heal makes every later call succeed.
func (s *faultyStore) heal() {
	s.mu.Lock()
	s.failCreate, s.failList = 0, 0
	s.mu.Unlock()
}

// pipelineUsers is how many users the pipeline tests make, avnadmin
// included: with batches of 4 and rounds of 8, seven full batches, a short
// one, and four rounds, the last one short.
const pipelineUsers = 30

// newPipelineWorld makes pipelineUsers users on store, all due, with the
// sweep's batches and rounds made tiny for the test.
func newPipelineWorld(t *testing.T, store kcred.Store) *world {
	t.Cleanup(lifecycle.SetSweepSizes(4, 8))
	w := newWorld(t, store, kcred.CertPolicy{Validity: 10 * day, RenewBefore: 3 * day, Reminders: []time.Duration{}})
	w.dueUsers(pipelineUsers)
	return w
}

// dueUsers makes project p1 with service k1 and n users in all (avnadmin
// and u000, u001, ...), and moves the clock 7 days on: with the policy of
// newPipelineWorld, all of them are due.
func (w *world) dueUsers(n int) {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.m.CreateProject(ctx, w.admin, "p1", nil, kcred.CertPolicy{}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.m.CreateService(ctx, w.admin, "p1", lifecycle.ServiceSpec{Name: "k1"}); err != nil {
		w.t.Fatal(err)
	}
	for i := range n - 1 {
		if _, err := w.m.CreateUser(ctx, w.admin, "p1", "k1", fmt.Sprintf("u%03d", i)); err != nil {
			w.t.Fatal(err)
		}
	}
	w.clock.Set(w.clock.Now().Add(7 * day))
}

// generations counts the users of k1 by their current generation.
func (w *world) generations() map[int]int {
	w.t.Helper()
	ctx := context.Background()
	svc, err := w.store.FindService(ctx, "p1", "k1")
	if err != nil {
		w.t.Fatal(err)
	}
	creds, err := w.store.ListCredentials(ctx, svc.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[int]int{}
	for _, c := range creds {
		out[c.Current.Generation]++
	}
	return out
}

// trySweep runs a sweep and fails the test if it does not return: a stuck
// pipeline would otherwise hang until go test's timeout.
func (w *world) trySweep() (lifecycle.SweepResult, error) {
	w.t.Helper()
	type result struct {
		res lifecycle.SweepResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := w.m.Sweep(context.Background())
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-time.After(time.Minute):
		w.t.Fatal("the sweep did not return within a minute")
		return lifecycle.SweepResult{}, nil
	}
}

// TestSweepPipelineRounds: every user is renewed once, and issued once:
// the reading runs ahead of the commits, and must not read again the users
// of batches not yet committed.
func TestSweepPipelineRounds(t *testing.T) {
	store := &faultyStore{Store: newSQLite(t)}
	w := newPipelineWorld(t, store)
	res, err := w.trySweep()
	if err != nil || res.Renewed != pipelineUsers || res.Notifications != 1 {
		t.Fatalf("sweep = %+v, %v; want %d renewed and one digest", res, err, pipelineUsers)
	}
	if store.entries != pipelineUsers {
		t.Errorf("%d renewals issued and handed to the store for %d users", store.entries, pipelineUsers)
	}
	if g := w.generations(); g[2] != pipelineUsers || len(g) != 1 {
		t.Fatalf("users by generation after the sweep: %v, want all %d at 2", g, pipelineUsers)
	}
	if n := w.notifications(kcred.KindRenewed); len(n) != 1 || !strings.Contains(n[0].Subject, fmt.Sprint(pipelineUsers)) {
		t.Fatalf("renewed digests: %d, want one of %d users", len(n), pipelineUsers)
	}
	if res := w.sweep(); res.Renewed != 0 {
		t.Fatalf("second sweep renewed %d", res.Renewed)
	}
}

// TestSweepPipelineCommitFails: the third batch's commit fails. The sweep
// returns the error having renewed the two batches before; the next sweep
// renews the rest, once each, and digests all of them together.
func TestSweepPipelineCommitFails(t *testing.T) {
	store := &faultyStore{Store: newSQLite(t), failCreate: 3}
	w := newPipelineWorld(t, store)
	if _, err := w.trySweep(); !errors.Is(err, errInjected) {
		t.Fatalf("sweep with a failing commit: %v, want the injected error", err)
	}
	if g := w.generations(); g[2] != 8 || g[1] != pipelineUsers-8 {
		t.Fatalf("users by generation after the failed sweep: %v, want 8 at 2 and the rest at 1", g)
	}
	store.heal()
	res, err := w.trySweep()
	if err != nil || res.Renewed != pipelineUsers-8 || res.Notifications != 1 {
		t.Fatalf("sweep after the failure = %+v, %v; want %d renewed, one digest", res, err, pipelineUsers-8)
	}
	if g := w.generations(); g[2] != pipelineUsers || len(g) != 1 {
		t.Fatalf("users by generation: %v, want all %d at 2", g, pipelineUsers)
	}
	if n := w.notifications(kcred.KindRenewed); len(n) != 1 || !strings.Contains(n[0].Subject, fmt.Sprint(pipelineUsers)) {
		t.Fatalf("renewed digests: %d, want one of all %d users", len(n), pipelineUsers)
	}
}

// TestSweepPipelineReadFails: the second read of candidates fails. What
// the first read found (a round, two batches) is still issued and
// committed before the sweep returns the error.
func TestSweepPipelineReadFails(t *testing.T) {
	store := &faultyStore{Store: newSQLite(t), failList: 2}
	w := newPipelineWorld(t, store)
	if _, err := w.trySweep(); !errors.Is(err, errInjected) {
		t.Fatalf("sweep with a failing read: %v, want the injected error", err)
	}
	if g := w.generations(); g[2] != 8 || g[1] != pipelineUsers-8 {
		t.Fatalf("users by generation after the failed sweep: %v, want the first round (8) at 2", g)
	}
	store.heal()
	if res, err := w.trySweep(); err != nil || res.Renewed != pipelineUsers-8 {
		t.Fatalf("sweep after the failure = %+v, %v; want %d renewed", res, err, pipelineUsers-8)
	}
	if g := w.generations(); g[2] != pipelineUsers || len(g) != 1 {
		t.Fatalf("users by generation: %v, want all %d at 2", g, pipelineUsers)
	}
}
