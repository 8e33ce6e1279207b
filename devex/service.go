package devex

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"
)

// QueryStore is what the page's queries read.
type QueryStore interface {
	RunTotals(ctx context.Context, f Filter) (Totals, error)
	// RunTotalsByPeriod sums runs per period of grouping, keyed by the
	// period's first day.
	RunTotalsByPeriod(ctx context.Context, f Filter, grouping string) ([]DayTotals, error)
	RunTotalsByTemplate(ctx context.Context, f Filter) ([]TemplateTotals, error)
	ActiveUsers(ctx context.Context, f Filter) (int64, error)
	ActiveUsersByTemplate(ctx context.Context, f Filter) (map[string]int64, error)
	// ActiveUsersByPeriod counts distinct users per period of grouping,
	// keyed by the period's first day.
	ActiveUsersByPeriod(ctx context.Context, f Filter, grouping string) (map[string]int64, error)
	// DurationPercentiles returns per template the nearest-rank
	// percentiles ps of the finished runs' durations, in milliseconds.
	DurationPercentiles(ctx context.Context, f Filter, ps ...int) (map[string][]int64, error)
	Coverage(ctx context.Context, at time.Time, owner string) ([]CoverageRow, error)
	// CoverageTotal is Coverage's rows summed: every owner together.
	CoverageTotal(ctx context.Context, at time.Time, owner string) (CoverageRow, error)
	TimesToHealthy(ctx context.Context, f Filter) ([]int64, error)
	Deployments(ctx context.Context, f Filter) ([]DeploymentRow, error)
	SucceededDeployments(ctx context.Context, f Filter) (int64, error)
	RunFunnel(ctx context.Context, f Filter) (Funnel, error)
	SatisfactionStore
	DORAStore
}

// Service answers the adoption page's questions (docs/api.md, DevEx).
type Service struct {
	store QueryStore
	slos  *SLOs
	fresh freshnessCache
	dora  doraCache
}

// NewService returns a Service over store.
func NewService(store QueryStore) *Service { return &Service{store: store} }

// WithSLOs makes the service answer for the objectives o.
func (s *Service) WithSLOs(o *SLOs) *Service {
	s.slos = o
	return s
}

// SLOs returns the state of every objective in the configuration.
func (s *Service) SLOs(ctx context.Context) ([]SLOStatus, error) { return s.slos.Statuses(ctx) }

// Groupings of the time series.
const (
	GroupDay   = "day"
	GroupWeek  = "week"
	GroupMonth = "month"
)

// KPI is a figure with its value over the previous period of the same length.
type KPI struct {
	Value    float64 `json:"value"`
	Previous float64 `json:"previous"`
}

// Summary is GET devex/v1/summary.
type Summary struct {
	From         time.Time      `json:"from"`
	To           time.Time      `json:"to"`
	PreviousFrom time.Time      `json:"previousFrom"`
	PreviousTo   time.Time      `json:"previousTo"`
	KPIs         map[string]KPI `json:"kpis"`
}

// Previous is the period of the same length just before f.
func (f Filter) Previous() Filter {
	p := f
	p.From, p.To = f.From.Add(-f.To.Sub(f.From)), f.From
	return p
}

type periodFigures struct {
	totals       Totals
	users        int64
	coverage     float64
	medianHealth float64
	deployments  int64
}

func (s *Service) figures(ctx context.Context, f Filter) (periodFigures, error) {
	var p periodFigures
	var err error
	if p.totals, err = s.store.RunTotals(ctx, f); err != nil {
		return p, err
	}
	if p.users, err = s.store.ActiveUsers(ctx, f); err != nil {
		return p, err
	}
	cov, err := s.store.CoverageTotal(ctx, f.To, f.Owner)
	if err != nil {
		return p, err
	}
	p.coverage = overallCoverage([]CoverageRow{cov}).Ratio
	tth, err := s.store.TimesToHealthy(ctx, f)
	if err != nil {
		return p, err
	}
	p.medianHealth = float64(percentile(tth, 50)) / 1000
	if p.deployments, err = s.store.SucceededDeployments(ctx, f); err != nil {
		return p, err
	}
	return p, nil
}

// SuccessRate is succeeded ÷ (succeeded + failed); cancelled runs are
// people changing their mind, not the golden path failing them.
func SuccessRate(t Totals) float64 {
	if t.Succeeded+t.Failed == 0 {
		return 0
	}
	return round(float64(t.Succeeded) / float64(t.Succeeded+t.Failed))
}

func round(v float64) float64 { return math.Round(v*10000) / 10000 }

