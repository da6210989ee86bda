package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/kcred/kcred"
)

func testInTx(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	sv := fx.service("proj", "kafka")

	// createUser is what creating a service user does: user, certificate
	// and event in one transaction.
	createUser := func(q kcred.Queries, username string) (*kcred.ServiceUser, *kcred.Certificate) {
		t.Helper()
		u := newUser(sv.ID, username)
		noErr(t, "CreateServiceUser", q.CreateServiceUser(ctx, u))
		c := newCert(u.ID, 1)
		noErr(t, "CreateCertificate", q.CreateCertificate(ctx, c))
		noErr(t, "CreateEvent", q.CreateEvent(ctx, &kcred.Event{ID: kcred.NewID(), Time: base, Actor: "a@example.com",
			Action: kcred.ActionUserCreate, Project: "proj", Service: "kafka", Target: username}))
		return u, c
	}
	events := func() int {
		t.Helper()
		list, err := s.ListEvents(ctx, "proj", 1000)
		noErr(t, "ListEvents", err)
		return len(list)
	}

	t.Run("Commit", func(t *testing.T) {
		var u *kcred.ServiceUser
		var c *kcred.Certificate
		err := s.InTx(ctx, func(q kcred.Queries) error {
			u, c = createUser(q, "alice")
			// The transaction reads what it wrote.
			got, err := q.FindCredentials(ctx, sv.ID, "alice")
			noErr(t, "FindCredentials in the transaction", err)
			equal(t, "credentials in the transaction", got, &kcred.Credentials{User: *storedUser(*u), Current: *storedCert(*c)})
			return nil
		})
		noErr(t, "InTx", err)
		got, err := s.FindCredentials(ctx, sv.ID, "alice")
		noErr(t, "FindCredentials after commit", err)
		equal(t, "credentials after commit", got, &kcred.Credentials{User: *storedUser(*u), Current: *storedCert(*c)})
		if n := events(); n != 1 {
			t.Fatalf("%d events after commit, want 1", n)
		}
	})

	t.Run("RollbackOnError", func(t *testing.T) {
		errBoom := errors.New("boom")
		err := s.InTx(ctx, func(q kcred.Queries) error {
			createUser(q, "bob")
			noErr(t, "CreateProject", q.CreateProject(ctx, &kcred.Project{Name: "ghost", CreateTime: base}))
			return errBoom
		})
		if err != errBoom {
			t.Fatalf("InTx returned %v, want fn's error as it is", err)
		}
		_, err = s.FindServiceUser(ctx, sv.ID, "bob")
		wantCode(t, "FindServiceUser after rollback", err, kcred.ENOTFOUND)
		_, err = s.FindProject(ctx, "ghost")
		wantCode(t, "FindProject after rollback", err, kcred.ENOTFOUND)
		if n := events(); n != 1 {
			t.Fatalf("%d events after rollback, want 1", n)
		}
	})

	t.Run("RollbackOnConflict", func(t *testing.T) {
		// A conflict inside the transaction is returned with its code and
		// undoes what came before it.
		err := s.InTx(ctx, func(q kcred.Queries) error {
			createUser(q, "carol")
			return q.CreateServiceUser(ctx, newUser(sv.ID, "alice"))
		})
		wantCode(t, "InTx with a conflict", err, kcred.ECONFLICT)
		_, err = s.FindServiceUser(ctx, sv.ID, "carol")
		wantCode(t, "FindServiceUser after rollback", err, kcred.ENOTFOUND)
	})

	t.Run("RollbackOnPanic", func(t *testing.T) {
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v, want the panic of fn", r)
				}
			}()
			s.InTx(ctx, func(q kcred.Queries) error {
				createUser(q, "dave")
				panic("boom")
			})
		}()
		_, err := s.FindServiceUser(ctx, sv.ID, "dave")
		wantCode(t, "FindServiceUser after panic", err, kcred.ENOTFOUND)
		// The store still works, for transactions too.
		noErr(t, "InTx after panic", s.InTx(ctx, func(q kcred.Queries) error {
			createUser(q, "dave")
			return nil
		}))
		_, err = s.FindServiceUser(ctx, sv.ID, "dave")
		noErr(t, "FindServiceUser", err)
	})
}

