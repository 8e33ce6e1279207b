package scaffolder

import (
	"context"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// paved:get-argocd-app, paved:sync-argocd-app and paved:delete-argocd-app.

// AppPermissionResource is app as paved's permission rules see it. Its
// owner is the owner paved recorded, else the user who created it.
func AppPermissionResource(app paved.App) *paved.Resource {
	owner := app.Annotations[paved.AnnotationOwner]
	if owner == "" {
		owner = app.Annotations[paved.AnnotationUserRef]
	}
	ref := app.Instance + "/" + app.Name
	if app.Namespace != "" {
		ref = app.Instance + "/" + app.Namespace + "/" + app.Name
	}
	return &paved.Resource{Type: paved.ResourceArgoApp, Ref: ref,
		Owner: owner, Project: app.Project, DestinationServer: app.Destination.Server,
		DestinationNamespace: app.Destination.Namespace, RepoURL: app.RepoURL,
		ManagedByPaved: app.Labels[paved.LabelManagedBy] == paved.ManagedByPaved}
}

func (h *appActions) get() Action {
	props := refProps()
	props["refresh"] = withEnum(str("Refresh", "Ask Argo CD to refresh from git first: normal or hard."), "", "normal", "hard")
	return Action{
		Name:        "get-argocd-app",
		Title:       "Get an Argo CD application",
		Description: "Reads an Argo CD Application: its link, sync and health status, revision and last operation.",
		Attributes:  Attributes{ReadOnly: true, Idempotent: true},
		Input:       object(props, "name"),
		Output: appOutput(Schema{
			"operationPhase":   Schema{"type": "string"},
			"operationMessage": Schema{"type": "string"},
			"destination":      Schema{"type": "object"},
			"problems": Schema{"type": "array", "description": "What keeps it from Synced and Healthy: resources whose sync failed or that are not Healthy, and error conditions.", "items": Schema{
				"type": "object", "required": []string{"status"},
				"properties": Schema{"resource": Schema{"type": "string"}, "status": Schema{"type": "string"}, "message": Schema{"type": "string"}},
			}},
		}),
		Examples: []Example{{
			Description: "Read the status of an application.",
			Example:     "steps:\n  - id: status\n    action: paved:get-argocd-app\n    input:\n      name: payments",
			Input:       map[string]any{"name": "payments"},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			var gi struct {
				appRefInput
				Refresh string `json:"refresh"`
			}
			if err := in.Decode(&gi); err != nil {
				return nil, err
			}
			ref, err := h.ref(gi.appRefInput)
			if err != nil {
				return nil, err
			}
			app, err := h.Apps.GetApp(ctx, ref, gi.Refresh != "")
			if err != nil {
				return nil, err
			}
			if err := paved.Authorize(ctx, permission.AppRead, AppPermissionResource(app)); err != nil {
				return nil, err
			}
			out := appOutputValues(app)
			out["operationPhase"] = app.OperationPhase
			out["operationMessage"] = app.OperationMessage
			out["destination"] = map[string]any{"server": app.Destination.Server, "name": app.Destination.Name, "namespace": app.Destination.Namespace}
			problems := make([]any, len(app.Problems))
			for i, p := range app.Problems {
				problems[i] = map[string]any{"resource": p.Resource, "status": p.Status, "message": p.Message}
			}
			out["problems"] = problems
			return out, nil
		},
	}
}

func (h *appActions) ref(in appRefInput) (paved.AppRef, error) {
	instance, fields := h.instance(in.Instance)
	if len(fields) > 0 {
		return paved.AppRef{}, paved.InvalidFields(fields...)
	}
	return paved.AppRef{Instance: instance, Name: in.Name, Namespace: in.Namespace, Project: in.Project}, nil
}

func (h *appActions) sync() Action {
	props := refProps()
	for k, v := range waitProps() {
		props[k] = v
	}
	props["revision"] = pattern(str("Revision", "Revision to sync to (default: the target revision)."), `^\S+$`, 255)
	props["prune"] = boolean("Prune", "Delete resources that are no longer in git.", false)
	props["dryRun"] = boolean("Dry run", "Ask Argo CD for a dry-run sync.", false)
	return Action{
		Name:        "sync-argocd-app",
		Title:       "Sync an Argo CD application",
		Description: "Starts a sync of an Argo CD Application, optionally waiting until it is Synced and Healthy.",
		Attributes:  Attributes{Idempotent: true},
		Input:       object(props, "name"),
		Output:      appOutput(Schema{"operationPhase": Schema{"type": "string"}, "operationMessage": Schema{"type": "string"}}),
		Examples: []Example{{
			Description: "Sync and wait.",
			Example:     "steps:\n  - id: sync\n    action: paved:sync-argocd-app\n    input:\n      name: payments\n      wait: true",
			Input:       map[string]any{"name": "payments", "wait": true},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			var si struct {
				appRefInput
				waitInput
				Revision string `json:"revision"`
				Prune    bool   `json:"prune"`
				DryRun   bool   `json:"dryRun"`
			}
			if err := in.Decode(&si); err != nil {
				return nil, err
			}
			ref, err := h.ref(si.appRefInput)
			if err != nil {
				return nil, err
			}
			timeout, fields := h.waitTimeout(si.waitInput)
			if len(fields) > 0 {
				return nil, paved.InvalidFields(fields...)
			}
			// The policy's conditions see the application as Argo CD has it;
			// the sync names its project, so an app moved to another
			// project meanwhile is not synced on this decision.
			current, err := h.Apps.GetApp(ctx, ref, false)
			if err != nil {
				return nil, err
			}
			if err := paved.Authorize(ctx, permission.AppSync, AppPermissionResource(current)); err != nil {
				return nil, err
			}
			ref.Project = current.Project
			app, err := h.Apps.SyncApp(ctx, paved.SyncRequest{AppRef: ref, Revision: si.Revision, Prune: si.Prune, DryRun: si.DryRun})
			if err != nil {
				return nil, err
			}
			out := appOutputValues(app)
			if si.Wait && !si.DryRun {
				if app, out, err = h.waitOutput(ctx, app.AppRef, timeout, appearing{}); err != nil {
					return nil, err
				}
			}
			out["operationPhase"] = app.OperationPhase
			out["operationMessage"] = app.OperationMessage
			return out, nil
		},
	}
}

func (h *appActions) delete() Action {
	props := refProps()
	props["cascade"] = boolean("Cascade", "Also delete the application's resources in the cluster.", true)
	props["propagationPolicy"] = withEnum(str("Propagation policy", "How Kubernetes deletes the resources."), "foreground", "background")
	props["deleteProject"] = boolean("Delete project", "Also delete the project if paved created it and no other application uses it.", false)
	props["force"] = boolean("Force", "Also delete an application paved did not create (needs the permission paved.argocd.app.delete on it).", false)
	return Action{
		Name:  "delete-argocd-app",
		Title: "Delete an Argo CD application",
		Description: "Deletes an Argo CD Application, by default with its resources; deleting one that does not exist succeeds with deleted=false. " +
			"An application paved did not create (no label app.kubernetes.io/managed-by: paved) is refused (409) unless force is true.",
		Attributes: Attributes{Destructive: true, Idempotent: true},
		Input:      object(props, "name"),
		Output: Schema{"type": "object", "required": []string{"instance", "name", "deleted"}, "properties": Schema{
			"instance": Schema{"type": "string"},
			"name":     Schema{"type": "string"},
			"deleted":  Schema{"type": "boolean", "description": "False when the application did not exist."},
		}},
		Examples: []Example{{
			Description: "Tear down an application and its project.",
			Example:     "steps:\n  - id: teardown\n    action: paved:delete-argocd-app\n    input:\n      name: payments\n      deleteProject: true",
			Input:       map[string]any{"name": "payments", "deleteProject": true},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			di := struct {
				appRefInput
				Cascade           *bool  `json:"cascade"`
				PropagationPolicy string `json:"propagationPolicy"`
				DeleteProject     bool   `json:"deleteProject"`
				Force             bool   `json:"force"`
			}{}
			if err := in.Decode(&di); err != nil {
				return nil, err
			}
			ref, err := h.ref(di.appRefInput)
			if err != nil {
				return nil, err
			}
			// Destructive by default only for what paved made: look first.
			app, err := h.Apps.GetApp(ctx, ref, false)
			if paved.ErrorCode(err) == paved.ENotFound {
				return map[string]any{"instance": ref.Instance, "name": ref.Name, "deleted": false}, nil
			}
			if err != nil {
				return nil, err
			}
			ref.Project = app.Project // as decided on: not another project's app of the same name
			res := AppPermissionResource(app)
			if !res.ManagedByPaved && !di.Force {
				return nil, paved.Errorf(paved.EConflict, "application %q was not created by paved (no label %s: %s); set force: true to delete it anyway (needs %s)",
					ref.Name, paved.LabelManagedBy, paved.ManagedByPaved, permission.AppDelete.Name)
			}
			if err := paved.Authorize(ctx, permission.AppDelete, res); err != nil {
				return nil, err
			}
			cascade := di.Cascade == nil || *di.Cascade
			err = h.Apps.DeleteApp(ctx, paved.DeleteRequest{AppRef: ref, Cascade: cascade, PropagationPolicy: di.PropagationPolicy, DeleteProject: di.DeleteProject})
			deleted := true
			if paved.ErrorCode(err) == paved.ENotFound {
				deleted, err = false, nil
			}
			if err != nil {
				return nil, err
			}
			return map[string]any{"instance": ref.Instance, "name": ref.Name, "deleted": deleted}, nil
		},
	}
}
