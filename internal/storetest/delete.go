package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// tree is a project with everything that can be in it.
type tree struct {
	project  *kcred.Project
	admin    *kcred.Account
	ca       *kcred.CA
	services []*kcred.Service
	users    []*kcred.ServiceUser // two per service
	renewed  *kcred.ServiceUser   // users[0], with an open renewal
	certs    []*kcred.Certificate
	events   []*kcred.Event

	pending      *kcred.Notice       // a pending notice
	notification *kcred.Notification // with a digested notice and three deliveries
	webhook      *kcred.Webhook
}

func makeTree(t *testing.T, q kcred.Queries, name string) *tree {
	t.Helper()
	ctx := t.Context()
	fx := f{t, q}
	tr := &tree{project: fx.project(name), admin: fx.account("admin@" + name + ".example")}
	tr.ca = &kcred.CA{ID: kcred.NewID(), Project: name, Generation: 1, CertPEM: fakePEM("CERTIFICATE", 600),
		SealedKey: randomBytes(100), NotAfter: base.Add(3650 * day), CreateTime: base}
	noErr(t, "CreateCA", q.CreateCA(ctx, tr.ca))
	noErr(t, "PutMember", q.PutMember(ctx, &kcred.Member{Project: name, AccountID: tr.admin.ID, Role: kcred.RoleAdmin, CreateTime: base}))
	for _, sn := range []string{"kafka-1", "kafka-2"} {
		sv := fx.service(name, sn)
		tr.services = append(tr.services, sv)
		for _, un := range []string{"alice", "bob"} {
			u := fx.user(sv.ID, un)
			tr.users = append(tr.users, u)
			tr.certs = append(tr.certs, fx.cert(u.ID, 1))
		}
	}
	tr.renewed = tr.users[0]
	c2 := fx.cert(tr.renewed.ID, 2)
	fx.renewal(tr.certs[0], c2)
	tr.certs = append(tr.certs, c2)
	for i := range 3 {
		tr.events = append(tr.events, fx.event(name, base.Add(time.Duration(i)*time.Second), kcred.ActionUserCreate))
	}
	r := rq(t, q)
	tr.pending = fx.notice(name, "alice", base)
	digested := fx.notice(name, "bob", base)
	tr.notification = newNotification(name, base)
	noErr(t, "CreateNotification", r.CreateNotification(ctx, tr.notification, []string{digested.ID}))
	tr.webhook = newWebhook(name, base)
	noErr(t, "CreateWebhook", r.CreateWebhook(ctx, tr.webhook))
	return tr
}

// usersGone checks that nothing of users is left.
func (tr *tree) usersGone(t *testing.T, s kcred.Store, users []*kcred.ServiceUser) {
	t.Helper()
	ctx := t.Context()
	for _, u := range users {
		_, err := s.FindServiceUser(ctx, u.ServiceID, u.Username)
		wantCode(t, "FindServiceUser of a deleted user", err, kcred.ENOTFOUND)
		_, err = s.FindCredentials(ctx, u.ServiceID, u.Username)
		wantCode(t, "FindCredentials of a deleted user", err, kcred.ENOTFOUND)
		certs, err := s.ListCertificates(ctx, u.ID)
		noErr(t, "ListCertificates", err)
		if len(certs) != 0 {
			t.Fatalf("user %s still has %d certificates", u.Username, len(certs))
		}
		_, err = s.FindOpenRenewal(ctx, u.ID)
		wantCode(t, "FindOpenRenewal of a deleted user", err, kcred.ENOTFOUND)
	}
}

// intact checks that the whole tree is still there.
func (tr *tree) intact(t *testing.T, s kcred.Store) {
	t.Helper()
	ctx := t.Context()
	name := tr.project.Name
	_, err := s.FindProject(ctx, name)
	noErr(t, "FindProject of the untouched project", err)
	cas, err := s.ListCAs(ctx, name)
	noErr(t, "ListCAs", err)
	members, err := s.ListMembers(ctx, name)
	noErr(t, "ListMembers", err)
	services, err := s.ListServices(ctx, name)
	noErr(t, "ListServices", err)
	events, err := s.ListEvents(ctx, name, 100)
	noErr(t, "ListEvents", err)
	if len(cas) != 1 || len(members) != 1 || len(services) != len(tr.services) || len(events) != len(tr.events) {
		t.Fatalf("project %s has %d CAs, %d members, %d services, %d events; want 1, 1, %d, %d",
			name, len(cas), len(members), len(services), len(events), len(tr.services), len(tr.events))
	}
	for _, u := range tr.users {
		c, err := s.FindCredentials(ctx, u.ServiceID, u.Username)
		noErr(t, "FindCredentials in the untouched project", err)
		if (u.ID == tr.renewed.ID) != (c.Renewal != nil) || c.Current.ID == "" {
			t.Fatalf("credentials of %s in %s changed: %s", u.Username, name, show(c))
		}
	}
	r := rq(t, s)
	equal(t, "pending notices of the untouched project", pendingIDs(t, r, name), []string{tr.pending.ID})
	n, err := r.FindNotification(ctx, tr.notification.ID)
	noErr(t, "FindNotification in the untouched project", err)
	if len(n.Deliveries) != len(tr.notification.Deliveries) {
		t.Fatalf("notification of %s lost deliveries: %s", name, show(n))
	}
	_, err = r.FindWebhook(ctx, tr.webhook.ID)
	noErr(t, "FindWebhook in the untouched project", err)
	open, err := r.ListOpenRenewals(ctx, name)
	noErr(t, "ListOpenRenewals", err)
	if len(open) != 1 || open[0].UserID != tr.renewed.ID {
		t.Fatalf("open renewals of %s changed: %s", name, show(open))
	}
}

