package kcred

// Role is a member's role in a project, with Aiven's names.
type Role string

// Roles from least to most privileged. Each may do what the ones before it may.
const (
	RoleReadOnly  Role = "read_only" // projects, services and users, without secrets
	RoleDeveloper Role = "developer" // also reads credentials and acknowledges renewals
	RoleOperator  Role = "operator"  // also creates, resets and deletes services and service users
	RoleAdmin     Role = "admin"     // also members, contacts, policy, webhooks and the project
)

func (r Role) rank() int {
	switch r {
	case RoleReadOnly:
		return 1
	case RoleDeveloper:
		return 2
	case RoleOperator:
		return 3
	case RoleAdmin:
		return 4
	}
	return 0
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r may do what min may.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }
