package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
)

func handleHealthz() echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": paved.Version})
	}
}

// handleReadyz runs every check concurrently with a short timeout; one failing
// check makes paved unready (503) and the body says which.
func handleReadyz(checks []Check) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
		defer cancel()
		results := make(map[string]string, len(checks))
		var mu sync.Mutex
		var wg sync.WaitGroup
		failed, degraded := false, false
		for _, ch := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status := "ok"
				if err := ch.Check(ctx); err != nil {
					status = paved.ErrorMessage(err)
					if status == "internal error" {
						status = "unreachable"
					}
				}
				mu.Lock()
				defer mu.Unlock()
				results[ch.Name] = status
				if status != "ok" {
					if ch.Optional {
						degraded = true
					} else {
						failed = true
					}
				}
			}()
		}
		wg.Wait()
		if failed {
			return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": results})
		}
		if degraded {
			return c.JSON(http.StatusOK, map[string]any{"status": "degraded", "checks": results})
		}
		return c.JSON(http.StatusOK, map[string]any{"status": "ok", "checks": results})
	}
}

// handleListActions lists the actions the caller may invoke.
func handleListActions(a Actions) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := a.ListJSONFor(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSONBlob(http.StatusOK, b)
	}
}

// handleActionsStatus answers the registry's status route, as Backstage's
// DefaultActionsRegistryService does: whether this plugin serves actions.
func handleActionsStatus(a Actions) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := a.ListJSONFor(c.Request().Context())
		if err != nil {
			return err
		}
		var list struct {
			Actions []json.RawMessage `json:"actions"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]bool{"hasActions": len(list.Actions) > 0})
	}
}

// handleInvoke serves both invoke versions: v1's body is the raw input, v2's is
// {"input": …, "secrets": …}.
func handleInvoke(a Actions, version int, maxBody int64) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := url.PathUnescape(c.Param("id"))
		if err != nil {
			return paved.Errorf(paved.EInvalid, "action id is not a valid URL path segment")
		}
		body, err := readBody(c.Request(), maxBody)
		if err != nil {
			return err
		}
		input := json.RawMessage(body)
		var secrets map[string]string
		if version == 2 {
			var env struct {
				Input   json.RawMessage   `json:"input"`
				Secrets map[string]string `json:"secrets"`
			}
			if len(bytes.TrimSpace(body)) > 0 {
				if err := json.Unmarshal(body, &env); err != nil {
					return paved.Errorf(paved.EInvalid, "body must be {\"input\": {...}, \"secrets\": {...}}: %v", err)
				}
			}
			input, secrets = env.Input, env.Secrets
			c.Set(secretsKey, maskable(secrets))
		}
		out, err := a.Invoke(c.Request().Context(), id, input, secrets)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"output": out})
	}
}

func readBody(r *http.Request, max int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		var mbe *http.MaxBytesError
		// echo's body limit reports a body without Content-Length that
		// grows past the limit with its own error.
		if errors.As(err, &mbe) || errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
			return nil, paved.Errorf(paved.ETooLarge, "request body is larger than %d bytes", max)
		}
		return nil, paved.Errorf(paved.EInvalid, "reading request body: %v", err)
	}
	if int64(len(body)) > max {
		return nil, paved.Errorf(paved.ETooLarge, "request body is larger than %d bytes", max)
	}
	return body, nil
}

func handleJWKS(k KeySet) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := k.JWKS(c.Request().Context())
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "public, max-age=60")
		return c.JSONBlob(http.StatusOK, b)
	}
}

// handleRotateKeys is for operators (static tokens only): a new key signs from
// now on; the old one stays published until its tokens expire.
func handleRotateKeys(k KeySet) echo.HandlerFunc {
	return func(c echo.Context) error {
		kid, err := k.Rotate(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"kid": kid})
	}
}

func handleListInvocations(inv Invocations) echo.HandlerFunc {
	return func(c echo.Context) error {
		var fields []paved.FieldError
		action, fe := textParam(c, "action")
		if fe != nil {
			fields = append(fields, *fe)
		}
		f := paved.InvocationFilter{ActionID: action}
		for name, dst := range map[string]*string{"user": &f.UserRef, "status": &f.Status} {
			v, fe := textParam(c, name)
			if fe != nil {
				fields = append(fields, *fe)
			}
			*dst = v
		}
		if f.Status != "" && f.Status != paved.StatusSucceeded && f.Status != paved.StatusFailed {
			fields = append(fields, paved.FieldError{Field: "status", Message: "must be succeeded or failed"})
		}
		if s := c.QueryParam("cursor"); s != "" {
			after, ok := decodeInvocationCursor(s)
			if !ok {
				fields = append(fields, paved.FieldError{Field: "cursor", Message: "must be the nextCursor of a previous page"})
			}
			f.After = after
		}
		csvOut := false
		switch c.QueryParam("format") {
		case "", "json":
		case "csv":
			csvOut = true
		default:
			fields = append(fields, paved.FieldError{Field: "format", Message: "must be json or csv"})
		}
		if s := c.QueryParam("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 1000 {
				fields = append(fields, paved.FieldError{Field: "limit", Message: "must be an integer from 1 to 1000"})
			}
			f.Limit = n
		}
		for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
			if s := c.QueryParam(name); s != "" {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					fields = append(fields, paved.FieldError{Field: name, Message: "must be an RFC 3339 time"})
				}
				*dst = t
			}
		}
		if len(fields) > 0 {
			return paved.InvalidFields(fields...)
		}
		list, err := inv.ListInvocations(c.Request().Context(), f)
		if err != nil {
			return err
		}
		if list == nil {
			list = []paved.Invocation{}
		}
		if csvOut {
			rows := [][]string{{"id", "actionId", "status", "errorCode", "error", "callerKind", "callerPlugin", "userRef", "entityRef", "templateRef", "taskId", "startedAt", "durationMs"}}
			for _, i := range list {
				rows = append(rows, []string{i.ID, i.ActionID, i.Status, string(i.ErrorCode), i.Error, string(i.CallerKind), i.CallerPlugin, i.UserRef, i.EntityRef,
					i.TemplateRef, i.TaskID, i.StartedAt.UTC().Format(time.RFC3339Nano), strconv.FormatInt(i.Duration.Milliseconds(), 10)})
			}
			return writeCSVFile(c, "paved-invocations.csv", rows)
		}
		out := map[string]any{"items": list}
		limit := f.Limit
		if limit <= 0 {
			limit = defaultInvocationPage
		}
		if len(list) == limit {
			last := list[len(list)-1]
			out["nextCursor"] = encodeInvocationCursor(paved.InvocationCursor{StartedAt: last.StartedAt, ID: last.ID})
		}
		return c.JSON(http.StatusOK, out)
	}
}

// defaultInvocationPage is the store's page size when the caller gives no limit.
const defaultInvocationPage = 100

// A cursor is opaque to callers: the start time and ID of the last
// invocation of a page, base64url-encoded.
func encodeInvocationCursor(c paved.InvocationCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.StartedAt.UTC().Format(time.RFC3339Nano) + " " + c.ID))
}

func decodeInvocationCursor(s string) (*paved.InvocationCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	at, id, ok := strings.Cut(string(raw), " ")
	if !ok || id == "" || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return nil, false
	}
	return &paved.InvocationCursor{StartedAt: t, ID: id}, true
}
