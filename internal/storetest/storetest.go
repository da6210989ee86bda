// Package storetest is the conformance suite of kcred.Store: the contract in
// store.go in executable form. Every store runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) kcred.Store { return openStore(t) })
//	}
//
// newStore must return an empty store and close it when t ends. The
// package also has the store benchmarks (BenchmarkCreateServiceUser,
// BenchmarkFindCredentials, BenchmarkSweepNoneDue), run the same way.
//
// Stores must also implement kcred.RenewalQueries, on the store and on the
// Queries that InTx gives fn.
package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// Run runs the conformance suite. Each test gets a new store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) kcred.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s kcred.Store)
	}{
		{"Ping", testPing},
		{"Accounts", testAccounts},
		{"Tokens", testTokens},
		{"Projects", testProjects},
		{"CAs", testCAs},
		{"Members", testMembers},
		{"Services", testServices},
		{"ServiceUsers", testServiceUsers},
		{"Certificates", testCertificates},
		{"Renewals", testRenewals},
		{"Credentials", testCredentials},
		{"Events", testEvents},
		{"CreateEvents", testCreateEvents},
		{"RenewalCandidates", testRenewalCandidates},
		{"CurrentGeneration", testCurrentGeneration},
		{"RenewAt", testRenewAt},
		{"CandidateKey", testCandidateKey},
		{"CreateRenewals", testCreateRenewals},
		{"RenewalCertificates", testRenewalCertificates},
		{"ConcurrentGenerations", testConcurrentGenerations},
		{"DueRenewals", testDueRenewals},
		{"OpenRenewals", testOpenRenewals},
		{"Notices", testNotices},
		{"Notifications", testNotifications},
		{"NotificationConflictInTx", testNotificationConflictInTx},
		{"NotificationManyNotices", testNotificationManyNotices},
		{"Deliveries", testDeliveries},
		{"Webhooks", testWebhooks},
		{"DeleteProjectCascades", testDeleteProject},
		{"DeleteServiceCascades", testDeleteService},
		{"DeleteServiceUserCascades", testDeleteServiceUser},
		{"InTx", testInTx},
		{"ConcurrentRenewal", testConcurrentRenewal},
		{"ConcurrentWrites", testConcurrentWrites},
		{"ConcurrentNotification", testConcurrentNotification},
		{"DeleteRacesWrites", testDeleteRacesWrites},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// base is a time that is neither UTC nor whole microseconds: stores must
// return kcred.UTC of what they were given.
var base = time.Date(2027, 2, 24, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))

const day = 24 * time.Hour

// f makes records with every field set. Times are base plus an offset.
type f struct {
	t *testing.T
	q kcred.Queries
}

func (f f) account(email string) *kcred.Account {
	f.t.Helper()
	a := &kcred.Account{ID: kcred.NewID(), Email: email, RealName: "Real " + email,
		PasswordHash: "$2a$10$abcdefghijklmnopqrstuv", CreateTime: base}
	if err := f.q.CreateAccount(f.t.Context(), a); err != nil {
		f.t.Fatalf("CreateAccount(%s): %v", email, err)
	}
	return a
}

func (f f) project(name string) *kcred.Project {
	f.t.Helper()
	p := &kcred.Project{Name: name, TechEmails: []string{"ops@" + name + ".example"},
		Policy: kcred.CertPolicy{KeyType: kcred.KeyTypeECP384, Validity: 10 * day, RenewBefore: 3 * day,
			Reminders: []time.Duration{2 * day, day}}, CAGeneration: 1, CreateTime: base}
	if err := f.q.CreateProject(f.t.Context(), p); err != nil {
		f.t.Fatalf("CreateProject(%s): %v", name, err)
	}
	return p
}

func (f f) service(project, name string) *kcred.Service {
	f.t.Helper()
	s := &kcred.Service{ID: kcred.NewID(), Project: project, Name: name, Type: kcred.ServiceTypeKafka,
		URI: name + ".example:9093", TechEmails: []string{"kafka@example.com"}, CreateTime: base,
		UpdateTime: base.Add(time.Second)}
	if err := f.q.CreateService(f.t.Context(), s); err != nil {
		f.t.Fatalf("CreateService(%s): %v", name, err)
	}
	return s
}

