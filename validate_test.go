package kcred_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

func TestValidateUsername(t *testing.T) {
	good := []string{"app1", "a", "App.user_1+x@corp-2", strings.Repeat("a", 64), "1abc"}
	bad := []string{"", strings.Repeat("a", 65), "../x", "a/b", "a..b", ".hidden", "-x", "a b", "a\x00b", "ä"}
	for _, u := range good {
		if err := kcred.ValidateUsername(u); err != nil {
			t.Errorf("ValidateUsername(%q) = %v", u, err)
		}
	}
	for _, u := range bad {
		if kcred.ErrorCode(kcred.ValidateUsername(u)) != kcred.EINVALID {
			t.Errorf("ValidateUsername(%q) accepted", u)
		}
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"p1": true, "kafka-prod": true, strings.Repeat("a", 63): true,
		strings.Repeat("a", 64): false, "1p": false, "P1": false, "a_b": false, "": false, "a/b": false,
	} {
		if err := kcred.ValidateName("project", name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
}

func TestParseEmail(t *testing.T) {
	if e, err := kcred.ParseEmail("Ops@Example.COM"); err != nil || e != "ops@example.com" {
		t.Errorf("got %q, %v", e, err)
	}
	for _, bad := range []string{"", "ops", "Ops <ops@example.com>", "a@b@c", "ops@example.com\nBcc: x@y"} {
		if _, err := kcred.ParseEmail(bad); err == nil {
			t.Errorf("ParseEmail(%q) accepted", bad)
		}
	}
	list, err := kcred.ParseEmails([]string{"a@x.io", "A@x.io", "b@x.io"})
	if err != nil || len(list) != 2 {
		t.Errorf("ParseEmails = %v, %v", list, err)
	}
}

func TestValidateServiceURI(t *testing.T) {
	for uri, ok := range map[string]bool{
		"": true, "127.0.0.1:9093": true, "kafka.example.com:443": true, "[::1]:9092": true,
		"kafka": false, "kafka:0": false, "kafka:99999": false, ":9092": false, "http://x:1/": false,
	} {
		if err := kcred.ValidateServiceURI(uri); (err == nil) != ok {
			t.Errorf("ValidateServiceURI(%q) = %v", uri, err)
		}
	}
}

func TestRoles(t *testing.T) {
	if !kcred.RoleAdmin.AtLeast(kcred.RoleOperator) || kcred.RoleDeveloper.AtLeast(kcred.RoleOperator) ||
		!kcred.RoleReadOnly.AtLeast(kcred.RoleReadOnly) || kcred.Role("owner").AtLeast(kcred.RoleReadOnly) {
		t.Error("role order is wrong")
	}
}

func TestPolicy(t *testing.T) {
	def := kcred.DefaultCertPolicy()
	p := def.Merge(kcred.CertPolicy{Validity: 40 * time.Second, RenewBefore: 30 * time.Second, Reminders: []time.Duration{12 * time.Second, 20 * time.Second}})
	if p.KeyType != kcred.KeyTypeECP256 || p.Validity != 40*time.Second || p.Reminders[0] != 20*time.Second {
		t.Errorf("merged = %+v", p)
	}
	if def.Reminders[0] != 60*24*time.Hour {
		t.Error("Merge changed the default")
	}
	for _, bad := range []kcred.CertPolicy{
		{KeyType: "ed25519"},
		{Validity: 10 * time.Second, RenewBefore: 10 * time.Second},
		{Reminders: []time.Duration{-time.Second}},
		{Validity: time.Millisecond},
	} {
		if kcred.ErrorCode(bad.Validate()) != kcred.EINVALID {
			t.Errorf("Validate(%+v) accepted", bad)
		}
	}
}

func TestErrorCode(t *testing.T) {
	if kcred.ErrorCode(nil) != "" || kcred.ErrorCode(errString("x")) != kcred.EINTERNAL {
		t.Error("codes of plain errors")
	}
	err := kcred.Errorf(kcred.ENOTFOUND, "User %q does not exist.", "x")
	if kcred.ErrorCode(err) != kcred.ENOTFOUND || kcred.ErrorMessage(err) != `User "x" does not exist.` {
		t.Errorf("got %s", err)
	}
	if kcred.ErrorMessage(errString("db password is hunter2")) != "Internal error." {
		t.Error("internal message leaked")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestParseHost(t *testing.T) {
	for h, wantIP := range map[string]bool{"kafka-1.example.com": false, "*.kafka.example.com": false, "localhost": false, "127.0.0.1": true, "::1": true} {
		ip, err := kcred.ParseHost(h)
		if err != nil || (ip != nil) != wantIP {
			t.Errorf("ParseHost(%q) = %v, %v", h, ip, err)
		}
	}
	for _, h := range []string{"", "*.", "a..b", "-a.example.com", "a b", "../etc", "a/b", "*.*.example.com", "a.*.example.com", strings.Repeat("a.", 127) + "com"} {
		if _, err := kcred.ParseHost(h); kcred.ErrorCode(err) != kcred.EINVALID {
			t.Errorf("ParseHost(%q) = %v, want EINVALID", h, err)
		}
	}
}
