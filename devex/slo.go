package devex

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"
)

// The service level indicators paved keeps objectives for. Each is a ratio
// of good events to all events:
//
//   - run success: finished scaffolder runs of the template (succeeded ÷
//     succeeded + failed; a cancelled run is someone changing their mind);
//   - time to healthy: Argo CD applications a run created that reached
//     Synced and Healthy within the threshold ÷ those whose threshold has
//     passed or which became healthy (an app counts when it is decided);
//   - availability: paved's own action calls that did not fail on paved's
//     side ÷ all calls (a refused or invalid input is the caller's doing, a
//     5xx — internal, unavailable, timeout — is paved's).
const (
	SLIRunSuccess    = "runSuccess"
	SLITimeToHealthy = "timeToHealthy"
	SLIAvailability  = "availability"
)

// SLIs lists the indicators in the order the docs name them.
var SLIs = []string{SLIRunSuccess, SLITimeToHealthy, SLIAvailability}

// UnavailableCodes are the error codes of an action call that count against
// paved's availability: those answered with a 5xx.
var UnavailableCodes = []string{"internal", "unavailable", "timeout"}

// SLO is one service level objective of a golden path (Template set) or of
// all of them.
type SLO struct {
	Name     string
	SLI      string
	Template string // a template entity ref; "" for every template
	// Objective is the share of good events to keep, between 0 and 1 (0.95).
	Objective float64
	// Threshold is the time to healthy that counts as good (SLITimeToHealthy).
	Threshold time.Duration
	// Window is the compliance period of the error budget (30 days).
	Window time.Duration
}

// SLICounts are the events of an indicator over a window.
type SLICounts struct {
	Good, Total int64
}

// Ratio is good ÷ total, and false when there was no event.
func (c SLICounts) Ratio() (float64, bool) {
	if c.Total <= 0 {
		return 0, false
	}
	return float64(c.Good) / float64(c.Total), true
}

// BurnRate is how fast the window's events spend the error budget: the
// share of bad events divided by the share the objective allows. 1 spends
// exactly the budget over the compliance period; 14.4 spends 2 % of a
// 30-day budget in an hour. No events burn nothing.
func BurnRate(c SLICounts, objective float64) float64 {
	r, ok := c.Ratio()
	if !ok || objective >= 1 {
		return 0
	}
	return (1 - r) / (1 - objective)
}

// BudgetRemaining is the share of the compliance window's error budget not
// yet spent: 1 untouched, 0 spent, negative overspent.
func BudgetRemaining(c SLICounts, objective float64) float64 {
	if c.Total <= 0 || objective >= 1 {
		return 1
	}
	allowed := (1 - objective) * float64(c.Total)
	return 1 - float64(c.Total-c.Good)/allowed
}

