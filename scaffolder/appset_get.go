package scaffolder

import (
	"context"

	"github.com/paved-dev/paved"
)

func (h *appSetActions) get() Action {
	app := Schema{"type": "object", "required": []string{"name", "syncStatus", "healthStatus"}, "properties": Schema{
		"name":         Schema{"type": "string"},
		"environment":  Schema{"type": "string", "description": "From the paved.dev/environment label; empty when the Application has none."},
		"namespace":    Schema{"type": "string", "description": "The destination namespace."},
		"server":       Schema{"type": "string", "description": "The destination cluster."},
		"project":      Schema{"type": "string"},
		"url":          Schema{"type": "string"},
		"syncStatus":   Schema{"type": "string"},
		"healthStatus": Schema{"type": "string"},
		"revision":     Schema{"type": "string"},
	}}
	env := Schema{"type": "object", "properties": Schema{
		"name": Schema{"type": "string"}, "namespace": Schema{"type": "string"}, "server": Schema{"type": "string"},
	}}
	cond := Schema{"type": "object", "properties": Schema{
		"type": Schema{"type": "string"}, "status": Schema{"type": "string"}, "reason": Schema{"type": "string"}, "message": Schema{"type": "string"},
	}}
	return Action{
		Name:  "get-argocd-appset",
		Title: "Get an Argo CD ApplicationSet",
		Description: "Reads an ApplicationSet and the Applications it has generated, each with its link, sync and health status; " +
			"healthy is true once every environment's Application exists and is Synced and Healthy.",
		Attributes: Attributes{ReadOnly: true, Idempotent: true},
		Input:      object(appSetRefProps(), "name"),
		Output: Schema{"type": "object", "required": []string{"instance", "name", "project", "managedByPaved", "healthy", "applications"}, "properties": Schema{
			"instance":       Schema{"type": "string"},
			"name":           Schema{"type": "string"},
			"namespace":      Schema{"type": "string"},
			"project":        Schema{"type": "string"},
			"managedByPaved": Schema{"type": "boolean", "description": "Whether paved created it (and so paved:delete-argocd-appset deletes it without force)."},
			"healthy":        Schema{"type": "boolean", "description": "Every environment has its Application, all Synced and Healthy."},
			"environments":   Schema{"type": "array", "items": env, "description": "The list generator's environments (paved's keys)."},
			"applications":   Schema{"type": "array", "items": app, "description": "The Applications the ApplicationSet owns."},
			"conditions":     Schema{"type": "array", "items": cond, "description": "The ApplicationSet controller's conditions, e.g. ErrorOccurred with its message."},
		}},
		Examples: []Example{{
			Description: "Read where a service stands in every environment.",
			Example:     "steps:\n  - id: status\n    action: paved:get-argocd-appset\n    input:\n      name: ${{ parameters.name }}",
			Input:       map[string]any{"name": "payments"},
		}},
		Handler: h.handleGet,
	}
}

func (h *appSetActions) handleGet(ctx context.Context, in Input) (map[string]any, error) {
	var gi appSetRefInput
	if err := in.Decode(&gi); err != nil {
		return nil, err
	}
	instance, err := h.appSetInstance(gi.Instance)
	if err != nil {
		return nil, err
	}
	state, err := h.AppSets.GetAppSet(ctx, instance, gi.Name, gi.Namespace)
	if err != nil {
		return nil, err
	}
	return appSetStateOutput(state), nil
}

func appSetStateOutput(st paved.AppSetState) map[string]any {
	envs := make([]any, 0, len(st.Environments))
	for _, e := range st.Environments {
		envs = append(envs, map[string]any{"name": e.Name, "namespace": e.Namespace, "server": e.Server})
	}
	apps := make([]any, 0, len(st.Apps))
	have := map[string]bool{}
	healthy := len(st.Apps) > 0
	for _, a := range st.Apps {
		apps = append(apps, map[string]any{
			"name": a.Name, "environment": a.Environment, "namespace": a.Destination.Namespace, "server": a.Destination.Server,
			"project": a.Project, "url": a.URL, "syncStatus": a.SyncStatus, "healthStatus": a.HealthStatus, "revision": a.Revision,
		})
		have[a.Name] = true
		healthy = healthy && a.Healthy()
	}
	for _, e := range st.Environments {
		healthy = healthy && have[paved.AppSetAppName(st.Name, e.Name)]
	}
	conds := make([]any, 0, len(st.Conditions))
	for _, c := range st.Conditions {
		conds = append(conds, map[string]any{"type": c.Type, "status": c.Status, "reason": c.Reason, "message": c.Message})
	}
	return map[string]any{
		"instance":       st.Instance,
		"name":           st.Name,
		"namespace":      st.Namespace,
		"project":        st.Project,
		"managedByPaved": st.ManagedByPaved,
		"healthy":        healthy,
		"environments":   envs,
		"applications":   apps,
		"conditions":     conds,
	}
}
