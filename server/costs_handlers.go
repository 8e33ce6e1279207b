package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/costs"
)

// Costs answers what the owner teams' golden paths cost; *costs.Reporter is one.
type Costs interface {
	Report(ctx context.Context, from, to time.Time, grouping, team string) (costs.Report, error)
}

var _ Costs = (*costs.Reporter)(nil)

// handleDevexCosts answers GET devex/v1/costs: the running monthly cost and
// the spend in the range by team and kind, budgets and a trend. It takes the
// DevEx routes' query (from, to, grouping, owner, format).
func handleDevexCosts(d Costs) echo.HandlerFunc {
	return func(c echo.Context) error {
		if d == nil {
			return paved.Errorf(paved.EUnavailable, "infrastructure costs are not enabled")
		}
		q, err := parseDevexQuery(c)
		if err != nil {
			return err
		}
		rep, err := d.Report(c.Request().Context(), q.filter.From, q.filter.To, q.grouping, q.filter.Owner)
		if err != nil {
			return err
		}
		if q.csv {
			return writeCSV(c, "costs", rep.Table())
		}
		return c.JSON(http.StatusOK, rep)
	}
}
