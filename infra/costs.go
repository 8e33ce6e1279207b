package infra

import (
	"context"
	"fmt"
	"strings"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/lease"
)

// Costs follows what resources cost: it admits a request against its team's
// budget and keeps a ledger entry per resource from claim to teardown.
type Costs interface {
	Admit(ctx context.Context, team string, add Cost) (Verdict, error)
	Opened(ctx context.Context, r Resource, team string, c Cost) error
	Discarded(ctx context.Context, resourceID string) error
	Closed(ctx context.Context, resourceID string) error
}

// Verdict is what a budget says of a request it does not refuse outright.
type Verdict struct {
	// OverBudget: the request exceeds the budget and the policy sends it for
	// approval; Reason says which budget and by how much.
	OverBudget bool
	Reason     string
}

// Team is the team a resource owned by owner counts against: the owner
// group, or the first group (by name) of an owner user, or "unassigned".
func (s *Service) Team(ctx context.Context, owner string) (string, error) {
	if strings.HasPrefix(owner, "group:") || s.o.Membership == nil {
		return teamOf(owner, nil), nil
	}
	groups, err := s.o.Membership.UserGroups(ctx, owner)
	if err != nil && paved.ErrorCode(err) != paved.ENotFound {
		return "", err
	}
	return teamOf(owner, groups), nil
}

func teamOf(owner string, groups []string) string {
	if strings.HasPrefix(owner, "group:") {
		return owner
	}
	best := ""
	for _, g := range groups {
		g = strings.ToLower(g)
		if strings.HasPrefix(g, "group:") && (best == "" || g < best) {
			best = g
		}
	}
	if best == "" {
		return "unassigned"
	}
	return best
}

// Cost is what resource r costs per month at the kind's current price.
func (s *Service) Cost(r Resource) (Cost, bool) {
	k, ok := s.kinds[r.Kind]
	if !ok {
		return Cost{}, false
	}
	return k.MonthlyCost(r.Parameters)
}

// claim stores the new resource r. For a priced kind with a cost ledger,
// the team's budget is checked and the ledger entry opened under a lock per
// team (a store lease, so across replicas), so that two requests at once
// cannot both fit a budget only one of them fits.
//
// An approved request (approved) was sent for approval because it exceeds
// the budget, or was admitted before: it is not refused, its entry opens.
func (s *Service) claim(ctx context.Context, k Kind, r Resource, approved bool) error {
	cost, priced := k.MonthlyCost(r.Parameters)
	if !priced || s.o.Costs == nil {
		return s.o.Store.CreateInfraResource(ctx, r)
	}
	team, err := s.Team(ctx, r.Owner)
	if err != nil {
		return err
	}
	l, lctx, err := lease.Acquire(ctx, s.leases, "infra-budget:"+team, lease.Options{Wait: provisionWait,
		Busy: fmt.Sprintf("the budget of %s is being checked by another call", team)})
	if err != nil {
		return err
	}
	defer l.Release()
	v, err := s.o.Costs.Admit(lctx, team, cost)
	if err != nil {
		return err
	}
	if v.OverBudget && !approved {
		return paved.Errorf(paved.EForbidden, "%s", v.Reason)
	}
	if err := l.Fence(lctx); err != nil {
		return err
	}
	if err := s.o.Store.CreateInfraResource(lctx, r); err != nil {
		return err
	}
	if err := s.o.Costs.Opened(lctx, r, team, cost); err != nil {
		s.forget(context.WithoutCancel(ctx), r.ID)
		return err
	}
	return nil
}

// OverBudget reports whether req (checked by Admit) would take its team
// over budget, with the budget's reason, when the policy sends such
// requests for approval; under the refusing policy it is the 403 Provision
// would answer. An unpriced kind, or no cost ledger, is never over.
func (s *Service) OverBudget(ctx context.Context, req Request) (string, bool, error) {
	k, ok := s.kinds[req.Kind]
	if !ok || s.o.Costs == nil {
		return "", false, nil
	}
	cost, priced := k.MonthlyCost(req.Parameters)
	if !priced {
		return "", false, nil
	}
	team, err := s.Team(ctx, req.Owner)
	if err != nil {
		return "", false, err
	}
	v, err := s.o.Costs.Admit(ctx, team, cost)
	if err != nil {
		return "", false, err
	}
	return v.Reason, v.OverBudget, nil
}

// forget removes the record (and ledger entry) of a resource whose
// provisioning failed.
func (s *Service) forget(ctx context.Context, id string) {
	if err := s.o.Store.DeleteInfraResource(ctx, id); err != nil {
		s.o.Logger.ErrorContext(ctx, "removing the record of a failed provisioning", "resource", id, "error", err)
		return
	}
	if s.o.Costs != nil {
		if err := s.o.Costs.Discarded(ctx, id); err != nil {
			s.o.Logger.ErrorContext(ctx, "removing the cost ledger entry of a failed provisioning", "resource", id, "error", err)
		}
	}
}
