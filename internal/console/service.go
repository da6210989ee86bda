package console

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

// userRow is a service user as the console's tables show it. It never
// holds a secret: passwords and keys are fetched one at a time by reveal.
type userRow struct {
	Username string
	Type     string
	Primary  bool
	Serial   string
	KeyType  kcred.KeyType
	NotAfter time.Time
	Validity validity
	Pending  bool
	CertPEM  string
	DomID    string
}

func newUserRow(v *lifecycle.UserView, renewBefore time.Duration, now time.Time) userRow {
	return userRow{
		Username: v.User.Username,
		Type:     v.User.Type,
		Primary:  v.User.Type == kcred.UserTypePrimary,
		Serial:   v.Current.Serial,
		KeyType:  v.Current.KeyType,
		NotAfter: v.Current.NotAfter,
		Validity: certValidity(v.Credentials, renewBefore, now),
		Pending:  v.Pending(),
		CertPEM:  v.Current.CertPEM,
		DomID:    domID(v.User.Username),
	}
}

// serviceView loads a service without secrets, with its project's policy.
func (h *Handler) serviceView(r *http.Request, s *session) (*lifecycle.ServiceView, *kcred.Project, kcred.Role, error) {
	p, _, err := h.m.GetProject(r.Context(), s.Actor, r.PathValue("project"))
	if err != nil {
		return nil, nil, "", err
	}
	v, role, err := h.m.GetService(r.Context(), s.Actor, p.Name, r.PathValue("service"), false)
	if err != nil {
		return nil, nil, "", err
	}
	return v, p, role, nil
}

func serviceCrumbs(p, svc string, last ...string) []crumb {
	c := []crumb{{Label: "Projects", URL: "/projects"}, {Label: p, URL: projectURL(p)}}
	if len(last) == 0 {
		return append(c, crumb{Label: svc})
	}
	c = append(c, crumb{Label: svc, URL: serviceURL(p, svc)})
	for i, l := range last {
		if i == len(last)-1 {
			c = append(c, crumb{Label: l})
		} else {
			c = append(c, crumb{Label: l, URL: serviceURL(p, svc) + "/users"})
		}
	}
	return c
}

type serviceData struct {
	Project  string
	Service  *kcred.Service
	Role     kcred.Role
	Host     string
	Port     string
	Users    int
	Pending  int
	Expiring int
	Expired  int
	Policy   kcred.CertPolicy
}

func (h *Handler) service(w http.ResponseWriter, r *http.Request, s *session) error {
	v, p, role, err := h.serviceView(r, s)
	if err != nil {
		return err
	}
	now, pol := h.m.Now(), h.m.Policy(p)
	d := serviceData{Project: p.Name, Service: v.Service, Role: role, Users: len(v.Users), Policy: pol}
	d.Host, d.Port, _ = net.SplitHostPort(v.Service.URI)
	for _, u := range v.Users {
		if u.Pending() {
			d.Pending++
		}
		switch certValidity(u.Credentials, pol.RenewBefore, now).Status {
		case statusExpiring:
			d.Expiring++
		case statusExpired:
			d.Expired++
		}
	}
	h.render(w, r, http.StatusOK, "service", sessionPage(s, v.Service.Name+" · "+p.Name,
		nav{Project: p.Name, Service: v.Service.Name, Tab: "service", Role: role}, serviceCrumbs(p.Name, v.Service.Name), d))
	return nil
}

type usersData struct {
	Project   string
	Service   *kcred.Service
	Role      kcred.Role
	Rows      []userRow
	All       []string // every username, for the Java stores form
	Query     string
	Total     int
	Pending   int
	Expiring  int
	Expired   int
	JavaUser  string
	ReturnURL string
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, s *session) error {
	v, p, role, err := h.serviceView(r, s)
	if err != nil {
		return err
	}
	now, pol := h.m.Now(), h.m.Policy(p)
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := usersData{Project: p.Name, Service: v.Service, Role: role, Query: q, Total: len(v.Users),
		ReturnURL: serviceURL(p.Name, v.Service.Name) + "/users"}
	for _, u := range v.Users {
		row := newUserRow(u, pol.RenewBefore, now)
		d.All = append(d.All, row.Username)
		if row.Pending {
			d.Pending++
		}
		switch row.Validity.Status {
		case statusExpiring:
			d.Expiring++
		case statusExpired:
			d.Expired++
		}
		if q == "" || strings.Contains(strings.ToLower(row.Username), strings.ToLower(q)) {
			d.Rows = append(d.Rows, row)
		}
	}
	if len(d.All) > 0 {
		d.JavaUser = d.All[0]
		for _, u := range v.Users {
			if u.User.Type == kcred.UserTypeNormal {
				d.JavaUser = u.User.Username
				break
			}
		}
	}
	h.render(w, r, http.StatusOK, "users", sessionPage(s, "Service users · "+v.Service.Name,
		nav{Project: p.Name, Service: v.Service.Name, Tab: "users", Role: role}, serviceCrumbs(p.Name, v.Service.Name, "Service users"), d))
	return nil
}

