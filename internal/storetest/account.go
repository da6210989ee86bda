package storetest

import (
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func testPing(t *testing.T, s kcred.Store) {
	noErr(t, "Ping", s.Ping(t.Context()))
}

func testAccounts(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	n, err := s.CountAccounts(ctx)
	noErr(t, "CountAccounts", err)
	if n != 0 {
		t.Fatalf("CountAccounts of an empty store = %d", n)
	}

	accounts := []*kcred.Account{
		{ID: kcred.NewID(), Email: "admin@kcred.local", RealName: "Admin", PasswordHash: "$2a$10$hash",
			Superuser: true, CreateTime: base},
		{ID: kcred.NewID(), Email: "robot@example.com", CreateTime: base.Add(time.Nanosecond)}, // token-only
	}
	var want []*kcred.Account
	for _, a := range accounts {
		want = append(want, storedAccount(*a))
		noErr(t, "CreateAccount", s.CreateAccount(ctx, a))
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for i, w := range want {
			got, err := s.FindAccountByID(ctx, w.ID)
			noErr(t, "FindAccountByID", err)
			equal(t, "FindAccountByID", got, w)
			got, err = s.FindAccountByEmail(ctx, w.Email)
			noErr(t, "FindAccountByEmail", err)
			equal(t, "FindAccountByEmail", got, want[i])
		}
		n, err := s.CountAccounts(ctx)
		noErr(t, "CountAccounts", err)
		if n != 2 {
			t.Fatalf("CountAccounts = %d, want 2", n)
		}
	})

	t.Run("DuplicateEmail", func(t *testing.T) {
		err := s.CreateAccount(ctx, &kcred.Account{ID: kcred.NewID(), Email: "admin@kcred.local", CreateTime: base})
		wantCode(t, "CreateAccount with a taken email", err, kcred.ECONFLICT)
		err = s.CreateAccount(ctx, &kcred.Account{ID: want[0].ID, Email: "other@kcred.local", CreateTime: base})
		wantCode(t, "CreateAccount with a taken ID", err, kcred.ECONFLICT)
		n, _ := s.CountAccounts(ctx)
		if n != 2 {
			t.Fatalf("CountAccounts after conflicts = %d, want 2", n)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.FindAccountByID(ctx, kcred.NewID())
		wantCode(t, "FindAccountByID", err, kcred.ENOTFOUND)
		_, err = s.FindAccountByEmail(ctx, "nobody@example.com")
		wantCode(t, "FindAccountByEmail", err, kcred.ENOTFOUND)
		err = s.UpdateAccount(ctx, &kcred.Account{ID: kcred.NewID(), Email: "x@example.com"})
		wantCode(t, "UpdateAccount", err, kcred.ENOTFOUND)
	})

	t.Run("Update", func(t *testing.T) {
		// Only RealName, PasswordHash and Superuser are written.
		a := *want[1]
		a.RealName, a.PasswordHash, a.Superuser = "Robot", "$2a$10$new", true
		a.Email, a.CreateTime = "changed@example.com", base.Add(day)
		noErr(t, "UpdateAccount", s.UpdateAccount(ctx, &a))
		w := *want[1]
		w.RealName, w.PasswordHash, w.Superuser = "Robot", "$2a$10$new", true
		got, err := s.FindAccountByID(ctx, w.ID)
		noErr(t, "FindAccountByID", err)
		equal(t, "account after update", got, &w)

		w.RealName, w.PasswordHash, w.Superuser = "", "", false
		a = w
		noErr(t, "UpdateAccount", s.UpdateAccount(ctx, &a))
		got, err = s.FindAccountByID(ctx, w.ID)
		noErr(t, "FindAccountByID", err)
		equal(t, "account after clearing", got, &w)
	})
}

func testTokens(t *testing.T, s kcred.Store) {
	ctx := t.Context()
	a := f{t, s}.account("alice@example.com")
	tokens := []*kcred.Token{
		{ID: kcred.NewID(), AccountID: a.ID, Hash: randomBytes(32), Prefix: "kc_abcd", Description: "bootstrap",
			CreateTime: base}, // never expires
		{ID: kcred.NewID(), AccountID: a.ID, Hash: randomBytes(32), Prefix: "kc_efgh", Description: "ci",
			CreateTime: base, ExpiryTime: base.Add(90 * day)},
	}
	var want []*kcred.Token
	for _, tok := range tokens {
		want = append(want, storedToken(*tok))
		noErr(t, "CreateToken", s.CreateToken(ctx, tok))
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for _, w := range want {
			got, err := s.FindTokenByHash(ctx, w.Hash)
			noErr(t, "FindTokenByHash", err)
			equal(t, "token", got, w)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		err := s.CreateToken(ctx, &kcred.Token{ID: kcred.NewID(), AccountID: a.ID, Hash: want[0].Hash, CreateTime: base})
		wantCode(t, "CreateToken with a taken hash", err, kcred.ECONFLICT)
		err = s.CreateToken(ctx, &kcred.Token{ID: kcred.NewID(), AccountID: kcred.NewID(), Hash: randomBytes(32), CreateTime: base})
		wantCode(t, "CreateToken for a missing account", err, kcred.ENOTFOUND)
		_, err = s.FindTokenByHash(ctx, randomBytes(32))
		wantCode(t, "FindTokenByHash", err, kcred.ENOTFOUND)
		err = s.DeleteToken(ctx, kcred.NewID())
		wantCode(t, "DeleteToken", err, kcred.ENOTFOUND)
	})

	t.Run("Delete", func(t *testing.T) {
		noErr(t, "DeleteToken", s.DeleteToken(ctx, want[0].ID))
		_, err := s.FindTokenByHash(ctx, want[0].Hash)
		wantCode(t, "FindTokenByHash after delete", err, kcred.ENOTFOUND)
		err = s.DeleteToken(ctx, want[0].ID)
		wantCode(t, "DeleteToken twice", err, kcred.ENOTFOUND)
		got, err := s.FindTokenByHash(ctx, want[1].Hash)
		noErr(t, "FindTokenByHash of the other token", err)
		equal(t, "other token", got, want[1])
	})
}