// BurnWindow is a window burn rates are computed over.
type BurnWindow struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"-"`
}

// MarshalJSON writes the window as {"name","seconds"}.
func (w BurnWindow) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name    string  `json:"name"`
		Seconds float64 `json:"seconds"`
	}{w.Name, w.Duration.Seconds()})
}

// BurnWindows are the windows of the multi-window, multi-burn-rate alerts
// of the Google SRE workbook ("Alerting on SLOs", table 5-8).
var BurnWindows = []BurnWindow{
	{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour}, {"2h", 2 * time.Hour},
	{"6h", 6 * time.Hour}, {"1d", 24 * time.Hour}, {"3d", 72 * time.Hour},
}

// BurnAlert is one multi-window burn-rate condition: both windows above
// Factor.
type BurnAlert struct {
	Severity string  `json:"severity"` // "page" or "ticket"
	Long     string  `json:"long"`     // BurnWindows names
	Short    string  `json:"short"`
	Factor   float64 `json:"factor"`
}

// BurnAlerts are the workbook's recommended conditions for a 30-day
// window: 2 % of the budget in 1 h or 5 % in 6 h page; 10 % in 1 d or in 3 d
// open a ticket. The Prometheus rules shipped in deploy/prometheus use the same.
var BurnAlerts = []BurnAlert{
	{"page", "1h", "5m", 14.4},
	{"page", "6h", "30m", 6},
	{"ticket", "1d", "2h", 3},
	{"ticket", "3d", "6h", 1},
}

// SLOStatus is one objective's state, GET devex/v1/slos.
type SLOStatus struct {
	Name             string  `json:"name"`
	SLI              string  `json:"sli"`
	Template         string  `json:"template,omitempty"`
	Objective        float64 `json:"objective"`
	ThresholdSeconds float64 `json:"thresholdSeconds,omitempty"`
	WindowSeconds    float64 `json:"windowSeconds"`
	// Current is the indicator over the compliance window; nil without events.
	Current *float64 `json:"current"`
	Good    int64    `json:"good"`
	Total   int64    `json:"total"`
	// BudgetRemaining is the unspent share of the window's error budget.
	BudgetRemaining float64 `json:"budgetRemaining"`
	// BurnRates by window name (BurnWindows).
	BurnRates map[string]float64 `json:"burnRates"`
	// Alert is the most severe burn-rate condition that holds: "page",
	// "ticket" or "" for none.
	Alert string `json:"alert"`
}

// AlertOf returns the most severe of BurnAlerts that burn rates meet.
func AlertOf(burn map[string]float64) string {
	alert := ""
	for _, a := range BurnAlerts {
		if burn[a.Long] > a.Factor && burn[a.Short] > a.Factor {
			if a.Severity == "page" {
				return "page"
			}
			alert = a.Severity
		}
	}
	return alert
}

// SLOStore counts the events of the indicators in [from, to).
type SLOStore interface {
	SLICounts(ctx context.Context, s SLO, from, to time.Time) (SLICounts, error)
}

// Status computes an objective's state at now from the store.
func Status(ctx context.Context, store SLOStore, s SLO, now time.Time) (SLOStatus, error) {
	st := SLOStatus{Name: s.Name, SLI: s.SLI, Template: s.Template, Objective: s.Objective,
		ThresholdSeconds: s.Threshold.Seconds(), WindowSeconds: s.Window.Seconds(), BurnRates: map[string]float64{}}
	c, err := store.SLICounts(ctx, s, now.Add(-s.Window), now)
	if err != nil {
		return st, err
	}
	st.Good, st.Total = c.Good, c.Total
	if r, ok := c.Ratio(); ok {
		r = round(r)
		st.Current = &r
	}
	st.BudgetRemaining = round(BudgetRemaining(c, s.Objective))
	for _, w := range BurnWindows {
		wc := c
		if w.Duration < s.Window {
			if wc, err = store.SLICounts(ctx, s, now.Add(-w.Duration), now); err != nil {
				return st, err
			}
		}
		st.BurnRates[w.Name] = round(BurnRate(wc, s.Objective))
	}
	st.Alert = AlertOf(st.BurnRates)
	return st, nil
}

// SLOs computes the objectives' states, reusing them for TTL so that the
// page and every scrape of every replica do not each query the store.
type SLOs struct {
	store SLOStore
	slos  []SLO
	ttl   time.Duration
	now   func() time.Time

	mu       sync.Mutex
	cachedAt time.Time
	cached   []SLOStatus
}

// NewSLOs returns the objectives slos over store; ttl 0 means 15s.
func NewSLOs(store SLOStore, slos []SLO, ttl time.Duration, now func() time.Time) *SLOs {
	if ttl <= 0 {
		ttl = 15 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &SLOs{store: store, slos: slos, ttl: ttl, now: now}
}

// Statuses returns every objective's state, in configuration order.
func (o *SLOs) Statuses(ctx context.Context) ([]SLOStatus, error) {
	if o == nil {
		return []SLOStatus{}, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.cached != nil && now.Sub(o.cachedAt) < o.ttl {
		return o.cached, nil
	}
	out := make([]SLOStatus, 0, len(o.slos))
	var errs []error
	for _, s := range o.slos {
		st, err := Status(ctx, o.store, s, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, st)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	o.cached, o.cachedAt = out, now
	return out, nil
}

// SLOsTable returns the states as rows for CSV, with a header.
func SLOsTable(items []SLOStatus) [][]string {
	head := []string{"name", "sli", "template", "objective", "thresholdSeconds", "windowSeconds", "current", "good", "total", "budgetRemaining"}
	for _, w := range BurnWindows {
		head = append(head, "burnRate"+w.Name)
	}
	out := [][]string{append(head, "alert")}
	for _, s := range items {
		cur := ""
		if s.Current != nil {
			cur = ftoa(*s.Current)
		}
		row := []string{s.Name, s.SLI, s.Template, ftoa(s.Objective), ftoa(s.ThresholdSeconds), ftoa(s.WindowSeconds),
			cur, itoa(s.Good), itoa(s.Total), ftoa(s.BudgetRemaining)}
		for _, w := range BurnWindows {
			row = append(row, ftoa(s.BurnRates[w.Name]))
		}
		out = append(out, append(row, s.Alert))
	}
	return out
}
