package console

import (
	"net/http"
	"strings"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

func (h *Handler) home(w http.ResponseWriter, r *http.Request, s *session) error {
	http.Redirect(w, r, "/projects", http.StatusSeeOther)
	return nil
}

type projectRow struct {
	Name       string
	Role       kcred.Role
	TechEmails []string
	CreateTime string
}

type projectsData struct {
	Projects []projectRow
}

func (h *Handler) projects(w http.ResponseWriter, r *http.Request, s *session) error {
	ps, err := h.m.ListProjects(r.Context(), s.Actor)
	if err != nil {
		return err
	}
	d := projectsData{Projects: make([]projectRow, 0, len(ps))}
	for _, p := range ps {
		_, role, err := h.m.GetProject(r.Context(), s.Actor, p.Name)
		if kcred.ErrorCode(err) == kcred.ENOTFOUND {
			continue // removed meanwhile
		} else if err != nil {
			return err
		}
		d.Projects = append(d.Projects, projectRow{Name: p.Name, Role: role, TechEmails: p.TechEmails, CreateTime: fmtDate(p.CreateTime)})
	}
	h.render(w, r, http.StatusOK, "projects", sessionPage(s, "Projects", nav{Tab: "projects"}, []crumb{{Label: "Projects"}}, d))
	return nil
}

func (h *Handler) createProject(w http.ResponseWriter, r *http.Request, s *session) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	p, err := h.m.CreateProject(r.Context(), s.Actor, name, splitEmails(r.PostFormValue("tech_emails")), kcred.CertPolicy{})
	if err != nil {
		return h.formFail(w, r, s, err, "/projects")
	}
	return h.done(w, r, projectURL(p.Name), "Project "+p.Name+" created with its certificate authority. You are its admin.")
}

// splitEmails splits a list of addresses separated by commas, spaces or
// new lines.
func splitEmails(s string) []string {
	return strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ';' || c == ' ' || c == '\n' || c == '\r' || c == '\t' })
}

type serviceRow struct {
	Name     string
	URI      string
	Users    int
	Pending  int
	Expiring int
	Expired  int
}

type projectData struct {
	Project  *kcred.Project
	Role     kcred.Role
	Policy   kcred.CertPolicy
	Services []serviceRow
	Members  []*kcred.Member
	Chart    *expiryChart
	Self     string // the viewer's email, to mark their own membership
	// Renewals are the first open renewals, soonest old expiry first, of
	// RenewalsTotal.
	Renewals      []renewalRow
	RenewalsTotal int
}

func (h *Handler) project(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("project")
	p, role, err := h.m.GetProject(r.Context(), s.Actor, name)
	if err != nil {
		return err
	}
	svcs, err := h.m.ListServices(r.Context(), s.Actor, name)
	if err != nil {
		return err
	}
	members, err := h.m.ListMembers(r.Context(), s.Actor, name)
	if err != nil {
		return err
	}
	renewals, err := h.m.OpenRenewals(r.Context(), s.Actor, name)
	if err != nil {
		return err
	}
	now := h.m.Now()
	pol := h.m.Policy(p)
	d := projectData{Project: p, Role: role, Policy: pol, Members: members, Chart: newExpiryChart(svcs, now), Self: s.Actor.Account.Email}
	d.Renewals, d.RenewalsTotal = openRenewals(renewals, now)
	for _, sv := range svcs {
		row := serviceRow{Name: sv.Service.Name, URI: sv.Service.URI, Users: len(sv.Users)}
		for _, u := range sv.Users {
			if u.Pending() {
				row.Pending++
			}
			switch certValidity(u.Credentials, pol.RenewBefore, now).Status {
			case statusExpiring:
				row.Expiring++
			case statusExpired:
				row.Expired++
			}
		}
		d.Services = append(d.Services, row)
	}
	h.render(w, r, http.StatusOK, "project", sessionPage(s, p.Name, nav{Project: p.Name, Tab: "overview", Role: role},
		[]crumb{{Label: "Projects", URL: "/projects"}, {Label: p.Name}}, d))
	return nil
}

