package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/paved-dev/paved/permission"
)

// addRoutes is paved's whole HTTP surface, with the middleware of each route.
func addRoutes(e *echo.Echo, d Deps) {
	tracer := d.TracerProvider.Tracer("github.com/paved-dev/paved/server")
	meter := d.MeterProvider.Meter("github.com/paved-dev/paved/server")
	e.Use(
		telemetry(tracer, meter, d.Logger),
		middleware.Recover(), // a handler panic becomes a 500 (logged, traced), never a dead process
		bodyDeadline(d.BodyTimeout, d.MaxBodyBytes),
	)
	// Every route below decides who may call it here: public, authenticated
	// (auth), a basic permission (can), service principals only
	// (serviceOnly). Actions check paved.action.<name>.invoke in the registry,
	// and resource permissions are checked where the resource is loaded.
	auth := requireAuth(d.Auth, d.Authorizer)
	limit := middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: byteSize(d.MaxBodyBytes)})

	// Probes and scrapers, at the root.
	e.GET("/healthz", handleHealthz())
	e.GET("/readyz", handleReadyz(d.Ready))
	e.GET("/metrics", echo.WrapHandler(d.Metrics))

	// Backstage's plugin protocol.
	api := e.Group("/api/" + d.PluginID)
	api.GET("/.backstage/auth/v1/jwks.json", handleJWKS(d.Keys))                  // public, like every Backstage plugin's
	api.GET("/.backstage/actions/v1/actions", handleListActions(d.Actions), auth) // filtered per caller
	api.GET("/.backstage/actions/v1/status", handleActionsStatus(d.Actions), auth, serviceOnly("the actions status"))
	// Their errors carry paved's reason in the HTTP status line too (reason.go):
	// it is what Backstage's task log prints for a remote action.
	reason := statusReason()
	api.POST("/.backstage/actions/v1/actions/:id/invoke", handleInvoke(d.Actions, 1, d.MaxBodyBytes), reason, auth, limit)
	api.POST("/.backstage/actions/v2/actions/:id/invoke", handleInvoke(d.Actions, 2, d.MaxBodyBytes), reason, auth, limit)

	// Backstage's permission framework (permissions.go).
	api.GET("/.well-known/backstage/permissions/metadata", handlePermissionMetadata(d.Permissions), auth)
	api.POST("/.well-known/backstage/permissions/apply-conditions", handleApplyConditions(d.Permissions, d.MaxBodyBytes), auth, serviceOnly("apply-conditions"), limit)

	// paved's own API.
	api.GET("/invocations", handleListInvocations(d.Invocations), auth, can(permission.AuditRead))
	api.POST("/admin/keys/rotate", handleRotateKeys(d.Keys), auth, staticOnly("key rotation"), can(permission.KeysRotate))

	// The catalog entity provider.
	catalogRead := can(permission.CatalogRead)
	yamlAuth := []echo.MiddlewareFunc{auth, catalogRead}
	if d.CatalogYAMLPublic {
		yamlAuth = nil
	}
	api.GET("/catalog/entities", handleCatalogEntities(d.Catalog), auth, catalogRead)
	api.GET("/catalog/entities.yaml", handleCatalogYAML(d.Catalog), yamlAuth...)
	api.GET("/catalog/changes", handleCatalogChanges(d.Catalog), auth, catalogRead)

	// Adoption (DevEx) metrics for the Backstage page (devex_handlers.go).
	devexRead := can(permission.DevExRead)
	api.GET("/devex/v1/summary", handleDevexSummary(d.DevEx), auth, devexRead)
	api.GET("/devex/v1/templates", handleDevexTemplates(d.DevEx), auth, devexRead)
	api.GET("/devex/v1/timeseries", handleDevexTimeseries(d.DevEx), auth, devexRead)
	api.GET("/devex/v1/coverage", handleDevexCoverage(d.DevEx), auth, devexRead)
	api.GET("/devex/v1/deployments", handleDevexDeployments(d.DevEx), auth, devexRead)
	api.GET("/devex/v1/funnel", handleDevexFunnel(d.DevEx), auth, devexRead)
	api.GET("/devex/v1/satisfaction", handleDevexSatisfaction(d.DevEx), auth, devexRead)
	api.GET("/devex/v1/slos", handleDevexSLOs(d.DevEx), auth, devexRead)
	api.GET("/devex/v1/freshness", handleDevexFreshness(d.DevEx), auth, devexRead)
	api.GET("/devex/v1/dora", handleDevexDORA(d.DevEx), auth, devexRead)

	// Developer feedback (feedback_handlers.go). Who may call, decided here:
	// answers come from a user (requireUser) whom the policy lets give
	// feedback (paved.devex.feedback.create; the default policy: everyone),
	// about a run they started (checked by devex.Feedbacks against the run);
	// the comments are for the platform team (paved.devex.feedback.read; the
	// default policy gives it to FeedbackCommentReaders).
	feedbackAuthor, giveFeedback := requireUser(), can(permission.FeedbackGive)
	api.GET("/devex/v1/feedback/runs", handleFeedbackRuns(d.Feedback), auth, feedbackAuthor, giveFeedback)
	api.GET("/devex/v1/feedback/runs/:taskId", handleGetFeedback(d.Feedback), auth, feedbackAuthor, giveFeedback)
	api.PUT("/devex/v1/feedback/runs/:taskId", handlePutFeedback(d.Feedback), auth, feedbackAuthor, giveFeedback, limit)
	api.GET("/devex/v1/feedback/comments", handleFeedbackComments(d.DevEx), auth, can(permission.FeedbackCommentsRead))
	api.GET("/devex/v1/costs", handleDevexCosts(d.Costs), auth, devexRead) // costs_handlers.go

	// Infrastructure golden paths (infra_handlers.go): credentials for the owner's user token only.
	api.GET("/infra/:id/connection", handleInfraConnection(d.Infra), auth) // paved.infra.connection.read on the resource

	// The developer's side in Backstage (paved's entity cards and resource
	// page), with the caller's identity. Who may: infra.Service.authorize for
	// resources (owner, member of the owner group, or an operator), and
	// appAuthorizer.maySync for a sync; reading needs an authenticated caller.
	api.GET("/infra/v1/resources", handleListResources(d.Resources), auth)
	api.GET("/infra/v1/resources/:id", handleGetResource(d.Resources), auth)
	api.POST("/infra/v1/resources/:id/extend", handleExtendResource(d.Resources, d.MaxBodyBytes), auth, limit)
	api.DELETE("/infra/v1/resources/:id", handleDeleteResource(d.Resources), auth)
	appAuthz := appAuthorizer{owners: d.Owners, membership: d.Membership}
	api.GET("/apps/v1/by-entity", handleEntityApps(d.Apps, appAuthz), auth)
	api.POST("/apps/v1/instances/:instance/apps/:name/sync", handleSyncApp(d.Apps, appAuthz), auth)

	// Requests sent for approval (approvals_handlers.go): reading them needs
	// paved.approval.read, deciding paved.approval.decide, and
	// approval.Service.Decide lets only a member of the request's approvers
	// who is not its requester decide.
	approvalRead := can(permission.ApprovalRead)
	api.GET("/approvals/v1/requests", handleListApprovals(d.Approvals), auth, approvalRead)
	api.GET("/approvals/v1/requests/:id", handleGetApproval(d.Approvals), auth, approvalRead)
	api.POST("/approvals/v1/requests/:id/approve", handleDecideApproval(d.Approvals, true, d.MaxBodyBytes), auth, can(permission.ApprovalDecide), limit)
	api.POST("/approvals/v1/requests/:id/reject", handleDecideApproval(d.Approvals, false, d.MaxBodyBytes), auth, can(permission.ApprovalDecide), limit)

	e.RouteNotFound("/*", func(echo.Context) error { return echo.NewHTTPError(http.StatusNotFound) })
}
