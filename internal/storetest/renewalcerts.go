package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// testRenewalCertificates checks what replaced the foreign keys from
// renewals to certificates (migration 00003): CreateRenewal and
// CreateRenewals write a renewal only when its certificates are its
// user's, and say ENOTFOUND otherwise, so that a renewal never names a
// certificate that the cascade from its user would not delete with it.
func testRenewalCertificates(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	must := func(what string, err error) { t.Helper(); noErr(t, what, err) }
	must("CreateProject", s.CreateProject(ctx, &kcred.Project{Name: "proj", CreateTime: at}))
	sv := &kcred.Service{ID: kcred.NewID(), Project: "proj", Name: "kafka", Type: kcred.ServiceTypeKafka,
		CreateTime: at, UpdateTime: at}
	must("CreateService", s.CreateService(ctx, sv))
	user := func(name string) *kcred.ServiceUser {
		u := &kcred.ServiceUser{ID: kcred.NewID(), ServiceID: sv.ID, Username: name, Type: kcred.UserTypeNormal,
			SealedPassword: []byte{0}, CreateTime: at}
		must("CreateServiceUser", s.CreateServiceUser(ctx, u))
		return u
	}
	newCert := func(u *kcred.ServiceUser, gen int) *kcred.Certificate {
		return &kcred.Certificate{ID: kcred.NewID(), UserID: u.ID, Generation: gen, Serial: fmt.Sprint(gen),
			KeyType: kcred.KeyTypeECP256, NotBefore: at, NotAfter: at.AddDate(gen, 0, 0), CertPEM: "pem",
			SealedKey: []byte{0}, Reason: kcred.ReasonCreate, CAGeneration: 1, CreateTime: at}
	}
	cert := func(u *kcred.ServiceUser, gen int) *kcred.Certificate {
		c := newCert(u, gen)
		must("CreateCertificate", s.CreateCertificate(ctx, c))
		return c
	}
	renewal := func(userID, oldID, newID string) *kcred.Renewal {
		return &kcred.Renewal{ID: kcred.NewID(), UserID: userID, OldCertID: oldID, NewCertID: newID,
			OldNotAfter: at.AddDate(1, 0, 0), CreateTime: at}
	}
	ann, bob := user("ann"), user("bob")
	a1, a2, b1 := cert(ann, 1), cert(ann, 2), cert(bob, 1)

	for _, tt := range []struct {
		name string
		r    *kcred.Renewal
	}{
		{"MissingOld", renewal(ann.ID, kcred.NewID(), a2.ID)},
		{"MissingNew", renewal(ann.ID, a1.ID, kcred.NewID())},
		{"OldOfAnotherUser", renewal(ann.ID, b1.ID, a2.ID)},
		{"NewOfAnotherUser", renewal(ann.ID, a1.ID, b1.ID)},
		{"MissingUser", renewal(kcred.NewID(), a1.ID, a2.ID)},
	} {
		wantCode(t, "CreateRenewal, "+tt.name, s.CreateRenewal(ctx, tt.r), kcred.ENOTFOUND)
	}
	_, err := s.FindOpenRenewal(ctx, ann.ID)
	wantCode(t, "FindOpenRenewal after the refused renewals", err, kcred.ENOTFOUND)
	must("CreateRenewal", s.CreateRenewal(ctx, renewal(ann.ID, a1.ID, a2.ID)))
	// A conflict is still told apart from a missing certificate.
	wantCode(t, "CreateRenewal while one is open", s.CreateRenewal(ctx, renewal(ann.ID, a1.ID, a2.ID)), kcred.ECONFLICT)

	// CreateRenewals writes the new certificate itself; the old one must
	// be the user's.
	write := func(u *kcred.ServiceUser, oldID string) *kcred.RenewalWrite {
		c := newCert(u, 2)
		return &kcred.RenewalWrite{
			Certificate: c,
			Renewal:     renewal(u.ID, oldID, c.ID),
			Notice: &kcred.Notice{ID: kcred.NewID(), Project: "proj", ServiceID: sv.ID, ServiceName: sv.Name,
				UserID: u.ID, Username: u.Username, Kind: kcred.KindRenewed, CreateTime: at},
			Event: &kcred.Event{ID: kcred.NewID(), Time: at, Actor: "kcred", Action: kcred.ActionRenewal,
				Project: "proj", Service: sv.Name, Target: u.Username},
		}
	}
	for name, oldID := range map[string]string{"MissingOld": kcred.NewID(), "OldOfAnotherUser": a1.ID} {
		_, err := s.CreateRenewals(ctx, []*kcred.RenewalWrite{write(bob, oldID)})
		wantCode(t, "CreateRenewals, "+name, err, kcred.ENOTFOUND)
		certs, err := s.ListCertificates(ctx, bob.ID)
		must("ListCertificates", err)
		if len(certs) != 1 {
			t.Fatalf("CreateRenewals, %s: bob has %d certificates, want the 1 he had", name, len(certs))
		}
	}
	written, err := s.CreateRenewals(ctx, []*kcred.RenewalWrite{write(bob, b1.ID)})
	must("CreateRenewals", err)
	if !written[0] {
		t.Fatal("CreateRenewals did not write bob's renewal")
	}
	r, err := s.FindOpenRenewal(ctx, bob.ID)
	must("FindOpenRenewal", err)
	if r.OldCertID != b1.ID {
		t.Fatalf("bob's renewal is from %s, want %s", r.OldCertID, b1.ID)
	}
}