// Summary returns the KPIs of f and of the period before it.
func (s *Service) Summary(ctx context.Context, f Filter) (Summary, error) {
	prev := f.Previous()
	// The two periods are independent reads: ask for them at once.
	var old periodFigures
	var oldErr error
	var wg sync.WaitGroup
	wg.Go(func() { old, oldErr = s.figures(ctx, prev) })
	cur, err := s.figures(ctx, f)
	wg.Wait()
	if err = errors.Join(err, oldErr); err != nil {
		return Summary{}, err
	}
	kpi := func(get func(periodFigures) float64) KPI { return KPI{Value: get(cur), Previous: get(old)} }
	return Summary{
		From: f.From, To: f.To, PreviousFrom: prev.From, PreviousTo: prev.To,
		KPIs: map[string]KPI{
			"runsStarted":                kpi(func(p periodFigures) float64 { return float64(p.totals.Started) }),
			"runsSucceeded":              kpi(func(p periodFigures) float64 { return float64(p.totals.Succeeded) }),
			"runsFailed":                 kpi(func(p periodFigures) float64 { return float64(p.totals.Failed) }),
			"runsCancelled":              kpi(func(p periodFigures) float64 { return float64(p.totals.Cancelled) }),
			"successRate":                kpi(func(p periodFigures) float64 { return SuccessRate(p.totals) }),
			"activeUsers":                kpi(func(p periodFigures) float64 { return float64(p.users) }),
			"timeSavedSeconds":           kpi(func(p periodFigures) float64 { return float64(p.totals.TimeSavedSeconds) }),
			"coverage":                   kpi(func(p periodFigures) float64 { return p.coverage }),
			"medianTimeToHealthySeconds": kpi(func(p periodFigures) float64 { return p.medianHealth }),
			"deployments":                kpi(func(p periodFigures) float64 { return float64(p.deployments) }),
		},
	}, nil
}

// TemplateStats is one row of GET devex/v1/templates.
type TemplateStats struct {
	TemplateRef        string  `json:"templateRef"`
	Runs               int64   `json:"runs"`
	Succeeded          int64   `json:"succeeded"`
	Failed             int64   `json:"failed"`
	Cancelled          int64   `json:"cancelled"`
	SuccessRate        float64 `json:"successRate"`
	P50DurationSeconds float64 `json:"p50DurationSeconds"`
	P95DurationSeconds float64 `json:"p95DurationSeconds"`
	UniqueUsers        int64   `json:"uniqueUsers"`
	TimeSavedSeconds   int64   `json:"timeSavedSeconds"`
}

// Templates returns per-template figures, most runs first.
func (s *Service) Templates(ctx context.Context, f Filter) ([]TemplateStats, error) {
	totals, err := s.store.RunTotalsByTemplate(ctx, f)
	if err != nil {
		return nil, err
	}
	users, err := s.store.ActiveUsersByTemplate(ctx, f)
	if err != nil {
		return nil, err
	}
	durations, err := s.store.DurationPercentiles(ctx, f, 50, 95)
	if err != nil {
		return nil, err
	}
	out := make([]TemplateStats, 0, len(totals))
	for _, t := range totals {
		var p50, p95 int64
		if d := durations[t.TemplateRef]; len(d) == 2 {
			p50, p95 = d[0], d[1]
		}
		out = append(out, TemplateStats{
			TemplateRef: t.TemplateRef, Runs: t.Started, Succeeded: t.Succeeded, Failed: t.Failed, Cancelled: t.Cancelled,
			SuccessRate:        SuccessRate(t.Totals),
			P50DurationSeconds: float64(p50) / 1000,
			P95DurationSeconds: float64(p95) / 1000,
			UniqueUsers:        users[t.TemplateRef],
			TimeSavedSeconds:   t.TimeSavedSeconds,
		})
	}
	return out, nil
}

