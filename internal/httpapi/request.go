package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/lifecycle"
)

// errTooLarge marks a body over MaxBodyBytes; it becomes 413.
var errTooLarge = errors.New("request body too large")

// decode reads r's JSON body into v. Unknown fields are ignored (Aiven's
// clients send more than kcred reads) and an empty body reads as {}.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	} else if err != nil {
		return kcred.Errorf(kcred.EINVALID, "Could not read the request body.")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return kcred.Errorf(kcred.EINVALID, "Invalid JSON body: field %q must be %s.", te.Field, te.Type.String())
		}
		return kcred.Errorf(kcred.EINVALID, "Invalid JSON body: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// bearer returns the token of an "Authorization: aivenv1 <token>" (Aiven's
// clients) or "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok {
		return ""
	}
	if strings.EqualFold(scheme, "aivenv1") || strings.EqualFold(scheme, "bearer") {
		return strings.TrimSpace(token)
	}
	return ""
}

// handler is an API handler for an authenticated actor.
type handler func(w http.ResponseWriter, r *http.Request, a lifecycle.Actor) error

// authed authenticates the request and maps what h returns to a response.
func (s *Server) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		acct, err := s.m.Authenticate(r.Context(), bearer(r))
		if err != nil {
			s.fail(w, err)
			return
		}
		if err := h(w, r, lifecycle.Actor{Account: acct, Source: r.RemoteAddr}); err != nil {
			s.fail(w, err)
		}
	}
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, errTooLarge) {
		writeStatus(w, http.StatusRequestEntityTooLarge, "Request body is larger than 1 MiB.")
		return
	}
	writeError(w, s.log, err)
}

// includeSecrets reads Aiven's include_secrets query parameter. Aiven's
// clients that do not send it expect secrets, so absent means true.
func includeSecrets(r *http.Request) bool {
	v := strings.ToLower(r.URL.Query().Get("include_secrets"))
	return v != "false" && v != "0"
}