// outboxGone checks that nothing of the notices, notifications, deliveries
// and webhooks of project is left.
func (tr *tree) outboxGone(t *testing.T, s kcred.Store) {
	t.Helper()
	ctx := t.Context()
	r := rq(t, s)
	name := tr.project.Name
	equal(t, "pending notices of the deleted project", pendingIDs(t, r, name), []string{})
	_, err := r.FindNotification(ctx, tr.notification.ID)
	wantCode(t, "FindNotification of the deleted project", err, kcred.ENOTFOUND)
	notifications, err := r.ListNotifications(ctx, name, 100)
	noErr(t, "ListNotifications", err)
	due, err := r.ListDueDeliveries(ctx, base.Add(1000*day), 1000)
	noErr(t, "ListDueDeliveries", err)
	for _, d := range due {
		if d.Project == name {
			t.Fatalf("the deleted project left delivery %s", show(d))
		}
	}
	_, err = r.FindWebhook(ctx, tr.webhook.ID)
	wantCode(t, "FindWebhook of the deleted project", err, kcred.ENOTFOUND)
	webhooks, err := r.ListWebhooks(ctx, name)
	noErr(t, "ListWebhooks", err)
	open, err := r.ListOpenRenewals(ctx, name)
	noErr(t, "ListOpenRenewals", err)
	if len(notifications)+len(webhooks)+len(open) != 0 {
		t.Fatalf("the deleted project left %d notifications, %d webhooks, %d open renewals",
			len(notifications), len(webhooks), len(open))
	}
}

func testDeleteProject(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	doomed := makeTree(t, s, "doomed")
	kept := makeTree(t, s, "kept")

	noErr(t, "DeleteProject", s.DeleteProject(ctx, "doomed"))

	_, err := s.FindProject(ctx, "doomed")
	wantCode(t, "FindProject after delete", err, kcred.ENOTFOUND)
	cas, err := s.ListCAs(ctx, "doomed")
	noErr(t, "ListCAs", err)
	members, err := s.ListMembers(ctx, "doomed")
	noErr(t, "ListMembers", err)
	services, err := s.ListServices(ctx, "doomed")
	noErr(t, "ListServices", err)
	events, err := s.ListEvents(ctx, "doomed", 100)
	noErr(t, "ListEvents", err)
	if len(cas)+len(members)+len(services)+len(events) != 0 {
		t.Fatalf("deleted project left %d CAs, %d members, %d services, %d events", len(cas), len(members), len(services), len(events))
	}
	_, err = s.FindMember(ctx, "doomed", doomed.admin.ID)
	wantCode(t, "FindMember after delete", err, kcred.ENOTFOUND)
	for _, sv := range doomed.services {
		_, err = s.FindService(ctx, "doomed", sv.Name)
		wantCode(t, "FindService after delete", err, kcred.ENOTFOUND)
	}
	doomed.usersGone(t, s, doomed.users)
	doomed.outboxGone(t, s)

	// Accounts are not in a project.
	_, err = s.FindAccountByID(ctx, doomed.admin.ID)
	noErr(t, "FindAccountByID of the deleted project's admin", err)
	projects, err := s.ListProjectsByMember(ctx, doomed.admin.ID)
	noErr(t, "ListProjectsByMember", err)
	if len(projects) != 0 {
		t.Fatalf("ListProjectsByMember after delete = %s", show(projects))
	}

	kept.intact(t, s)

	// The name is free again, with nothing of the old project in it.
	noErr(t, "CreateProject", s.CreateProject(ctx, &kcred.Project{Name: "doomed", CreateTime: base}))
	events, err = s.ListEvents(ctx, "doomed", 100)
	noErr(t, "ListEvents", err)
	services, err = s.ListServices(ctx, "doomed")
	noErr(t, "ListServices", err)
	if len(events)+len(services) != 0 {
		t.Fatalf("recreated project has %d events, %d services", len(events), len(services))
	}
	doomed.outboxGone(t, s)
}