// percentile is the nearest-rank percentile of sorted values, 0 for none.
func percentile(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(p) / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Point is one period of GET devex/v1/timeseries.
type Point struct {
	Period           string `json:"period"`
	RunsStarted      int64  `json:"runsStarted"`
	RunsSucceeded    int64  `json:"runsSucceeded"`
	RunsFailed       int64  `json:"runsFailed"`
	RunsCancelled    int64  `json:"runsCancelled"`
	ActiveUsers      int64  `json:"activeUsers"`
	TimeSavedSeconds int64  `json:"timeSavedSeconds"`
}

// PeriodStart is the first day of the period of grouping that holds day:
// the day, its ISO week's Monday, or its month's first.
func PeriodStart(day time.Time, grouping string) time.Time {
	day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	switch grouping {
	case GroupWeek:
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	case GroupMonth:
		return day.AddDate(0, 0, 1-day.Day())
	}
	return day
}

func nextPeriod(start time.Time, grouping string) time.Time {
	switch grouping {
	case GroupWeek:
		return start.AddDate(0, 0, 7)
	case GroupMonth:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// Timeseries returns one point per period of grouping over f, periods
// without runs included.
func (s *Service) Timeseries(ctx context.Context, f Filter, grouping string) ([]Point, error) {
	periods, err := s.store.RunTotalsByPeriod(ctx, f, grouping)
	if err != nil {
		return nil, err
	}
	users, err := s.store.ActiveUsersByPeriod(ctx, f, grouping)
	if err != nil {
		return nil, err
	}
	var out []Point
	index := map[string]int{}
	for p := PeriodStart(f.From, grouping); p.Before(f.To); p = nextPeriod(p, grouping) {
		index[Day(p)] = len(out)
		out = append(out, Point{Period: Day(p)})
	}
	periodOf := func(day string) (int, bool) {
		t, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return 0, false
		}
		i, ok := index[Day(PeriodStart(t, grouping))]
		return i, ok
	}
	for _, d := range periods {
		if i, ok := periodOf(d.Day); ok {
			out[i].RunsStarted += d.Started
			out[i].RunsSucceeded += d.Succeeded
			out[i].RunsFailed += d.Failed
			out[i].RunsCancelled += d.Cancelled
			out[i].TimeSavedSeconds += d.TimeSavedSeconds
		}
	}
	for i := range out {
		out[i].ActiveUsers = users[out[i].Period]
	}
	if out == nil {
		out = []Point{}
	}
	return out, nil
}

// CoverageFigures are one owner's (or everyone's) golden-path coverage.
type CoverageFigures struct {
	Owner        string  `json:"owner,omitempty"`
	Components   int64   `json:"components"`
	FromTemplate int64   `json:"fromTemplate"`
	Ratio        float64 `json:"ratio"`
}

// CoverageReport is GET devex/v1/coverage.
type CoverageReport struct {
	Overall CoverageFigures   `json:"overall"`
	Items   []CoverageFigures `json:"items"`
}

func overallCoverage(rows []CoverageRow) CoverageFigures {
	var o CoverageFigures
	for _, r := range rows {
		o.Components += r.Components
		o.FromTemplate += r.FromTemplate
	}
	if o.Components > 0 {
		o.Ratio = round(float64(o.FromTemplate) / float64(o.Components))
	}
	return o
}

// Coverage returns the coverage at the end of f, overall and per owner.
func (s *Service) Coverage(ctx context.Context, f Filter) (CoverageReport, error) {
	rows, err := s.store.Coverage(ctx, f.To, f.Owner)
	if err != nil {
		return CoverageReport{}, err
	}
	rep := CoverageReport{Overall: overallCoverage(rows), Items: []CoverageFigures{}}
	for _, r := range rows {
		c := CoverageFigures{Owner: r.Owner, Components: r.Components, FromTemplate: r.FromTemplate}
		if r.Components > 0 {
			c.Ratio = round(float64(r.FromTemplate) / float64(r.Components))
		}
		rep.Items = append(rep.Items, c)
	}
	return rep, nil
}

// ServiceDeployments is one row of GET devex/v1/deployments.
type ServiceDeployments struct {
	Service        string  `json:"service"`
	Deployments    int64   `json:"deployments"`
	Failed         int64   `json:"failed"`
	DeploymentDays int64   `json:"deploymentDays"`
	PerWeek        float64 `json:"perWeek"`
	Tier           string  `json:"tier"`
}

// Tier is the Four Keys deployment-frequency tier of deploymentDays days
// with a deployment over a period of days: daily (at least 3 deployment
// days a week), weekly (at least 1 a week), monthly (at least 1 a month),
// yearly (fewer), none.
func Tier(deploymentDays int64, days float64) (perWeek float64, tier string) {
	if days <= 0 {
		return 0, "none"
	}
	perWeek = float64(deploymentDays) / (days / 7)
	switch {
	case deploymentDays == 0:
		tier = "none"
	case perWeek >= 3:
		tier = "daily"
	case perWeek >= 1:
		tier = "weekly"
	case float64(deploymentDays)/(days/30) >= 1:
		tier = "monthly"
	default:
		tier = "yearly"
	}
	return round(perWeek), tier
}

// Deployments returns per-service deployment figures over f.
func (s *Service) Deployments(ctx context.Context, f Filter) ([]ServiceDeployments, error) {
	rows, err := s.store.Deployments(ctx, f)
	if err != nil {
		return nil, err
	}
	days := f.To.Sub(f.From).Hours() / 24
	out := make([]ServiceDeployments, 0, len(rows))
	for _, r := range rows {
		pw, tier := Tier(r.DeploymentDays, days)
		out = append(out, ServiceDeployments{Service: r.Service, Deployments: r.Succeeded, Failed: r.Failed,
			DeploymentDays: r.DeploymentDays, PerWeek: pw, Tier: tier})
	}
	return out, nil
}

// Stage is one stage of GET devex/v1/funnel.
type Stage struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Funnel follows the runs of f to a registered entity and a healthy app.
func (s *Service) Funnel(ctx context.Context, f Filter) ([]Stage, error) {
	fn, err := s.store.RunFunnel(ctx, f)
	if err != nil {
		return nil, err
	}
	return []Stage{{"started", fn.Started}, {"succeeded", fn.Succeeded}, {"registered", fn.Registered}, {"healthy", fn.Healthy}}, nil
}

// Table forms of the lists, for CSV.

func itoa(n int64) string   { return strconv.FormatInt(n, 10) }
func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// TemplatesTable returns rows for CSV, with a header.
func TemplatesTable(items []TemplateStats) [][]string {
	out := [][]string{{"templateRef", "runs", "succeeded", "failed", "cancelled", "successRate", "p50DurationSeconds", "p95DurationSeconds", "uniqueUsers", "timeSavedSeconds"}}
	for _, t := range items {
		out = append(out, []string{t.TemplateRef, itoa(t.Runs), itoa(t.Succeeded), itoa(t.Failed), itoa(t.Cancelled), ftoa(t.SuccessRate),
			ftoa(t.P50DurationSeconds), ftoa(t.P95DurationSeconds), itoa(t.UniqueUsers), itoa(t.TimeSavedSeconds)})
	}
	return out
}

// TimeseriesTable returns rows for CSV, with a header.
func TimeseriesTable(items []Point) [][]string {
	out := [][]string{{"period", "runsStarted", "runsSucceeded", "runsFailed", "runsCancelled", "activeUsers", "timeSavedSeconds"}}
	for _, p := range items {
		out = append(out, []string{p.Period, itoa(p.RunsStarted), itoa(p.RunsSucceeded), itoa(p.RunsFailed), itoa(p.RunsCancelled), itoa(p.ActiveUsers), itoa(p.TimeSavedSeconds)})
	}
	return out
}

// CoverageTable returns rows for CSV, with a header.
func CoverageTable(items []CoverageFigures) [][]string {
	out := [][]string{{"owner", "components", "fromTemplate", "ratio"}}
	for _, c := range items {
		out = append(out, []string{c.Owner, itoa(c.Components), itoa(c.FromTemplate), ftoa(c.Ratio)})
	}
	return out
}

// DeploymentsTable returns rows for CSV, with a header.
func DeploymentsTable(items []ServiceDeployments) [][]string {
	out := [][]string{{"service", "deployments", "failed", "deploymentDays", "perWeek", "tier"}}
	for _, d := range items {
		out = append(out, []string{d.Service, itoa(d.Deployments), itoa(d.Failed), itoa(d.DeploymentDays), ftoa(d.PerWeek), d.Tier})
	}
	return out
}

// FunnelTable returns rows for CSV, with a header.
func FunnelTable(items []Stage) [][]string {
	out := [][]string{{"name", "count"}}
	for _, s := range items {
		out = append(out, []string{s.Name, itoa(s.Count)})
	}
	return out
}

// SummaryTable returns the KPIs as rows for CSV, with a header.
func SummaryTable(s Summary) [][]string {
	out := [][]string{{"kpi", "value", "previous"}}
	for _, name := range KPINames {
		k := s.KPIs[name]
		out = append(out, []string{name, ftoa(k.Value), ftoa(k.Previous)})
	}
	return out
}

// KPINames are the summary's KPIs in the order the page shows them.
var KPINames = []string{"runsStarted", "runsSucceeded", "runsFailed", "runsCancelled", "successRate", "activeUsers",
	"timeSavedSeconds", "coverage", "medianTimeToHealthySeconds", "deployments"}

// DayRange widens [from, to) to whole UTC days, the grain of the rollups:
// from goes back to its midnight, to forward to the next one (unless it is
// a midnight already).
func DayRange(from, to time.Time) (time.Time, time.Time) {
	from = PeriodStart(from.UTC(), GroupDay)
	start := PeriodStart(to.UTC(), GroupDay)
	if !start.Equal(to.UTC()) {
		start = start.AddDate(0, 0, 1)
	}
	return from, start
}
