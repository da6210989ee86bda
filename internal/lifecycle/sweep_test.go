package lifecycle_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/pki"
	"github.com/kcred/kcred/internal/sqlite"
)

const day = 24 * time.Hour

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type world struct {
	t     testing.TB
	m     *lifecycle.Manager
	store kcred.Store
	clock *clock
	admin lifecycle.Actor
}

func newWorld(t testing.TB, store kcred.Store, policy kcred.CertPolicy) *world {
	t.Helper()
	key, _ := pki.GenerateMasterKey()
	sealer, _ := pki.NewSealer(key)
	clk := &clock{t: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := lifecycle.New(lifecycle.Config{Store: store, Sealer: sealer, Now: clk.Now, Policy: policy})
	t.Cleanup(m.Close)
	ctx := context.Background()
	if _, _, err := m.Bootstrap(ctx, "root@example.com", "", "kcred_bootstrap_token_for_tests_0123456789"); err != nil {
		t.Fatal(err)
	}
	root, _ := store.FindAccountByEmail(ctx, "root@example.com")
	return &world{t: t, m: m, store: store, clock: clk, admin: lifecycle.Actor{Account: root}}
}

func newSQLite(t testing.TB) kcred.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (w *world) sweep() lifecycle.SweepResult {
	w.t.Helper()
	res, err := w.m.Sweep(context.Background())
	if err != nil {
		w.t.Fatalf("sweep at %s: %v", w.clock.Now(), err)
	}
	return res
}

func (w *world) user(service, username string) *lifecycle.UserView {
	w.t.Helper()
	v, _, err := w.m.GetUser(context.Background(), w.admin, "p1", service, username, false)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// notifications returns the project's notifications of kind, oldest first.
func (w *world) notifications(kind string) []*kcred.Notification {
	w.t.Helper()
	all, err := w.m.ListNotifications(context.Background(), w.admin, "p1", 0)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []*kcred.Notification
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Kind == kind {
			out = append(out, all[i])
		}
	}
	return out
}

// TestTimeline walks two users through a renewal with a moved clock: one
// acknowledges, the other never does.
func TestTimeline(t *testing.T) {
	w := newWorld(t, newSQLite(t), kcred.CertPolicy{Validity: 100 * day, RenewBefore: 30 * day, Reminders: []time.Duration{20 * day, 10 * day, 5 * day}})
	ctx := context.Background()
	if _, err := w.m.CreateProject(ctx, w.admin, "p1", []string{"team@example.com"}, kcred.CertPolicy{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.CreateService(ctx, w.admin, "p1", lifecycle.ServiceSpec{Name: "k1", TechEmails: []string{"k1-oncall@example.com"}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"acker", "ignorer"} {
		if _, err := w.m.CreateUser(ctx, w.admin, "p1", "k1", u); err != nil {
			t.Fatal(err)
		}
	}
	gen1 := w.user("k1", "ignorer").Current
	start := w.clock.Now()
	renewAt := gen1.NotAfter.Add(-30 * day)

	w.clock.Set(renewAt.Add(-time.Second))
	if res := w.sweep(); res.Renewed != 0 {
		t.Fatalf("renewed %d a second early", res.Renewed)
	}

	w.clock.Set(renewAt)
	if res := w.sweep(); res.Renewed != 3 { // acker, ignorer and avnadmin
		t.Fatalf("renewed %d at the renewal time, want 3", res.Renewed)
	}
	v := w.user("k1", "ignorer")
	if v.Current.Generation != 2 || v.Current.Reason != kcred.ReasonRenewal || !v.ExpiringNotAfter().Equal(gen1.NotAfter) {
		t.Fatalf("after renewal: generation %d, expiring %v", v.Current.Generation, v.ExpiringNotAfter())
	}
	if res := w.sweep(); res.Renewed != 0 || res.Reminded != 0 {
		t.Fatalf("a second sweep did %+v", res)
	}
	renewed := w.notifications(kcred.KindRenewed)
	if len(renewed) != 1 {
		t.Fatalf("renewed notifications: %d, want one digest", len(renewed))
	}
	wantTo := []string{"k1-oncall@example.com", "root@example.com"}
	if got := renewed[0].Recipients; !slices.Equal(got, wantTo) {
		t.Errorf("recipients %v, want %v", got, wantTo)
	}
	if len(renewed[0].Deliveries) != 2 || renewed[0].Deliveries[0].State != kcred.DeliveryUndelivered {
		t.Errorf("deliveries without SMTP: %+v", renewed[0].Deliveries)
	}

	// First reminder, for everyone.
	w.clock.Set(gen1.NotAfter.Add(-20 * day))
	if res := w.sweep(); res.Reminded != 3 {
		t.Fatalf("first reminder: %+v", res)
	}
	if res := w.sweep(); res.Reminded != 0 {
		t.Fatalf("reminded twice for one offset: %+v", res)
	}
	if _, err := w.m.Modify(ctx, w.admin, "p1", "k1", "acker", lifecycle.OpAcknowledgeRenewal, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.Modify(ctx, w.admin, "p1", "k1", "avnadmin", lifecycle.OpAcknowledgeRenewal, nil, nil); err != nil {
		t.Fatal(err)
	}
	if !w.user("k1", "acker").ExpiringNotAfter().IsZero() {
		t.Error("acknowledged user still expiring")
	}

	// Downtime past the 10-day offset and into the 5-day one: one reminder.
	w.clock.Set(gen1.NotAfter.Add(-4 * day))
	if res := w.sweep(); res.Reminded != 1 {
		t.Fatalf("after downtime: %+v, want one reminder for the one who did not acknowledge", res)
	}
	reminders := w.notifications(kcred.KindReminder)
	if len(reminders) != 2 {
		t.Fatalf("reminder notifications: %d, want 2", len(reminders))
	}
	if n := len(w.pendingNoticesOf(t)); n != 0 {
		t.Errorf("%d notices left undigested", n)
	}

	// The old certificates expire.
	w.clock.Set(gen1.NotAfter)
	res := w.sweep()
	if res.Expired != 1 {
		t.Fatalf("at expiry: %+v, want one expired unacknowledged", res)
	}
	if got := w.notifications(kcred.KindExpiredUnacknowledged); len(got) != 1 {
		t.Fatalf("expired notifications: %d", len(got))
	}
	if !w.user("k1", "ignorer").ExpiringNotAfter().IsZero() {
		t.Error("expiring still set after the old certificate expired")
	}
	if res := w.sweep(); res != (lifecycle.SweepResult{Duration: res.Duration}) {
		t.Errorf("a sweep after everything: %+v", res)
	}

	// Each reminder and the unacknowledged expiry are in the audit log.
	events, err := w.store.ListEvents(ctx, "p1", 0)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string][]string{}
	for _, e := range events {
		count[e.Action] = append(count[e.Action], e.Target)
	}
	slices.Sort(count[kcred.ActionReminder])
	if got, want := count[kcred.ActionReminder], []string{"acker", "avnadmin", "ignorer", "ignorer"}; !slices.Equal(got, want) {
		t.Errorf("reminder events for %v, want %v", got, want)
	}
	if got, want := count[kcred.ActionExpired], []string{"ignorer"}; !slices.Equal(got, want) {
		t.Errorf("expiry events for %v, want %v", got, want)
	}
	_ = start
}

func (w *world) pendingNoticesOf(t *testing.T) []*kcred.Notice {
	n, err := w.store.ListPendingNotices(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOneDigestPerSweep: a sweep that renews more users than fit in one
// batch still sends each recipient one message.
func TestOneDigestPerSweep(t *testing.T) {
	t.Cleanup(lifecycle.SetSweepSizes(64, 128))
	w := newWorld(t, newSQLite(t), kcred.CertPolicy{Validity: 10 * day, RenewBefore: 3 * day, Reminders: []time.Duration{}})
	const users = 300 // five batches of the sweep, three rounds
	w.dueUsers(users)
	if res := w.sweep(); res.Renewed != users || res.Notifications != 1 {
		t.Fatalf("sweep: %+v, want %d renewed and one digest", res, users)
	}
	n := w.notifications(kcred.KindRenewed)
	if len(n) != 1 || len(n[0].Deliveries) != 1 || !strings.Contains(n[0].Subject, fmt.Sprint(users)) {
		t.Fatalf("notifications: %d, subject %q", len(n), n[0].Subject)
	}
}

// TestDigestRecipients: admins and operators hear of every user, each
// service's technical contacts (else the project's) of its own users only,
// and an address that is both hears of everything once.
func TestDigestRecipients(t *testing.T) {
	w := newWorld(t, newSQLite(t), kcred.CertPolicy{Validity: 10 * day, RenewBefore: 3 * day, Reminders: []time.Duration{}})
	ctx := context.Background()
	if _, err := w.m.CreateProject(ctx, w.admin, "p1", []string{"team@example.com"}, kcred.CertPolicy{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.CreateAccount(ctx, w.admin, "ops@example.com", "a long password", ""); err != nil {
		t.Fatal(err)
	}
	if err := w.m.Invite(ctx, w.admin, "p1", "ops@example.com", kcred.RoleOperator); err != nil {
		t.Fatal(err)
	}
	for name, tech := range map[string][]string{
		"k1": {"a@example.com"},
		"k2": {"b@example.com", "ops@example.com", "a@example.com"},
		"k3": nil, // the project's: team@example.com
	} {
		if _, err := w.m.CreateService(ctx, w.admin, "p1", lifecycle.ServiceSpec{Name: name, TechEmails: tech}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := w.m.CreateUser(ctx, w.admin, "p1", name, fmt.Sprintf("%s-u%d", name, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.clock.Set(w.clock.Now().Add(7 * day))
	if res := w.sweep(); res.Renewed != 12 { // 3 services x (3 users + avnadmin)
		t.Fatalf("sweep: %+v, want 12 renewed", res)
	}
	listed := map[string][]string{} // recipient -> services of the users listed to them
	for _, n := range w.notifications(kcred.KindRenewed) {
		var svcs []string
		for _, svc := range []string{"k1", "k2", "k3"} {
			c := 0
			for i := range 3 {
				if strings.Contains(n.Text, fmt.Sprintf("%s-u%d", svc, i)) {
					c++
				}
			}
			if c > 0 {
				if c != 3 {
					t.Errorf("notification to %v lists %d users of %s, want 3", n.Recipients, c, svc)
				}
				svcs = append(svcs, svc)
			}
		}
		// Each service has avnadmin too; each user is listed once.
		if want := fmt.Sprintf("] %d certificates", 4*len(svcs)); !strings.Contains(n.Subject, want) {
			t.Errorf("notification to %v: subject %q, want %q", n.Recipients, n.Subject, want)
		}
		for _, r := range n.Recipients {
			if _, dup := listed[r]; dup {
				t.Errorf("%s got two messages", r)
			}
			listed[r] = svcs
		}
	}
	want := map[string][]string{
		"root@example.com": {"k1", "k2", "k3"},
		"ops@example.com":  {"k1", "k2", "k3"},
		"a@example.com":    {"k1", "k2"},
		"b@example.com":    {"k2"},
		"team@example.com": {"k3"},
	}
	if !reflect.DeepEqual(listed, want) {
		t.Errorf("recipients and what they heard of:\n got %v\nwant %v", listed, want)
	}
}

// TestPolicyChangeMovesRenewal: a shorter renew_before set on the project
// applies to certificates already issued.
func TestPolicyChangeMovesRenewal(t *testing.T) {
	w := newWorld(t, newSQLite(t), kcred.CertPolicy{Validity: 100 * day, RenewBefore: 30 * day, Reminders: []time.Duration{}})
	ctx := context.Background()
	if _, err := w.m.CreateProject(ctx, w.admin, "p1", nil, kcred.CertPolicy{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.CreateService(ctx, w.admin, "p1", lifecycle.ServiceSpec{Name: "k1"}); err != nil {
		t.Fatal(err)
	}
	notAfter := w.user("k1", "avnadmin").Current.NotAfter
	rb := 10 * day
	if _, err := w.m.UpdateProject(ctx, w.admin, "p1", lifecycle.ProjectUpdate{Policy: &kcred.CertPolicy{RenewBefore: rb}}); err != nil {
		t.Fatal(err)
	}
	w.clock.Set(notAfter.Add(-30 * day)) // the old renewal time
	if res := w.sweep(); res.Renewed != 0 {
		t.Fatalf("renewed at the old renew_before: %+v", res)
	}
	w.clock.Set(notAfter.Add(-rb))
	if res := w.sweep(); res.Renewed != 1 {
		t.Fatalf("not renewed at the new renew_before: %+v", res)
	}
}
