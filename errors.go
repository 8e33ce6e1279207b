package paved

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Code classifies an error. The server maps each code to one HTTP status and one
// Backstage error name; an error without a code is an internal error whose
// detail is logged, never shown to the caller.
type Code string

const (
	EInvalid         Code = "invalid"         // 400 InputError
	EUnauthenticated Code = "unauthenticated" // 401 AuthenticationError
	EForbidden       Code = "forbidden"       // 403 NotAllowedError
	ENotFound        Code = "not_found"       // 404 NotFoundError
	EConflict        Code = "conflict"        // 409 ConflictError
	ETooLarge        Code = "too_large"       // 413 InputError
	ETooSlow         Code = "too_slow"        // 408 InputError (a request body not sent in time)
	ETimeout         Code = "timeout"         // 504 ServiceUnavailableError (a wait that ran out)
	EUnavailable     Code = "unavailable"     // 503 ServiceUnavailableError
	EInternal        Code = "internal"        // 500 Error
)

// FieldError names one bad field of an input, as a JSON pointer-like path
// ("source.repoURL", "labels.team").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is paved's application error: a code, a message safe to show to the
// caller, the fields at fault, and an optional cause kept for the logs.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error
	// RetryAfter, when set, tells the caller when trying again may succeed
	// (the Retry-After header of a 409 or 503).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Message
	if len(e.Fields) > 0 {
		parts := make([]string, 0, len(e.Fields))
		for _, f := range e.Fields {
			// A message that already says a field (the task log shows
			// only the message) does not say it twice.
			if p := f.Field + ": " + f.Message; !strings.Contains(msg, p) {
				parts = append(parts, p)
			}
		}
		if msg != "" && len(parts) > 0 {
			msg += ": "
		}
		msg += strings.Join(parts, "; ")
	}
	if e.Err != nil && msg == "" {
		return e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrCannotWatch is in the chain of an error that ends a watch for good: the
// source does not serve the stream, or paved may not use it, so watching
// again will not help (polling goes on). An internal signal between adapter
// and domain; callers see the error's code.
var ErrCannotWatch = errors.New("cannot watch")

// MarkCannotWatch returns err with ErrCannotWatch in its chain, code and
// message unchanged.
func MarkCannotWatch(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return errors.Join(ErrCannotWatch, err)
	}
	marked := *e
	marked.Err = errors.Join(ErrCannotWatch, e.Err)
	return &marked
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and message that keeps err as its cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// InvalidFields returns an EInvalid error listing every bad field.
func InvalidFields(fields ...FieldError) *Error {
	return &Error{Code: EInvalid, Message: "invalid input", Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal when
// there is none, and "" for a nil error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return EInternal
}

// RetryAfter returns the retry-after hint of the first *Error in err's
// chain that has one, or 0.
func RetryAfter(err error) time.Duration {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return 0
		}
		if e.RetryAfter > 0 {
			return e.RetryAfter
		}
		err = e.Err
	}
	return 0
}

// ErrorMessage returns the message that is safe to show to a caller.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" && e.Code != EInternal {
		return e.Error()
	}
	return "internal error"
}

// Truncate shortens a caller's value for quoting it in an error or a log
// line: at most n bytes, cut on a rune boundary, then "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
