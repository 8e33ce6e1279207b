package gitops

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"path"

	"sigs.k8s.io/yaml"

	"github.com/paved-dev/paved"
)

// Committer is what writing an application needs from a repository.
type Committer interface {
	Apply(ctx context.Context, ch Change) (Result, error)
}

var _ Committer = (*Repo)(nil)

// Renderer renders a request as the manifest Argo CD reads: the very object
// api mode would create, without the fields the API server fills. The argocd
// package's Manifests is the one paved uses; gitops itself knows no Argo CD
// types.
type Renderer interface {
	Application(req paved.AppRequest, defaultProject, namespace string) ([]byte, error)
	ApplicationSet(req paved.AppSetRequest, defaultProject, namespace string) ([]byte, error)
}

// Writer is the gitops mode of the app actions: instead of calling the Argo
// CD API it commits the Application or ApplicationSet api mode would create,
// as YAML under AppsPath or AppSetsPath, for an app-of-apps root Application
// to pick up, and removes it again.
type Writer struct {
	Repo   Committer
	Render Renderer
	// AppsPath is the directory the root Application watches (default "apps").
	AppsPath string
	// AppSetsPath is the directory of ApplicationSets (default "appsets"); a
	// root Application that watches it lets Argo CD pick them up.
	AppSetsPath string
	// DefaultProject is used when the request names no project.
	DefaultProject string
	// Namespace is Argo CD's namespace, where the Application and
	// ApplicationSet objects live unless the request names another (default
	// "argocd").
	Namespace string
	// Review commits on a new branch for review instead of on the branch.
	Review bool
	// BranchPrefix names review branches (default "paved").
	BranchPrefix string
	// StableBranch names an application's review branch after the
	// application alone (<prefix>/apps/<name>) and reuses it, so that asking
	// again updates the same pull request instead of opening another branch.
	StableBranch bool
}

// fileReader is what the conflict check needs; *Repo has it.
type fileReader interface {
	ReadFile(ctx context.Context, p string) ([]byte, error)
}

// Project is the project an Application of a request names in its file:
// the request's, else DefaultProject, else Argo CD's "default".
func (w Writer) Project(requested string) string {
	return cmp.Or(requested, w.DefaultProject, "default")
}

// AppPath returns where the application's manifest is written.
func (w Writer) AppPath(name string) string {
	return path.Join(cmp.Or(w.AppsPath, "apps"), name+".yaml")
}

// AppSetPath returns where the ApplicationSet's manifest is written.
func (w Writer) AppSetPath(name string) string {
	return path.Join(cmp.Or(w.AppSetsPath, "appsets"), name+".yaml")
}

func (w Writer) namespace() string { return cmp.Or(w.Namespace, "argocd") }

// reviewBranch is the new branch a change goes on in review mode, "" otherwise.
func (w Writer) reviewBranch(name string) string {
	if !w.Review {
		return ""
	}
	return NewBranchName(cmp.Or(w.BranchPrefix, "paved"), name)
}

// existing reads file as the repository holds it: exists false when it has
// no such file, or when the repository cannot be read (no conflict check).
func (w Writer) existing(ctx context.Context, file string) (body []byte, exists bool, err error) {
	fr, ok := w.Repo.(fileReader)
	if !ok {
		return nil, false, nil
	}
	body, err = fr.ReadFile(ctx, file)
	switch {
	case err == nil:
		return body, true, nil
	case paved.ErrorCode(err) == paved.ENotFound:
		return nil, false, nil
	}
	return nil, false, err
}

// conflict is the refusal to overwrite a file with another spec.
func conflict(file string) error {
	return paved.Errorf(paved.EConflict, "%s already exists in the GitOps repository with a different spec; set upsert to replace it", file)
}

