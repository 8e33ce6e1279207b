package server

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
)

// PermissionIntegration serves what createPermissionIntegrationRouter
// serves on a Backstage plugin, for the permission backend and RBAC UIs.
type PermissionIntegration interface {
	Metadata() []byte
	ApplyConditions(ctx context.Context, body []byte) (map[string]any, error)
}

// can lets a request through when its principal holds the basic permission
// p; routes.go declares each route's permission with it. Resource
// permissions are checked where the resource is known, with paved.Authorize.
func can(p paved.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := paved.Authorize(c.Request().Context(), p, nil); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// serviceOnly lets only service principals through (the permission backend
// with its plugin token, an operator's static token): never a user, nor a
// plugin acting for one.
func serviceOnly(what string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, _ := paved.PrincipalFrom(c.Request().Context())
			if p.User != "" || (p.Kind != paved.PrincipalPlugin && p.Kind != paved.PrincipalStatic) {
				return paved.Errorf(paved.EForbidden, "%s may not call %s: it is for Backstage plugins and operators, not for users", callerName(p), what)
			}
			return next(c)
		}
	}
}

// staticOnly lets only operators' static tokens through: no Backstage
// plugin, with or without a user.
func staticOnly(what string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, _ := paved.PrincipalFrom(c.Request().Context())
			if p.Kind != paved.PrincipalStatic {
				return paved.Errorf(paved.EForbidden, "%s may not call %s: it needs a static operator token", callerName(p), what)
			}
			return next(c)
		}
	}
}

// callerName is how a refusal names its caller: the user, else the plugin
// or token subject.
func callerName(p paved.Principal) string {
	if p.User != "" {
		return p.User
	}
	return string(p.Kind) + " " + p.Subject
}

func handlePermissionMetadata(pi PermissionIntegration) echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.JSONBlob(http.StatusOK, pi.Metadata())
	}
}

func handleApplyConditions(pi PermissionIntegration, maxBody int64) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := readBody(c.Request(), maxBody)
		if err != nil {
			return err
		}
		out, err := pi.ApplyConditions(c.Request().Context(), body)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	}
}