type userData struct {
	Project   string
	Service   string
	Role      kcred.Role
	Row       userRow
	User      *lifecycle.UserView
	History   []*kcred.Certificate
	Renewal   *kcred.Renewal
	Policy    kcred.CertPolicy
	RenewAt   time.Time
	ReturnURL string
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request, s *session) error {
	pname, sname, uname := r.PathValue("project"), r.PathValue("service"), r.PathValue("username")
	p, _, err := h.m.GetProject(r.Context(), s.Actor, pname)
	if err != nil {
		return err
	}
	v, certs, role, err := h.m.ConsoleUserHistory(r.Context(), s.Actor, pname, sname, uname)
	if err != nil {
		return err
	}
	pol := h.m.Policy(p)
	d := userData{Project: pname, Service: sname, Role: role, Row: newUserRow(v, pol.RenewBefore, h.m.Now()),
		User: v, History: certs, Renewal: v.Renewal, Policy: pol, ReturnURL: userURL(pname, sname, uname),
		RenewAt: v.Current.NotAfter.Add(-pol.RenewBefore)}
	h.render(w, r, http.StatusOK, "user", sessionPage(s, uname+" · "+sname,
		nav{Project: pname, Service: sname, Tab: "users", Role: role}, serviceCrumbs(pname, sname, "Service users", uname), d))
	return nil
}

// returnTo is the page a user action goes back to: the "return" field when
// it is a page of the same service, else the users page.
func returnTo(r *http.Request) string {
	base := serviceURL(r.PathValue("project"), r.PathValue("service"))
	ret := r.PostFormValue("return")
	if ret == base || strings.HasPrefix(ret, base+"/") {
		if safeNext(ret) == ret {
			return ret
		}
	}
	return base + "/users"
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, s *session) error {
	pname, sname := r.PathValue("project"), r.PathValue("service")
	username := strings.TrimSpace(r.PostFormValue("username"))
	back := serviceURL(pname, sname) + "/users"
	// The view holds the new user's secrets; the console shows them only
	// through reveal, so that every read is its own event.
	if _, err := h.m.CreateUser(r.Context(), s.Actor, pname, sname, username); err != nil {
		return h.formFail(w, r, s, err, back)
	}
	return h.done(w, r, back, "Service user "+username+" created with its first certificate.")
}

// reveal answers a password or access key as JSON, one at a time, so that
// every reveal is a read through lifecycle and an audit event. Members who
// may not read secrets get 403.
func (h *Handler) reveal(w http.ResponseWriter, r *http.Request, s *session) error {
	what := r.PostFormValue("what")
	if what != "password" && what != "key" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Ask for the password or the key."})
		return nil
	}
	v, role, err := h.m.GetUser(r.Context(), s.Actor, r.PathValue("project"), r.PathValue("service"), r.PathValue("username"), true)
	if err != nil {
		if kcred.ErrorCode(err) == kcred.EINTERNAL {
			h.log.Error("console reveal", "err", err)
		}
		status, ok := statusOf[kcred.ErrorCode(err)]
		if !ok || status == http.StatusInternalServerError {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "kcred could not read the secret; try again."})
			return nil
		}
		writeJSON(w, status, map[string]string{"message": kcred.ErrorMessage(err)})
		return nil
	}
	if !v.Secrets {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Your role (" + roleLabel(role) + ") does not allow reading passwords and keys."})
		return nil
	}
	value := v.Password
	if what == "key" {
		value = v.KeyPEM
	}
	writeJSON(w, http.StatusOK, map[string]string{"value": value})
	return nil
}

func (h *Handler) acknowledge(w http.ResponseWriter, r *http.Request, s *session) error {
	pname, sname, uname := r.PathValue("project"), r.PathValue("service"), r.PathValue("username")
	back := returnTo(r)
	before, _, err := h.m.GetUser(r.Context(), s.Actor, pname, sname, uname, false)
	if err != nil {
		return err
	}
	if _, err := h.m.ConsoleAcknowledge(r.Context(), s.Actor, pname, sname, uname); err != nil {
		return h.formFail(w, r, s, err, back)
	}
	if !before.Pending() {
		return h.done(w, r, back, "Nothing to acknowledge: "+uname+" has no renewed certificate waiting.")
	}
	return h.done(w, r, back, "Acknowledged: "+uname+" uses the renewed certificate. Reminders stop; the old certificate works until it expires.")
}

