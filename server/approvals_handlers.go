package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
)

// Approvals lists requests sent for approval and takes approvers' decisions
// (package approval decides who may decide: an approver, never the requester).
type Approvals interface {
	List(ctx context.Context, f approval.Filter) ([]approval.View, error)
	Get(ctx context.Context, id string) (approval.View, error)
	Decide(ctx context.Context, id string, d approval.Decision) (approval.Request, error)
}

var _ Approvals = (*approval.Service)(nil)

func noApprovals() error {
	return paved.Errorf(paved.EUnavailable, "approvals are not enabled in this paved (no approvals.rules)")
}

func approvalID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !resourceIDRE.MatchString(id) {
		return "", paved.InvalidFields(paved.FieldError{Field: "id", Message: "is not a request id"})
	}
	return id, nil
}

// handleListApprovals: GET approvals/v1/requests?state=pending.
func handleListApprovals(a Approvals) echo.HandlerFunc {
	return func(c echo.Context) error {
		if a == nil {
			return noApprovals()
		}
		state, fe := textParam(c, "state")
		if fe != nil {
			return paved.InvalidFields(*fe)
		}
		if state != "" && !slices.Contains(approval.States, state) {
			return paved.InvalidFields(paved.FieldError{Field: "state", Message: "must be one of " + strings.Join(approval.States, ", ")})
		}
		list, err := a.List(c.Request().Context(), approval.Filter{State: state})
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]any{"items": list})
	}
}

// handleGetApproval: GET approvals/v1/requests/:id, with its audit trail.
func handleGetApproval(a Approvals) echo.HandlerFunc {
	return func(c echo.Context) error {
		if a == nil {
			return noApprovals()
		}
		id, err := approvalID(c)
		if err != nil {
			return err
		}
		v, err := a.Get(c.Request().Context(), id)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, v)
	}
}

// handleDecideApproval: POST approvals/v1/requests/:id/approve and
// …/reject, body {"comment": "…"} (required to reject).
func handleDecideApproval(a Approvals, approve bool, maxBody int64) echo.HandlerFunc {
	return func(c echo.Context) error {
		if a == nil {
			return noApprovals()
		}
		id, err := approvalID(c)
		if err != nil {
			return err
		}
		body, err := readBody(c.Request(), maxBody)
		if err != nil {
			return err
		}
		var req struct {
			Comment string `json:"comment"`
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				return paved.Errorf(paved.EInvalid, `body must be {"comment": "…"}`)
			}
		}
		r, err := a.Decide(c.Request().Context(), id, approval.Decision{Approve: approve, Comment: req.Comment})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, r)
	}
}
