package permission

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paved-dev/paved"
)

// Decider answers a policy's decisions for the user of a principal: the
// permission backend of Backstage, or paved's own policy from its config.
type Decider interface {
	Decide(ctx context.Context, u User, perms []paved.Permission) ([]paved.Decision, error)
}

// User is who a decision is for: the user entity ref, the token Backstage's
// permission backend identifies them with (a limited user token, never
// logged) and, for paved's own policy, their ownership entity refs.
type User struct {
	Ref        string
	OnBehalfOf string
	Groups     []string
}

// GroupMembership says which groups a user belongs to, from the catalog.
type GroupMembership interface {
	UserGroups(ctx context.Context, userRef string) ([]string, error)
}

// Options configure an Authorizer.
type Options struct {
	Decider Decider
	// TTL is how long a decision is reused for the same user and
	// permission; default 10s. Backstage's own clients do not cache at all,
	// so a policy change takes at most this long to reach paved.
	TTL time.Duration
	// Membership fills in the groups of users whose token does not list
	// them (paved's own policy matches on groups).
	Membership GroupMembership
	Logger     *slog.Logger
	Now        func() time.Time
}

// Authorizer is the one place paved decides who may do what. Service
// principals (a plugin token without a user, a static operator token) are
// allowed, as Backstage's PermissionsService allows them; users are asked
// about, and conditional decisions are applied to the resource with paved's
// rules.
type Authorizer struct {
	o Options

	mu     sync.Mutex
	cache  map[cacheKey]cached
	groups map[string]cachedGroups
}

type cacheKey struct{ user, permission string }

type cached struct {
	d   paved.Decision
	exp time.Time
}

type cachedGroups struct {
	groups []string
	exp    time.Time
}

const maxCached = 10000

var _ paved.Authorizer = (*Authorizer)(nil)

