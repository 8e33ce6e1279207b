package scaffolder

import (
	"context"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

type appSetRefInput struct {
	Instance  string `json:"instance"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

func appSetRefProps() Schema {
	refs := refProps()
	return Schema{
		"instance":  refs["instance"],
		"name":      pattern(str("ApplicationSet name", "Name of the ApplicationSet."), dnsLabel, 63),
		"namespace": pattern(str("ApplicationSet namespace", "Namespace of the ApplicationSet, for apps-in-any-namespace; empty means Argo CD's own namespace."), dnsLabel, 63),
	}
}

func (h *appSetActions) delete() Action {
	props := appSetRefProps()
	props["force"] = boolean("Force", "Delete the ApplicationSet even though paved did not create it (it lacks the app.kubernetes.io/managed-by=paved label).", false)
	props["mode"] = withDefault(withEnum(str("Mode", "api deletes the ApplicationSet through the Argo CD API; gitops removes appsets/<name>.yaml from the GitOps repository in one commit."),
		ModeAPI, ModeGitOps), ModeAPI)
	return Action{
		Name:  "delete-argocd-appset",
		Title: "Delete an Argo CD ApplicationSet",
		Description: "Deletes an ApplicationSet paved created; Argo CD then deletes the Applications it generated and, through their finalizer, what they deployed. " +
			"An ApplicationSet paved did not create is refused (409) unless force is set; one that does not exist succeeds with deleted=false.",
		Attributes: Attributes{Destructive: true, Idempotent: true},
		Input:      object(props, "name"),
		Output: Schema{"type": "object", "required": []string{"name", "mode", "deleted"}, "properties": gitOpsOutputs(Schema{
			"instance":     Schema{"type": "string"},
			"name":         Schema{"type": "string"},
			"namespace":    Schema{"type": "string"},
			"mode":         Schema{"type": "string"},
			"deleted":      Schema{"type": "boolean", "description": "False when there was no such ApplicationSet (gitops mode: no such file)."},
			"applications": Schema{"type": "array", "items": Schema{"type": "string"}, "description": "api mode: the Applications it had generated, which Argo CD now deletes."},
		}, "the ApplicationSet's file", "removed the file")},
		Examples: []Example{{
			Description: "Tear down a service in every environment.",
			Example:     "steps:\n  - id: teardown\n    action: paved:delete-argocd-appset\n    input:\n      name: ${{ parameters.name }}",
			Input:       map[string]any{"name": "payments"},
		}},
		Handler: h.handleDelete,
	}
}

func (h *appSetActions) handleDelete(ctx context.Context, in Input) (map[string]any, error) {
	var di struct {
		appSetRefInput
		Force bool   `json:"force"`
		Mode  string `json:"mode"`
	}
	if err := in.Decode(&di); err != nil {
		return nil, err
	}
	if di.Mode == ModeGitOps {
		if h.GitOps == nil {
			return nil, paved.InvalidFields(gitOpsOff)
		}
		return h.remove(ctx, di.Name, di.Force)
	}
	instance, err := h.appSetInstance(di.Instance)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"instance": instance, "name": di.Name, "namespace": di.Namespace, "mode": ModeAPI, "deleted": false, "applications": []any{}}
	state, err := h.AppSets.GetAppSet(ctx, instance, di.Name, di.Namespace)
	if paved.ErrorCode(err) == paved.ENotFound {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if !state.ManagedByPaved && !di.Force {
		return nil, paved.Errorf(paved.EConflict, "ApplicationSet %q was not created by paved (no %s=%s label); set force to delete it anyway",
			di.Name, paved.LabelManagedBy, paved.ManagedByPaved)
	}
	// Deleting the set deletes the Applications it generated: the policy
	// decides on each (those not generated yet: as they would be).
	for _, a := range state.Apps {
		if err := paved.Authorize(ctx, permission.AppDelete, AppPermissionResource(a.App)); err != nil {
			return nil, err
		}
	}
	if len(state.Apps) == 0 {
		tmpl := paved.AppRequest{AppRef: paved.AppRef{Instance: instance, Name: state.Name, Project: state.Project}, Labels: state.Labels, Annotations: state.Annotations}
		for _, e := range state.Environments {
			if err := paved.Authorize(ctx, permission.AppDelete, appSetAppResource(tmpl, e)); err != nil {
				return nil, err
			}
		}
	}
	err = h.AppSets.DeleteAppSet(ctx, instance, di.Name, di.Namespace)
	if paved.ErrorCode(err) == paved.ENotFound {
		// Deleted by someone else in between: the outcome the caller wants.
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	apps := make([]any, 0, len(state.Apps))
	for _, a := range state.Apps {
		apps = append(apps, a.Name)
	}
	out["deleted"], out["applications"], out["namespace"] = true, apps, state.Namespace
	return out, nil
}

// appSetInstance picks the Argo CD instance of an api-mode call.
func (h *appSetActions) appSetInstance(name string) (string, error) {
	var all []string
	if h.AppSets != nil {
		all = h.AppSets.Instances()
	}
	instance, fields := pickInstance(all, name)
	if len(fields) > 0 {
		return "", paved.InvalidFields(fields...)
	}
	return instance, nil
}

// remove is delete-argocd-appset in gitops mode.
func (h *appSetActions) remove(ctx context.Context, name string, force bool) (map[string]any, error) {
	res, err := h.GitOps.RemoveAppSet(ctx, name, force)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"name":       name,
		"mode":       ModeGitOps,
		"deleted":    res.Found && res.Changed,
		"commit":     res.Commit,
		"branch":     res.Branch,
		"compareUrl": res.CompareURL,
		"path":       h.GitOps.AppSetPath(name),
	}, nil
}
