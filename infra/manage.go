package infra

import (
	"context"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// OpExtend is the provisioning-log operation of a ttl extension.
const OpExtend = "extend"

// Filter narrows a listing of resources; empty fields match everything.
type Filter struct {
	Owner     string // owner entity ref (user or group), case-insensitive
	EntityRef string // the component that uses the resource
}

// View is a resource as a developer sees it in Backstage: no secret, and what
// the caller may do with it.
type View struct {
	Resource
	// Title is the kind's title (the golden path's name).
	Title string `json:"title"`
	// CostMonthly is what it costs per month at its kind's current price,
	// "480 USD" (as the catalog's paved.dev/cost-monthly); "" when unpriced.
	CostMonthly string `json:"costMonthly,omitempty"`
	// Connection is true when the resource has connection details.
	Connection bool `json:"hasConnection"`
	// CanManage: the caller may extend and tear it down (owner, member of
	// the owner group, or an operator).
	CanManage bool `json:"canManage"`
	// CanReadConnection: the caller may read the connection details (a
	// Backstage user token of the owner or a member of the owner group).
	CanReadConnection bool `json:"canReadConnection"`
}

// lister is the part of a store that lists resources.
type lister interface {
	ListInfraResources(ctx context.Context) ([]Resource, error)
}

// List returns the resources matching f, each with what the caller may do.
func (s *Service) List(ctx context.Context, f Filter) ([]View, error) {
	l, ok := s.o.Store.(lister)
	if !ok {
		return nil, paved.Errorf(paved.EUnavailable, "this store cannot list resources")
	}
	all, err := l.ListInfraResources(ctx)
	if err != nil {
		return nil, err
	}
	var groups []string
	loaded := false
	out := []View{}
	for _, r := range all {
		if f.Owner != "" && !strings.EqualFold(r.Owner, f.Owner) {
			continue
		}
		if f.EntityRef != "" && !strings.EqualFold(r.EntityRef, f.EntityRef) {
			continue
		}
		if !loaded && strings.HasPrefix(r.Owner, "group:") {
			if groups, err = s.callerGroups(ctx); err != nil {
				return nil, err
			}
			loaded = true
		}
		out = append(out, s.view(ctx, r, groups))
	}
	return out, nil
}

// Get returns one resource with what the caller may do.
func (s *Service) Get(ctx context.Context, id string) (View, error) {
	r, err := s.o.Store.GetInfraResource(ctx, id)
	if err != nil {
		return View{}, err
	}
	var groups []string
	if strings.HasPrefix(r.Owner, "group:") {
		if groups, err = s.callerGroups(ctx); err != nil {
			return View{}, err
		}
	}
	return s.view(ctx, r, groups), nil
}

// view carries the same decisions as the operations themselves
// (authorize, then the permission framework's), so the UI offers only what
// paved will allow.
func (s *Service) view(ctx context.Context, r Resource, _ []string) View {
	v := View{Resource: r, Title: s.kinds[r.Kind].Title, Connection: len(r.Secret) > 0}
	if c, ok := s.Cost(r); ok {
		v.CostMonthly = FormatMoney(c.Monthly) + " " + c.Currency
	}
	v.Secret = nil
	v.CanManage = s.mayDo(ctx, r, permission.InfraDeprovision, false) == nil
	v.CanReadConnection = v.Connection && s.mayDo(ctx, r, permission.InfraConnectionRead, true) == nil
	return v
}

// callerGroups are the groups of the calling user according to the catalog
// (none for a call without a user, or a user the catalog does not know).
func (s *Service) callerGroups(ctx context.Context) ([]string, error) {
	p, _ := paved.PrincipalFrom(ctx)
	if p.User == "" || s.o.Membership == nil {
		return nil, nil
	}
	groups, err := s.o.Membership.UserGroups(ctx, strings.ToLower(p.User))
	if err != nil && paved.ErrorCode(err) != paved.ENotFound {
		return nil, err
	}
	return groups, nil
}

// Extend moves a resource's expiry to by after its current expiry (or after
// now, if that is later), within MaxTTL from now. Only the owner, a member of
// the owner group or an operator may; a resource without expiry is a conflict.
// It runs under the resource's lock, so the reaper either sees the new expiry
// or tore the resource down before (then: 404).
func (s *Service) Extend(ctx context.Context, id string, by time.Duration) (View, error) {
	if by <= 0 || (s.o.MaxTTL > 0 && by > s.o.MaxTTL) {
		return View{}, paved.InvalidFields(paved.FieldError{Field: "by", Message: "must be positive and at most " + s.o.MaxTTL.String()})
	}
	r, err := s.o.Store.GetInfraResource(ctx, id)
	if err != nil {
		return View{}, err
	}
	if err := s.mayDo(ctx, r, permission.InfraExtend, false); err != nil {
		return View{}, err
	}
	l, wctx, err := s.lock(ctx, r.Kind, r.Name, provisionWait)
	if err != nil {
		return View{}, err
	}
	defer l.Release()
	// Under the lock: a teardown or reap that went before is seen (404).
	if r, err = s.o.Store.GetInfraResource(wctx, id); err != nil {
		return View{}, err
	}
	if r.ExpiresAt.IsZero() {
		return View{}, paved.Errorf(paved.EConflict, "%s %q does not expire; there is nothing to extend", r.Kind, r.Name)
	}
	if r.Status != StatusReady {
		return View{}, paved.Errorf(paved.EConflict, "%s %q is %s", r.Kind, r.Name, r.Status)
	}
	start := s.o.Now()
	base := r.ExpiresAt
	if now := start.UTC(); base.Before(now) {
		base = now
	}
	next := base.Add(by)
	if s.o.MaxTTL > 0 && next.After(start.Add(s.o.MaxTTL)) {
		return View{}, paved.InvalidFields(paved.FieldError{Field: "by",
			Message: "would keep the resource beyond the longest lifetime, " + s.o.MaxTTL.String() + " from now"})
	}
	r.ExpiresAt, r.UpdatedAt = next.UTC(), start.UTC()
	if err = l.Fence(wctx); err == nil {
		// A reap that failed left its torn-down notice for the old TTL.
		err = s.o.Store.DropInfraNotices(wctx, r.ID, NoticeTornDown)
	}
	if err == nil {
		err = s.o.Store.UpdateInfraResource(wctx, r)
	}
	p, _ := paved.PrincipalFrom(ctx)
	s.record(ctx, r, OpExtend, actor(p), start, err)
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, id)
}

// ownerDecision is the ownership rule: the owner user, or a member of the
// owner group (groups: the caller's, from the catalog).
func ownerDecision(p paved.Principal, r Resource, groups []string) error {
	if p.User == "" {
		return paved.Errorf(paved.EForbidden, "only the owner of %s %q (%s) may do this, and the call names no user", r.Kind, r.Name, r.Owner)
	}
	if strings.EqualFold(p.User, r.Owner) {
		return nil
	}
	if strings.HasPrefix(r.Owner, "group:") {
		for _, g := range groups {
			if strings.EqualFold(g, r.Owner) {
				return nil
			}
		}
	}
	return paved.Errorf(paved.EForbidden, "%s is not the owner of %s %q (%s) nor a member of it", p.User, r.Kind, r.Name, r.Owner)
}