func (h *Handler) caPEM(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("project")
	pem, err := h.m.CACertificates(r.Context(), s.Actor, name)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", attachment("ca.pem"))
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(pem))
	return nil
}

func (h *Handler) updateContacts(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("project")
	emails := splitEmails(r.PostFormValue("tech_emails"))
	if _, err := h.m.UpdateProject(r.Context(), s.Actor, name, lifecycle.ProjectUpdate{TechEmails: &emails}); err != nil {
		return h.formFail(w, r, s, err, projectURL(name)+"#contacts")
	}
	return h.done(w, r, projectURL(name)+"#contacts", "Technical contacts saved.")
}

func (h *Handler) addMember(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("project")
	email, role := strings.TrimSpace(r.PostFormValue("email")), kcred.Role(r.PostFormValue("role"))
	if err := h.m.Invite(r.Context(), s.Actor, name, email, role); err != nil {
		return h.formFail(w, r, s, err, projectURL(name)+"#members")
	}
	return h.done(w, r, projectURL(name)+"#members", email+" is now a member with the role "+roleLabel(role)+".")
}

func (h *Handler) setMemberRole(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("project")
	email, role := r.PostFormValue("email"), kcred.Role(r.PostFormValue("role"))
	if err := h.m.SetMemberRole(r.Context(), s.Actor, name, email, role); err != nil {
		return h.formFail(w, r, s, err, projectURL(name)+"#members")
	}
	return h.done(w, r, projectURL(name)+"#members", "The role of "+email+" is now "+roleLabel(role)+".")
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("project")
	email := r.PostFormValue("email")
	back := projectURL(name) + "#members"
	if !confirmed(r) {
		_, role, err := h.m.GetProject(r.Context(), s.Actor, name)
		if err != nil {
			return err
		}
		if err := needRole(name, role, kcred.RoleAdmin); err != nil {
			return err
		}
		return h.confirm(w, r, s, confirmData{
			Heading: "Remove " + email + " from " + name + "?",
			Body:    "They lose access to the project's services, users and credentials at once.",
			Action:  projectURL(name) + "/members/remove", Button: "Remove member", Back: back,
			Fields: map[string]string{"email": email},
		})
	}
	if err := h.m.RemoveMember(r.Context(), s.Actor, name, email); err != nil {
		return h.formFail(w, r, s, err, back)
	}
	if strings.EqualFold(email, s.Actor.Account.Email) && !s.Actor.Account.Superuser {
		return h.done(w, r, "/projects", "You left project "+name+".")
	}
	return h.done(w, r, back, email+" was removed from the project.")
}

func (h *Handler) createService(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("project")
	spec := lifecycle.ServiceSpec{
		Name:       strings.TrimSpace(r.PostFormValue("name")),
		URI:        strings.TrimSpace(r.PostFormValue("service_uri")),
		TechEmails: splitEmails(r.PostFormValue("tech_emails")),
	}
	v, err := h.m.CreateService(r.Context(), s.Actor, name, spec)
	if err != nil {
		return h.formFail(w, r, s, err, projectURL(name)+"#services")
	}
	return h.done(w, r, serviceURL(name, v.Service.Name), "Service "+v.Service.Name+" created with its primary user avnadmin.")
}

type eventsData struct {
	Events []*kcred.Event
	Limit  int
}

// eventLimit is how many events the events page shows.
const eventLimit = 500

func (h *Handler) events(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("project")
	_, role, err := h.m.GetProject(r.Context(), s.Actor, name)
	if err != nil {
		return err
	}
	evs, err := h.m.ListEvents(r.Context(), s.Actor, name, eventLimit)
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "events", sessionPage(s, "Events · "+name, nav{Project: name, Tab: "events", Role: role},
		[]crumb{{Label: "Projects", URL: "/projects"}, {Label: name, URL: projectURL(name)}, {Label: "Events"}},
		eventsData{Events: evs, Limit: eventLimit}))
	return nil
}
