package devex_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
)

// windowCounts answers SLICounts by the length of the window asked.
type windowCounts map[time.Duration]devex.SLICounts

func (w windowCounts) SLICounts(_ context.Context, _ devex.SLO, from, to time.Time) (devex.SLICounts, error) {
	return w[to.Sub(from)], nil
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBurnRateAndBudget(t *testing.T) {
	for _, tc := range []struct {
		name               string
		c                  devex.SLICounts
		objective          float64
		wantBurn, wantLeft float64
	}{
		// 20 bad of 1000 against 5 % allowed: 2 % ÷ 5 % = 0.4; 20 of the 50 allowed spent.
		{"within budget", devex.SLICounts{Good: 980, Total: 1000}, 0.95, 0.4, 0.6},
		// exactly the allowed share: burn 1, nothing left.
		{"budget spent", devex.SLICounts{Good: 95, Total: 100}, 0.95, 1, 0},
		// 20 bad where 5 are allowed: burn 4, three budgets overspent.
		{"overspent", devex.SLICounts{Good: 80, Total: 100}, 0.95, 4, -3},
		// 99.9 %: 1 bad of 200 is 0.5 % ÷ 0.1 % = 5; 0.2 allowed, 1 spent.
		{"three nines", devex.SLICounts{Good: 199, Total: 200}, 0.999, 5, -4},
		{"no events", devex.SLICounts{}, 0.95, 0, 1},
		{"all good", devex.SLICounts{Good: 7, Total: 7}, 0.9, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := devex.BurnRate(tc.c, tc.objective); !near(got, tc.wantBurn) {
				t.Errorf("burn rate = %v, want %v", got, tc.wantBurn)
			}
			if got := devex.BudgetRemaining(tc.c, tc.objective); !near(got, tc.wantLeft) {
				t.Errorf("budget remaining = %v, want %v", got, tc.wantLeft)
			}
		})
	}
}

func TestStatusWindowsAndAlerts(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	slo := devex.SLO{Name: "runs", SLI: devex.SLIRunSuccess, Objective: 0.99, Window: 30 * 24 * time.Hour}
	for _, tc := range []struct {
		name   string
		counts windowCounts
		alert  string
		burns  map[string]float64
	}{
		{
			// 1h: 15 bad of 100 = 15 > 14.4; 5m: 2 of 10 = 20 > 14.4.
			name: "fast burn pages",
			counts: windowCounts{time.Hour: {Good: 85, Total: 100}, 5 * time.Minute: {Good: 8, Total: 10},
				30 * 24 * time.Hour: {Good: 985, Total: 1000}},
			alert: "page", burns: map[string]float64{"1h": 15, "5m": 20, "30m": 0},
		},
		{
			// 1h burns at 15 but the last 5 minutes are clean: the incident is over, no page.
			name:   "recovered does not page",
			counts: windowCounts{time.Hour: {Good: 85, Total: 100}, 5 * time.Minute: {Good: 10, Total: 10}},
			alert:  "", burns: map[string]float64{"1h": 15, "5m": 0},
		},
		{
			// 1d: 4 of 100 = 4 > 3; 2h: 1 of 25 = 4 > 3.
			name:   "slow burn opens a ticket",
			counts: windowCounts{24 * time.Hour: {Good: 96, Total: 100}, 2 * time.Hour: {Good: 24, Total: 25}},
			alert:  "ticket", burns: map[string]float64{"1d": 4, "2h": 4},
		},
		{
			// 6h: 7 of 100 = 7 > 6; 30m: 1 of 10 = 10 > 6.
			name:   "6h and 30m page",
			counts: windowCounts{6 * time.Hour: {Good: 93, Total: 100}, 30 * time.Minute: {Good: 9, Total: 10}},
			alert:  "page", burns: map[string]float64{"6h": 7, "30m": 10},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := devex.Status(context.Background(), tc.counts, slo, now)
			if err != nil {
				t.Fatal(err)
			}
			if st.Alert != tc.alert {
				t.Errorf("alert = %q, want %q (burn rates %v)", st.Alert, tc.alert, st.BurnRates)
			}
			for w, want := range tc.burns {
				if got := st.BurnRates[w]; !near(got, want) {
					t.Errorf("burn rate %s = %v, want %v", w, got, want)
				}
			}
			if len(st.BurnRates) != len(devex.BurnWindows) {
				t.Errorf("burn rates over %d windows, want %d", len(st.BurnRates), len(devex.BurnWindows))
			}
		})
	}

	st, err := devex.Status(context.Background(), windowCounts{30 * 24 * time.Hour: {Good: 985, Total: 1000}}, slo, now)
	if err != nil {
		t.Fatal(err)
	}
	// 15 bad of 1000 where 10 are allowed: half a budget overspent.
	if st.Current == nil || !near(*st.Current, 0.985) || !near(st.BudgetRemaining, -0.5) || st.Good != 985 || st.Total != 1000 {
		t.Errorf("30d: current %v budget %v good %d total %d, want 0.985 -0.5 985 1000", st.Current, st.BudgetRemaining, st.Good, st.Total)
	}
	st, err = devex.Status(context.Background(), windowCounts{}, slo, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != nil || st.BudgetRemaining != 1 || st.Alert != "" {
		t.Errorf("no events: current %v budget %v alert %q, want nil 1 none", st.Current, st.BudgetRemaining, st.Alert)
	}
}

// A window longer than the compliance window is the compliance window's:
// burn over 3d of a 1-day objective is its whole day.
func TestStatusWindowCappedByCompliance(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	slo := devex.SLO{Name: "a", SLI: devex.SLIAvailability, Objective: 0.9, Window: 24 * time.Hour}
	st, err := devex.Status(context.Background(), windowCounts{24 * time.Hour: {Good: 8, Total: 10}}, slo, now)
	if err != nil {
		t.Fatal(err)
	}
	if !near(st.BurnRates["3d"], 2) || !near(st.BurnRates["1d"], 2) {
		t.Errorf("burn 1d %v 3d %v, want 2 and 2", st.BurnRates["1d"], st.BurnRates["3d"])
	}
}
