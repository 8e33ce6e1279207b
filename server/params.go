package server

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
)

// maxTextParam bounds a free-text query parameter (an action id, an entity
// ref): longer values match nothing paved stores.
const maxTextParam = 1024

// textParam returns query parameter name, or a field error when it is not
// text a store can compare: PostgreSQL refuses NUL bytes and invalid UTF-8
// outright, which would otherwise surface as a 500.
func textParam(c echo.Context, name string) (string, *paved.FieldError) {
	v := c.QueryParam(name)
	switch {
	case len(v) > maxTextParam:
		return "", &paved.FieldError{Field: name, Message: "must be at most " + strconv.Itoa(maxTextParam) + " bytes"}
	case !utf8.ValidString(v):
		return "", &paved.FieldError{Field: name, Message: "must be valid UTF-8"}
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "", &paved.FieldError{Field: name, Message: "must not contain control characters"}
		}
	}
	return v, nil
}
