package server

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// DevEx answers the adoption page's queries; *devex.Service is one.
type DevEx interface {
	Summary(ctx context.Context, f devex.Filter) (devex.Summary, error)
	Templates(ctx context.Context, f devex.Filter) ([]devex.TemplateStats, error)
	Timeseries(ctx context.Context, f devex.Filter, grouping string) ([]devex.Point, error)
	Coverage(ctx context.Context, f devex.Filter) (devex.CoverageReport, error)
	Deployments(ctx context.Context, f devex.Filter) ([]devex.ServiceDeployments, error)
	Funnel(ctx context.Context, f devex.Filter) ([]devex.Stage, error)
	Satisfaction(ctx context.Context, f devex.Filter, grouping string) (devex.Satisfaction, error)
	FeedbackComments(ctx context.Context, f devex.Filter, limit int) ([]devex.Feedback, error)
	SLOs(ctx context.Context) ([]devex.SLOStatus, error)
	Freshness(ctx context.Context, f devex.Filter) (devex.Freshness, error)
	FreshnessServices(ctx context.Context, f devex.Filter) ([]devex.ServiceFreshness, error)
	DORA(ctx context.Context, f devex.Filter, groupBy string) (devex.DORAReport, error)
}

var _ DevEx = (*devex.Service)(nil)

// GroupMembership says which groups a user belongs to, from the catalog.
type GroupMembership interface {
	UserGroups(ctx context.Context, userRef string) ([]string, error)
}

// defaultDevexRange is the range of a query without from and to.
const defaultDevexRange = 28 * 24 * time.Hour

// maxDevexRange bounds what one query may scan.
const maxDevexRange = 5 * 366 * 24 * time.Hour

// The range a query may cover: answers hold the range, the previous period
// of the same length and their periods as RFC 3339 times, which end at year 9999.
var (
	minDevexFrom = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDevexTo   = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// devexQuery is the decoded query string of a DevEx route.
type devexQuery struct {
	filter   devex.Filter
	grouping string
	csv      bool
}

// parseDevexTime accepts an RFC 3339 date or time.
func parseDevexTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

func parseDevexQuery(c echo.Context) (devexQuery, error) {
	q := c.QueryParams()
	var bad []paved.FieldError
	var out devexQuery
	to := devex.PeriodStart(time.Now().UTC(), devex.GroupDay).AddDate(0, 0, 1) // the end of today
	var from time.Time
	if v := q.Get("to"); v != "" {
		t, ok := parseDevexTime(v)
		if !ok {
			bad = append(bad, paved.FieldError{Field: "to", Message: "must be an RFC 3339 date or time"})
		} else if len(v) == len(time.DateOnly) {
			to = t.AddDate(0, 0, 1) // a date names a whole day
		} else {
			to = t
		}
	}
	if v := q.Get("from"); v != "" {
		t, ok := parseDevexTime(v)
		if !ok {
			bad = append(bad, paved.FieldError{Field: "from", Message: "must be an RFC 3339 date or time"})
		}
		from = t
	} else {
		from = to.Add(-defaultDevexRange)
	}
	from, to = devex.DayRange(from, to)
	if len(bad) == 0 {
		switch {
		case !from.Before(to):
			bad = append(bad, paved.FieldError{Field: "from", Message: "must be before to"})
		case to.Sub(from) > maxDevexRange:
			bad = append(bad, paved.FieldError{Field: "from", Message: "the range must be at most 5 years"})
		case from.Before(minDevexFrom):
			field := "from"
			if q.Get("from") == "" {
				field = "to" // from was derived from it
			}
			bad = append(bad, paved.FieldError{Field: field, Message: "the range must start in 1970 or later"})
		case to.After(maxDevexTo):
			bad = append(bad, paved.FieldError{Field: "to", Message: "must be 9999-12-30 or earlier"})
		}
	}
	out.grouping = q.Get("grouping")
	switch out.grouping {
	case "":
		out.grouping = devex.GroupDay
	case devex.GroupDay, devex.GroupWeek, devex.GroupMonth:
	default:
		bad = append(bad, paved.FieldError{Field: "grouping", Message: "must be day, week or month"})
	}
	switch q.Get("format") {
	case "", "json":
	case "csv":
		out.csv = true
	default:
		bad = append(bad, paved.FieldError{Field: "format", Message: "must be json or csv"})
	}
	template, fe := textParam(c, "template")
	if fe != nil {
		bad = append(bad, *fe)
	}
	owner, fe := textParam(c, "owner")
	if fe != nil {
		bad = append(bad, *fe)
	}
	out.filter = devex.Filter{From: from, To: to, Template: strings.TrimSpace(template)}
	if owner != "" {
		out.filter.Owner = devex.GroupRef(owner)
	}
	if len(bad) > 0 {
		return out, paved.InvalidFields(bad...)
	}
	return out, nil
}

// writeCSV answers with rows as CSV. Cells that a spreadsheet would run as
// a formula (a first character of ASVS 1.2.10's =, +, -, @, tab, NUL, or a
// carriage return) are quoted with a leading apostrophe.
func writeCSV(c echo.Context, name string, rows [][]string) error {
	return writeCSVFile(c, "devex-"+name+".csv", rows)
}

// writeCSVFile is writeCSV with the whole file name.
func writeCSVFile(c echo.Context, filename string, rows [][]string) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	for _, row := range rows {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r\x00", rune(cell[0])) && !isNumber(cell) {
				row[i] = "'" + cell
			}
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

func isNumber(s string) bool {
	for i, r := range s {
		if !(r >= '0' && r <= '9' || r == '.' || (i == 0 && r == '-')) {
			return false
		}
	}
	return true
}

// handleDevex is the shape of every DevEx route: decode the query, ask,
// answer JSON or CSV.
func handleDevex(d DevEx, name string, answer func(ctx context.Context, d DevEx, q devexQuery) (body any, table [][]string, err error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		if d == nil {
			return paved.Errorf(paved.EUnavailable, "adoption metrics are not enabled")
		}
		q, err := parseDevexQuery(c)
		if err != nil {
			return err
		}
		body, table, err := answer(c.Request().Context(), d, q)
		if err != nil {
			return err
		}
		if q.csv {
			return writeCSV(c, name, table)
		}
		return c.JSON(http.StatusOK, body)
	}
}

func handleDevexSummary(d DevEx) echo.HandlerFunc {
	return handleDevex(d, "summary", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
		s, err := d.Summary(ctx, q.filter)
		return s, devex.SummaryTable(s), err
	})
}

