package httpapi

import (
	"net/http"
	"time"

	"github.com/kcred/kcred/internal/lifecycle"
)

func (s *Server) userauth(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		s.fail(w, err)
		return
	}
	token, acct, err := s.m.Login(r.Context(), in.Email, in.Password, r.RemoteAddr)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "user_email": acct.Email, "state": "active"})
}

func (s *Server) createAccessToken(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		Description   string `json:"description"`
		MaxAgeSeconds *int64 `json:"max_age_seconds"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	var maxAge time.Duration
	if in.MaxAgeSeconds != nil {
		maxAge = time.Duration(*in.MaxAgeSeconds) * time.Second
		if *in.MaxAgeSeconds <= 0 || *in.MaxAgeSeconds > int64(10*365*24*3600) {
			maxAge = -1 // rejected by the Manager with a clear message
		}
	}
	secret, t, err := s.m.CreateToken(r.Context(), a, in.Description, maxAge)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"full_token": secret, "token_prefix": t.Prefix, "description": t.Description,
		"create_time": Time(t.CreateTime), "expiry_time": timePtr(t.ExpiryTime),
	})
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		RealName string `json:"real_name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	acct, err := s.m.CreateAccount(r.Context(), a, in.Email, in.Password, in.RealName)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": map[string]any{"email": acct.Email, "real_name": acct.RealName}})
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	writeJSON(w, http.StatusOK, map[string]any{"user": map[string]any{
		"user": a.Account.Email, "user_email": a.Account.Email, "real_name": a.Account.RealName,
		"state": "active", "superuser": a.Account.Superuser, "create_time": Time(a.Account.CreateTime),
	}})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error {
	if err := s.m.RevokeToken(r.Context(), bearer(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Logged out."})
	return nil
}