func (h *Handler) reset(w http.ResponseWriter, r *http.Request, s *session) error {
	pname, sname, uname := r.PathValue("project"), r.PathValue("service"), r.PathValue("username")
	back := returnTo(r)
	if !confirmed(r) {
		if err := h.mayChangeUser(r, s); err != nil {
			return err
		}
		return h.confirm(w, r, s, confirmData{
			Heading: "Reset the credentials of " + uname + "?",
			Body:    "kcred makes a new password, key and certificate at once. Every client that uses " + uname + " needs the new files; the old password stops working now.",
			Action:  userURL(pname, sname, uname) + "/reset", Button: "Reset credentials", Back: back,
			Fields: map[string]string{"return": back},
		})
	}
	v, err := h.m.ConsoleReset(r.Context(), s.Actor, pname, sname, uname)
	if err != nil {
		return h.formFail(w, r, s, err, back)
	}
	return h.done(w, r, back, "Credentials of "+uname+" reset: new password, key and certificate (serial "+v.Current.Serial+").")
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, s *session) error {
	pname, sname, uname := r.PathValue("project"), r.PathValue("service"), r.PathValue("username")
	users := serviceURL(pname, sname) + "/users"
	back := returnTo(r)
	if !confirmed(r) {
		if err := h.mayChangeUser(r, s); err != nil {
			return err
		}
		return h.confirm(w, r, s, confirmData{
			Heading: "Delete service user " + uname + "?",
			Body:    "Its password, keys and certificates are deleted. Clients that use " + uname + " can no longer get its credentials from kcred.",
			Action:  userURL(pname, sname, uname) + "/delete", Button: "Delete user", Back: back,
			Fields: map[string]string{"return": back},
		})
	}
	if err := h.m.DeleteUser(r.Context(), s.Actor, pname, sname, uname); err != nil {
		return h.formFail(w, r, s, err, back)
	}
	return h.done(w, r, users, "Service user "+uname+" deleted.")
}

func (h *Handler) deleteService(w http.ResponseWriter, r *http.Request, s *session) error {
	pname, sname := r.PathValue("project"), r.PathValue("service")
	back := serviceURL(pname, sname)
	if !confirmed(r) {
		_, role, err := h.m.GetService(r.Context(), s.Actor, pname, sname, false)
		if err != nil {
			return err
		}
		if err := needRole(pname, role, kcred.RoleOperator); err != nil {
			return err
		}
		return h.confirm(w, r, s, confirmData{
			Heading: "Delete service " + sname + "?",
			Body:    "All its service users, passwords, keys and certificates are deleted. The Kafka cluster itself is not touched.",
			Action:  back + "/delete", Button: "Delete service", Back: back,
		})
	}
	if err := h.m.DeleteService(r.Context(), s.Actor, pname, sname); err != nil {
		return h.formFail(w, r, s, err, back)
	}
	return h.done(w, r, projectURL(pname), "Service "+sname+" deleted.")
}

// mayChangeUser checks, before asking for confirmation, that the user
// exists and that the actor may reset or delete it (operator and up), so
// that nobody confirms what they then may not do. The use case checks again.
func (h *Handler) mayChangeUser(r *http.Request, s *session) error {
	pname := r.PathValue("project")
	_, role, err := h.m.GetUser(r.Context(), s.Actor, pname, r.PathValue("service"), r.PathValue("username"), false)
	if err != nil {
		return err
	}
	return needRole(pname, role, kcred.RoleOperator)
}

// needRole is lifecycle's EFORBIDDEN, for the console's own early checks.
func needRole(project string, role, min kcred.Role) error {
	if role.AtLeast(min) {
		return nil
	}
	return kcred.Errorf(kcred.EFORBIDDEN, "Your role in project %q (%s) does not allow this; it needs %s.", project, role, min)
}

// confirmData is a confirmation step of a destructive action. Browsers
// with the console's script confirm in a dialog on the page; without it,
// the post lands here first.
type confirmData struct {
	Heading string
	Body    string
	Action  string
	Button  string
	Back    string
	Fields  map[string]string
}

func confirmed(r *http.Request) bool { return r.PostFormValue("confirm") == "yes" }

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, s *session, d confirmData) error {
	h.render(w, r, http.StatusOK, "confirm", sessionPage(s, d.Heading, nav{}, nil, d))
	return nil
}
