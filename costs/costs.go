// Package costs keeps what paved's golden paths cost: a ledger with one
// entry per resource (its monthly price, from claim to teardown), the
// running monthly spend of each owner team, the teams' budgets, the OTel
// gauge paved.infra.cost.monthly and the spend over a period, prorated by
// the time each resource was alive.
package costs

import (
	"context"
	"fmt"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

// Entry is one resource in the ledger.
type Entry struct {
	ResourceID string
	Kind       string
	Name       string
	Team       string // group entity ref, or "unassigned" (infra.Service.Team)
	Monthly    float64
	Currency   string
	StartedAt  time.Time
	EndedAt    time.Time // zero while the resource is alive
}

// Store keeps the ledger.
type Store interface {
	// OpenCost adds an entry; an entry for the same resource is left as it is.
	OpenCost(ctx context.Context, e Entry) error
	// DiscardCost removes the entry of a resource that was never provisioned.
	DiscardCost(ctx context.Context, resourceID string) error
	// CloseCost ends the entry of a resource torn down at at (an ended entry stays).
	CloseCost(ctx context.Context, resourceID string, at time.Time) error
	// OpenCosts returns the entries of resources alive now.
	OpenCosts(ctx context.Context) ([]Entry, error)
	// CostEntries returns the entries alive at some time in [from, to).
	CostEntries(ctx context.Context, from, to time.Time) ([]Entry, error)
}

// HoursPerMonth is the average month (365 × 24 / 12), the proration unit
// cloud bills use: a 480/month resource alive for 73 hours costs 48.
const HoursPerMonth = 730.0

// Prorated is what e cost between from and to: its monthly price times the
// share of a month it was alive in that interval.
func (e Entry) Prorated(from, to time.Time) float64 {
	start, end := e.StartedAt, e.EndedAt
	if start.Before(from) {
		start = from
	}
	if end.IsZero() || end.After(to) {
		end = to
	}
	if !end.After(start) {
		return 0
	}
	return e.Monthly * end.Sub(start).Hours() / HoursPerMonth
}

// Budgets are the teams' monthly budgets, in one currency.
type Budgets struct {
	Currency string
	// Default applies to a team without its own budget; 0 = no budget.
	Default float64
	// Teams are budgets by group entity ref (group:default/payments).
	Teams map[string]float64
	// OverBudget says what happens to a request that would exceed its
	// team's budget: OverBudgetRefuse (403) or OverBudgetApproval.
	OverBudget string
}

// What happens to a request over budget.
const (
	OverBudgetRefuse   = "refuse"
	OverBudgetApproval = "approval"
)

// For returns the budget of team and whether it has one.
func (b Budgets) For(team string) (float64, bool) {
	if v, ok := b.Teams[team]; ok {
		return v, v > 0
	}
	return b.Default, b.Default > 0
}

// Ledger is the infra service's view of costs: budgets are checked before a
// resource is claimed, and the ledger follows each resource's life.
type Ledger struct {
	Store   Store
	Budgets Budgets
	Now     func() time.Time
}

var _ infra.Costs = (*Ledger)(nil)

// Admit checks that team's spend, with add, stays within its budget. Over
// budget it returns a 403 naming the budget, or, when the policy sends such
// requests for approval, Verdict.OverBudget with that reason.
func (l *Ledger) Admit(ctx context.Context, team string, add infra.Cost) (infra.Verdict, error) {
	budget, ok := l.Budgets.For(team)
	if !ok {
		return infra.Verdict{}, nil
	}
	if add.Currency != l.Budgets.Currency {
		return infra.Verdict{}, paved.Errorf(paved.EInvalid, "the kind is priced in %s but budgets are in %s", add.Currency, l.Budgets.Currency)
	}
	open, err := l.Store.OpenCosts(ctx)
	if err != nil {
		return infra.Verdict{}, err
	}
	var used float64
	for _, e := range open {
		if e.Team == team {
			used += e.Monthly
		}
	}
	used = infra.RoundMoney(used)
	if infra.RoundMoney(used+add.Monthly) <= budget {
		return infra.Verdict{}, nil
	}
	reason := fmt.Sprintf("the monthly budget of %s (%s %s) would be exceeded: %s %s/month in use + %s requested",
		team, infra.FormatMoney(budget), l.Budgets.Currency, infra.FormatMoney(used), l.Budgets.Currency, add.String())
	if l.Budgets.OverBudget == OverBudgetApproval {
		return infra.Verdict{OverBudget: true, Reason: reason}, nil
	}
	return infra.Verdict{}, paved.Errorf(paved.EForbidden, "%s", reason)
}

// Opened records a claimed resource in the ledger.
func (l *Ledger) Opened(ctx context.Context, r infra.Resource, team string, c infra.Cost) error {
	return l.Store.OpenCost(ctx, Entry{ResourceID: r.ID, Kind: r.Kind, Name: r.Name, Team: team,
		Monthly: c.Monthly, Currency: c.Currency, StartedAt: r.CreatedAt})
}

// Discarded removes a resource whose provisioning failed.
func (l *Ledger) Discarded(ctx context.Context, id string) error { return l.Store.DiscardCost(ctx, id) }

// Closed ends a torn-down resource's entry.
func (l *Ledger) Closed(ctx context.Context, id string) error {
	return l.Store.CloseCost(ctx, id, l.now())
}

func (l *Ledger) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}