// New returns an Authorizer.
func New(o Options) *Authorizer {
	if o.TTL <= 0 {
		o.TTL = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Authorizer{o: o, cache: map[cacheKey]cached{}, groups: map[string]cachedGroups{}}
}

// Authorize returns nil when the principal of ctx holds p (on r, for a
// resource permission), else an EForbidden error that names the permission
// and the rule that refused it.
func (a *Authorizer) Authorize(ctx context.Context, p paved.Permission, r *paved.Resource) error {
	pr, ok := paved.PrincipalFrom(ctx)
	if !ok || service(pr) {
		return nil // no principal: an in-process call; every request from outside has one
	}
	ds, err := a.decide(ctx, pr, []paved.Permission{p})
	if err != nil {
		return err
	}
	return Apply(pr.User, p, ds[0], r)
}

// Allowed tells for each permission whether the principal of ctx holds it
// outright (a conditional decision without a resource counts as allowed:
// visibility, not the final check).
func (a *Authorizer) Allowed(ctx context.Context, perms []paved.Permission) ([]bool, error) {
	out := make([]bool, len(perms))
	pr, ok := paved.PrincipalFrom(ctx)
	if !ok || service(pr) {
		for i := range out {
			out[i] = true
		}
		return out, nil
	}
	ds, err := a.decide(ctx, pr, perms)
	if err != nil {
		return nil, err
	}
	for i, d := range ds {
		out[i] = d.Result != paved.DecisionDeny
	}
	return out, nil
}

// service reports whether a principal acts for no user: Backstage's
// PermissionsService allows service principals without asking the policy.
func service(p paved.Principal) bool {
	return p.User == "" && (p.Kind == paved.PrincipalPlugin || p.Kind == paved.PrincipalStatic)
}

// Apply turns a decision into nil or the EForbidden error naming why.
func Apply(user string, p paved.Permission, d paved.Decision, r *paved.Resource) error {
	switch d.Result {
	case paved.DecisionAllow:
		return nil
	case paved.DecisionConditional:
		if r == nil {
			return paved.Errorf(paved.EForbidden, "%s may not %s: the policy allows it only under conditions and there is no resource to apply them to", user, p.Name)
		}
		ok, failed, err := Evaluate(d.Conditions, r)
		if err != nil {
			return paved.Errorf(paved.EForbidden, "%s may not %s: the policy's condition cannot be applied: %v", user, p.Name, err)
		}
		if !ok {
			return paved.Errorf(paved.EForbidden, "%s may not %s on %s: rule %s not met", user, p.Name, describeResource(r), failed)
		}
		return nil
	}
	return paved.Errorf(paved.EForbidden, "%s may not %s: denied by the permission policy", user, p.Name)
}

func describeResource(r *paved.Resource) string {
	if r.Ref == "" {
		return r.Type
	}
	return r.Type + " " + r.Ref
}

// decide returns a decision per permission, cached per user and permission.
func (a *Authorizer) decide(ctx context.Context, pr paved.Principal, perms []paved.Permission) ([]paved.Decision, error) {
	now := a.o.Now()
	out := make([]paved.Decision, len(perms))
	var missing []paved.Permission
	var at []int
	a.mu.Lock()
	for i, p := range perms {
		if c, ok := a.cache[cacheKey{pr.User, p.Name}]; ok && now.Before(c.exp) {
			out[i] = c.d
			continue
		}
		missing = append(missing, p)
		at = append(at, i)
	}
	a.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	u := User{Ref: pr.User, OnBehalfOf: pr.OnBehalfOf, Groups: pr.Groups}
	var groupsErr error
	if _, local := a.o.Decider.(*Policy); local {
		u.Groups, groupsErr = a.userGroups(ctx, pr)
	}
	ds, err := a.o.Decider.Decide(ctx, u, missing)
	if err != nil {
		return nil, err
	}
	if len(ds) != len(missing) {
		return nil, fmt.Errorf("permission decider answered %d decisions for %d permissions", len(ds), len(missing))
	}
	if groupsErr != nil {
		// Decided without the user's groups: what they allow anyway stands,
		// what they might have allowed is unavailable, not denied; and
		// nothing is cached, so the next call asks the catalog again.
		for j, d := range ds {
			if d.Result == paved.DecisionDeny {
				return nil, paved.Errorf(paved.EUnavailable, "cannot decide whether %s may %s: the catalog did not answer with the user's groups: %v", pr.User, missing[j].Name, groupsErr)
			}
			out[at[j]] = d
		}
		return out, nil
	}
	exp := now.Add(a.o.TTL)
	a.mu.Lock()
	if len(a.cache)+len(ds) > maxCached {
		clear(a.cache) // bounded: starting over costs one round trip per user
	}
	for j, d := range ds {
		out[at[j]] = d
		a.cache[cacheKey{pr.User, missing[j].Name}] = cached{d: d, exp: exp}
	}
	a.mu.Unlock()
	return out, nil
}

// userGroups returns the groups of the principal's user: those its token
// lists, else the catalog's (cached like decisions, for as long).
func (a *Authorizer) userGroups(ctx context.Context, pr paved.Principal) ([]string, error) {
	if len(pr.Groups) > 0 || a.o.Membership == nil || pr.User == "" {
		return pr.Groups, nil
	}
	now := a.o.Now()
	a.mu.Lock()
	g, ok := a.groups[pr.User]
	a.mu.Unlock()
	if ok && now.Before(g.exp) {
		return g.groups, nil
	}
	groups, err := a.o.Membership.UserGroups(ctx, pr.User)
	if err != nil && paved.ErrorCode(err) != paved.ENotFound {
		a.o.Logger.WarnContext(ctx, "cannot read a user's groups from the catalog; deciding without them", "user", pr.User, "error", err)
		return nil, err
	}
	a.mu.Lock()
	if len(a.groups) > maxCached {
		clear(a.groups)
	}
	a.groups[pr.User] = cachedGroups{groups: groups, exp: now.Add(a.o.TTL)}
	a.mu.Unlock()
	return groups, nil
}

// ownershipRefs are the entity refs a user owns through: themselves and their groups.
func ownershipRefs(u User) []string {
	refs := []string{EntityRef(u.Ref)}
	for _, g := range u.Groups {
		refs = append(refs, EntityRef(g))
	}
	slices.Sort(refs)
	return slices.Compact(refs)
}

func matchName(pattern, name string) bool {
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(name, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == name
}
