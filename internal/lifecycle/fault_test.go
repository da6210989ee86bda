package lifecycle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/mail"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/notify"
	"github.com/kcred/kcred/internal/pki"
	"github.com/kcred/kcred/internal/postgres"
	"github.com/kcred/kcred/internal/postgres/postgrestest"
)

// faultMailbox is an SMTP server on loopback that keeps what it receives
// and answers 451 to every RCPT while refuse is set.
type faultMailbox struct {
	mu       sync.Mutex
	refuse   bool
	refused  int
	messages []faultMessage
}

type faultMessage struct{ To, ID string }

func (mb *faultMailbox) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &faultSession{mb: mb}, nil
}

func (mb *faultMailbox) setRefuse(v bool) { mb.mu.Lock(); mb.refuse = v; mb.mu.Unlock() }

func (mb *faultMailbox) all() []faultMessage {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]faultMessage(nil), mb.messages...)
}

type faultSession struct {
	mb *faultMailbox
	to []string
}

func (s *faultSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *faultSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	if s.mb.refuse {
		s.mb.refused++
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	s.to = append(s.to, to)
	return nil
}
func (s *faultSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, msg.Body)
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	for _, to := range s.to {
		s.mb.messages = append(s.mb.messages, faultMessage{To: to, ID: msg.Header.Get("Message-Id")})
	}
	return nil
}
func (s *faultSession) Reset()        { s.to = nil }
func (s *faultSession) Logout() error { return nil }

func startFaultMailbox(t *testing.T) (*faultMailbox, string) {
	mb := &faultMailbox{}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return mb, ln.Addr().String()
}

// deliveries returns every delivery of the project's notifications.
func (w *world) deliveries() []*kcred.Delivery {
	w.t.Helper()
	all, err := w.m.ListNotifications(context.Background(), w.admin, "p1", 0)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []*kcred.Delivery
	for _, n := range all {
		out = append(out, n.Deliveries...)
	}
	return out
}

