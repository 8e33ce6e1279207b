package server

import (
	"context"
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

// InfraConnections hands a resource's connection details to its owner.
type InfraConnections interface {
	Connection(ctx context.Context, id string) (map[string]string, infra.Resource, error)
}

var _ InfraConnections = (*infra.Service)(nil)

var resourceIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// handleInfraConnection answers only a Backstage user token of the owner (the
// owner user or a member of the owner group); the infra service decides. The
// answer holds a password, so nothing may cache it.
func handleInfraConnection(in InfraConnections) echo.HandlerFunc {
	return func(c echo.Context) error {
		if in == nil {
			return paved.Errorf(paved.EUnavailable, "infrastructure golden paths are not enabled in this paved")
		}
		id := c.Param("id")
		if !resourceIDRE.MatchString(id) {
			return paved.InvalidFields(paved.FieldError{Field: "id", Message: "is not a resource id"})
		}
		creds, r, err := in.Connection(c.Request().Context(), id)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]any{
			"id": r.ID, "kind": r.Kind, "name": r.Name, "owner": r.Owner, "connection": creds,
		})
	}
}
