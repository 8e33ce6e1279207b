package gitops

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"path"

	"sigs.k8s.io/yaml"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
)

// Committer is what writing an application needs from a repository.
type Committer interface {
	Apply(ctx context.Context, ch Change) (Result, error)
}

var _ Committer = (*Repo)(nil)

// AppWriter is the gitops mode of paved:create-argocd-app: instead of calling
// the Argo CD API it commits the very Application that api mode would create,
// as YAML under AppsPath, for an app-of-apps root Application to pick up.
type AppWriter struct {
	Repo Committer
	// AppsPath is the directory the root Application watches (default "apps").
	AppsPath string
	// DefaultProject is used when the request names no project.
	DefaultProject string
	// Namespace is Argo CD's namespace, where the Application objects live
	// unless the request names another (default "argocd").
	Namespace string
	// Review commits on a new branch for review instead of on the branch.
	Review bool
	// BranchPrefix names review branches (default "paved").
	BranchPrefix string
	// StableBranch names the review branch after the application alone
	// (<prefix>/apps/<name>) and reuses it, so that asking again updates
	// the same pull request instead of opening another branch.
	StableBranch bool
}

// AppPath returns where the application's manifest is written.
// Project is the project an Application of a request names in its file:
// the request's, else DefaultProject, else Argo CD's "default".
func (w AppWriter) Project(requested string) string {
	return cmp.Or(requested, w.DefaultProject, "default")
}

func (w AppWriter) AppPath(name string) string {
	dir := w.AppsPath
	if dir == "" {
		dir = "apps"
	}
	return path.Join(dir, name+".yaml")
}

// fileReader is what the conflict check needs; *Repo has it.
type fileReader interface {
	ReadFile(ctx context.Context, p string) ([]byte, error)
}

// CommitApp writes req's Application and reports where the commit landed.
// As in api mode, the same request twice makes no second commit, and a
// different spec for an existing file is a conflict unless req.Upsert.
func (w AppWriter) CommitApp(ctx context.Context, req paved.AppRequest) (Result, error) {
	ns := w.Namespace
	if ns == "" {
		ns = "argocd"
	}
	body, err := ApplicationYAML(req, w.DefaultProject, ns)
	if err != nil {
		return Result{}, err
	}
	if fr, ok := w.Repo.(fileReader); ok && !req.Upsert {
		old, err := fr.ReadFile(ctx, w.AppPath(req.Name))
		switch {
		case err == nil && !bytes.Equal(old, body):
			return Result{}, paved.Errorf(paved.EConflict, "%s already exists in the GitOps repository with a different spec; set upsert to replace it", w.AppPath(req.Name))
		case err != nil && paved.ErrorCode(err) != paved.ENotFound:
			return Result{}, err
		}
	}
	ch := Change{
		Message: fmt.Sprintf("Add Argo CD application %s\n\nWritten by paved for %s.", req.Name, orUnknown(req.Annotations[paved.AnnotationUserRef])),
		Write:   map[string][]byte{w.AppPath(req.Name): body},
	}
	if w.Review {
		prefix := w.BranchPrefix
		if prefix == "" {
			prefix = "paved"
		}
		ch.ReviewBranch = NewBranchName(prefix, req.Name)
		if w.StableBranch {
			ch.ReviewBranch, ch.ReuseBranch = prefix+"/apps/"+req.Name, true
		}
	}
	return w.Repo.Apply(ctx, ch)
}

// ApplicationYAML renders req as an Argo CD Application manifest, built by
// the same code as the Application api mode creates. Fields the API server
// fills (status, creation time) are left out, so the file reads as written.
func ApplicationYAML(req paved.AppRequest, defaultProject, namespace string) ([]byte, error) {
	app, err := argocd.BuildApplication(req, defaultProject)
	if err != nil {
		return nil, err
	}
	if app.Namespace == "" {
		app.Namespace = namespace
	}
	doc, err := argocd.ManifestDoc(app)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(doc)
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown user"
	}
	return s
}