// testConcurrentRenewal opens a renewal of the same user from 8 goroutines
// at once, as several replicas' sweeps would: exactly one wins.
func testConcurrentRenewal(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	sv := fx.service("proj", "kafka")

	for _, inTx := range []bool{false, true} {
		for round := range 3 {
			t.Run(fmt.Sprintf("InTx=%v/%d", inTx, round), func(t *testing.T) {
				u := fx.user(sv.ID, fmt.Sprintf("user-%v-%d", inTx, round))
				c1 := fx.cert(u.ID, 1)
				const n = 8
				start := make(chan struct{})
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						<-start
						create := func(q kcred.Queries) error {
							// Each sweep made its own new certificate first.
							c := newCert(u.ID, 2+i)
							if err := q.CreateCertificate(ctx, c); err != nil {
								return err
							}
							return q.CreateRenewal(ctx, &kcred.Renewal{ID: kcred.NewID(), UserID: u.ID, OldCertID: c1.ID,
								NewCertID: c.ID, OldNotAfter: c1.NotAfter, CreateTime: c.CreateTime})
						}
						if inTx {
							errs[i] = s.InTx(ctx, create)
						} else {
							errs[i] = create(s)
						}
					})
				}
				close(start)
				wg.Wait()
				won := 0
				for _, err := range errs {
					switch kcred.ErrorCode(err) {
					case "":
						won++
					case kcred.ECONFLICT:
					default:
						t.Errorf("CreateRenewal: %v, want success or ECONFLICT", err)
					}
				}
				if won != 1 {
					t.Fatalf("%d of %d concurrent CreateRenewal succeeded, want exactly 1", won, n)
				}
				if _, err := s.FindOpenRenewal(ctx, u.ID); err != nil {
					t.Fatalf("FindOpenRenewal: %v", err)
				}
				if inTx {
					// The losers' certificates were rolled back with them.
					certs, err := s.ListCertificates(ctx, u.ID)
					noErr(t, "ListCertificates", err)
					if len(certs) != 2 {
						t.Fatalf("%d certificates after the race, want 2 (losers roll back)", len(certs))
					}
				}
			})
		}
	}
}

// testConcurrentWrites runs transactions from several goroutines while
// others read: none may fail (no SQLITE_BUSY, no lost writes).
func testConcurrentWrites(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	sv := fx.service("proj", "kafka")

	const writers, perWriter, readers = 8, 15, 4
	var wg sync.WaitGroup
	errc := make(chan error, writers*perWriter+readers)
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				err := s.InTx(ctx, func(q kcred.Queries) error {
					u := newUser(sv.ID, fmt.Sprintf("u-%d-%d", w, i))
					if err := q.CreateServiceUser(ctx, u); err != nil {
						return err
					}
					if err := q.CreateCertificate(ctx, newCert(u.ID, 1)); err != nil {
						return err
					}
					return q.CreateEvent(ctx, &kcred.Event{ID: kcred.NewID(), Time: base, Action: kcred.ActionUserCreate,
						Project: "proj", Service: "kafka", Target: u.Username})
				})
				if err != nil {
					errc <- err
				}
			}
		})
	}
	var rg sync.WaitGroup
	for r := range readers {
		rg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				_, err := s.FindCredentials(ctx, sv.ID, fmt.Sprintf("u-%d-%d", r, i%perWriter))
				if err != nil && kcred.ErrorCode(err) != kcred.ENOTFOUND {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("concurrent use: %v", err)
	}
	list, err := s.ListCredentials(ctx, sv.ID)
	noErr(t, "ListCredentials", err)
	if len(list) != writers*perWriter {
		t.Fatalf("ListCredentials has %d users, want %d", len(list), writers*perWriter)
	}
}
