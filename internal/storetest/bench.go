package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// benchService makes a project and a service to benchmark in.
func benchService(b *testing.B, s kcred.Store) *kcred.Service {
	b.Helper()
	ctx := context.Background()
	if err := s.CreateProject(ctx, &kcred.Project{Name: "bench", CreateTime: base}); err != nil {
		b.Fatal(err)
	}
	sv := &kcred.Service{ID: kcred.NewID(), Project: "bench", Name: "kafka", Type: kcred.ServiceTypeKafka,
		CreateTime: base, UpdateTime: base}
	if err := s.CreateService(ctx, sv); err != nil {
		b.Fatal(err)
	}
	return sv
}

// createUser writes what creating a service user writes: the user, its
// first certificate (a ~700-byte PEM, a 250-byte sealed key) and an event,
// in one transaction.
func createUser(ctx context.Context, s kcred.Store, sv *kcred.Service, username string) error {
	return s.InTx(ctx, func(q kcred.Queries) error {
		u := newUser(sv.ID, username)
		if err := q.CreateServiceUser(ctx, u); err != nil {
			return err
		}
		if err := q.CreateCertificate(ctx, newCert(u.ID, 1)); err != nil {
			return err
		}
		return q.CreateEvent(ctx, &kcred.Event{ID: kcred.NewID(), Time: base, Actor: "admin@kcred.local",
			Action: kcred.ActionUserCreate, Project: sv.Project, Service: sv.Name, Target: username,
			Source: "127.0.0.1:5555", Detail: "Created service user " + username + "."})
	})
}

