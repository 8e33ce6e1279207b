package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/catalog"
)

// Catalog serves the entity snapshot and its change feed (catalog.Refresher).
type Catalog interface {
	Snapshot() *catalog.Snapshot
	Changes(ctx context.Context, cursor string, wait time.Duration) (catalog.ChangeSet, error)
}

// Page sizes of the entities endpoint.
const (
	defaultCatalogLimit = 1000
	maxCatalogLimit     = 10000
)

func catalogOff() error {
	return paved.Errorf(paved.EUnavailable, "the catalog is not enabled on this paved")
}

// notModified answers 304 when the client's If-None-Match names the
// snapshot's ETag, and sets the ETag either way.
func notModified(c echo.Context, etag string) bool {
	h := c.Response().Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-cache") // may be stored, must be revalidated
	inm := c.Request().Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, tag := range strings.Split(inm, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}

// handleCatalogEntities serves one page of the snapshot. The body is
// assembled from the entities' stored JSON, never encoded per request.
func handleCatalogEntities(cat Catalog) echo.HandlerFunc {
	return func(c echo.Context) error {
		if cat == nil {
			return catalogOff()
		}
		limit := defaultCatalogLimit
		if s := c.QueryParam("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > maxCatalogLimit {
				return paved.InvalidFields(paved.FieldError{Field: "limit", Message: "must be an integer from 1 to " + strconv.Itoa(maxCatalogLimit)})
			}
			limit = n
		}
		snap := cat.Snapshot()
		page, next, err := snap.Page(c.QueryParam("cursor"), limit)
		if err != nil {
			return err
		}
		if notModified(c, snap.ETag) {
			return c.NoContent(http.StatusNotModified)
		}
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		c.Response().WriteHeader(http.StatusOK)
		return snap.WritePage(c.Response(), page, next)
	}
}

// handleCatalogYAML serves every entity as multi-document YAML, for a
// Backstage `url` location.
func handleCatalogYAML(cat Catalog) echo.HandlerFunc {
	return func(c echo.Context) error {
		if cat == nil {
			return catalogOff()
		}
		snap := cat.Snapshot()
		if notModified(c, snap.ETag) {
			return c.NoContent(http.StatusNotModified)
		}
		c.Response().Header().Set(echo.HeaderContentType, "application/yaml; charset=utf-8")
		c.Response().WriteHeader(http.StatusOK)
		return snap.WriteYAML(c.Response())
	}
}

// handleCatalogChanges serves the changes since a cursor, long-polling when
// asked to.
func handleCatalogChanges(cat Catalog) echo.HandlerFunc {
	return func(c echo.Context) error {
		if cat == nil {
			return catalogOff()
		}
		var wait time.Duration
		if s := c.QueryParam("wait"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				// Plain seconds, capped before they are multiplied into an overflow.
				n, nerr := strconv.ParseInt(s, 10, 64)
				d, err = time.Duration(min(n, int64(catalog.MaxWait/time.Second)))*time.Second, nerr
			}
			if err != nil || d < 0 {
				return paved.InvalidFields(paved.FieldError{Field: "wait", Message: "must be a duration such as 30s"})
			}
			wait = min(d, catalog.MaxWait)
		}
		cs, err := cat.Changes(c.Request().Context(), c.QueryParam("cursor"), wait)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, cs)
	}
}
