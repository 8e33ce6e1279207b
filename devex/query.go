package devex

import "time"

// Filter selects the events of a query: days From (inclusive) to To
// (exclusive), both UTC midnights, optionally of one owner group and one
// template.
type Filter struct {
	From, To time.Time
	Owner    string
	Template string
}

// FromDay and ToDay are the filter's bounds as rollup days.
func (f Filter) FromDay() string { return Day(f.From) }
func (f Filter) ToDay() string   { return Day(f.To) }

// Totals are summed run counts.
type Totals struct {
	Started, Succeeded, Failed, Cancelled int64
	DurationMS                            int64 // of finished runs
	TimeSavedSeconds                      int64 // of succeeded runs
}

// Add adds o to t.
func (t *Totals) Add(o Totals) {
	t.Started += o.Started
	t.Succeeded += o.Succeeded
	t.Failed += o.Failed
	t.Cancelled += o.Cancelled
	t.DurationMS += o.DurationMS
	t.TimeSavedSeconds += o.TimeSavedSeconds
}

// DayTotals are the totals of one day.
type DayTotals struct {
	Day string
	Totals
}

// TemplateTotals are the totals of one template.
type TemplateTotals struct {
	TemplateRef string
	Totals
}

// DayUser says a user ran a template on a day.
type DayUser struct {
	Day, UserRef string
}

// CoverageRow counts one owner's components.
type CoverageRow struct {
	Owner                    string
	Components, FromTemplate int64
}

// DeploymentRow sums one service's deployments.
type DeploymentRow struct {
	Service           string
	Succeeded, Failed int64
	DeploymentDays    int64
}

// Funnel counts runs through the golden path.
type Funnel struct {
	Started, Succeeded, Registered, Healthy int64
}

// ActiveRuns counts a template's unfinished runs.
type ActiveRuns struct {
	TemplateRef   string
	Active, Stuck int64
}