func handleDevexTemplates(d DevEx) echo.HandlerFunc {
	return handleDevex(d, "templates", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
		items, err := d.Templates(ctx, q.filter)
		return map[string]any{"items": items}, devex.TemplatesTable(items), err
	})
}

func handleDevexTimeseries(d DevEx) echo.HandlerFunc {
	return handleDevex(d, "timeseries", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
		items, err := d.Timeseries(ctx, q.filter, q.grouping)
		return map[string]any{"grouping": q.grouping, "items": items}, devex.TimeseriesTable(items), err
	})
}

func handleDevexCoverage(d DevEx) echo.HandlerFunc {
	return handleDevex(d, "coverage", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
		rep, err := d.Coverage(ctx, q.filter)
		return rep, devex.CoverageTable(rep.Items), err
	})
}

func handleDevexDeployments(d DevEx) echo.HandlerFunc {
	return handleDevex(d, "deployments", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
		items, err := d.Deployments(ctx, q.filter)
		return map[string]any{"items": items}, devex.DeploymentsTable(items), err
	})
}

func handleDevexFunnel(d DevEx) echo.HandlerFunc {
	return handleDevex(d, "funnel", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
		stages, err := d.Funnel(ctx, q.filter)
		return map[string]any{"stages": stages}, devex.FunnelTable(stages), err
	})
}

// handleDevexFreshness answers golden-path freshness now, of the owner and
// template filters (from and to do not apply): JSON sums per template and
// team with the furthest-behind laggards, CSV every service.
func handleDevexFreshness(d DevEx) echo.HandlerFunc {
	return handleDevex(d, "freshness", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
		if q.csv {
			items, err := d.FreshnessServices(ctx, q.filter)
			return nil, devex.FreshnessTable(items), err
		}
		f, err := d.Freshness(ctx, q.filter)
		return f, nil, err
	})
}

// handleDevexSLOs answers the objectives' states now: their windows end at
// the time of the call, so from, to, owner and template do not apply.
func handleDevexSLOs(d DevEx) echo.HandlerFunc {
	return handleDevex(d, "slos", func(ctx context.Context, d DevEx, q devexQuery) (any, [][]string, error) {
		items, err := d.SLOs(ctx)
		return map[string]any{"items": items, "windows": devex.BurnWindows, "alerts": devex.BurnAlerts}, devex.SLOsTable(items), err
	})
}

// handleDevexDORA answers the four keys over the range, overall and per
// service, team or template (groupBy, default service); service (an entity
// ref) narrows an answer per service to that service's rows.
func handleDevexDORA(d DevEx) echo.HandlerFunc {
	return func(c echo.Context) error {
		if d == nil {
			return paved.Errorf(paved.EUnavailable, "adoption metrics are not enabled")
		}
		q, err := parseDevexQuery(c)
		var fields []paved.FieldError
		if err != nil {
			var e *paved.Error
			if !errors.As(err, &e) || len(e.Fields) == 0 {
				return err
			}
			fields = e.Fields
		}
		service, fe := entityRefParam(c, "service", "component")
		if fe != nil {
			fields = append(fields, *fe)
		}
		groupBy := c.QueryParam("groupBy")
		switch {
		case groupBy == "":
			groupBy = devex.DORAGroupings[0]
		case !slices.Contains(devex.DORAGroupings, groupBy):
			fields = append(fields, paved.FieldError{Field: "groupBy", Message: "must be one of " + strings.Join(devex.DORAGroupings, ", ")})
		}
		if service != "" && groupBy != "service" {
			fields = append(fields, paved.FieldError{Field: "service", Message: "applies to groupBy=service only"})
		}
		if len(fields) > 0 {
			return paved.InvalidFields(fields...)
		}
		rep, err := d.DORA(c.Request().Context(), q.filter, groupBy)
		if err != nil {
			return err
		}
		if service != "" {
			rep = rep.OfService(service)
		}
		if q.csv {
			return writeCSV(c, "dora", devex.DORATable(append([]devex.FourKeys{rep.Overall}, rep.Items...)))
		}
		return c.JSON(http.StatusOK, rep)
	}
}
