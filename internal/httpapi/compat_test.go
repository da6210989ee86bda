package httpapi_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	aiven "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/project"
	"github.com/aiven/go-client-codegen/handler/service"

	"github.com/kcred/kcred"
)

// These tests drive kcred with Aiven's official Go client, unchanged, the
// way its users would: pointed at kcred with HostOpt (AIVEN_WEB_URL) and a
// token. They are the executable form of DESIGN §2 "Aiven's official Go
// client must work against kcred unchanged".

// compatClient returns Aiven's Go client pointed at e. Without retries
// unless opts say otherwise, so that a wrong status fails at once instead
// of after a minute of retrying.
func compatClient(t *testing.T, e *env, opts ...aiven.Option) aiven.Client {
	t.Helper()
	all := append([]aiven.Option{
		aiven.HostOpt(e.URL),
		aiven.TokenOpt(e.Token),
		aiven.RetryMaxOpt(0),
		aiven.UserAgentOpt("kcred-compat-test"),
	}, opts...)
	c, err := aiven.NewClient(all...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// compatRetryingClient is the client with its retry policy on, so a test
// can tell a response it retries from one it does not by how long a call
// takes: every retry waits 2 s (by default it retries 6 times over about
// 67 s; 2 retries keep a failing test short).
func compatRetryingClient(t *testing.T, e *env) aiven.Client {
	return compatClient(t, e, aiven.RetryMaxOpt(2), aiven.RetryWaitMinOpt(2*time.Second), aiven.RetryWaitMaxOpt(2*time.Second))
}

func compatStr(s string) *string { return &s }

// compatLeaf parses a PEM certificate, failing the test otherwise.
func compatLeaf(t *testing.T, certPEM string) *x509.Certificate {
	t.Helper()
	b, rest := pem.Decode([]byte(certPEM))
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("access_cert is not a PEM certificate: %q", certPEM)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("access_cert holds more than one PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// compatCheckCredentials checks a user's certificate and key as Kafka and
// its clients need them: signed by the project CA for client auth, CN the
// username and O the service, the key an unencrypted PKCS#8 PEM that
// belongs to the certificate, and the advertised expiry the certificate's.
// It returns the certificate.
func compatCheckCredentials(t *testing.T, e *env, caPEM, svcName, username string, accessCert, accessKey *string, notAfter *time.Time) *x509.Certificate {
	t.Helper()
	if accessCert == nil || accessKey == nil {
		t.Fatalf("user %s: access_cert or access_key missing", username)
	}
	cert := compatLeaf(t, *accessCert)

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatalf("project CA is not PEM: %q", caPEM)
	}
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: e.Clock.Now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		t.Fatalf("user %s: certificate does not verify against the project CA for client auth: %v", username, err)
	}
	if cert.Subject.CommonName != username {
		t.Errorf("CN = %q, want %q", cert.Subject.CommonName, username)
	}
	if len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != svcName {
		t.Errorf("O = %q, want [%q]", cert.Subject.Organization, svcName)
	}

	kb, _ := pem.Decode([]byte(*accessKey))
	if kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatalf("access_key is not a PKCS#8 \"PRIVATE KEY\" PEM block")
	}
	if len(kb.Headers) != 0 {
		t.Errorf("access_key PEM has headers (encrypted?): %v", kb.Headers)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatalf("access_key is not PKCS#8: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		t.Fatalf("access_key is a %T, not a signer", key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		t.Errorf("user %s: access_key does not belong to access_cert", username)
	}

	if notAfter == nil {
		t.Errorf("user %s: access_cert_not_valid_after_time missing", username)
	} else if !notAfter.Equal(cert.NotAfter) {
		t.Errorf("user %s: access_cert_not_valid_after_time = %s, certificate NotAfter = %s", username, notAfter, cert.NotAfter)
	}
	return cert
}

func compatFindUser(t *testing.T, users []service.UserOut, username string) service.UserOut {
	t.Helper()
	for _, u := range users {
		if u.Username == username {
			return u
		}
	}
	t.Fatalf("service users %v have no %q", compatUsernames(users), username)
	return service.UserOut{}
}

func compatUsernames(users []service.UserOut) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.Username
	}
	return out
}

// compatAPIError returns err as the client's aiven.Error.
func compatAPIError(t *testing.T, err error) aiven.Error {
	t.Helper()
	var ae aiven.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an aiven.Error", err, err)
	}
	return ae
}