func (f f) user(serviceID, username string) *kcred.ServiceUser {
	f.t.Helper()
	u := newUser(serviceID, username)
	if err := f.q.CreateServiceUser(f.t.Context(), u); err != nil {
		f.t.Fatalf("CreateServiceUser(%s): %v", username, err)
	}
	return u
}

func newUser(serviceID, username string) *kcred.ServiceUser {
	return &kcred.ServiceUser{ID: kcred.NewID(), ServiceID: serviceID, Username: username,
		Type: kcred.UserTypeNormal, SealedPassword: randomBytes(60), CreateTime: base,
		PasswordUpdateTime: base.Add(time.Minute)}
}

// cert adds generation gen of userID, valid for 10 days from base+gen days.
func (f f) cert(userID string, gen int) *kcred.Certificate {
	f.t.Helper()
	c := newCert(userID, gen)
	if err := f.q.CreateCertificate(f.t.Context(), c); err != nil {
		f.t.Fatalf("CreateCertificate(%d): %v", gen, err)
	}
	return c
}

func newCert(userID string, gen int) *kcred.Certificate {
	start := base.Add(time.Duration(gen) * day)
	reason := kcred.ReasonRenewal
	if gen == 1 {
		reason = kcred.ReasonCreate
	}
	return &kcred.Certificate{ID: kcred.NewID(), UserID: userID, Generation: gen,
		Serial: fmt.Sprintf("%02x%030x", gen, randomBytes(15)), Subject: "CN=user,O=svc,OU=" + userID, KeyType: kcred.KeyTypeECP256,
		NotBefore: start.Add(-5 * time.Minute), NotAfter: start.Add(10 * day), CertPEM: fakePEM("CERTIFICATE", 620),
		SealedKey: randomBytes(250), Reason: reason, CAGeneration: 1, CreateTime: start}
}

// renewal opens the renewal from old to new.
func (f f) renewal(old, new *kcred.Certificate) *kcred.Renewal {
	f.t.Helper()
	r := &kcred.Renewal{ID: kcred.NewID(), UserID: old.UserID, OldCertID: old.ID, NewCertID: new.ID,
		OldNotAfter: old.NotAfter, CreateTime: new.CreateTime}
	if err := f.q.CreateRenewal(f.t.Context(), r); err != nil {
		f.t.Fatalf("CreateRenewal: %v", err)
	}
	return r
}

func (f f) event(project string, at time.Time, action string) *kcred.Event {
	f.t.Helper()
	e := &kcred.Event{ID: kcred.NewID(), Time: at, Actor: "admin@kcred.local", Action: action, Project: project,
		Service: "kafka-1", Target: "alice", Source: "192.0.2.1:4711", Detail: "Did " + action + "."}
	if err := f.q.CreateEvent(f.t.Context(), e); err != nil {
		f.t.Fatalf("CreateEvent: %v", err)
	}
	return e
}

// rq returns the kcred.RenewalQueries of q: of a store, or of the
// queries of its InTx.
func rq(t testing.TB, q kcred.Queries) kcred.RenewalQueries {
	t.Helper()
	r, ok := q.(kcred.RenewalQueries)
	if !ok {
		t.Fatalf("%T does not implement kcred.RenewalQueries", q)
	}
	return r
}

// certAt adds generation gen of userID that expires at notAfter.
func (f f) certAt(userID string, gen int, notAfter time.Time) *kcred.Certificate {
	f.t.Helper()
	c := newCert(userID, gen)
	c.NotAfter = notAfter
	if err := f.q.CreateCertificate(f.t.Context(), c); err != nil {
		f.t.Fatalf("CreateCertificate(%d): %v", gen, err)
	}
	return c
}

// The stored form of records: times in kcred.UTC, empty lists non-nil.

func storedAccount(a kcred.Account) *kcred.Account {
	a.CreateTime = kcred.UTC(a.CreateTime)
	return &a
}

func storedToken(t kcred.Token) *kcred.Token {
	t.CreateTime, t.ExpiryTime = kcred.UTC(t.CreateTime), kcred.UTC(t.ExpiryTime)
	return &t
}

func storedProject(p kcred.Project) *kcred.Project {
	p.TechEmails = nonNil(p.TechEmails)
	p.CreateTime = kcred.UTC(p.CreateTime)
	return &p
}

func storedCA(c kcred.CA) *kcred.CA {
	c.NotAfter, c.CreateTime = kcred.UTC(c.NotAfter), kcred.UTC(c.CreateTime)
	return &c
}