func testDeleteService(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	tr := makeTree(t, s, "proj")
	kept := makeTree(t, s, "kept")
	doomed := tr.services[0]
	noErr(t, "DeleteService", s.DeleteService(ctx, doomed.ID))

	var gone, left []*kcred.ServiceUser
	for _, u := range tr.users {
		if u.ServiceID == doomed.ID {
			gone = append(gone, u)
		} else {
			left = append(left, u)
		}
	}
	tr.usersGone(t, s, gone)
	for _, u := range left {
		_, err := s.FindCredentials(ctx, u.ServiceID, u.Username)
		noErr(t, "FindCredentials in the other service", err)
	}
	services, err := s.ListServices(ctx, "proj")
	noErr(t, "ListServices", err)
	if len(services) != 1 || services[0].ID != tr.services[1].ID {
		t.Fatalf("ListServices after delete = %s", show(services))
	}
	// The project, its CA, members and events stay.
	events, err := s.ListEvents(ctx, "proj", 100)
	noErr(t, "ListEvents", err)
	if len(events) != len(tr.events) {
		t.Fatalf("DeleteService removed events: %d left of %d", len(events), len(tr.events))
	}
	kept.intact(t, s)
}

func testDeleteServiceUser(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	tr := makeTree(t, s, "proj")
	noErr(t, "DeleteServiceUser", s.DeleteServiceUser(ctx, tr.renewed.ID))
	tr.usersGone(t, s, []*kcred.ServiceUser{tr.renewed})
	for _, u := range tr.users[1:] {
		_, err := s.FindCredentials(ctx, u.ServiceID, u.Username)
		noErr(t, "FindCredentials of another user", err)
	}
	// The username is free again and starts without history.
	fx := f{t, s}
	u := fx.user(tr.renewed.ServiceID, tr.renewed.Username)
	c := fx.cert(u.ID, 1)
	got, err := s.FindCredentials(ctx, u.ServiceID, u.Username)
	noErr(t, "FindCredentials", err)
	equal(t, "credentials of the recreated user", got, &kcred.Credentials{User: *storedUser(*u), Current: *storedCert(*c)})
}

// testDeleteRacesWrites deletes service users, and a project, while other
// goroutines write what hangs off them: certificates, renewals one by one
// and in a batch, and notices. Whichever comes first, nothing is left of a
// deleted parent: a write that came first goes with it, a write that came
// second finds no parent (ENOTFOUND) or nothing to do.
func testDeleteRacesWrites(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	r := rq(t, s)
	const rounds = 30
	for i := range rounds {
		project := fmt.Sprintf("race-%d", i)
		fx.project(project)
		sv := fx.service(project, "kafka")
		var users []*kcred.ServiceUser
		var olds []*kcred.Certificate
		for j := range 4 {
			u := fx.user(sv.ID, fmt.Sprintf("u%d", j))
			users, olds = append(users, u), append(olds, fx.cert(u.ID, 1))
		}
		// Each user's next generation, written in one of three ways.
		writes := make([]*kcred.RenewalWrite, len(users))
		for j, u := range users {
			writes[j] = renewalWrite(sv, u, olds[j], 2)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		run := func(fn func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil && kcred.ErrorCode(err) != kcred.ENOTFOUND {
					errs <- err
				}
			}()
		}
		run(func() error { return s.CreateCertificate(ctx, writes[0].Certificate) })
		// users[1]'s new generation is there already: the renewal alone,
		// which locks nothing else.
		c2 := fx.cert(users[1].ID, 2)
		run(func() error {
			return s.CreateRenewal(ctx, &kcred.Renewal{ID: kcred.NewID(), UserID: users[1].ID, OldCertID: olds[1].ID,
				NewCertID: c2.ID, OldNotAfter: olds[1].NotAfter, CreateTime: c2.CreateTime})
		})
		run(func() error { _, err := r.CreateRenewals(ctx, writes[2:]); return err })
		run(func() error { return r.CreateNotice(ctx, writes[0].Notice) })
		for _, u := range users {
			run(func() error { return s.DeleteServiceUser(ctx, u.ID) })
		}
		if i%2 == 1 {
			run(func() error { return s.DeleteProject(ctx, project) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", i, err)
		}
		for _, u := range users {
			certs, err := s.ListCertificates(ctx, u.ID)
			noErr(t, "ListCertificates", err)
			if len(certs) != 0 {
				t.Fatalf("round %d: %d certificates of deleted user %s are left", i, len(certs), u.Username)
			}
			_, err = s.FindOpenRenewal(ctx, u.ID)
			wantCode(t, "FindOpenRenewal of a deleted user", err, kcred.ENOTFOUND)
		}
		if i%2 == 1 {
			if ids := pendingIDs(t, r, project); len(ids) != 0 {
				t.Fatalf("round %d: %d notices of deleted project are left", i, len(ids))
			}
		}
	}
}