func TestAivenGoClient(t *testing.T) {
	e := newEnv(t)
	c := compatClient(t, e)
	ctx := context.Background()
	const proj, svcName, username = "compat", "kafka1", "app1"

	projEmails := []project.TechEmailIn{{Email: "Kafka-Team@example.com"}}
	p, err := c.ProjectCreate(ctx, &project.ProjectCreateIn{Project: proj, TechEmails: &projEmails, Cloud: compatStr("google-europe-west1")})
	if err != nil {
		t.Fatalf("ProjectCreate: %v", err)
	}
	if p.ProjectName != proj {
		t.Errorf("project_name = %q, want %q", p.ProjectName, proj)
	}
	if len(p.TechEmails) != 1 || p.TechEmails[0].Email != "kafka-team@example.com" {
		t.Errorf("project tech_emails = %+v, want [kafka-team@example.com]", p.TechEmails)
	}

	caPEM, err := c.ProjectKmsGetCA(ctx, proj)
	if err != nil {
		t.Fatalf("ProjectKmsGetCA: %v", err)
	}
	ca := compatLeaf(t, caPEM)
	if !ca.IsCA || ca.Subject.CommonName != proj+" GEN 1 Project CA" {
		t.Errorf("project CA: IsCA %v, CN %q", ca.IsCA, ca.Subject.CommonName)
	}

	// Aiven's ServiceCreateIn has plan, cloud and user_config; kcred
	// ignores them. It has no service_uri, which kcred's own clients send.
	svcEmails := []service.TechEmailIn{{Email: "svc-owner@example.com"}}
	s, err := c.ServiceCreate(ctx, proj, &service.ServiceCreateIn{
		ServiceName: svcName, ServiceType: "kafka", Plan: "business-4",
		Cloud: compatStr("google-europe-west1"), TechEmails: &svcEmails,
		UserConfig: &map[string]any{"kafka_version": "3.8", "kafka_authentication_methods": map[string]any{"certificate": true}},
	})
	if err != nil {
		t.Fatalf("ServiceCreate: %v", err)
	}
	if s.ServiceName != svcName || s.ServiceType != "kafka" || s.State != service.ServiceStateTypeRunning {
		t.Errorf("service: name %q type %q state %q", s.ServiceName, s.ServiceType, s.State)
	}
	if len(s.TechEmails) != 1 || s.TechEmails[0].Email != "svc-owner@example.com" {
		t.Errorf("service tech_emails = %+v", s.TechEmails)
	}
	admin := compatFindUser(t, s.Users, kcred.PrimaryUsername)
	if admin.Type != kcred.UserTypePrimary || admin.Password == "" {
		t.Errorf("avnadmin: type %q, password set %v", admin.Type, admin.Password != "")
	}
	compatCheckCredentials(t, e, caPEM, svcName, kcred.PrimaryUsername, admin.AccessCert, admin.AccessKey, admin.AccessCertNotValidAfterTime)

	created, err := c.ServiceUserCreate(ctx, proj, svcName, &service.ServiceUserCreateIn{Username: username})
	if err != nil {
		t.Fatalf("ServiceUserCreate: %v", err)
	}
	if created.Username != username || created.Type != kcred.UserTypeNormal || created.Password == "" {
		t.Errorf("created user: %q type %q password set %v", created.Username, created.Type, created.Password != "")
	}
	cert1 := compatCheckCredentials(t, e, caPEM, svcName, username, created.AccessCert, created.AccessKey, created.AccessCertNotValidAfterTime)
	if created.ExpiringCertNotValidAfterTime != nil {
		t.Errorf("new user has expiring_cert_not_valid_after_time %s", created.ExpiringCertNotValidAfterTime)
	}

	t.Run("ServiceUserGet", func(t *testing.T) {
		// Without include_secrets (avn never sends it) secrets come back.
		u, err := c.ServiceUserGet(ctx, proj, svcName, username)
		if err != nil {
			t.Fatal(err)
		}
		got := compatCheckCredentials(t, e, caPEM, svcName, username, u.AccessCert, u.AccessKey, u.AccessCertNotValidAfterTime)
		if !got.Equal(cert1) || *u.AccessKey != *created.AccessKey || u.Password != created.Password {
			t.Error("ServiceUserGet returns other credentials than ServiceUserCreate")
		}
		if u.Type != kcred.UserTypeNormal || u.PasswordUpdatedTime == nil {
			t.Errorf("type %q, password_updated_time %v", u.Type, u.PasswordUpdatedTime)
		}
		if u.AccessControl != nil {
			t.Errorf("access_control = %+v, want none", u.AccessControl)
		}

		u, err = c.ServiceUserGet(ctx, proj, svcName, username, service.ServiceUserGetIncludeSecrets(true))
		if err != nil {
			t.Fatal(err)
		}
		compatCheckCredentials(t, e, caPEM, svcName, username, u.AccessCert, u.AccessKey, u.AccessCertNotValidAfterTime)
		if u.Password != created.Password {
			t.Error("include_secrets=true: password differs from the one made at creation")
		}

		u, err = c.ServiceUserGet(ctx, proj, svcName, username, service.ServiceUserGetIncludeSecrets(false))
		if err != nil {
			t.Fatal(err)
		}
		if u.AccessKey != nil || u.Password != "" {
			t.Error("include_secrets=false: the key or password came back")
		}
		if u.AccessCert == nil || compatLeaf(t, *u.AccessCert).SerialNumber.Cmp(cert1.SerialNumber) != 0 {
			t.Error("include_secrets=false: access_cert missing or different")
		}
	})

	t.Run("raw JSON has no null access_control", func(t *testing.T) {
		for _, path := range []string{
			"/v1/project/" + proj + "/service/" + svcName + "/user/" + username,
			"/v1/project/" + proj + "/service/" + svcName,
		} {
			r := e.must(200, "GET", path+"?limit=999", e.Token, nil)
			if strings.Contains(strings.ReplaceAll(string(r.Body), " ", ""), `"access_control":null`) {
				t.Errorf("GET %s sends \"access_control\": null: %s", path, r.Body)
			}
			var body map[string]json.RawMessage
			r.Decode(t, &body)
			var users []map[string]json.RawMessage
			if raw, ok := body["user"]; ok {
				var one map[string]json.RawMessage
				if err := json.Unmarshal(raw, &one); err != nil {
					t.Fatal(err)
				}
				users = append(users, one)
			} else {
				var svc struct {
					Users []map[string]json.RawMessage `json:"users"`
				}
				if err := json.Unmarshal(body["service"], &svc); err != nil {
					t.Fatal(err)
				}
				users = svc.Users
			}
			if len(users) == 0 {
				t.Fatalf("GET %s: no users in %s", path, r.Body)
			}
			for _, u := range users {
				if ac, ok := u["access_control"]; ok && string(ac) == "null" {
					t.Errorf("GET %s: access_control is null", path)
				}
				if _, ok := u["expiring_cert_not_valid_after_time"]; ok {
					t.Errorf("GET %s: expiring_cert_not_valid_after_time present without a renewal", path)
				}
			}
		}
	})

	t.Run("ServiceGet", func(t *testing.T) {
		got, err := c.ServiceGet(ctx, proj, svcName)
		if err != nil {
			t.Fatal(err)
		}
		if got.ServiceName != svcName || len(got.Users) != 2 {
			t.Fatalf("service %q with users %v", got.ServiceName, compatUsernames(got.Users))
		}
		u := compatFindUser(t, got.Users, username)
		compatCheckCredentials(t, e, caPEM, svcName, username, u.AccessCert, u.AccessKey, u.AccessCertNotValidAfterTime)
		if got.CreateTime.IsZero() || got.UpdateTime.IsZero() {
			t.Errorf("create_time %s, update_time %s", got.CreateTime, got.UpdateTime)
		}
		if len(got.Components) != 0 {
			t.Errorf("service without service_uri has components %+v", got.Components)
		}

		// service_uri is kcred's addition to the create body; Aiven's
		// ServiceCreateIn cannot carry it, so it goes in with plain HTTP
		// and is read back with the client.
		e.must(200, "POST", "/v1/project/"+proj+"/service", e.Token, map[string]any{
			"service_name": "kafka2", "service_type": "kafka", "service_uri": "kafka.example.com:9093", "plan": "startup-2",
		})
		got, err = c.ServiceGet(ctx, proj, "kafka2", service.ServiceGetIncludeSecrets(true))
		if err != nil {
			t.Fatal(err)
		}
		if got.ServiceUri != "kafka.example.com:9093" {
			t.Errorf("service_uri = %q", got.ServiceUri)
		}
		if len(got.Components) != 1 {
			t.Fatalf("components = %+v, want one kafka component", got.Components)
		}
		comp := got.Components[0]
		if comp.Component != "kafka" || comp.Host != "kafka.example.com" || comp.Port != 9093 ||
			comp.Route != service.RouteTypeDynamic || comp.Usage != service.UsageTypePrimary ||
			comp.KafkaAuthenticationMethod != service.KafkaAuthenticationMethodTypeCertificate ||
			comp.KafkaSslCa != service.KafkaSslCaTypeProjectCa {
			t.Errorf("component = %+v", comp)
		}
		a := compatFindUser(t, got.Users, kcred.PrimaryUsername)
		compatCheckCredentials(t, e, caPEM, "kafka2", kcred.PrimaryUsername, a.AccessCert, a.AccessKey, a.AccessCertNotValidAfterTime)
	})

	t.Run("not found", func(t *testing.T) {
		// The client's default retry policy: a 404 here must not be
		// retried (a retry waits at least 2 s).
		rc := compatRetryingClient(t, e)
		for name, call := range map[string]func() error{
			"user": func() error {
				_, err := rc.ServiceUserGet(ctx, proj, svcName, "nobody")
				return err
			},
			"service": func() error {
				_, err := rc.ServiceGet(ctx, proj, "nosuch")
				return err
			},
			"project": func() error {
				_, err := rc.ProjectKmsGetCA(ctx, "nosuch")
				return err
			},
			// The client retries a POST whose 404 says "Service <x> does
			// not exist" (Aiven's lag after creating a service); for
			// kcred a missing service is final.
			"create user in a missing service": func() error {
				_, err := rc.ServiceUserCreate(ctx, proj, "nosuch", &service.ServiceUserCreateIn{Username: "u1"})
				return err
			},
			"acknowledge": func() error {
				_, err := rc.ServiceUserCredentialsModify(ctx, proj, svcName, "nobody", &service.ServiceUserCredentialsModifyIn{
					Operation: service.ServiceUserCredentialsModifyOperationTypeAcknowledgeRenewal,
				})
				return err
			},
		} {
			start := time.Now()
			err := call()
			if took := time.Since(start); took > 1500*time.Millisecond {
				t.Errorf("%s: took %s: the client retried", name, took)
			}
			if !aiven.IsNotFound(err) {
				t.Errorf("%s: IsNotFound(%v) = false", name, err)
			}
		}
	})

	t.Run("invalid operation", func(t *testing.T) {
		rc := compatRetryingClient(t, e)
		start := time.Now()
		_, err := rc.ServiceUserCredentialsModify(ctx, proj, svcName, username, &service.ServiceUserCredentialsModifyIn{
			Operation: "rotate-everything",
		})
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("took %s: the client retried", took)
		}
		if err == nil {
			t.Fatal("an unknown operation succeeded")
		}
		ae := compatAPIError(t, err)
		if ae.Status != 400 || ae.OperationID != "ServiceUserCredentialsModify" || ae.Message == "" {
			t.Errorf("error = %+v, want status 400 with a message", ae)
		}
	})

	t.Run("acknowledge with nothing pending", func(t *testing.T) {
		out, err := c.ServiceUserCredentialsModify(ctx, proj, svcName, username, &service.ServiceUserCredentialsModifyIn{
			Operation: service.ServiceUserCredentialsModifyOperationTypeAcknowledgeRenewal,
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.ServiceName != svcName {
			t.Errorf("service_name = %q", out.ServiceName)
		}
		u := compatFindUser(t, out.Users, username)
		got := compatCheckCredentials(t, e, caPEM, svcName, username, u.AccessCert, u.AccessKey, u.AccessCertNotValidAfterTime)
		if !got.Equal(cert1) {
			t.Error("acknowledging changed the certificate")
		}
	})

	t.Run("set-access-control", func(t *testing.T) {
		_, err := c.ServiceUserCredentialsModify(ctx, proj, svcName, username, &service.ServiceUserCredentialsModifyIn{
			Operation:     service.ServiceUserCredentialsModifyOperationTypeSetAccessControl,
			AccessControl: &service.AccessControlIn{RedisAclKeys: &[]string{"*"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := e.must(200, "GET", "/v1/project/"+proj+"/service/"+svcName+"/user/"+username, e.Token, nil)
		var body struct {
			User map[string]json.RawMessage `json:"user"`
		}
		r.Decode(t, &body)
		if ac := string(body.User["access_control"]); !strings.HasPrefix(ac, "{") {
			t.Errorf("access_control = %s, want an object", ac)
		}
		u, err := c.ServiceUserGet(ctx, proj, svcName, username)
		if err != nil {
			t.Fatal(err)
		}
		if u.AccessControl == nil || len(u.AccessControl.RedisAclKeys) != 1 {
			t.Errorf("access_control = %+v", u.AccessControl)
		}
	})

	// The renewal scenario. A real renewal is made by the sweeper, which
	// is not part of this package; here the reset issues the new
	// generation at the time a renewal would (90 days before expiry) and
	// the renewal record is written into the store as the renewal would
	// write it. The API then has to serve it the Aiven way.
	var cert2 *x509.Certificate
	t.Run("ServiceUserCredentialsReset", func(t *testing.T) {
		e.Clock.Add(cert1.NotAfter.Sub(e.Clock.Now()) - 90*24*time.Hour)
		before, err := c.ServiceUserGet(ctx, proj, svcName, username)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.ServiceUserCredentialsReset(ctx, proj, svcName, username)
		if err != nil {
			t.Fatal(err)
		}
		if out.ServiceName != svcName {
			t.Errorf("service_name = %q", out.ServiceName)
		}
		u := compatFindUser(t, out.Users, username)
		cert2 = compatCheckCredentials(t, e, caPEM, svcName, username, u.AccessCert, u.AccessKey, u.AccessCertNotValidAfterTime)
		if cert2.SerialNumber.Cmp(cert1.SerialNumber) == 0 {
			t.Fatal("reset kept the serial")
		}
		if *u.AccessKey == *before.AccessKey {
			t.Error("reset kept the key")
		}
		if u.Password == before.Password {
			t.Error("reset kept the password")
		}
		if !cert2.NotAfter.After(cert1.NotAfter) {
			t.Errorf("new NotAfter %s is not after the old %s", cert2.NotAfter, cert1.NotAfter)
		}
		if u.ExpiringCertNotValidAfterTime != nil {
			t.Error("a reset announced an expiring certificate")
		}
		// The other user is untouched.
		a := compatFindUser(t, out.Users, kcred.PrimaryUsername)
		if *a.AccessCert != *admin.AccessCert {
			t.Error("resetting app1 changed avnadmin's certificate")
		}

		got, err := c.ServiceUserGet(ctx, proj, svcName, username)
		if err != nil {
			t.Fatal(err)
		}
		if compatLeaf(t, *got.AccessCert).SerialNumber.Cmp(cert2.SerialNumber) != 0 || *got.AccessKey != *u.AccessKey {
			t.Error("ServiceUserGet after reset does not serve the new pair")
		}
	})
	if cert2 == nil {
		t.FailNow()
	}

	t.Run("renewal and acknowledge-renewal", func(t *testing.T) {
		svc, err := e.Store.FindService(ctx, proj, svcName)
		if err != nil {
			t.Fatal(err)
		}
		su, err := e.Store.FindServiceUser(ctx, svc.ID, username)
		if err != nil {
			t.Fatal(err)
		}
		certs, err := e.Store.ListCertificates(ctx, su.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) != 2 || certs[0].Generation != 2 || certs[1].Generation != 1 {
			t.Fatalf("certificates of %s: %d, want generations 2 and 1", username, len(certs))
		}
		if certs[1].Serial != cert1.SerialNumber.Text(16) || certs[0].Serial != cert2.SerialNumber.Text(16) {
			t.Fatalf("stored serials %s, %s differ from the served ones", certs[0].Serial, certs[1].Serial)
		}
		oldNotAfter := certs[1].NotAfter
		r := &kcred.Renewal{
			ID: kcred.NewID(), UserID: su.ID, OldCertID: certs[1].ID, NewCertID: certs[0].ID,
			OldNotAfter: oldNotAfter, CreateTime: e.M.Now(),
		}
		if err := e.Store.CreateRenewal(ctx, r); err != nil {
			t.Fatal(err)
		}
		// Written behind the Manager's back: let its 2 s cache of
		// credentials run out, as on a replica that did not renew.
		e.Clock.Add(3 * time.Second)

		u, err := c.ServiceUserGet(ctx, proj, svcName, username, service.ServiceUserGetIncludeSecrets(true))
		if err != nil {
			t.Fatal(err)
		}
		got := compatCheckCredentials(t, e, caPEM, svcName, username, u.AccessCert, u.AccessKey, u.AccessCertNotValidAfterTime)
		if !got.Equal(cert2) {
			t.Error("during a renewal access_cert is not the new certificate")
		}
		if u.ExpiringCertNotValidAfterTime == nil || !u.ExpiringCertNotValidAfterTime.Equal(cert1.NotAfter) {
			t.Fatalf("expiring_cert_not_valid_after_time = %v, want the old certificate's NotAfter %s", u.ExpiringCertNotValidAfterTime, cert1.NotAfter)
		}
		s, err := c.ServiceGet(ctx, proj, svcName)
		if err != nil {
			t.Fatal(err)
		}
		if su := compatFindUser(t, s.Users, username); su.ExpiringCertNotValidAfterTime == nil || !su.ExpiringCertNotValidAfterTime.Equal(cert1.NotAfter) {
			t.Errorf("ServiceGet: expiring_cert_not_valid_after_time = %v, want %s", su.ExpiringCertNotValidAfterTime, cert1.NotAfter)
		}
		if a := compatFindUser(t, s.Users, kcred.PrimaryUsername); a.ExpiringCertNotValidAfterTime != nil {
			t.Error("ServiceGet: avnadmin shows an expiring certificate")
		}
		// The old certificate still verifies: both are under the same CA.
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM([]byte(caPEM))
		if _, err := cert1.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: e.Clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("old certificate no longer verifies during the overlap: %v", err)
		}

		out, err := c.ServiceUserCredentialsModify(ctx, proj, svcName, username, &service.ServiceUserCredentialsModifyIn{
			Operation: service.ServiceUserCredentialsModifyOperationTypeAcknowledgeRenewal,
		})
		if err != nil {
			t.Fatalf("acknowledge-renewal: %v", err)
		}
		if ou := compatFindUser(t, out.Users, username); ou.ExpiringCertNotValidAfterTime != nil {
			t.Errorf("acknowledge-renewal response still has expiring_cert_not_valid_after_time %s", ou.ExpiringCertNotValidAfterTime)
		}
		u, err = c.ServiceUserGet(ctx, proj, svcName, username)
		if err != nil {
			t.Fatal(err)
		}
		if u.ExpiringCertNotValidAfterTime != nil {
			t.Errorf("after acknowledge-renewal expiring_cert_not_valid_after_time = %s", u.ExpiringCertNotValidAfterTime)
		}
		if !compatLeaf(t, *u.AccessCert).Equal(cert2) {
			t.Error("acknowledging changed the certificate")
		}
		open, err := e.Store.FindOpenRenewal(ctx, su.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !open.Acknowledged() || open.AcknowledgedBy != "admin@kcred.local" {
			t.Errorf("renewal acknowledged at %s by %q", open.AcknowledgedAt, open.AcknowledgedBy)
		}
		// Again: idempotent.
		if _, err := c.ServiceUserCredentialsModify(ctx, proj, svcName, username, &service.ServiceUserCredentialsModifyIn{
			Operation: service.ServiceUserCredentialsModifyOperationTypeAcknowledgeRenewal,
		}); err != nil {
			t.Errorf("second acknowledge-renewal: %v", err)
		}
	})

	t.Run("ServiceUserDelete", func(t *testing.T) {
		if err := c.ServiceUserDelete(ctx, proj, svcName, username); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ServiceUserGet(ctx, proj, svcName, username); !aiven.IsNotFound(err) {
			t.Errorf("deleted user: IsNotFound(%v) = false", err)
		}
	})
}

// TestAivenGoClientAuth checks the client's errors for a bad token and for
// a project the caller is not a member of (404, not 403: names don't leak).
func TestAivenGoClientAuth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := compatClient(t, e)
	if _, err := c.ProjectCreate(ctx, &project.ProjectCreateIn{Project: "secret-project"}); err != nil {
		t.Fatal(err)
	}

	bad := compatClient(t, e, aiven.TokenOpt("kcred_not-a-real-token-0123456789abcdef"))
	_, err := bad.ProjectKmsGetCA(ctx, "secret-project")
	if ae := compatAPIError(t, err); ae.Status != 401 {
		t.Errorf("bad token: status %d, want 401", ae.Status)
	}

	other := compatClient(t, e, aiven.TokenOpt(e.account("outsider@example.com")))
	_, err = other.ProjectKmsGetCA(ctx, "secret-project")
	if !aiven.IsNotFound(err) {
		t.Errorf("non-member: IsNotFound(%v) = false", err)
	}
	_, err = other.ServiceGet(ctx, "secret-project", "kafka1")
	if !aiven.IsNotFound(err) {
		t.Errorf("non-member service: IsNotFound(%v) = false", err)
	}
}
