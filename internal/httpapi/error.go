package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/kcred/kcred"
)

var errInternal = errors.New("internal error")

var statusOf = map[string]int{
	kcred.EINVALID:      http.StatusBadRequest,
	kcred.EUNAUTHORIZED: http.StatusUnauthorized,
	kcred.EFORBIDDEN:    http.StatusForbidden,
	kcred.ENOTFOUND:     http.StatusNotFound,
	kcred.ECONFLICT:     http.StatusConflict,
	kcred.ETOOMANY:      http.StatusTooManyRequests,
	kcred.EINTERNAL:     http.StatusInternalServerError,
}

// errorBody is Aiven's error format; its clients read message and errors.
type errorBody struct {
	Message string        `json:"message"`
	Errors  []errorDetail `json:"errors"`
}

type errorDetail struct {
	Message   string `json:"message"`
	Status    int    `json:"status"`
	ErrorCode string `json:"error_code,omitempty"`
}

// writeError answers with err's status and message. Internal errors are
// logged and shown only as "Internal error.".
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	code := kcred.ErrorCode(err)
	if code == kcred.EINTERNAL {
		log.Error("internal error", "err", err)
	}
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	body := errorBody{Message: kcred.ErrorMessage(err), Errors: []errorDetail{{Message: kcred.ErrorMessage(err), Status: status, ErrorCode: code}}}
	writeJSON(w, status, body)
}

// writeStatus answers with an error of a status that has no kcred code.
func writeStatus(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Message: msg, Errors: []errorDetail{{Message: msg, Status: status}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"Internal error.","errors":[{"message":"Internal error.","status":500}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // bodies may hold keys
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
