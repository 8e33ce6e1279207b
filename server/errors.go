package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/paved-dev/paved"
)

// errorKind is how one error code looks to a Backstage caller.
type errorKind struct {
	status int
	name   string
}

// errorTable is the one place where paved's error codes become HTTP statuses
// and Backstage error names (@backstage/errors).
var errorTable = map[paved.Code]errorKind{
	paved.EInvalid:         {http.StatusBadRequest, "InputError"},
	paved.ETooLarge:        {http.StatusRequestEntityTooLarge, "InputError"},
	paved.ETooSlow:         {http.StatusRequestTimeout, "InputError"},
	paved.EUnauthenticated: {http.StatusUnauthorized, "AuthenticationError"},
	paved.EForbidden:       {http.StatusForbidden, "NotAllowedError"},
	paved.ENotFound:        {http.StatusNotFound, "NotFoundError"},
	paved.EConflict:        {http.StatusConflict, "ConflictError"},
	paved.EUnavailable:     {http.StatusServiceUnavailable, "ServiceUnavailableError"},
	// Names Backstage's clients know, so the reason reaches them: the MCP
	// actions plugin passes on only known names, a plain "Error" (the name
	// Backstage itself gives an unknown error) becomes "Request failed with
	// 504" or "500" for the agent, without the reason or the error id.
	paved.ETimeout:  {http.StatusGatewayTimeout, "ServiceUnavailableError"},
	paved.EInternal: {http.StatusInternalServerError, "ServiceUnavailableError"},
}

// errorBody is Backstage's serialized error response.
type errorBody struct {
	Error struct {
		Name    string             `json:"name"`
		Message string             `json:"message"`
		Fields  []paved.FieldError `json:"fields,omitempty"`
	} `json:"error"`
	Request struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
	Response struct {
		StatusCode int `json:"statusCode"`
	} `json:"response"`
}

// errorHandler writes every error as Backstage's error JSON. An error without a
// code is internal: its detail goes to the log and the span, not to the caller.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		err = fromEcho(err)
		code := paved.ErrorCode(err)
		kind, ok := errorTable[code]
		if !ok {
			kind = errorTable[paved.EInternal]
		}
		var body errorBody
		body.Error.Name = kind.name
		body.Error.Message = maskSecrets(c, paved.ErrorMessage(err))
		var errorID string
		if kind.status == http.StatusInternalServerError {
			// The detail stays in the log; the caller gets the id that finds it.
			errorID = newErrorID()
			body.Error.Message = fmt.Sprintf("internal error %s: paved's log has its cause under errorId=%s", errorID, errorID)
		}
		var pe *paved.Error
		if errors.As(err, &pe) && code != paved.EInternal {
			body.Error.Fields = make([]paved.FieldError, len(pe.Fields))
			for i, f := range pe.Fields {
				body.Error.Fields[i] = paved.FieldError{Field: f.Field, Message: maskSecrets(c, f.Message)}
			}
		}
		body.Request.Method = c.Request().Method
		body.Request.URL = c.Request().URL.Path
		body.Response.StatusCode = kind.status
		span := trace.SpanFromContext(c.Request().Context())
		if kind.status >= 500 {
			span.SetStatus(codes.Error, body.Error.Message)
			span.RecordError(err)
			attrs := []any{"method", c.Request().Method, "route", c.Path(), "status", kind.status, "error", err}
			if errorID != "" {
				attrs = append(attrs, "errorId", errorID)
			}
			logger.Error("request failed", attrs...)
		}
		if d := paved.RetryAfter(err); d > 0 && (kind.status == http.StatusConflict || kind.status == http.StatusServiceUnavailable) {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(kind.status)
			return
		}
		if marked, _ := c.Get(reasonKey).(bool); marked {
			// The message already names every bad field (paved.Error.Error).
			if b, err := json.Marshal(body); err == nil &&
				writeWithReason(c, kind.status, reasonPhrase(body.Error.Message), echo.MIMEApplicationJSON, append(b, '\n')) {
				return
			}
		}
		_ = c.JSON(kind.status, body)
	}
}

// fromEcho turns echo's own errors (unknown route, wrong method, body too
// large) into coded errors.
func fromEcho(err error) error {
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		return err
	}
	msg := fmt.Sprint(he.Message)
	switch he.Code {
	case http.StatusNotFound:
		return paved.Errorf(paved.ENotFound, "no such route")
	case http.StatusMethodNotAllowed:
		return paved.Errorf(paved.ENotFound, "method not allowed on this route")
	case http.StatusRequestEntityTooLarge:
		return paved.Errorf(paved.ETooLarge, "request body too large")
	case http.StatusUnauthorized:
		return paved.Errorf(paved.EUnauthenticated, "%s", msg)
	case http.StatusBadRequest:
		return paved.Errorf(paved.EInvalid, "%s", msg)
	}
	if he.Code >= 500 {
		return fmt.Errorf("echo: %d %s", he.Code, msg)
	}
	return paved.Errorf(paved.EInvalid, "%s", msg)
}

// newErrorID names one internal error for the caller and the log.
func newErrorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
