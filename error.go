package kcred

import (
	"errors"
	"fmt"
)

// Error codes. Only the HTTP and console layers turn them into statuses.
const (
	EINVALID      = "invalid"      // bad input; 400
	ENOTFOUND     = "not_found"    // missing, or not visible to the caller; 404
	ECONFLICT     = "conflict"     // already exists or state forbids it; 409
	EUNAUTHORIZED = "unauthorized" // no, bad or expired credentials; 401
	EFORBIDDEN    = "forbidden"    // a member whose role does not allow it; 403
	ETOOMANY      = "too_many"     // rate limited; 429
	EINTERNAL     = "internal"     // a bug or an outage; 500, never shown in detail
)

// Error is an error with a code and a message fit to show the caller.
// Messages never carry secrets.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("kcred error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain,
// EINTERNAL for any other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, and a
// generic message for any other error so that internal details never leak.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
