package paved

import (
	"context"
	"encoding/json"
)

// Permission is one of paved's permissions in Backstage's permission
// framework (@backstage/plugin-permission-common's Permission): a basic
// permission, or a resource permission whose decisions may be conditional on
// the resource (then it names its resource type).
type Permission struct {
	Type         string               `json:"type"` // "basic" | "resource"
	Name         string               `json:"name"`
	Attributes   PermissionAttributes `json:"attributes"`
	ResourceType string               `json:"resourceType,omitempty"`
}

// PermissionAttributes are the attributes Backstage's policies match on.
type PermissionAttributes struct {
	Action string `json:"action,omitempty"` // create | read | update | delete
}

// The resource types paved owns.
const (
	ResourceInfra   = "paved-infra-resource"
	ResourceArgoApp = "paved-argocd-app"
)

// Decision results, Backstage's AuthorizeResult.
const (
	DecisionAllow       = "ALLOW"
	DecisionDeny        = "DENY"
	DecisionConditional = "CONDITIONAL"
)

// Decision is a policy's answer for one permission and one user.
type Decision struct {
	Result string `json:"result"`
	// Conditional decisions: the plugin that applies them, the resource type
	// and the criteria, Backstage's PermissionCriteria.
	PluginID     string    `json:"pluginId,omitempty"`
	ResourceType string    `json:"resourceType,omitempty"`
	Conditions   *Criteria `json:"conditions,omitempty"`
}

// Criteria is Backstage's PermissionCriteria: exactly one of allOf, anyOf,
// not, or a rule with its parameters.
type Criteria struct {
	AllOf        []Criteria      `json:"allOf,omitempty"`
	AnyOf        []Criteria      `json:"anyOf,omitempty"`
	Not          *Criteria       `json:"not,omitempty"`
	Rule         string          `json:"rule,omitempty"`
	ResourceType string          `json:"resourceType,omitempty"`
	Params       json.RawMessage `json:"params,omitempty"`
}

// Resource is what a conditional decision is applied to: an infrastructure
// resource or an Argo CD application, as far as paved's rules look at it.
// Ref is how the permission backend names it (resourceRef).
type Resource struct {
	Type  string
	Ref   string
	Owner string // a user or group entity ref
	// Infrastructure resources.
	Kind   string
	Params map[string]string
	// Argo CD applications.
	Project              string
	DestinationServer    string
	DestinationNamespace string
	RepoURL              string
	ManagedByPaved       bool
}

// Authorizer decides whether the principal of ctx holds a permission, on a
// resource for resource permissions. A refusal is an EForbidden error naming
// the permission and, for conditional decisions, the rule that failed.
type Authorizer interface {
	Authorize(ctx context.Context, p Permission, r *Resource) error
	// Allowed tells for each permission whether the principal may see what
	// it guards (a conditional decision counts: resources decide later).
	Allowed(ctx context.Context, perms []Permission) ([]bool, error)
}

type authorizerKey struct{}

// WithAuthorizer returns a context whose calls to Authorize go to a.
func WithAuthorizer(ctx context.Context, a Authorizer) context.Context {
	return context.WithValue(ctx, authorizerKey{}, a)
}

// AuthorizerFrom returns the authorizer of ctx.
func AuthorizerFrom(ctx context.Context) (Authorizer, bool) {
	a, ok := ctx.Value(authorizerKey{}).(Authorizer)
	return a, ok
}

// Authorize asks the authorizer of ctx (installed by the HTTP server for
// every authenticated request) whether its principal holds p on r. A
// context without one is an in-process call (a test, a background job) and
// is allowed: every request from outside passes through the server.
func Authorize(ctx context.Context, p Permission, r *Resource) error {
	a, ok := ctx.Value(authorizerKey{}).(Authorizer)
	if !ok {
		return nil
	}
	return a.Authorize(ctx, p, r)
}

// Granted reports whether the authorizer of ctx explicitly grants p on r.
// Unlike Authorize it fails closed: a context without an authorizer grants
// nothing, so an escalation (acting for others than oneself) is never given
// to a caller merely because no authorizer was installed.
func Granted(ctx context.Context, p Permission, r *Resource) bool {
	a, ok := ctx.Value(authorizerKey{}).(Authorizer)
	return ok && a.Authorize(ctx, p, r) == nil
}
