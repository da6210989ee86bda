package kcred

import "time"

// Event is an entry of the audit log. Reading a secret is an event too.
// Events never hold secrets.
type Event struct {
	ID      string
	Time    time.Time
	Actor   string // account email, or "kcred" for the system
	Action  string // one of the Action constants
	Project string
	Service string // "" when not about a service
	Target  string // username, member email, ...
	Source  string // remote address
	Detail  string // human-readable description
}

// Event actions.
const (
	ActionProjectCreate    = "project_create"
	ActionProjectUpdate    = "project_update"
	ActionProjectDelete    = "project_delete"
	ActionCARead           = "ca_read"
	ActionMemberAdd        = "member_add"
	ActionMemberUpdate     = "member_update"
	ActionMemberRemove     = "member_remove"
	ActionServiceCreate    = "service_create"
	ActionServiceDelete    = "service_delete"
	ActionUserCreate       = "service_user_create"
	ActionUserDelete       = "service_user_delete"
	ActionCredentialsRead  = "service_user_credentials_read"
	ActionCredentialsReset = "service_user_credentials_reset"
	ActionAccessControlSet = "service_user_access_control_set"
	ActionRenewalAck       = "service_user_renewal_acknowledge"
	ActionRenewal          = "service_user_certificate_renew"
	ActionReminder         = "service_user_renewal_reminder"
	ActionExpired          = "service_user_certificate_expire"
	ActionLogin            = "user_login"
	ActionLoginFailed      = "user_login_failed"
	ActionTokenCreate      = "access_token_create"
	ActionAccountCreate    = "user_create"
	ActionWebhookCreate    = "webhook_create"
	ActionServerCertIssue  = "server_certificate_issue"
	ActionWebhookDelete    = "webhook_delete"
)
