package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/kcred/kcred/internal/lifecycle"
)

func (s *Server) listServices(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	vs, err := s.m.ListServices(r.Context(), a, r.PathValue("project"))
	if err != nil {
		return err
	}
	out := make([]Service, len(vs))
	for i, v := range vs {
		out[i] = service(v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": out})
	return nil
}

func (s *Server) createService(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		ServiceName string      `json:"service_name"`
		ServiceType string      `json:"service_type"`
		ServiceURI  string      `json:"service_uri"`
		TechEmails  []TechEmail `json:"tech_emails"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	v, err := s.m.CreateService(r.Context(), a, r.PathValue("project"), lifecycle.ServiceSpec{
		Name: in.ServiceName, Type: in.ServiceType, URI: in.ServiceURI, TechEmails: fromTechEmails(in.TechEmails),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": service(v)})
	return nil
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	v, _, err := s.m.GetService(r.Context(), a, r.PathValue("project"), r.PathValue("service"), includeSecrets(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": service(v)})
	return nil
}

func (s *Server) deleteService(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	if err := s.m.DeleteService(r.Context(), a, r.PathValue("project"), r.PathValue("service")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Service deleted."})
	return nil
}

func (s *Server) createServiceUser(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		Username string `json:"username"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	v, err := s.m.CreateUser(r.Context(), a, r.PathValue("project"), r.PathValue("service"), in.Username)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{user(v)})
	return nil
}

func (s *Server) getServiceUser(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	v, _, err := s.m.GetUser(r.Context(), a, r.PathValue("project"), r.PathValue("service"), r.PathValue("username"), includeSecrets(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{user(v)})
	return nil
}

func (s *Server) modifyServiceUser(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		Operation     string          `json:"operation"`
		NewPassword   *string         `json:"new_password"`
		AccessControl json.RawMessage `json:"access_control"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	v, err := s.m.Modify(r.Context(), a, r.PathValue("project"), r.PathValue("service"), r.PathValue("username"), in.Operation, in.NewPassword, in.AccessControl)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Completed " + in.Operation + ".", "service": service(v)})
	return nil
}

func (s *Server) resetCredentials(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	v, err := s.m.ResetCredentials(r.Context(), a, r.PathValue("project"), r.PathValue("service"), r.PathValue("username"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": service(v)})
	return nil
}

func (s *Server) deleteServiceUser(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	if err := s.m.DeleteUser(r.Context(), a, r.PathValue("project"), r.PathValue("service"), r.PathValue("username")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Service user deleted."})
	return nil
}
