package infra

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// authorize lets the owner through: the owner user, or a member of the owner
// group according to the catalog. Operators (static tokens) may manage but
// never read credentials; those are for a user token only. This is the one
// authorization decision of every operation on a resource (deprovision,
// extend, connection details, and the flags of a View).
func (s *Service) authorize(ctx context.Context, r Resource, userTokenOnly bool) error {
	p, ok := paved.PrincipalFrom(ctx)
	if !ok {
		return paved.Errorf(paved.EUnauthenticated, "no caller")
	}
	if userTokenOnly && p.Kind != paved.PrincipalUser {
		return paved.Errorf(paved.EForbidden, "connection details are only given to a Backstage user token of the owner")
	}
	if !userTokenOnly && p.Kind == paved.PrincipalStatic {
		return nil
	}
	if p.User == "" {
		return paved.Errorf(paved.EForbidden, "only the owner of %s %q (%s) may do this, and the call names no user", r.Kind, r.Name, r.Owner)
	}
	owns, err := s.owns(ctx, p.User, r.Owner)
	if err != nil || owns {
		return err
	}
	// An operator may manage what others own, never read their credentials.
	if !userTokenOnly && paved.Granted(ctx, permission.InfraOperate, nil) {
		return nil
	}
	return paved.Errorf(paved.EForbidden, "%s is not the owner of %s %q (%s) nor a member of it", p.User, r.Kind, r.Name, r.Owner)
}

// mayDo decides the caller's p on r: the permission policy first (Backstage's
// when configured; its refusal names the permission and the rule), then
// paved's own rule whatever the policy allowed: the owner, a member of the
// owner group, or an operator holding paved.infra.operate (userTokenOnly:
// the owner's user token alone).
func (s *Service) mayDo(ctx context.Context, r Resource, p paved.Permission, userTokenOnly bool) error {
	if err := paved.Authorize(ctx, p, PermissionResource(r)); err != nil {
		return err
	}
	return s.authorize(ctx, r, userTokenOnly)
}

// owns reports whether user is owner, or a member of the owner group
// according to the catalog.
func (s *Service) owns(ctx context.Context, user, owner string) (bool, error) {
	user = strings.ToLower(user)
	if user == strings.ToLower(owner) {
		return true, nil
	}
	if strings.HasPrefix(owner, "group:") && s.o.Membership != nil {
		groups, err := s.o.Membership.UserGroups(ctx, user)
		if err != nil && paved.ErrorCode(err) != paved.ENotFound { // a user the catalog does not know is in no group
			return false, err
		}
		for _, g := range groups {
			if strings.EqualFold(g, owner) {
				return true, nil
			}
		}
	}
	return false, nil
}

// authorizeProvision lets a user provision for themselves or a group they
// are a member of (else they need paved.infra.operate), and only as the
// policy's paved.infra.provision allows for this kind, owner and parameters.
func (s *Service) authorizeProvision(ctx context.Context, k Kind, params map[string]any, owner string) error {
	p, _ := paved.PrincipalFrom(ctx)
	if p.User != "" && owner != "" {
		owns, err := s.owns(ctx, p.User, owner)
		if err != nil {
			return err
		}
		if !owns {
			if !paved.Granted(ctx, permission.InfraOperate, nil) {
				return paved.Errorf(paved.EForbidden, "owner: %s is not %s nor a member of it; provisioning for another owner needs %s", p.User, owner, permission.InfraOperate.Name)
			}
		}
	}
	return paved.Authorize(ctx, permission.InfraProvision, PermissionResource(Resource{Kind: k.Name, Owner: owner, Parameters: params}))
}

var resourceIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// PermissionResource is r as paved's permission rules see it.
func PermissionResource(r Resource) *paved.Resource {
	params := map[string]string{}
	for k, v := range r.Parameters {
		switch v := v.(type) {
		case string:
			params[k] = v
		case bool, float64, int, int64:
			params[k] = fmt.Sprint(v)
		}
	}
	return &paved.Resource{Type: paved.ResourceInfra, Ref: r.ID, Owner: r.Owner, Kind: r.Kind, Params: params}
}

// PermissionResources loads resources by id for the permission backend's
// apply-conditions; unknown ids are left out.
func (s *Service) PermissionResources(ctx context.Context, ids []string) (map[string]*paved.Resource, error) {
	out := make(map[string]*paved.Resource, len(ids))
	for _, id := range ids {
		if !resourceIDRE.MatchString(id) {
			continue
		}
		r, err := s.o.Store.GetInfraResource(ctx, id)
		if paved.ErrorCode(err) == paved.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = PermissionResource(r)
	}
	return out, nil
}