// CommitApp writes req's Application and reports where the commit landed.
// As in api mode, the same request twice makes no second commit, and a
// different spec for an existing file is a conflict unless req.Upsert.
func (w Writer) CommitApp(ctx context.Context, req paved.AppRequest) (Result, error) {
	body, err := w.Render.Application(req, w.DefaultProject, w.namespace())
	if err != nil {
		return Result{}, err
	}
	file := w.AppPath(req.Name)
	if !req.Upsert {
		old, exists, err := w.existing(ctx, file)
		if err != nil {
			return Result{}, err
		}
		if exists && !bytes.Equal(old, body) {
			return Result{}, conflict(file)
		}
	}
	ch := Change{
		Message:      fmt.Sprintf("Add Argo CD application %s\n\nWritten by paved for %s.", req.Name, byWhom(req.Annotations[paved.AnnotationUserRef])),
		Write:        map[string][]byte{file: body},
		ReviewBranch: w.reviewBranch(req.Name),
	}
	if w.Review && w.StableBranch {
		ch.ReviewBranch, ch.ReuseBranch = cmp.Or(w.BranchPrefix, "paved")+"/apps/"+req.Name, true
	}
	return w.Repo.Apply(ctx, ch)
}

// AppSetCommit is where gitops mode wrote an ApplicationSet.
type AppSetCommit struct {
	Result
	// Existed is true when the file was already in the repository.
	Existed bool
	// Project is the ApplicationSet's project, defaults applied.
	Project string
}

// CommitAppSet writes req's ApplicationSet. The same request twice makes no
// second commit; a different spec for an existing file is a conflict unless
// the request upserts.
func (w Writer) CommitAppSet(ctx context.Context, req paved.AppSetRequest) (AppSetCommit, error) {
	body, err := w.Render.ApplicationSet(req, w.DefaultProject, w.namespace())
	if err != nil {
		return AppSetCommit{}, err
	}
	file := w.AppSetPath(req.Template.Name)
	old, exists, err := w.existing(ctx, file)
	if err != nil {
		return AppSetCommit{}, err
	}
	if exists && !req.Template.Upsert && !bytes.Equal(old, body) {
		return AppSetCommit{}, conflict(file)
	}
	out := AppSetCommit{Existed: exists, Project: w.Project(req.Template.Project)}
	out.Result, err = w.Repo.Apply(ctx, Change{
		Message: fmt.Sprintf("Add Argo CD ApplicationSet %s (%d environments)\n\nWritten by paved for %s.",
			req.Template.Name, len(req.Environments), byWhom(req.Template.Annotations[paved.AnnotationUserRef])),
		Write:        map[string][]byte{file: body},
		ReviewBranch: w.reviewBranch(req.Template.Name),
	})
	return out, err
}

// AppSetRemoval is what removing an ApplicationSet did.
type AppSetRemoval struct {
	Result
	// Found is false when the repository had no such file: nothing to do.
	Found bool
}

// RemoveAppSet deletes the ApplicationSet's file in one commit; the root
// Application that watches the directory then prunes it, and Argo CD the
// Applications it generated. A file paved did not write is refused unless
// force is set; no file is Found false and no commit.
func (w Writer) RemoveAppSet(ctx context.Context, name string, force bool) (AppSetRemoval, error) {
	file := w.AppSetPath(name)
	if _, ok := w.Repo.(fileReader); !ok {
		return AppSetRemoval{}, paved.Errorf(paved.EInternal, "the GitOps repository cannot be read")
	}
	body, exists, err := w.existing(ctx, file)
	if err != nil || !exists {
		return AppSetRemoval{}, err
	}
	var doc struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(body, &doc); err != nil && !force {
		return AppSetRemoval{}, paved.Errorf(paved.EConflict, "%s in the GitOps repository is not an ApplicationSet paved can read (%v); set force to remove it anyway", file, err)
	}
	if doc.Metadata.Labels[paved.LabelManagedBy] != paved.ManagedByPaved && !force {
		return AppSetRemoval{}, paved.Errorf(paved.EConflict, "%s was not written by paved (no %s=%s label); set force to remove it anyway",
			file, paved.LabelManagedBy, paved.ManagedByPaved)
	}
	var user string
	if p, ok := paved.PrincipalFrom(ctx); ok {
		user = p.User
	}
	res, err := w.Repo.Apply(ctx, Change{
		Message:      fmt.Sprintf("Remove Argo CD ApplicationSet %s\n\nRemoved by paved for %s.", name, byWhom(user)),
		Delete:       []string{file},
		ReviewBranch: w.reviewBranch(name),
	})
	return AppSetRemoval{Result: res, Found: true}, err
}

// byWhom names the user a commit is made for.
func byWhom(user string) string {
	return cmp.Or(user, "an unknown user")
}
