package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

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
