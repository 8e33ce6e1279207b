package costs

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/infra"
)

// Report is the spend of the owner teams over a period: what each team and
// kind costs per month now (resources alive × price) and what they cost in
// the period (prorated by the time each resource was alive), with a trend.
type Report struct {
	From     time.Time    `json:"from"`
	To       time.Time    `json:"to"`
	Currency string       `json:"currency"`
	Total    Figures      `json:"total"`
	Teams    []TeamSpend  `json:"teams"`
	Kinds    []KindSpend  `json:"kinds"`
	Trend    []TrendPoint `json:"timeseries"`
}

// Figures are a running monthly cost and the spend in the period.
type Figures struct {
	// Monthly is what the resources alive now cost per month.
	Monthly float64 `json:"monthly"`
	// Resources counts the resources alive now.
	Resources int `json:"resources"`
	// Spend is what was spent in the period, prorated.
	Spend float64 `json:"spend"`
}

// TeamSpend is one team's spend and budget.
type TeamSpend struct {
	Team string `json:"team"`
	Figures
	// Budget is the team's monthly budget, absent without one.
	Budget *float64 `json:"budget,omitempty"`
}

// KindSpend is one team's spend on one kind.
type KindSpend struct {
	Team string `json:"team"`
	Kind string `json:"kind"`
	Figures
}

// TrendPoint is the spend in one period of the grouping.
type TrendPoint struct {
	Period string  `json:"period"`
	Spend  float64 `json:"spend"`
}

// Reporter answers spend queries from the ledger.
type Reporter struct {
	Store   Store
	Budgets Budgets
	Now     func() time.Time
}

// Report returns the spend in [from, to) by team and kind, only of team when
// it is not empty, with a trend by grouping (devex.GroupDay|Week|Month).
func (rp *Reporter) Report(ctx context.Context, from, to time.Time, grouping, team string) (Report, error) {
	now := time.Now().UTC()
	if rp.Now != nil {
		now = rp.Now().UTC()
	}
	entries, err := rp.Store.CostEntries(ctx, from, to)
	if err != nil {
		return Report{}, err
	}
	// Spend stops at now: the period may reach into the future.
	until := to
	if now.Before(until) {
		until = now
	}
	rep := Report{From: from, To: to, Currency: rp.Budgets.Currency, Teams: []TeamSpend{}, Kinds: []KindSpend{}}
	teams := map[string]*TeamSpend{}
	kinds := map[[2]string]*KindSpend{}
	for _, e := range entries {
		if team != "" && e.Team != team {
			continue
		}
		if rep.Currency == "" {
			rep.Currency = e.Currency
		}
		t := teams[e.Team]
		if t == nil {
			t = &TeamSpend{Team: e.Team}
			if b, ok := rp.Budgets.For(e.Team); ok {
				t.Budget = &b
			}
			teams[e.Team] = t
		}
		k := kinds[[2]string{e.Team, e.Kind}]
		if k == nil {
			k = &KindSpend{Team: e.Team, Kind: e.Kind}
			kinds[[2]string{e.Team, e.Kind}] = k
		}
		spend := e.Prorated(from, until)
		alive := e.EndedAt.IsZero() && !e.StartedAt.After(now)
		for _, s := range []*Figures{&rep.Total, &t.Figures, &k.Figures} {
			s.Spend += spend
			if alive {
				s.Monthly += e.Monthly
				s.Resources++
			}
		}
	}
	for _, t := range teams {
		t.Figures = rounded(t.Figures)
		rep.Teams = append(rep.Teams, *t)
	}
	for _, k := range kinds {
		k.Figures = rounded(k.Figures)
		rep.Kinds = append(rep.Kinds, *k)
	}
	rep.Total = rounded(rep.Total)
	slices.SortFunc(rep.Teams, func(a, b TeamSpend) int {
		return cmp.Or(cmp.Compare(b.Monthly, a.Monthly), cmp.Compare(a.Team, b.Team))
	})
	slices.SortFunc(rep.Kinds, func(a, b KindSpend) int {
		return cmp.Or(cmp.Compare(a.Team, b.Team), cmp.Compare(b.Monthly, a.Monthly), cmp.Compare(a.Kind, b.Kind))
	})
	for p := devex.PeriodStart(from, grouping); p.Before(to); p = next(p, grouping) {
		end := next(p, grouping)
		pf, pt := maxTime(p, from), minTime(end, until)
		var s float64
		for _, e := range entries {
			if team == "" || e.Team == team {
				s += e.Prorated(pf, pt)
			}
		}
		rep.Trend = append(rep.Trend, TrendPoint{Period: devex.Day(p), Spend: infra.RoundMoney(s)})
	}
	return rep, nil
}

// Table is the report as CSV rows: one per team and kind.
func (r Report) Table() [][]string {
	rows := [][]string{{"team", "kind", "resources", "monthly", "spend", "currency"}}
	for _, k := range r.Kinds {
		rows = append(rows, []string{k.Team, k.Kind, strconv.Itoa(k.Resources), infra.FormatMoney(k.Monthly), infra.FormatMoney(k.Spend), r.Currency})
	}
	return rows
}

func rounded(s Figures) Figures {
	s.Monthly, s.Spend = infra.RoundMoney(s.Monthly), infra.RoundMoney(s.Spend)
	return s
}

func next(t time.Time, grouping string) time.Time {
	switch grouping {
	case devex.GroupWeek:
		return t.AddDate(0, 0, 7)
	case devex.GroupMonth:
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 1)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
