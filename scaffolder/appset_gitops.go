package scaffolder

import (
	"context"

	"github.com/paved-dev/paved"
)

// commit is create-argocd-appset in gitops mode.
func (h *appSetActions) commit(ctx context.Context, req paved.AppSetRequest, instance string) (map[string]any, error) {
	res, err := h.GitOps.CommitAppSet(ctx, req)
	if err != nil {
		return nil, err
	}
	set := paved.AppSet{Instance: instance, Name: req.Template.Name, Project: res.Project}
	for _, env := range req.Environments {
		name := paved.AppSetAppName(req.Template.Name, env.Name)
		server := env.Server
		if server == "" {
			server = paved.InClusterServer
		}
		app := paved.AppSetApp{Name: name, Environment: env.Name, Namespace: env.Namespace, Server: server}
		if instance != "" && h.AppSets != nil {
			app.URL, _ = h.AppSets.AppURL(instance, name)
		}
		set.Apps = append(set.Apps, app)
	}
	out := appSetOutput(set)
	out["created"] = res.Changed && !res.Existed
	out["updated"] = res.Changed && res.Existed
	out["mode"] = ModeGitOps
	out["commit"] = res.Commit
	out["branch"] = res.Branch
	out["compareUrl"] = res.CompareURL
	out["path"] = h.GitOps.AppSetPath(req.Template.Name)
	return out, nil
}
