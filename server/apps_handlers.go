package server

import (
	"context"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// The Argo CD applications of a Backstage entity, for paved's app card:
// every app paved created for it on every configured instance (the
// Applications of an ApplicationSet too: they carry the same labels), and a
// sync for the entity's owner.

// EntityApps reads and syncs Argo CD applications.
type EntityApps interface {
	Instances() []string
	ListApps(ctx context.Context, instance, selector string, projects []string) ([]paved.App, error)
	GetApp(ctx context.Context, ref paved.AppRef, refresh bool) (paved.App, error)
	SyncApp(ctx context.Context, req paved.SyncRequest) (paved.App, error)
}

// EntityOwners says who owns a catalog entity (its spec.owner).
type EntityOwners interface {
	EntityOwner(ctx context.Context, ref string) (string, error)
}

// AppView is one application as the card shows it (GET apps/v1/by-entity);
// cmd/gen-ts-types writes its TypeScript shape.
type AppView struct {
	Instance         string `json:"instance"`
	Name             string `json:"name"`
	Namespace        string `json:"namespace,omitempty"`
	Project          string `json:"project"`
	URL              string `json:"url"`
	SyncStatus       string `json:"syncStatus"`
	HealthStatus     string `json:"healthStatus"`
	Revision         string `json:"revision"`
	OperationPhase   string `json:"operationPhase,omitempty"`
	OperationMessage string `json:"operationMessage,omitempty"`
	Destination      string `json:"destination"`
	RepoURL          string `json:"repoURL,omitempty"`
	CanSync          bool   `json:"canSync"`
	// Problems are what Argo CD reports keeping the app from Synced and
	// Healthy: error conditions (a source path that does not exist, which a
	// commit in gitops mode only meets here), failed and unhealthy resources.
	Problems []paved.AppProblem `json:"problems,omitempty"`
}

func toAppView(a paved.App, canSync bool) AppView {
	dest := a.Destination.Name
	if dest == "" {
		dest = a.Destination.Server
	}
	if a.Destination.Namespace != "" {
		dest += " / " + a.Destination.Namespace
	}
	return AppView{
		Instance: a.Instance, Name: a.Name, Namespace: a.Namespace, Project: a.Project, URL: a.URL,
		SyncStatus: a.SyncStatus, HealthStatus: a.HealthStatus, Revision: a.Revision,
		OperationPhase: a.OperationPhase, OperationMessage: a.OperationMessage,
		Destination: dest, RepoURL: a.RepoURL, CanSync: canSync, Problems: a.Problems,
	}
}

// handleEntityApps: GET apps/v1/by-entity?entityRef=. An instance that fails
// is reported in "unavailable" beside the others' apps.
func handleEntityApps(apps EntityApps, authz appAuthorizer) echo.HandlerFunc {
	return func(c echo.Context) error {
		if apps == nil {
			return paved.Errorf(paved.EUnavailable, "no Argo CD instance is configured")
		}
		ref, fe := entityRefParam(c, "entityRef", "component")
		if fe != nil {
			return paved.InvalidFields(*fe)
		}
		if ref == "" {
			return paved.InvalidFields(paved.FieldError{Field: "entityRef", Message: "is required"})
		}
		ctx := c.Request().Context()
		selector := paved.LabelManagedBy + "=" + paved.ManagedByPaved + "," + paved.LabelEntity + "=" + paved.LabelValue(ref)
		items := []AppView{}
		type unavailable struct {
			Instance string `json:"instance"`
			Message  string `json:"message"`
		}
		down := []unavailable{}
		canSync, decided := false, false // the decision depends on the entity only: asked once
		for _, inst := range apps.Instances() {
			list, err := apps.ListApps(ctx, inst, selector, nil)
			if err != nil {
				down = append(down, unavailable{Instance: inst, Message: paved.ErrorMessage(err)})
				continue
			}
			for _, a := range list {
				// The label is a lossy form of the ref; the annotation is verbatim.
				if got := a.Annotations[paved.AnnotationEntityRef]; got != "" && !strings.EqualFold(got, ref) {
					continue
				}
				if !decided {
					canSync, decided = authz.maySync(ctx, a, ref) == nil, true
				}
				items = append(items, toAppView(a, canSync))
			}
		}
		sort.Slice(items, func(i, j int) bool {
			if items[i].Instance != items[j].Instance {
				return items[i].Instance < items[j].Instance
			}
			return items[i].Name < items[j].Name
		})
		return c.JSON(http.StatusOK, map[string]any{"entityRef": ref, "items": items, "unavailable": down})
	}
}

var appNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// handleSyncApp: POST apps/v1/instances/:instance/apps/:name/sync
// (?appNamespace=) starts a sync of an app paved manages, for its owner.
func handleSyncApp(apps EntityApps, authz appAuthorizer) echo.HandlerFunc {
	return func(c echo.Context) error {
		if apps == nil {
			return paved.Errorf(paved.EUnavailable, "no Argo CD instance is configured")
		}
		var fields []paved.FieldError
		inst, name := c.Param("instance"), c.Param("name")
		if !appNameRE.MatchString(inst) {
			fields = append(fields, paved.FieldError{Field: "instance", Message: "is not an Argo CD instance name"})
		}
		if !appNameRE.MatchString(name) {
			fields = append(fields, paved.FieldError{Field: "name", Message: "is not an application name"})
		}
		ns := c.QueryParam("appNamespace")
		if ns != "" && !appNameRE.MatchString(ns) {
			fields = append(fields, paved.FieldError{Field: "appNamespace", Message: "is not a namespace"})
		}
		if len(fields) > 0 {
			return paved.InvalidFields(fields...)
		}
		known := false
		for _, i := range apps.Instances() {
			known = known || i == inst
		}
		if !known {
			return paved.Errorf(paved.ENotFound, "unknown Argo CD instance %q", inst)
		}
		ctx := c.Request().Context()
		ref := paved.AppRef{Instance: inst, Name: name, Namespace: ns}
		// Any project: the app is looked up by name, then its own project is used.
		list, err := apps.ListApps(ctx, inst, paved.LabelManagedBy+"="+paved.ManagedByPaved, nil)
		if err != nil {
			return err
		}
		var app *paved.App
		for i := range list {
			if list[i].Name == name && (ns == "" || list[i].Namespace == "" || list[i].Namespace == ns) {
				app = &list[i]
				break
			}
		}
		if app == nil {
			return paved.Errorf(paved.ENotFound, "no application %q that paved manages on %s", name, inst)
		}
		if err := authz.maySync(ctx, *app, app.Annotations[paved.AnnotationEntityRef]); err != nil {
			return err
		}
		ref.Project = app.Project
		out, err := apps.SyncApp(ctx, paved.SyncRequest{AppRef: ref})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, toAppView(out, true))
	}
}

