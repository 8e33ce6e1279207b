package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// Feedback takes developers' answers about their own runs; *devex.Feedbacks
// is one.
type Feedback interface {
	Recent(ctx context.Context, userRef string) ([]devex.RunFeedback, error)
	Get(ctx context.Context, taskID, userRef string) (devex.RunFeedback, error)
	Put(ctx context.Context, taskID, userRef string, in devex.FeedbackInput) (devex.RunFeedback, bool, error)
}

var _ Feedback = (*devex.Feedbacks)(nil)

// maxFeedbackBody bounds a feedback answer: a score and a 2000-character
// comment, in JSON with every character escaped.
const maxFeedbackBody = 16 << 10

// requireUser lets through calls made by or on behalf of a user: a user
// token, or a plugin token with an obo user. Which runs that user may rate
// is decided by devex.Feedbacks, from the run.
func requireUser() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if callerUser(c.Request().Context()) == "" {
				return paved.Errorf(paved.EForbidden, "feedback is given by the user who ran the template; this token names no user")
			}
			return next(c)
		}
	}
}

// callerUser is the user entity ref a call is made by or for, "" for none.
func callerUser(ctx context.Context) string {
	p, _ := paved.PrincipalFrom(ctx)
	switch p.Kind {
	case paved.PrincipalUser:
		if p.User != "" {
			return p.User
		}
		return p.Subject
	case paved.PrincipalPlugin:
		return p.User
	}
	return ""
}

var taskIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

func taskIDParam(c echo.Context) (string, error) {
	id := c.Param("taskId")
	if !taskIDPattern.MatchString(id) {
		return "", paved.InvalidFields(paved.FieldError{Field: "taskId", Message: "must be a scaffolder task id (letters, digits, - and _, at most 128)"})
	}
	return id, nil
}

func handleFeedbackRuns(f Feedback) echo.HandlerFunc {
	return func(c echo.Context) error {
		if f == nil {
			return paved.Errorf(paved.EUnavailable, "developer feedback is not enabled")
		}
		runs, err := f.Recent(c.Request().Context(), callerUser(c.Request().Context()))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"items": runs})
	}
}

func handleGetFeedback(f Feedback) echo.HandlerFunc {
	return func(c echo.Context) error {
		if f == nil {
			return paved.Errorf(paved.EUnavailable, "developer feedback is not enabled")
		}
		id, err := taskIDParam(c)
		if err != nil {
			return err
		}
		rf, err := f.Get(c.Request().Context(), id, callerUser(c.Request().Context()))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, rf)
	}
}

func handlePutFeedback(f Feedback) echo.HandlerFunc {
	return func(c echo.Context) error {
		if f == nil {
			return paved.Errorf(paved.EUnavailable, "developer feedback is not enabled")
		}
		id, err := taskIDParam(c)
		if err != nil {
			return err
		}
		body, err := readBody(c.Request(), maxFeedbackBody)
		if err != nil {
			return err
		}
		in, err := decodeFeedback(body)
		if err != nil {
			return err
		}
		rf, created, err := f.Put(c.Request().Context(), id, callerUser(c.Request().Context()), in)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return c.JSON(status, rf)
	}
}

// decodeFeedback decodes {"score": 1..5, "comment": "…"}, naming every
// field that is not what it must be.
func decodeFeedback(body []byte) (devex.FeedbackInput, error) {
	var in devex.FeedbackInput
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return in, paved.Errorf(paved.EInvalid, "the body must be a JSON object: {\"score\": 1-5, \"comment\": \"…\"}")
	}
	var bad []paved.FieldError
	for name, v := range raw {
		switch name {
		case "score":
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				bad = append(bad, paved.FieldError{Field: "score", Message: "must be an integer from 1 to 5"})
				continue
			}
			in.Score = &n
		case "comment":
			var s string
			if string(bytes.TrimSpace(v)) == "null" {
				continue
			}
			if err := json.Unmarshal(v, &s); err != nil {
				bad = append(bad, paved.FieldError{Field: "comment", Message: "must be a string"})
				continue
			}
			in.Comment = &s
		default:
			bad = append(bad, paved.FieldError{Field: shortName(name), Message: "is not a field of feedback (score, comment)"})
		}
	}
	if len(bad) > 0 {
		return in, paved.InvalidFields(bad...)
	}
	return in, in.Validate()
}

func handleDevexSatisfaction(d DevEx) echo.HandlerFunc {
	return handleDevex(d, "satisfaction", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
		s, err := d.Satisfaction(ctx, q.filter, q.grouping)
		return s, devex.SatisfactionTable(s), err
	})
}

func handleFeedbackComments(d DevEx) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := 50
		if s := c.QueryParam("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 500 {
				return paved.InvalidFields(paved.FieldError{Field: "limit", Message: "must be an integer from 1 to 500"})
			}
			limit = n
		}
		return handleDevex(d, "feedback-comments", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
			items, err := d.FeedbackComments(ctx, q.filter, limit)
			return map[string]any{"items": items}, devex.CommentsTable(items), err
		})(c)
	}
}

// shortName is at most 64 characters of a name the caller sent, for an
// error message.
func shortName(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}
