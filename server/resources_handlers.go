package server

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

// The developer's side of infrastructure, for paved's Backstage cards and
// page: what paved provisioned, by owner or by the component using it, and
// the owner's extend and tear-down. Who may do what is decided in one place,
// infra.Service.authorize (owner user, member of the owner group, or an
// operator's static token); a View carries that decision for the caller so
// the UI offers only what will be allowed.

// InfraResources lists and manages provisioned resources.
type InfraResources interface {
	List(ctx context.Context, f infra.Filter) ([]infra.View, error)
	Get(ctx context.Context, id string) (infra.View, error)
	Extend(ctx context.Context, id string, by time.Duration) (infra.View, error)
	Deprovision(ctx context.Context, id string) (infra.Resource, error)
}

var _ InfraResources = (*infra.Service)(nil)

// entityRefRE is a full entity ref as Backstage writes it (kind:namespace/name).
var entityRefRE = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.]*:[A-Za-z0-9][-A-Za-z0-9_.]*/[A-Za-z0-9][-A-Za-z0-9_.]*$`)

// entityRefParam reads an optional entity ref query parameter; a ref without
// kind or namespace takes defaultKind and "default", as Backstage reads it.
func entityRefParam(c echo.Context, name, defaultKind string) (string, *paved.FieldError) {
	v, fe := textParam(c, name)
	if fe != nil || v == "" {
		return "", fe
	}
	if !strings.Contains(v, ":") {
		v = defaultKind + ":" + v
	}
	if k, rest, _ := strings.Cut(v, ":"); !strings.Contains(rest, "/") {
		v = k + ":default/" + rest
	}
	if len(v) > 255 || !entityRefRE.MatchString(v) {
		return "", &paved.FieldError{Field: name, Message: "must be an entity ref, kind:namespace/name"}
	}
	return strings.ToLower(v), nil
}

func resourceID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !resourceIDRE.MatchString(id) {
		return "", paved.InvalidFields(paved.FieldError{Field: "id", Message: "is not a resource id"})
	}
	return id, nil
}

func noInfra() error {
	return paved.Errorf(paved.EUnavailable, "infrastructure golden paths are not enabled in this paved")
}

// handleListResources: GET infra/v1/resources?owner=&entityRef=.
func handleListResources(in InfraResources) echo.HandlerFunc {
	return func(c echo.Context) error {
		if in == nil {
			return noInfra()
		}
		var fields []paved.FieldError
		owner, fe := entityRefParam(c, "owner", "group")
		if fe != nil {
			fields = append(fields, *fe)
		}
		entity, fe := entityRefParam(c, "entityRef", "component")
		if fe != nil {
			fields = append(fields, *fe)
		}
		if len(fields) > 0 {
			return paved.InvalidFields(fields...)
		}
		list, err := in.List(c.Request().Context(), infra.Filter{Owner: owner, EntityRef: entity})
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]any{"items": list})
	}
}

// handleGetResource: GET infra/v1/resources/:id.
func handleGetResource(in InfraResources) echo.HandlerFunc {
	return func(c echo.Context) error {
		if in == nil {
			return noInfra()
		}
		id, err := resourceID(c)
		if err != nil {
			return err
		}
		v, err := in.Get(c.Request().Context(), id)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, v)
	}
}

// handleExtendResource: POST infra/v1/resources/:id/extend {"by":"7d"}.
func handleExtendResource(in InfraResources, maxBody int64) echo.HandlerFunc {
	return func(c echo.Context) error {
		if in == nil {
			return noInfra()
		}
		id, err := resourceID(c)
		if err != nil {
			return err
		}
		body, err := readBody(c.Request(), maxBody)
		if err != nil {
			return err
		}
		var req struct {
			By string `json:"by"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return paved.Errorf(paved.EInvalid, `body must be {"by": "7d"}`)
		}
		by, ok := infra.ParseLifetime(req.By)
		if !ok {
			return paved.InvalidFields(paved.FieldError{Field: "by", Message: "must be a whole number of days, hours or minutes, e.g. 7d, 8h or 90m"})
		}
		v, err := in.Extend(c.Request().Context(), id, by)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

// handleDeleteResource: DELETE infra/v1/resources/:id tears the resource
// down (as paved:deprovision-infra does).
func handleDeleteResource(in InfraResources) echo.HandlerFunc {
	return func(c echo.Context) error {
		if in == nil {
			return noInfra()
		}
		id, err := resourceID(c)
		if err != nil {
			return err
		}
		r, err := in.Deprovision(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"id": r.ID, "kind": r.Kind, "name": r.Name, "deleted": true})
	}
}
