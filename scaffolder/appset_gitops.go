package scaffolder

import (
	"bytes"
	"context"
	"fmt"
	"path"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/gitops"
)

// AppSetCommit is where gitops mode wrote an ApplicationSet.
type AppSetCommit struct {
	gitops.Result
	// Existed is true when the file was already in the repository.
	Existed bool
	// Project is the ApplicationSet's project, defaults applied.
	Project string
}

// AppSetWriter is the gitops mode of paved:create-argocd-appset: it commits
// the very ApplicationSet api mode would create, as YAML under AppSetsPath,
// with the same rules as gitops.AppWriter for Applications.
type AppSetWriter struct {
	Repo gitops.Committer
	// AppSetsPath is the directory of ApplicationSets (default "appsets"); a
	// root Application that watches it lets Argo CD pick them up.
	AppSetsPath string
	// DefaultProject is used when the request names no project.
	DefaultProject string
	// Namespace is Argo CD's namespace, where the ApplicationSets live
	// (default "argocd").
	Namespace string
	// Review commits on a new branch for review instead of on the branch.
	Review bool
	// BranchPrefix names review branches (default "paved").
	BranchPrefix string
}

var _ AppSetCommitter = AppSetWriter{}

// AppSetPath returns where the ApplicationSet's manifest is written.
func (w AppSetWriter) AppSetPath(name string) string {
	dir := w.AppSetsPath
	if dir == "" {
		dir = "appsets"
	}
	return path.Join(dir, name+".yaml")
}

type fileReader interface {
	ReadFile(ctx context.Context, p string) ([]byte, error)
}

// CommitAppSet writes req's ApplicationSet. The same request twice makes no
// second commit; a different spec for an existing file is a conflict unless
// the request upserts.
func (w AppSetWriter) CommitAppSet(ctx context.Context, req argocd.AppSetRequest) (AppSetCommit, error) {
	ns := w.Namespace
	if ns == "" {
		ns = "argocd"
	}
	set, err := argocd.BuildApplicationSet(req, w.DefaultProject)
	if err != nil {
		return AppSetCommit{}, err
	}
	body, err := argocd.ApplicationSetYAML(req, w.DefaultProject, ns)
	if err != nil {
		return AppSetCommit{}, err
	}
	file := w.AppSetPath(req.Template.Name)
	out := AppSetCommit{Project: set.Spec.Template.Spec.Project}
	if fr, ok := w.Repo.(fileReader); ok {
		old, err := fr.ReadFile(ctx, file)
		switch {
		case err == nil:
			out.Existed = true
			if !req.Template.Upsert && !bytes.Equal(old, body) {
				return AppSetCommit{}, paved.Errorf(paved.EConflict, "%s already exists in the GitOps repository with a different spec; set upsert to replace it", file)
			}
		case paved.ErrorCode(err) != paved.ENotFound:
			return AppSetCommit{}, err
		}
	}
	user := req.Template.Annotations[paved.AnnotationUserRef]
	if user == "" {
		user = "an unknown user"
	}
	ch := gitops.Change{
		Message: fmt.Sprintf("Add Argo CD ApplicationSet %s (%d environments)\n\nWritten by paved for %s.", req.Template.Name, len(req.Environments), user),
		Write:   map[string][]byte{file: body},
	}
	if w.Review {
		prefix := w.BranchPrefix
		if prefix == "" {
			prefix = "paved"
		}
		ch.ReviewBranch = gitops.NewBranchName(prefix, req.Template.Name)
	}
	out.Result, err = w.Repo.Apply(ctx, ch)
	return out, err
}

// commit is create-argocd-appset in gitops mode.
func (h *appSetActions) commit(ctx context.Context, req argocd.AppSetRequest, instance string) (map[string]any, error) {
	res, err := h.GitOps.CommitAppSet(ctx, req)
	if err != nil {
		return nil, err
	}
	set := argocd.AppSet{Instance: instance, Name: req.Template.Name, Project: res.Project}
	for _, env := range req.Environments {
		name := argocd.AppName(req.Template.Name, env.Name)
		server := env.Server
		if server == "" {
			server = argocd.InClusterServer
		}
		app := argocd.AppSetApp{Name: name, Environment: env.Name, Namespace: env.Namespace, Server: server}
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