// TestFaultSMTPRefusesThenRecovers: while the SMTP server answers 451 the
// deliveries stay pending with their attempts and error; once it recovers,
// every recipient gets each of its messages exactly once, and nothing is
// sent again afterwards.
func TestFaultSMTPRefusesThenRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	mb, addr := startFaultMailbox(t)
	cfg, err := notify.ParseSMTPURL("smtp://"+addr+"?tls=none", "kcred@example.com")
	if err != nil {
		t.Fatal(err)
	}
	store := newSQLite(t)
	key, _ := pki.GenerateMasterKey()
	sealer, _ := pki.NewSealer(key)
	clk := &clock{t: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := lifecycle.New(lifecycle.Config{Store: store, Sealer: sealer, Now: clk.Now, Mailer: notify.NewMailer(cfg),
		Policy: kcred.CertPolicy{Validity: 10 * day, RenewBefore: 3 * day, Reminders: []time.Duration{}}})
	t.Cleanup(m.Close)
	ctx := context.Background()
	if _, _, err := m.Bootstrap(ctx, "root@example.com", "", "kcred_bootstrap_token_for_tests_0123456789"); err != nil {
		t.Fatal(err)
	}
	root, _ := store.FindAccountByEmail(ctx, "root@example.com")
	w := &world{t: t, m: m, store: store, clock: clk, admin: lifecycle.Actor{Account: root}}

	if _, err := m.CreateProject(ctx, w.admin, "p1", []string{"team@example.com"}, kcred.CertPolicy{}); err != nil {
		t.Fatal(err)
	}
	// k1 has its own contact; k2 falls back to the project's.
	if _, err := m.CreateService(ctx, w.admin, "p1", lifecycle.ServiceSpec{Name: "k1", TechEmails: []string{"k1-oncall@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateService(ctx, w.admin, "p1", lifecycle.ServiceSpec{Name: "k2"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		for _, svc := range []string{"k1", "k2"} {
			if _, err := m.CreateUser(ctx, w.admin, "p1", svc, fmt.Sprintf("u%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Set(clk.Now().Add(7 * day))
	mb.setRefuse(true)
	if res := w.sweep(); res.Renewed != 8 { // 6 users and the two avnadmins
		t.Fatalf("sweep: %+v, want 8 renewed", res)
	}
	want := map[string]int{} // recipient -> messages due
	for _, d := range w.deliveries() {
		if d.Channel != kcred.ChannelEmail || d.State != kcred.DeliveryPending {
			t.Fatalf("before delivery: %+v", d)
		}
		want[d.Target]++
	}
	for _, r := range []string{"root@example.com", "k1-oncall@example.com", "team@example.com"} {
		if want[r] != 1 {
			t.Fatalf("messages due per recipient: %v, want one each for root, k1-oncall and team", want)
		}
	}

	// Refused twice: pending, attempts counted, error kept, nothing received.
	for attempt := 1; attempt <= 2; attempt++ {
		n, err := m.Deliver(ctx)
		if err != nil || n != 0 {
			t.Fatalf("deliver while refused: %d, %v", n, err)
		}
		// Not due again before the backoff.
		if n, err := m.Deliver(ctx); err != nil || n != 0 {
			t.Fatalf("second deliver at the same time: %d, %v", n, err)
		}
		for _, d := range w.deliveries() {
			if d.State != kcred.DeliveryPending || d.Attempts != attempt || d.LastError == "" || !d.DeliveredAt.IsZero() {
				t.Fatalf("after refused attempt %d: %+v", attempt, d)
			}
			if want := clk.Now().Add(kcred.Backoff(attempt)); !d.NextAttempt.Equal(want) {
				t.Errorf("next attempt %v, want %v", d.NextAttempt, want)
			}
		}
		clk.Set(clk.Now().Add(kcred.Backoff(attempt)))
	}
	if got := mb.all(); len(got) != 0 {
		t.Fatalf("received %d messages while refusing", len(got))
	}
	mb.mu.Lock()
	refused := mb.refused
	mb.mu.Unlock()
	if refused != 2*len(want) {
		t.Errorf("the server refused %d RCPTs, want %d", refused, 2*len(want))
	}

	// Recovery.
	mb.setRefuse(false)
	if n, err := m.Deliver(ctx); err != nil || n != len(want) {
		t.Fatalf("deliver after recovery: %d, %v; want %d", n, err, len(want))
	}
	got := map[string]int{}
	ids := map[string]int{}
	for _, msg := range mb.all() {
		got[msg.To]++
		if msg.ID == "" {
			t.Errorf("message to %s has no Message-ID", msg.To)
		}
		ids[msg.To+" "+msg.ID]++
	}
	for r, n := range want {
		if got[r] != n {
			t.Errorf("%s received %d messages, want %d", r, got[r], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("recipients %v, want %v", got, want)
	}
	for k, n := range ids {
		if n != 1 {
			t.Errorf("message %s received %d times", k, n)
		}
	}
	for _, d := range w.deliveries() {
		if d.State != kcred.DeliveryDelivered || d.Attempts != 3 || d.LastError != "" || !d.DeliveredAt.Equal(clk.Now()) {
			t.Errorf("after recovery: %+v", d)
		}
	}

	// Nothing more, now or much later.
	for _, later := range []time.Duration{0, time.Hour, day} {
		clk.Set(clk.Now().Add(later))
		if n, err := m.Deliver(ctx); err != nil || n != 0 {
			t.Fatalf("deliver %v later: %d, %v", later, n, err)
		}
	}
	if res := w.sweep(); res.Renewed != 0 || res.Notifications != 0 {
		t.Fatalf("a later sweep: %+v", res)
	}
	if n := len(mb.all()); n != len(want) {
		t.Errorf("%d messages received in all, want %d", n, len(want))
	}
}

// gatedStore hides the pending notices while held, so that digests can be
// made to race.
type gatedStore struct {
	kcred.Store
	held *atomic.Bool
}

func (s gatedStore) ListPendingNotices(ctx context.Context, limit int) ([]*kcred.Notice, error) {
	if s.held.Load() {
		return nil, nil
	}
	return s.Store.ListPendingNotices(ctx, limit)
}

// TestFaultReplicasOnePostgres: three Managers, each on its own pool on one
// PostgreSQL schema, sweep 2,000 due users at once. Every user is renewed
// exactly once, and when their digests race on the same notices exactly one
// wins: one "renewed" message per recipient. A second round in which each
// replica sweeps (and digests) concurrently renews nothing more and leaves
// no notice undigested.
func TestFaultReplicasOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	const users = 2000
	base := postgrestest.BaseURL(t)
	schema := postgrestest.Schema(t)
	ctx := context.Background()
	key, _ := pki.GenerateMasterKey()
	sealer, _ := pki.NewSealer(key)
	clk := &clock{t: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	var held atomic.Bool
	var stores []*postgres.Store
	var ms []*lifecycle.Manager
	for range 3 {
		s, err := postgres.Open(ctx, base, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		m := lifecycle.New(lifecycle.Config{Store: gatedStore{s, &held}, Sealer: sealer, Now: clk.Now,
			Policy: kcred.CertPolicy{Validity: 100 * day, RenewBefore: 30 * day, Reminders: []time.Duration{}}})
		t.Cleanup(m.Close)
		stores, ms = append(stores, s), append(ms, m)
	}
	if _, _, err := ms[0].Bootstrap(ctx, "root@example.com", "", "kcred_bootstrap_token_for_tests_0123456789"); err != nil {
		t.Fatal(err)
	}
	root, _ := stores[0].FindAccountByEmail(ctx, "root@example.com")
	admin := lifecycle.Actor{Account: root}
	if _, err := ms[0].CreateProject(ctx, admin, "p1", nil, kcred.CertPolicy{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ms[0].CreateService(ctx, admin, "p1", lifecycle.ServiceSpec{Name: "k1"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < users-1; i += 8 { // avnadmin is the last
				if _, err := ms[g%3].CreateUser(ctx, admin, "p1", "k1", fmt.Sprintf("u%05d", i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d users in %v", users, time.Since(start))
	clk.Set(clk.Now().Add(71 * day))

	// concurrently runs f on each replica at once and returns the results.
	concurrently := func(t *testing.T, f func(m *lifecycle.Manager) (lifecycle.SweepResult, error)) []lifecycle.SweepResult {
		out := make([]lifecycle.SweepResult, len(ms))
		errs := make([]error, len(ms))
		startGate := make(chan struct{})
		var wg sync.WaitGroup
		for i, m := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGate
				out[i], errs[i] = f(m)
			}()
		}
		close(startGate)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
		}
		return out
	}

	// Round 1: three sweeps at once, their digests held back.
	held.Store(true)
	start = time.Now()
	res := concurrently(t, func(m *lifecycle.Manager) (lifecycle.SweepResult, error) { return m.Sweep(ctx) })
	renewed := 0
	for _, r := range res {
		renewed += r.Renewed
	}
	t.Logf("three concurrent sweeps: %+v in %v", res, time.Since(start))
	if renewed != users {
		t.Fatalf("renewed %d in all, want %d: %+v", renewed, users, res)
	}

	// The three digests race on the same 2,000 notices: one wins.
	held.Store(false)
	res = concurrently(t, func(m *lifecycle.Manager) (lifecycle.SweepResult, error) {
		n, err := m.Digest(ctx)
		return lifecycle.SweepResult{Notifications: n}, err
	})
	if made := res[0].Notifications + res[1].Notifications + res[2].Notifications; made != 1 {
		t.Fatalf("racing digests made %d notifications (%+v), want 1", made, res)
	}

	// Round 2: three full sweeps at once, nothing left to do.
	res = concurrently(t, func(m *lifecycle.Manager) (lifecycle.SweepResult, error) { return m.Sweep(ctx) })
	for _, r := range res {
		if r.Renewed != 0 || r.Notifications != 0 {
			t.Fatalf("second round: %+v", res)
		}
	}
	if p, err := stores[0].ListPendingNotices(ctx, 10); err != nil || len(p) != 0 {
		t.Fatalf("pending notices: %d, %v", len(p), err)
	}

	// Exactly one renewal and two generations per user.
	open, err := stores[0].ListOpenRenewals(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != users {
		t.Fatalf("%d open renewals, want %d", len(open), users)
	}
	seen := map[string]bool{}
	for _, r := range open {
		if seen[r.Username] {
			t.Fatalf("%s renewed twice", r.Username)
		}
		seen[r.Username] = true
		certs, err := stores[1].ListCertificates(ctx, r.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) != 2 || certs[0].Generation != 2 || certs[1].Generation != 1 || certs[0].ID != r.NewCertID {
			t.Fatalf("%s has %d certificates", r.Username, len(certs))
		}
	}

	// One "renewed" notification, to the one recipient, listing everyone once.
	all, err := stores[2].ListNotifications(ctx, "p1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Kind != kcred.KindRenewed || len(all[0].Recipients) != 1 || len(all[0].Deliveries) != 1 {
		t.Fatalf("notifications: %d, want one renewed digest to root", len(all))
	}
	var ev notify.Event
	if err := json.Unmarshal([]byte(all[0].Payload), &ev); err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	for _, it := range ev.Items {
		listed[it.Username]++
	}
	// The event lists at most notify.MaxEventItems users and counts them all.
	if ev.Total != users || len(ev.Items) != min(users, notify.MaxEventItems) || len(listed) != len(ev.Items) {
		t.Fatalf("the digest counts %d users and lists %d items for %d users, want %d counted", ev.Total, len(ev.Items), len(listed), users)
	}

	// Round 3: the old certificates expire unacknowledged and three full
	// sweeps, digests and all, race to close the renewals: each closed
	// once, each sweep makes at most one digest for the one recipient, and
	// every user is in exactly one of them.
	t.Run("expiry", func(t *testing.T) {
		faultExpiryRace(ctx, t, clk, stores, open[0].OldNotAfter, users, concurrently)
	})
}

// faultExpiryRace is round 3 of TestFaultReplicasOnePostgres.
func faultExpiryRace(ctx context.Context, t *testing.T, clk *clock, stores []*postgres.Store, expiry time.Time, users int,
	concurrently func(t *testing.T, f func(m *lifecycle.Manager) (lifecycle.SweepResult, error)) []lifecycle.SweepResult) {
	clk.Set(expiry)
	res := concurrently(t, func(m *lifecycle.Manager) (lifecycle.SweepResult, error) { return m.Sweep(ctx) })
	t.Logf("three concurrent sweeps at expiry: %+v", res)
	expired, made := 0, 0
	for _, r := range res {
		expired += r.Expired
		made += r.Notifications
		if r.Renewed != 0 || r.Notifications > 1 {
			t.Errorf("a sweep at expiry: %+v, want no renewal and at most one digest", r)
		}
	}
	if expired != users {
		t.Fatalf("closed %d renewals in all, want %d", expired, users)
	}
	if p, err := stores[0].ListPendingNotices(ctx, 10); err != nil || len(p) != 0 {
		t.Fatalf("pending notices after the sweeps at expiry: %d, %v", len(p), err)
	}
	if open, err := stores[0].ListOpenRenewals(ctx, "p1"); err != nil || len(open) != 0 {
		t.Fatalf("open renewals after expiry: %d, %v", len(open), err)
	}
	all, err := stores[2].ListNotifications(ctx, "p1", 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	digests, total, shown := 0, 0, 0
	for _, n := range all {
		if n.Kind != kcred.KindExpiredUnacknowledged {
			continue
		}
		digests++
		if len(n.Recipients) != 1 {
			t.Errorf("expired digest to %v", n.Recipients)
		}
		var ev notify.Event
		if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
			t.Fatal(err)
		}
		total += ev.Total
		shown += min(ev.Total, notify.MaxEventItems)
		for _, it := range ev.Items {
			listed[it.Username]++
		}
	}
	if digests != made || len(all) != 1+made {
		t.Errorf("%d expired digests and %d notifications in all; the sweeps made %d", digests, len(all), made)
	}
	// Events list at most notify.MaxEventItems users and count them all.
	if total != users || len(listed) != shown {
		t.Errorf("the expired digests count %d users and list %d, want %d counted", total, len(listed), users)
	}
	for u, n := range listed {
		if n != 1 {
			t.Errorf("%s listed in %d expired digests", u, n)
		}
	}
}
