package httpapi

import (
	"net/http"
	"strconv"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

func (s *Server) project(r *http.Request, p *kcred.Project) (Project, error) {
	cas, err := s.m.Store().ListCAs(r.Context(), p.Name)
	if err != nil {
		return Project{}, err
	}
	out := Project{ProjectName: p.Name, TechEmails: techEmails(p.TechEmails), CertPolicy: certPolicy(s.m.Policy(p)), CreateTime: Time(p.CreateTime)}
	for _, ca := range cas {
		if ca.Generation == p.CAGeneration {
			out.CACert = ca.CertPEM
		}
	}
	return out, nil
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	ps, err := s.m.ListProjects(r.Context(), a)
	if err != nil {
		return err
	}
	out := make([]Project, len(ps))
	for i, p := range ps {
		if out[i], err = s.project(r, p); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": out})
	return nil
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		Project    string      `json:"project"`
		TechEmails []TechEmail `json:"tech_emails"`
		CertPolicy *CertPolicy `json:"cert_policy"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	var pol kcred.CertPolicy
	if in.CertPolicy != nil {
		pol = in.CertPolicy.domain()
	}
	p, err := s.m.CreateProject(r.Context(), a, in.Project, fromTechEmails(in.TechEmails), pol)
	if err != nil {
		return err
	}
	return s.writeProject(w, r, p)
}

func (s *Server) writeProject(w http.ResponseWriter, r *http.Request, p *kcred.Project) error {
	out, err := s.project(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": out})
	return nil
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	p, _, err := s.m.GetProject(r.Context(), a, r.PathValue("project"))
	if err != nil {
		return err
	}
	return s.writeProject(w, r, p)
}

func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		TechEmails *[]TechEmail `json:"tech_emails"`
		CertPolicy *CertPolicy  `json:"cert_policy"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	var u lifecycle.ProjectUpdate
	if in.TechEmails != nil {
		emails := fromTechEmails(*in.TechEmails)
		u.TechEmails = &emails
	}
	if in.CertPolicy != nil {
		pol := in.CertPolicy.domain()
		u.Policy = &pol
	}
	p, err := s.m.UpdateProject(r.Context(), a, r.PathValue("project"), u)
	if err != nil {
		return err
	}
	return s.writeProject(w, r, p)
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	if err := s.m.DeleteProject(r.Context(), a, r.PathValue("project")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Project deleted."})
	return nil
}

func (s *Server) getCA(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	pem, err := s.m.CACertificates(r.Context(), a, r.PathValue("project"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"certificate": pem})
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	// Aiven's clients send limit=999 on every request; it is honoured
	// here, the one list where a limit means something.
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	evs, err := s.m.ListEvents(r.Context(), a, r.PathValue("project"), limit)
	if err != nil {
		return err
	}
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = Event{Actor: e.Actor, EventDesc: e.Detail, EventType: e.Action, ServiceName: e.Service, Time: Time(e.Time), Target: e.Target, Source: e.Source}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
	return nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	ms, err := s.m.ListMembers(r.Context(), a, r.PathValue("project"))
	if err != nil {
		return err
	}
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = Member{UserEmail: m.Email, MemberType: m.Role, CreateTime: Time(m.CreateTime)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "invitations": []any{}})
	return nil
}

func (s *Server) invite(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		UserEmail  string     `json:"user_email"`
		MemberType kcred.Role `json:"member_type"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := s.m.Invite(r.Context(), a, r.PathValue("project"), in.UserEmail, in.MemberType); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "User " + in.UserEmail + " added to the project."})
	return nil
}

func (s *Server) setMemberRole(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		MemberType kcred.Role `json:"member_type"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := s.m.SetMemberRole(r.Context(), a, r.PathValue("project"), r.PathValue("email"), in.MemberType); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Member role updated."})
	return nil
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	if err := s.m.RemoveMember(r.Context(), a, r.PathValue("project"), r.PathValue("email")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Member removed."})
	return nil
}