func storedService(s kcred.Service) *kcred.Service {
	s.TechEmails = nonNil(s.TechEmails)
	s.CreateTime, s.UpdateTime = kcred.UTC(s.CreateTime), kcred.UTC(s.UpdateTime)
	return &s
}

func storedUser(u kcred.ServiceUser) *kcred.ServiceUser {
	u.CreateTime, u.PasswordUpdateTime = kcred.UTC(u.CreateTime), kcred.UTC(u.PasswordUpdateTime)
	return &u
}

func storedCert(c kcred.Certificate) *kcred.Certificate {
	if c.RenewAt.IsZero() {
		c.RenewAt = c.NotAfter // the store's default: due when it expires
	}
	c.NotBefore, c.NotAfter, c.CreateTime = kcred.UTC(c.NotBefore), kcred.UTC(c.NotAfter), kcred.UTC(c.CreateTime)
	c.RenewAt = kcred.UTC(c.RenewAt)
	return &c
}

func storedRenewal(r kcred.Renewal) *kcred.Renewal {
	r.OldNotAfter, r.CreateTime = kcred.UTC(r.OldNotAfter), kcred.UTC(r.CreateTime)
	r.AcknowledgedAt, r.ClosedAt = kcred.UTC(r.AcknowledgedAt), kcred.UTC(r.ClosedAt)
	r.NextActionAt = kcred.UTC(r.NextActionAt)
	return &r
}

func storedEvent(e kcred.Event) *kcred.Event {
	e.Time = kcred.UTC(e.Time)
	return &e
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// equal fails t unless got and want are deeply equal.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, show(got), show(want))
	}
}

// show prints a value with pointers followed, times in RFC 3339 and long
// strings and byte slices shortened.
func show(v any) string {
	var b strings.Builder
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch {
		case !v.IsValid():
			b.WriteString("<invalid>")
		case v.Type() == reflect.TypeOf(time.Time{}):
			t := v.Interface().(time.Time)
			if t.IsZero() {
				b.WriteString("zero")
			} else {
				fmt.Fprintf(&b, "%s(%s)", t.Format(time.RFC3339Nano), t.Location())
			}
		case v.Kind() == reflect.Pointer:
			if v.IsNil() {
				b.WriteString("nil")
			} else {
				b.WriteString("&")
				walk(v.Elem())
			}
		case v.Kind() == reflect.Struct:
			b.WriteString("{")
			for i := range v.NumField() {
				if i > 0 {
					b.WriteString(" ")
				}
				b.WriteString(v.Type().Field(i).Name + ":")
				walk(v.Field(i))
			}
			b.WriteString("}")
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
			if v.IsNil() {
				b.WriteString("nil")
			} else {
				fmt.Fprintf(&b, "bytes[%d]%x", v.Len(), clip(v.Bytes()))
			}
		case v.Kind() == reflect.Slice:
			if v.IsNil() {
				b.WriteString("nil")
				return
			}
			b.WriteString("[")
			for i := range v.Len() {
				if i > 0 {
					b.WriteString(" ")
				}
				walk(v.Index(i))
			}
			b.WriteString("]")
		case v.Kind() == reflect.String:
			s := v.String()
			if len(s) > 40 {
				s = fmt.Sprintf("%s...(%d)", s[:37], len(s))
			}
			fmt.Fprintf(&b, "%q", s)
		default:
			fmt.Fprintf(&b, "%v", v.Interface())
		}
	}
	walk(reflect.ValueOf(v))
	return b.String()
}

func clip(b []byte) []byte {
	if len(b) > 8 {
		return b[:8]
	}
	return b
}

// wantCode fails t unless err is a *kcred.Error with code and a message.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := kcred.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
	if msg := kcred.ErrorMessage(err); msg == "" || msg == "Internal error." {
		t.Fatalf("%s: error %v has no message for the caller", what, err)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// fakePEM returns a PEM block with n base64 characters of random content;
// n=620 makes the ~700 bytes of a real EC P-256 certificate.
func fakePEM(kind string, n int) string {
	body := base64.StdEncoding.EncodeToString(randomBytes(n * 3 / 4))
	var b bytes.Buffer
	b.WriteString("-----BEGIN " + kind + "-----\n")
	for len(body) > 64 {
		b.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	b.WriteString(body + "\n-----END " + kind + "-----\n")
	return b.String()
}
