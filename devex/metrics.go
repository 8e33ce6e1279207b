package devex

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// DurationBuckets are the histogram bounds of run durations and time to
// healthy, in seconds: from seconds to hours (the SDK's defaults are for
// milliseconds).
var DurationBuckets = []float64{5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400}

// GaugeStore computes the gauges from the store at each collection.
type GaugeStore interface {
	ActiveRuns(ctx context.Context, stuckBefore time.Time) ([]ActiveRuns, error)
	Coverage(ctx context.Context, at time.Time, owner string) ([]CoverageRow, error)
	UserCounts(ctx context.Context, sinceDays []string) ([]int64, error)
	ScoresByTemplate(ctx context.Context, f Filter) ([]TemplateScores, error)
}

// FeedbackWindow is the window of the developer feedback gauges.
const FeedbackWindow = 28 * 24 * time.Hour

// MetricsOptions configure Metrics.
type MetricsOptions struct {
	Meter metric.Meter
	Store GaugeStore
	// StuckAfter is how long a run may go without a heartbeat before it
	// counts as stuck (default 10m).
	StuckAfter time.Duration
	// GaugeTTL is how long gauge values computed from the store are reused
	// (default 15s), so frequent scrapes do not each query the store.
	GaugeTTL time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
	// SLOs, when set, export the objectives' states as gauges.
	SLOs *SLOs
	// Freshness, when set, exports golden-path freshness per template.
	Freshness *Service
	// Keys, when set, export the four keys per template and team.
	Keys DORAStore
}

// Metrics are the adoption metrics of devex-metrics.md on paved's
// MeterProvider. Counters and histograms are fed by the collector from what
// the store says changed, so only the collecting replica counts an event,
// once; gauges are computed from the store by every replica. No user id is
// ever an attribute.
type Metrics struct {
	o MetricsOptions

	started, completed, timeSaved, entities, deployments metric.Int64Counter
	duration, timeToHealthy                              metric.Float64Histogram

	mu       sync.Mutex
	cachedAt time.Time
	gauges   gaugeValues
}

type gaugeValues struct {
	active   []ActiveRuns
	coverage []CoverageRow
	users    []int64 // 1d, 7d, 28d
	scores   []TemplateScores
}

var userWindows = []struct {
	name string
	days int
}{{"1d", 1}, {"7d", 7}, {"28d", 28}}

