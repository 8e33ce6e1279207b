// Package server is paved's HTTP surface: Backstage's plugin protocol under
// /api/<pluginId>/, probes and metrics at the root. Every route is in routes.go.
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// Actions lists and invokes scaffolder actions.
type Actions interface {
	ListJSONFor(ctx context.Context) ([]byte, error)
	Invoke(ctx context.Context, id string, input json.RawMessage, secrets map[string]string) (map[string]any, error)
}

// KeySet is paved's own signing keys, published as a JWKS.
type KeySet interface {
	JWKS(ctx context.Context) ([]byte, error)
	Rotate(ctx context.Context) (string, error)
}

// Invocations reads the audit log.
type Invocations interface {
	ListInvocations(ctx context.Context, f paved.InvocationFilter) ([]paved.Invocation, error)
}

// Check is one readiness check (the store, an Argo CD instance).
type Check struct {
	Name  string
	Check func(ctx context.Context) error
	// Optional checks are reported but leave paved ready: a dependency only
	// some actions use (an infrastructure server) must not take every
	// action out of the load balancer with it.
	Optional bool
}

// DefaultBodyTimeout is how long a client may take to send a request body.
const DefaultBodyTimeout = 30 * time.Second

// Deps are everything the HTTP surface needs; cmd/paved wires them.
type Deps struct {
	PluginID       string
	Logger         *slog.Logger
	Auth           Authenticator
	Actions        Actions
	Keys           KeySet
	Invocations    Invocations
	Ready          []Check
	Metrics        http.Handler
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	MaxBodyBytes   int64
	// BodyTimeout bounds the time a client takes to send a request body
	// (default 30s): a slow client gets a 408 and its connection is closed.
	BodyTimeout time.Duration

	// DevEx answers the adoption metrics routes; nil answers them with 503.
	DevEx DevEx
	// DevExReaders are the groups whose members' user tokens may read
	// adoption metrics; Membership resolves groups the token does not carry.
	DevExReaders []string
	Membership   GroupMembership
	// Feedback takes developers' answers about their runs; nil answers its
	// routes with 503. FeedbackCommentReaders are the groups whose members
	// may read the comments (the platform team); empty: DevExReaders.
	Feedback               Feedback
	FeedbackCommentReaders []string

	// Catalog serves the entity provider routes; nil answers them with 503.
	Catalog Catalog
	// CatalogYAMLPublic serves entities.yaml without a token, for a Backstage
	// `url` location (Backstage's URL reader sends none).
	CatalogYAMLPublic bool

	// Infra hands provisioned resources' connection details to their owners;
	// nil answers with 503.
	Infra InfraConnections
	// Costs answers the spend route (devex/v1/costs); nil answers with 503.
	Costs Costs

	// Authorizer decides who may do what, for every route and action; nil
	// is paved's own default policy (DevExReaders read adoption metrics).
	Authorizer paved.Authorizer
	// Permissions serves the permission integration routes; nil: paved's
	// permissions and rules with no resources to apply conditions to.
	Permissions PermissionIntegration
	// Resources lists and manages provisioned resources for the UI; nil
	// answers with 503.
	Resources InfraResources
	// Apps reads and syncs the Argo CD applications of an entity; Owners
	// says who owns an entity (for the sync decision).
	Apps   EntityApps
	Owners EntityOwners
	// Approvals lists requests sent for approval and takes decisions; nil
	// answers with 503.
	Approvals Approvals
}

// New builds paved's HTTP server.
func New(d Deps) *echo.Echo {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.TracerProvider == nil {
		d.TracerProvider = tracenoop.NewTracerProvider()
	}
	if d.MeterProvider == nil {
		d.MeterProvider = metricnoop.NewMeterProvider()
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.BodyTimeout <= 0 {
		d.BodyTimeout = DefaultBodyTimeout
	}
	if d.Metrics == nil {
		d.Metrics = http.NotFoundHandler()
	}
	if d.Authorizer == nil {
		policy, err := permission.NewPolicy(nil, permission.Readers{DevEx: d.DevExReaders, FeedbackComments: d.FeedbackCommentReaders})
		if err != nil {
			panic(err) // no configured lines: cannot fail
		}
		d.Authorizer = permission.New(permission.Options{Decider: policy, Membership: d.Membership, Logger: d.Logger})
	}
	if d.Permissions == nil {
		pi, err := permission.NewIntegration(nil, nil)
		if err != nil {
			panic(err)
		}
		d.Permissions = pi
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Logger)
	addRoutes(e, d)
	return e
}
