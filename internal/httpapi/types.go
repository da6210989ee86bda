package httpapi

import (
	"encoding/json"
	"net"
	"strconv"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

// Time is a time written as RFC 3339 in UTC with whole seconds, the form
// Aiven's API uses ("2027-11-04T14:01:24Z").
type Time time.Time

// MarshalText implements encoding.TextMarshaler, which encoding/json
// quotes. (A json.Marshaler's output is parsed again and compacted: for
// every time of every user a credential read returns.)
func (t Time) MarshalText() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat(nil, time.RFC3339), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Time) UnmarshalText(b []byte) error {
	var v time.Time
	if err := v.UnmarshalText(b); err != nil {
		return err
	}
	*t = Time(v)
	return nil
}

func timePtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	v := Time(t)
	return &v
}

// TechEmail is Aiven's {"email": ...} contact object.
type TechEmail struct {
	Email string `json:"email"`
}

func techEmails(list []string) []TechEmail {
	out := make([]TechEmail, len(list))
	for i, e := range list {
		out[i] = TechEmail{Email: e}
	}
	return out
}

func fromTechEmails(list []TechEmail) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Email
	}
	return out
}

// CertPolicy is a project's certificate policy on the wire.
type CertPolicy struct {
	KeyType     kcred.KeyType    `json:"key_type,omitempty"`
	Validity    *kcred.Duration  `json:"validity,omitempty"`
	RenewBefore *kcred.Duration  `json:"renew_before,omitempty"`
	Reminders   []kcred.Duration `json:"reminders"`
}

func certPolicy(p kcred.CertPolicy) CertPolicy {
	v, rb := kcred.Duration(p.Validity), kcred.Duration(p.RenewBefore)
	out := CertPolicy{KeyType: p.KeyType, Validity: &v, RenewBefore: &rb, Reminders: make([]kcred.Duration, len(p.Reminders))}
	for i, d := range p.Reminders {
		out.Reminders[i] = kcred.Duration(d)
	}
	return out
}

func (p CertPolicy) domain() kcred.CertPolicy {
	out := kcred.CertPolicy{KeyType: p.KeyType}
	if p.Validity != nil {
		out.Validity = time.Duration(*p.Validity)
	}
	if p.RenewBefore != nil {
		out.RenewBefore = time.Duration(*p.RenewBefore)
	}
	if p.Reminders != nil {
		out.Reminders = make([]time.Duration, len(p.Reminders))
		for i, d := range p.Reminders {
			out.Reminders[i] = time.Duration(d)
		}
	}
	return out
}

// Project is a project on the wire; CertPolicy is the effective policy.
type Project struct {
	ProjectName string      `json:"project_name"`
	TechEmails  []TechEmail `json:"tech_emails"`
	CACert      string      `json:"ca_cert"`
	CertPolicy  CertPolicy  `json:"cert_policy"`
	CreateTime  Time        `json:"create_time"`
}

// User is a service user on the wire, as Aiven's UserOut. Password and
// AccessKey are left out for members who may not read secrets, and
// access_control is left out rather than null (avn crashes on null).
type User struct {
	Username                      string          `json:"username"`
	Type                          string          `json:"type"`
	Password                      *string         `json:"password,omitempty"`
	AccessCert                    string          `json:"access_cert"`
	AccessKey                     *string         `json:"access_key,omitempty"`
	AccessCertNotValidAfterTime   Time            `json:"access_cert_not_valid_after_time"`
	ExpiringCertNotValidAfterTime *Time           `json:"expiring_cert_not_valid_after_time,omitempty"`
	PasswordUpdatedTime           Time            `json:"password_updated_time"`
	AccessControl                 json.RawMessage `json:"access_control,omitempty"`
}

// userResponse is the answer that holds one user: {"user": ...}, a
// struct rather than a map on the path of credential reads.
type userResponse struct {
	User User `json:"user"`
}

func user(v *lifecycle.UserView) User {
	u := User{
		Username:                      v.User.Username,
		Type:                          v.User.Type,
		AccessCert:                    v.Current.CertPEM,
		AccessCertNotValidAfterTime:   Time(v.Current.NotAfter),
		ExpiringCertNotValidAfterTime: timePtr(v.ExpiringNotAfter()),
		PasswordUpdatedTime:           Time(v.User.PasswordUpdateTime),
	}
	if v.User.AccessControl != "" {
		u.AccessControl = json.RawMessage(v.User.AccessControl)
	}
	if v.Secrets {
		pw, key := v.Password, v.KeyPEM
		u.Password, u.AccessKey = &pw, &key
	}
	return u
}

// Component is Aiven's description of a service endpoint; avn picks the
// one with certificate authentication on the dynamic route.
type Component struct {
	Component                 string `json:"component"`
	Host                      string `json:"host"`
	Port                      int    `json:"port"`
	Route                     string `json:"route"`
	Usage                     string `json:"usage"`
	KafkaAuthenticationMethod string `json:"kafka_authentication_method"`
	KafkaSSLCA                string `json:"kafka_ssl_ca"`
	SSL                       bool   `json:"ssl"`
}

// Service is a service on the wire, as Aiven's ServiceGetOut.
type Service struct {
	ServiceName string      `json:"service_name"`
	ServiceType string      `json:"service_type"`
	ServiceURI  string      `json:"service_uri"`
	State       string      `json:"state"`
	CreateTime  Time        `json:"create_time"`
	UpdateTime  Time        `json:"update_time"`
	TechEmails  []TechEmail `json:"tech_emails"`
	Users       []User      `json:"users"`
	Components  []Component `json:"components"`
}

func service(v *lifecycle.ServiceView) Service {
	s := v.Service
	out := Service{
		ServiceName: s.Name, ServiceType: s.Type, ServiceURI: s.URI, State: "RUNNING",
		CreateTime: Time(s.CreateTime), UpdateTime: Time(s.UpdateTime),
		TechEmails: techEmails(s.TechEmails), Users: make([]User, len(v.Users)), Components: []Component{},
	}
	for i, u := range v.Users {
		out.Users[i] = user(u)
	}
	if host, port, err := net.SplitHostPort(s.URI); err == nil {
		p, _ := strconv.Atoi(port)
		out.Components = append(out.Components, Component{
			Component: "kafka", Host: host, Port: p, Route: "dynamic", Usage: "primary",
			KafkaAuthenticationMethod: "certificate", KafkaSSLCA: "project_ca", SSL: true,
		})
	}
	return out
}

// Event is an audit event on the wire, as Aiven's project event log.
type Event struct {
	Actor       string `json:"actor"`
	EventDesc   string `json:"event_desc"`
	EventType   string `json:"event_type"`
	ServiceName string `json:"service_name"`
	Time        Time   `json:"time"`
	Target      string `json:"target,omitempty"`
	Source      string `json:"source,omitempty"`
}

// Member is a project member on the wire.
type Member struct {
	UserEmail  string     `json:"user_email"`
	MemberType kcred.Role `json:"member_type"`
	CreateTime Time       `json:"create_time"`
}