// appAuthorizer is the one authorization decision of the app routes.
type appAuthorizer struct {
	owners     EntityOwners
	membership GroupMembership
}

// maySync: an operator's static token, or a user who owns the app (its
// paved.dev/owner annotation, else the owner of its entity in Backstage's
// catalog) or is a member of the owning group. Reading the apps' status needs
// only an authenticated caller, like the catalog that shows them.
func (z appAuthorizer) maySync(ctx context.Context, app paved.App, entityRef string) error {
	owner, err := z.ownerDecision(ctx, app, entityRef)
	if err != nil {
		return err
	}
	// Then the permission framework's decision (paved.argocd.app.sync).
	return paved.Authorize(ctx, permission.AppSync, &paved.Resource{
		Type: paved.ResourceArgoApp, Ref: app.Instance + "/" + app.Name, Owner: owner, Project: app.Project,
		DestinationServer: app.Destination.Server, DestinationNamespace: app.Destination.Namespace,
		RepoURL: app.RepoURL, ManagedByPaved: app.Labels[paved.LabelManagedBy] == paved.ManagedByPaved,
	})
}

// ownerDecision returns the app's owner when the caller may act as it.
func (z appAuthorizer) ownerDecision(ctx context.Context, app paved.App, entityRef string) (string, error) {
	p, _ := paved.PrincipalFrom(ctx)
	if p.Kind == paved.PrincipalStatic {
		return strings.ToLower(strings.TrimSpace(app.Annotations[paved.AnnotationOwner])), nil
	}
	if p.User == "" {
		return "", paved.Errorf(paved.EForbidden, "syncing needs a user: the owner of the application or a member of its owner group")
	}
	owner := strings.ToLower(strings.TrimSpace(app.Annotations[paved.AnnotationOwner]))
	if owner == "" && entityRef != "" && z.owners != nil {
		o, err := z.owners.EntityOwner(ctx, entityRef)
		if err != nil && paved.ErrorCode(err) != paved.ENotFound {
			return "", err
		}
		owner = strings.ToLower(o)
	}
	if owner == "" {
		return "", paved.Errorf(paved.EForbidden, "application %q has no known owner; only an operator may sync it from paved", app.Name)
	}
	owner = normalizeOwner(owner)
	user := strings.ToLower(p.User)
	if user == owner {
		return owner, nil
	}
	if strings.HasPrefix(owner, "group:") && z.membership != nil {
		groups, err := z.membership.UserGroups(ctx, user)
		if err != nil && paved.ErrorCode(err) != paved.ENotFound {
			return "", err
		}
		for _, g := range groups {
			if strings.EqualFold(g, owner) {
				return owner, nil
			}
		}
	}
	return "", paved.Errorf(paved.EForbidden, "%s is not the owner of application %q (%s) nor a member of it", p.User, app.Name, owner)
}

// normalizeOwner completes an owner ref as Backstage reads spec.owner: kind
// group and namespace default when absent.
func normalizeOwner(owner string) string {
	if !strings.Contains(owner, ":") {
		owner = "group:" + owner
	}
	if k, rest, _ := strings.Cut(owner, ":"); !strings.Contains(rest, "/") {
		owner = k + ":default/" + rest
	}
	return owner
}