// NewMetrics creates the instruments on o.Meter.
func NewMetrics(o MetricsOptions) (*Metrics, error) {
	if o.StuckAfter <= 0 {
		o.StuckAfter = 10 * time.Minute
	}
	if o.GaugeTTL <= 0 {
		o.GaugeTTL = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{o: o}
	mt := o.Meter
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := mt.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := mt.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(DurationBuckets...))
		errs = append(errs, err)
		return h
	}
	m.started = counter("devex.template.run.started", "{run}", "Scaffolder runs started, seen through Backstage's task API.")
	m.completed = counter("devex.template.run.completed", "{run}", "Scaffolder runs finished, by result (success, failure, cancelled).")
	m.timeSaved = counter("devex.template.time_saved", "s", "Time saved by succeeded runs, from the template's backstage.io/time-saved at run time.")
	m.entities = counter("devex.catalog.entity.created", "{entity}", "Catalog entities that appeared, by kind and origin (template or manual).")
	m.deployments = counter("devex.deployments", "{deployment}", "Syncs of applications paved created, by service, environment and result.")
	m.duration = hist("devex.template.run.duration", "Wall time of finished scaffolder runs.")
	m.timeToHealthy = hist("devex.app.time_to_healthy", "Time from a template run to the first Synced and Healthy state of the Argo CD application it created.")

	active, err := mt.Int64ObservableUpDownCounter("devex.template.run.active", metric.WithUnit("{run}"),
		metric.WithDescription("Scaffolder runs open or processing."))
	errs = append(errs, err)
	stuck, err := mt.Int64ObservableGauge("devex.template.run.stuck", metric.WithUnit("{run}"),
		metric.WithDescription("Runs processing without a heartbeat for longer than the stuck threshold."))
	errs = append(errs, err)
	coverage, err := mt.Float64ObservableGauge("devex.golden_path.coverage", metric.WithUnit("1"),
		metric.WithDescription("Share of catalog components created from a template, per owner; without owner, overall."))
	errs = append(errs, err)
	users, err := mt.Int64ObservableGauge("devex.portal.user.active", metric.WithUnit("{user}"),
		metric.WithDescription("Distinct users who started a template run in the window (1d, 7d, 28d)."))
	errs = append(errs, err)
	score, err := mt.Float64ObservableGauge("devex.feedback.score", metric.WithUnit("{score}"),
		metric.WithDescription("Mean developer rating (1 to 5) of the runs of a template, over the answers of the last 28 days."))
	errs = append(errs, err)
	responses, err := mt.Int64ObservableGauge("devex.feedback.responses", metric.WithUnit("{response}"),
		metric.WithDescription("Developer ratings of the runs of a template given in the last 28 days."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	_, err = mt.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		g := m.gaugeValues(ctx)
		for _, a := range g.active {
			attrs := metric.WithAttributes(attribute.String("template", a.TemplateRef))
			obs.ObserveInt64(active, a.Active, attrs)
			obs.ObserveInt64(stuck, a.Stuck, attrs)
		}
		var all, fromTemplate int64
		for _, c := range g.coverage {
			all += c.Components
			fromTemplate += c.FromTemplate
			if c.Components > 0 {
				obs.ObserveFloat64(coverage, float64(c.FromTemplate)/float64(c.Components), metric.WithAttributes(attribute.String("owner", c.Owner)))
			}
		}
		if all > 0 {
			obs.ObserveFloat64(coverage, float64(fromTemplate)/float64(all))
		}
		for i, n := range g.users {
			obs.ObserveInt64(users, n, metric.WithAttributes(attribute.String("window", userWindows[i].name)))
		}
		for _, sc := range g.scores {
			if n := sc.Responses(); n > 0 {
				attrs := metric.WithAttributes(attribute.String("template", sc.TemplateRef))
				obs.ObserveFloat64(score, sc.Mean(), attrs)
				obs.ObserveInt64(responses, n, attrs)
			}
		}
		return nil
	}, active, stuck, coverage, users, score, responses)
	if err != nil {
		return nil, err
	}
	if o.SLOs != nil {
		if err := registerSLOGauges(mt, o.SLOs, o.Logger); err != nil {
			return nil, err
		}
	}
	if o.Freshness != nil {
		if err := registerFreshnessGauges(mt, o.Freshness, o.GaugeTTL, o.Now, o.Logger); err != nil {
			return nil, err
		}
	}
	if o.Keys != nil {
		if err := registerKeysGauges(mt, o.Keys, o.GaugeTTL, o.Now, o.Logger); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// registerSLOGauges exports the objectives: target, indicator and budget
// over the compliance window, burn rate per window (attribute window), each
// with the objective's name, indicator and template.
func registerSLOGauges(mt metric.Meter, slos *SLOs, logger *slog.Logger) error {
	var errs []error
	gauge := func(name, desc string) metric.Float64ObservableGauge {
		g, err := mt.Float64ObservableGauge(name, metric.WithUnit("1"), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	objective := gauge("devex.slo.objective", "Target share of good events of a service level objective.")
	sli := gauge("devex.slo.sli", "Share of good events over the objective's compliance window; absent without events.")
	budget := gauge("devex.slo.error_budget.remaining", "Unspent share of the compliance window's error budget (negative when overspent).")
	// A burn rate is a multiple, not a share: no unit, so no _ratio suffix.
	burn, err := mt.Float64ObservableGauge("devex.slo.burn_rate",
		metric.WithDescription("Error budget burn rate over the window (1 spends the budget exactly over the compliance window)."))
	if err := errors.Join(append(errs, err)...); err != nil {
		return err
	}
	_, err = mt.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		states, err := slos.Statuses(ctx)
		if err != nil {
			logger.Warn("devex: SLO gauges from the store", "error", err)
			return nil
		}
		for _, st := range states {
			base := []attribute.KeyValue{attribute.String("slo", st.Name), attribute.String("sli", st.SLI), attribute.String("template", st.Template)}
			attrs := metric.WithAttributes(base...)
			obs.ObserveFloat64(objective, st.Objective, attrs)
			obs.ObserveFloat64(budget, st.BudgetRemaining, attrs)
			if st.Current != nil {
				obs.ObserveFloat64(sli, *st.Current, attrs)
			}
			for _, w := range BurnWindows {
				obs.ObserveFloat64(burn, st.BurnRates[w.Name], metric.WithAttributes(append(base, attribute.String("window", w.Name))...))
			}
		}
		return nil
	}, objective, sli, budget, burn)
	return err
}

// gaugeValues returns the gauges, from the store at most every GaugeTTL. A
// store error keeps the last values: a scrape must not fail for it.
func (m *Metrics) gaugeValues(ctx context.Context) gaugeValues {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.o.Now()
	if !m.cachedAt.IsZero() && now.Sub(m.cachedAt) < m.o.GaugeTTL {
		return m.gauges
	}
	var g gaugeValues
	var err error
	if g.active, err = m.o.Store.ActiveRuns(ctx, now.Add(-m.o.StuckAfter)); err == nil {
		if g.coverage, err = m.o.Store.Coverage(ctx, now, ""); err == nil {
			days := make([]string, len(userWindows))
			for i, w := range userWindows {
				days[i] = Day(now.AddDate(0, 0, 1-w.days))
			}
			if g.users, err = m.o.Store.UserCounts(ctx, days); err == nil {
				from, to := DayRange(now.Add(-FeedbackWindow), now)
				g.scores, err = m.o.Store.ScoresByTemplate(ctx, Filter{From: from.AddDate(0, 0, 1), To: to})
			}
		}
	}
	if err != nil {
		m.o.Logger.Warn("devex: gauges from the store", "error", err)
		return m.gauges
	}
	m.gauges, m.cachedAt = g, now
	return g
}

// RecordRuns counts runs the store saw for the first time and runs that
// finished.
func (m *Metrics) RecordRuns(ctx context.Context, ch Change) {
	for _, r := range ch.New {
		m.started.Add(ctx, 1, metric.WithAttributes(attribute.String("template", r.TemplateRef)))
	}
	for _, r := range ch.Finished {
		tpl := attribute.String("template", r.TemplateRef)
		res := attribute.String("result", Result(r.Status))
		m.completed.Add(ctx, 1, metric.WithAttributes(tpl, res))
		m.duration.Record(ctx, r.Duration().Seconds(), metric.WithAttributes(tpl, res))
		if r.Status == TaskCompleted && r.TimeSaved > 0 {
			m.timeSaved.Add(ctx, int64(r.TimeSaved/time.Second), metric.WithAttributes(tpl))
		}
	}
}

// RecordComponents counts entities that appeared in the catalog.
func (m *Metrics) RecordComponents(ctx context.Context, added []Component) {
	for _, c := range added {
		m.entities.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", c.Kind), attribute.String("origin", c.Origin())))
	}
}

// RecordApps records first healthy moments and new deployments.
func (m *Metrics) RecordApps(ctx context.Context, ch AppChange) {
	for _, h := range ch.Healthy {
		m.timeToHealthy.Record(ctx, h.Duration.Seconds(), metric.WithAttributes(attribute.String("template", h.TemplateRef)))
	}
	for _, d := range ch.Deployments {
		result := "success"
		if !d.Succeeded {
			result = "failure"
		}
		m.deployments.Add(ctx, 1, metric.WithAttributes(attribute.String("service", d.Service),
			attribute.String("environment", d.Environment), attribute.String("result", result)))
	}
}

var _ Recorder = (*Metrics)(nil)
