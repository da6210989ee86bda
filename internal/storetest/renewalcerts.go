package storetest

import (
	"testing"

	"github.com/kcred/kcred"
)

// testRenewalCertificates checks what replaced the foreign keys from
// renewals to certificates (migration 00003): CreateRenewal and
// CreateRenewals write a renewal only when its certificates are its
// user's, and say ENOTFOUND otherwise, so that a renewal never names a
// certificate that the cascade from its user would not delete with it.
func testRenewalCertificates(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	fx := f{t, s}
	fx.project("proj")
	sv := fx.service("proj", "kafka")
	ann, bob := fx.user(sv.ID, "ann"), fx.user(sv.ID, "bob")
	a1, a2, b1 := fx.cert(ann.ID, 1), fx.cert(ann.ID, 2), fx.cert(bob.ID, 1)
	renewal := func(userID, oldID, newID string) *kcred.Renewal {
		return &kcred.Renewal{ID: kcred.NewID(), UserID: userID, OldCertID: oldID, NewCertID: newID,
			OldNotAfter: a1.NotAfter, CreateTime: a2.CreateTime}
	}

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
	fx.renewal(a1, a2)
	// A conflict is still told apart from a missing certificate.
	wantCode(t, "CreateRenewal while one is open", s.CreateRenewal(ctx, renewal(ann.ID, a1.ID, a2.ID)), kcred.ECONFLICT)

	// CreateRenewals writes the new certificate itself; the old one must
	// be the user's.
	r := rq(t, s)
	for name, old := range map[string]*kcred.Certificate{"MissingOld": newCert(bob.ID, 1), "OldOfAnotherUser": a1} {
		_, err := r.CreateRenewals(ctx, []*kcred.RenewalWrite{renewalWrite(sv, bob, old, 2)})
		wantCode(t, "CreateRenewals, "+name, err, kcred.ENOTFOUND)
		certs, err := s.ListCertificates(ctx, bob.ID)
		noErr(t, "ListCertificates", err)
		if len(certs) != 1 {
			t.Fatalf("CreateRenewals, %s: bob has %d certificates, want the 1 he had", name, len(certs))
		}
	}
	written, err := r.CreateRenewals(ctx, []*kcred.RenewalWrite{renewalWrite(sv, bob, b1, 2)})
	noErr(t, "CreateRenewals", err)
	if !written[0] {
		t.Fatal("CreateRenewals did not write bob's renewal")
	}
	open, err := s.FindOpenRenewal(ctx, bob.ID)
	noErr(t, "FindOpenRenewal", err)
	if open.OldCertID != b1.ID {
		t.Fatalf("bob's renewal is from %s, want %s", open.OldCertID, b1.ID)
	}
}