// BenchmarkCreateServiceUser measures creating service users one
// transaction at a time (CreateServiceUser + CreateCertificate + CreateEvent).
func BenchmarkCreateServiceUser(b *testing.B, s kcred.Store) {
	ctx := context.Background()
	sv := benchService(b, s)
	i := 0
	for b.Loop() {
		if err := createUser(ctx, s, sv, fmt.Sprintf("user-%d", i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkFindCredentials measures FindCredentials from GOMAXPROCS
// goroutines over 10,000 users, a tenth of them with an open renewal. The
// users are made once; the measurement is the sub-benchmark users=10000.
func BenchmarkFindCredentials(b *testing.B, s kcred.Store) {
	ctx := context.Background()
	sv := benchService(b, s)
	const users, batch = 10000, 500
	for start := 0; start < users; start += batch {
		err := s.InTx(ctx, func(q kcred.Queries) error {
			for i := start; i < start+batch; i++ {
				u := newUser(sv.ID, fmt.Sprintf("user-%d", i))
				if err := q.CreateServiceUser(ctx, u); err != nil {
					return err
				}
				c1 := newCert(u.ID, 1)
				if err := q.CreateCertificate(ctx, c1); err != nil {
					return err
				}
				if i%10 != 0 {
					continue
				}
				c2 := newCert(u.ID, 2)
				if err := q.CreateCertificate(ctx, c2); err != nil {
					return err
				}
				err := q.CreateRenewal(ctx, &kcred.Renewal{ID: kcred.NewID(), UserID: u.ID, OldCertID: c1.ID,
					NewCertID: c2.ID, OldNotAfter: c1.NotAfter, CreateTime: c2.CreateTime})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := rand.IntN(users)
				c, err := s.FindCredentials(ctx, sv.ID, fmt.Sprintf("user-%d", i))
				if err != nil {
					b.Error(err)
					return
				}
				if c.Current.Generation != 1+btoi(i%10 == 0) || (c.Renewal != nil) != (i%10 == 0) {
					b.Errorf("user-%d: wrong credentials %s", i, show(c))
					return
				}
			}
		})
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Bulk is a batch of records for a BulkInsert, parents before children.
// Current[i] says whether Certs[i] is the newest generation of its user.
type Bulk struct {
	Users    []*kcred.ServiceUser
	Certs    []*kcred.Certificate
	Current  []bool
	Renewals []*kcred.Renewal
}

// BulkInsert writes b into s quickly: a store's package gives one that
// writes with raw multi-row SQL, because a million users through the
// Queries methods take too long. nil writes through InTx and the Queries
// methods.
type BulkInsert func(ctx context.Context, s kcred.Store, b *Bulk) error

// EnvBenchUsers names the environment variable with the number of users of
// BenchmarkSweepNoneDue (default 100000).
const EnvBenchUsers = "KCRED_BENCH_USERS"

// FillSweep fills s with a project of 10 services and users service users,
// none of whose current certificates expires before now+91d, and returns
// now. Every tenth user has an older generation and a renewal: one in ten
// of those open, its next action after now and its old certificate
// expiring within 90 days; the others closed, their old certificate
// expired. An index on every certificate's not_after would walk past those
// old generations; the sweeps must not.
func FillSweep(tb testing.TB, s kcred.Store, users int, bulk BulkInsert) time.Time {
	tb.Helper()
	ctx := context.Background()
	now := kcred.UTC(base)
	if err := s.CreateProject(ctx, &kcred.Project{Name: "sweep", CreateTime: now}); err != nil {
		tb.Fatal(err)
	}
	services := make([]*kcred.Service, 10)
	for i := range services {
		services[i] = &kcred.Service{ID: kcred.NewID(), Project: "sweep", Name: fmt.Sprintf("kafka-%d", i),
			Type: kcred.ServiceTypeKafka, CreateTime: now, UpdateTime: now}
		if err := s.CreateService(ctx, services[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if bulk == nil {
		bulk = insertThroughQueries
	}
	const chunk = 5000
	pem, key := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", randomBytes(32)
	for start := 0; start < users; start += chunk {
		b := &Bulk{}
		cert := func(u *kcred.ServiceUser, gen int, notAfter time.Time, current bool) *kcred.Certificate {
			c := &kcred.Certificate{ID: kcred.NewID(), UserID: u.ID, Generation: gen,
				Serial: fmt.Sprintf("%032x", randomBytes(16)), Subject: "CN=" + u.Username, KeyType: kcred.KeyTypeECP256,
				NotBefore: notAfter.Add(-820 * day), NotAfter: notAfter, CertPEM: pem, SealedKey: key,
				Reason: kcred.ReasonCreate, CAGeneration: 1, CreateTime: notAfter.Add(-820 * day)}
			b.Certs, b.Current = append(b.Certs, c), append(b.Current, current)
			return c
		}
		for i := start; i < min(start+chunk, users); i++ {
			u := &kcred.ServiceUser{ID: kcred.NewID(), ServiceID: services[i%len(services)].ID,
				Username: fmt.Sprintf("user-%d", i), Type: kcred.UserTypeNormal, SealedPassword: key, CreateTime: now}
			b.Users = append(b.Users, u)
			notAfter := now.Add(91*day + time.Duration(i%729)*day + time.Duration(i)*time.Millisecond)
			if i%10 != 0 {
				cert(u, 1, notAfter, true)
				continue
			}
			r := &kcred.Renewal{ID: kcred.NewID(), UserID: u.ID}
			var old *kcred.Certificate
			if i%100 == 0 {
				old = cert(u, 1, now.Add(10*day+time.Duration(i)*time.Millisecond), false)
				r.NextActionAt = now.Add(time.Hour + time.Duration(i)*time.Millisecond)
			} else {
				old = cert(u, 1, now.Add(-time.Hour-time.Duration(i)*time.Millisecond), false)
				r.ClosedAt = old.NotAfter
			}
			new := cert(u, 2, notAfter, true)
			r.OldCertID, r.NewCertID, r.OldNotAfter, r.CreateTime = old.ID, new.ID, old.NotAfter, now.Add(-day)
			b.Renewals = append(b.Renewals, r)
		}
		if err := bulk(ctx, s, b); err != nil {
			tb.Fatal(err)
		}
	}
	return now
}

// insertThroughQueries is the BulkInsert of the Queries methods.
func insertThroughQueries(ctx context.Context, s kcred.Store, b *Bulk) error {
	return s.InTx(ctx, func(q kcred.Queries) error {
		for _, u := range b.Users {
			if err := q.CreateServiceUser(ctx, u); err != nil {
				return err
			}
		}
		for _, c := range b.Certs { // generations in order
			if err := q.CreateCertificate(ctx, c); err != nil {
				return err
			}
		}
		for _, r := range b.Renewals {
			if err := q.CreateRenewal(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkSweepNoneDue measures the two queries of a renewal sweep that
// finds nothing to do, ListRenewalCandidates(now+90d, 1000) and
// ListDueRenewals(now, 1000), over $KCRED_BENCH_USERS users (FillSweep).
// Their cost must not grow with the number of users. The users are made
// once with bulk; the measurement is the sub-benchmark users=N.
func BenchmarkSweepNoneDue(b *testing.B, s kcred.Store, bulk BulkInsert) {
	users := 100000
	if v := os.Getenv(EnvBenchUsers); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			b.Fatalf("%s=%q: want a number of users, at least 100", EnvBenchUsers, v)
		}
		users = n
	}
	ctx := context.Background()
	r := rq(b, s)
	start := time.Now()
	now := FillSweep(b, s, users, bulk)
	b.Logf("made %d users in %v", users, time.Since(start).Round(time.Millisecond))
	horizon := now.Add(90 * day)

	// The data is there, and none of it is due.
	if c, err := r.ListRenewalCandidates(ctx, now.Add(1000*day), kcred.CandidateKey{}, 10); err != nil || len(c) != 10 {
		b.Fatalf("ListRenewalCandidates over all = %d, %v; want 10", len(c), err)
	}
	open := min(10, (users+99)/100)
	if d, err := r.ListDueRenewals(ctx, now.Add(1000*day), 10); err != nil || len(d) != open {
		b.Fatalf("ListDueRenewals over all = %d, %v; want %d", len(d), err, open)
	}
	b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
		for b.Loop() {
			c, err := r.ListRenewalCandidates(ctx, horizon, kcred.CandidateKey{}, 1000)
			if err != nil || len(c) != 0 {
				b.Fatalf("ListRenewalCandidates = %d, %v; want none", len(c), err)
			}
			d, err := r.ListDueRenewals(ctx, now, 1000)
			if err != nil || len(d) != 0 {
				b.Fatalf("ListDueRenewals = %d, %v; want none", len(d), err)
			}
		}
	})
}

// BenchmarkCreateRenewals measures writing renewals as a sweep does, 512
// users per transaction, with CreateRenewals (batch) and with the
// single-row methods (one-by-one), and a sweep's whole work in the store
// (sweep): ListRenewalCandidates of 512, then CreateRenewals of them. Each
// op renews the next 512 of b.N*512 users made first with bulk (a
// realistic ~700-byte PEM and 250-byte sealed key each), as a sweep of that
// many due users would. Next to the time it reports the CPU time of the
// process (of this process only: not a PostgreSQL server's), which other
// load on the machine disturbs less.
func BenchmarkCreateRenewals(b *testing.B, s kcred.Store, bulk BulkInsert) {
	if bulk == nil {
		bulk = insertThroughQueries
	}
	ctx := context.Background()
	sv := benchService(b, s)
	const perTx = 512 // a sweep's batch
	made := 0
	// users makes n users with a first generation and returns their renewals.
	users := func(b *testing.B, n int) []*kcred.RenewalWrite {
		var out []*kcred.RenewalWrite
		for len(out) < n {
			blk := &Bulk{}
			for range min(5000, n-len(out)) {
				u := newUser(sv.ID, fmt.Sprintf("user-%d", made))
				made++
				old := newCert(u.ID, 1)
				blk.Users, blk.Certs, blk.Current = append(blk.Users, u), append(blk.Certs, old), append(blk.Current, true)
				w := renewalWrite(sv, u, old, 2)
				w.Certificate.RenewAt = w.Certificate.NotAfter // base+12d
				out = append(out, w)
			}
			if err := bulk(ctx, s, blk); err != nil {
				b.Fatal(err)
			}
		}
		return out
	}
	for _, name := range []string{"batch", "one-by-one", "sweep"} {
		b.Run(name, func(b *testing.B) {
			all := users(b, b.N*perTx)
			byUser := make(map[string]*kcred.RenewalWrite, len(all))
			for _, w := range all {
				byUser[w.Certificate.UserID] = w
			}
			var cpu time.Duration
			b.ResetTimer()
			for i := range b.N {
				writes := all[i*perTx : (i+1)*perTx]
				cpu -= processCPU()
				var err error
				if name == "sweep" {
					// The first generations are due from base+11d, and
					// the new ones (of every sub-benchmark) after it, as
					// in a sweep: the candidates are the next 512 of all.
					var due []*kcred.DueCertificate
					due, err = rq(b, s).ListRenewalCandidates(ctx, base.Add(11*day), kcred.CandidateKey{}, perTx)
					writes = writes[:0:0]
					for _, d := range due {
						writes = append(writes, byUser[d.User.ID])
					}
					if err == nil && len(writes) != perTx {
						err = fmt.Errorf("%d candidates, want %d", len(writes), perTx)
					}
				}
				switch {
				case err != nil:
				case name != "one-by-one":
					var written []bool
					written, err = rq(b, s).CreateRenewals(ctx, writes)
					if err == nil && !written[perTx-1] {
						err = fmt.Errorf("not written")
					}
				default:
					err = s.InTx(ctx, func(q kcred.Queries) error {
						for _, w := range writes {
							if err := q.CreateCertificate(ctx, w.Certificate); err != nil {
								return err
							}
							if err := q.CreateRenewal(ctx, w.Renewal); err != nil {
								return err
							}
							if err := rq(b, q).CreateNotice(ctx, w.Notice); err != nil {
								return err
							}
							if err := q.CreateEvent(ctx, w.Event); err != nil {
								return err
							}
						}
						return nil
					})
				}
				cpu += processCPU()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*perTx), "µs/renewal")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*perTx), "cpu-µs/renewal")
		})
	}
}

// processCPU returns the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
