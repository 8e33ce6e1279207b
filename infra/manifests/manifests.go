// Package manifests is the manifests driver of infrastructure golden paths:
// it renders a kind's Go templates into the GitOps repository next to an
// Argo CD Application that delivers them (an app-of-apps root picks it up).
package manifests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/infra"
)

// Committer is what the manifests driver needs from the GitOps repository.
type Committer interface {
	Apply(ctx context.Context, ch gitops.Change) (gitops.Result, error)
	DeleteBranch(ctx context.Context, branch string) error
}

var _ Committer = (*gitops.Repo)(nil)

// Options configure the manifests driver.
type Options struct {
	Repo Committer
	// RepoURL is the repository as Argo CD reaches it, for the Application's source.
	RepoURL string
	// Branch is the revision Argo CD follows.
	Branch string
	// InfraPath is the directory under which each resource gets
	// <kind>/<name>/ (default "infra"); AppsPath is where the Applications go
	// (default "apps"), watched by the app-of-apps root.
	InfraPath string
	AppsPath  string
	// DefaultProject and Namespace are the Argo CD project and namespace of
	// the Applications (defaults "default" and "argocd").
	DefaultProject string
	Namespace      string
	// Review puts each change on a new branch for review.
	Review bool
	// Render renders the Applications (argocd.Manifests).
	Render gitops.Renderer
}

// Driver is the manifests driver: it renders a kind's templates into the
// GitOps repository next to an Argo CD Application that delivers them.
type Driver struct {
	o         Options
	mu        sync.Mutex
	templates map[string]*manifestsTemplate
}

var _ infra.Driver = (*Driver)(nil)

// New returns the manifests driver.
func New(o Options) *Driver {
	if o.InfraPath == "" {
		o.InfraPath = "infra"
	}
	if o.AppsPath == "" {
		o.AppsPath = "apps"
	}
	if o.Namespace == "" {
		o.Namespace = "argocd"
	}
	if o.Branch == "" {
		o.Branch = "main"
	}
	return &Driver{o: o, templates: map[string]*manifestsTemplate{}}
}

// manifestsSpec is the template section of a manifests kind.
type manifestsSpec struct {
	Files []struct {
		Path    string `yaml:"path"`
		Content string `yaml:"content"`
	} `yaml:"files"`
	Application struct {
		Project     string `yaml:"project"`
		Destination struct {
			Server    string `yaml:"server"`
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"destination"`
		CreateNamespace bool `yaml:"createNamespace"`
		Automated       *struct {
			Prune    bool `yaml:"prune"`
			SelfHeal bool `yaml:"selfHeal"`
		} `yaml:"automated"`
		SyncOptions []string `yaml:"syncOptions"`
	} `yaml:"application"`
}

type manifestsTemplate struct {
	spec      manifestsSpec
	files     []*template.Template
	namespace *template.Template
}

// Check parses a kind's templates.
func (m *Driver) Check(k infra.Kind) error {
	_, err := m.template(k)
	return err
}

func (m *Driver) template(k infra.Kind) (*manifestsTemplate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.templates[k.Name+"\x00"+k.File]; ok {
		return t, nil
	}
	raw, err := yaml.Marshal(k.Template)
	if err != nil {
		return nil, err
	}
	var t manifestsTemplate
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&t.spec); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(t.spec.Files) == 0 {
		return nil, errors.New("files: at least one file is required")
	}
	seen := map[string]bool{}
	for i, f := range t.spec.Files {
		if f.Path == "" || path.Clean(f.Path) != f.Path || strings.HasPrefix(f.Path, "/") || strings.HasPrefix(f.Path, "..") || seen[f.Path] {
			return nil, fmt.Errorf("files[%d].path %q must be a unique clean relative path", i, f.Path)
		}
		seen[f.Path] = true
		tpl, err := template.New(f.Path).Funcs(templateFuncs).Option("missingkey=error").Parse(f.Content)
		if err != nil {
			return nil, fmt.Errorf("files[%d]: %w", i, err)
		}
		t.files = append(t.files, tpl)
	}
	ns := t.spec.Application.Destination.Namespace
	if ns == "" {
		ns = "{{ .Name }}"
	}
	if t.namespace, err = template.New("namespace").Funcs(templateFuncs).Option("missingkey=error").Parse(ns); err != nil {
		return nil, fmt.Errorf("application.destination.namespace: %w", err)
	}
	m.templates[k.Name+"\x00"+k.File] = &t
	return &t, nil
}

// TemplateData is what a kind's templates see. Name, Owner, EntityRef and
// every string in Params are a caller's text: each renders as one YAML string
// wherever the template puts it (render.go).
type TemplateData struct {
	ID        string
	Name      scalar
	Kind      string
	Owner     scalar
	EntityRef scalar
	Params    map[string]any
}

// Render returns the files of a resource (relative to its directory) and the
// destination namespace of its Application.
func (m *Driver) Render(k infra.Kind, r infra.Resource) (map[string][]byte, string, error) {
	t, err := m.template(k)
	if err != nil {
		return nil, "", err
	}
	// Every text a caller chose is a scalar (render.go); the ID is paved's.
	data := TemplateData{ID: r.ID, Name: scalar(r.Name), Kind: r.Kind, Owner: scalar(r.Owner), EntityRef: scalar(r.EntityRef)}
	in := inputs{"name": r.Name, "owner": r.Owner, "entityRef": r.EntityRef}
	flatten("parameters", r.Parameters, in)
	params, _ := taint(r.Parameters).(map[string]any)
	data.Params = params
	files := make(map[string][]byte, len(t.files))
	for i, tpl := range t.files {
		b, err := renderYAML(tpl, data, in)
		if err != nil {
			return nil, "", fmt.Errorf("kind %s: rendering %s: %w", k.Name, t.spec.Files[i].Path, err)
		}
		files[t.spec.Files[i].Path] = b
	}
	var buf bytes.Buffer
	if err := t.namespace.Execute(&buf, data); err != nil {
		return nil, "", fmt.Errorf("kind %s: rendering the namespace: %w", k.Name, execError(err))
	}
	ns, vs := unmark(buf.String())
	field := "application.destination.namespace"
	if vs != nil {
		field = in.field(vs...)
	}
	if err := checkNamespace(field, ns, m.o.Namespace); err != nil {
		return nil, "", fmt.Errorf("kind %s: %w", k.Name, err)
	}
	return files, ns, nil
}

// Dir is the directory of a resource's manifests in the repository.
func (m *Driver) Dir(r infra.Resource) string { return path.Join(m.o.InfraPath, r.Kind, r.Name) }

// AppName is the Argo CD Application of a resource: infra-<kind>-<name>, cut
// to a DNS label with a hash when it is too long.
func AppName(kind, name string) string {
	s := "infra-" + kind + "-" + name
	if len(s) <= 63 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return strings.TrimRight(s[:54], "-") + "-" + hex.EncodeToString(sum[:4])
}

// Provision commits the rendered manifests and their Application.
func (m *Driver) Provision(ctx context.Context, k infra.Kind, r infra.Resource) (infra.Outcome, error) {
	files, namespace, err := m.Render(k, r)
	if err != nil {
		return infra.Outcome{}, err
	}
	t, _ := m.template(k)
	app := t.spec.Application
	dir := m.Dir(r)
	appName := AppName(r.Kind, r.Name)
	req := paved.AppRequest{
		AppRef:          paved.AppRef{Name: appName, Project: app.Project},
		Sources:         []paved.AppSource{{RepoURL: m.o.RepoURL, TargetRevision: m.o.Branch, Path: dir}},
		Destination:     paved.AppDestination{Server: app.Destination.Server, Name: app.Destination.Name, Namespace: namespace},
		CreateNamespace: app.CreateNamespace,
		Automated:       autoSync(app.Automated),
		SyncOptions:     app.SyncOptions,
		Labels:          map[string]string{paved.LabelInfraKind: r.Kind, paved.LabelInfraID: r.ID},
		Annotations:     map[string]string{paved.AnnotationOwner: r.Owner},
	}
	if r.EntityRef != "" {
		req.Annotations[paved.AnnotationEntityRef] = r.EntityRef
	}
	if r.CreatedBy != "" {
		req.Annotations[paved.AnnotationUserRef] = r.CreatedBy
	}
	appYAML, err := m.o.Render.Application(req, m.o.DefaultProject, m.o.Namespace)
	if err != nil {
		return infra.Outcome{}, err
	}
	ch := gitops.Change{
		Message: fmt.Sprintf("Provision %s %s\n\nOwner: %s\nRequested by: %s\npaved resource: %s", r.Kind, r.Name, r.Owner, orDash(r.CreatedBy), r.ID),
		Write:   map[string][]byte{path.Join(m.o.AppsPath, appName+".yaml"): appYAML},
	}
	for p, b := range files {
		ch.Write[path.Join(dir, p)] = b
	}
	if m.o.Review {
		ch.ReviewBranch, ch.ReuseBranch = provisionBranch(r), true
	}
	res, err := m.o.Repo.Apply(ctx, ch)
	if err != nil {
		return infra.Outcome{}, err
	}
	return infra.Outcome{
		Commit: res.Commit, Branch: res.Branch, CompareURL: res.CompareURL,
		Details: map[string]string{"path": dir, "application": appName, "namespace": namespace},
	}, nil
}

// Deprovision removes the manifests and the Application (Argo CD's resource
// finalizer then deletes what they created).
func (m *Driver) Deprovision(ctx context.Context, k infra.Kind, r infra.Resource) error {
	ch := gitops.Change{
		Message: fmt.Sprintf("Deprovision %s %s\n\npaved resource: %s", r.Kind, r.Name, r.ID),
		Delete:  []string{m.Dir(r), path.Join(m.o.AppsPath, AppName(r.Kind, r.Name)+".yaml")},
	}
	if m.o.Review {
		// An unmerged provisioning goes with its branch; what was merged is
		// removed by a change for review (none when nothing reached the branch).
		// A record a kill left without its branch still has one: it is
		// named after the resource.
		branch := r.Branch
		if branch == "" {
			branch = provisionBranch(r)
		}
		if branch != m.o.Branch {
			if err := m.o.Repo.DeleteBranch(ctx, branch); err != nil {
				return err
			}
		}
		ch.ReviewBranch, ch.ReuseBranch = "paved/deprovision-"+r.Name+"-"+r.ID, true
	}
	_, err := m.o.Repo.Apply(ctx, ch)
	return err
}

// provisionBranch is the review branch of a resource's provisioning, named
// after its id: the retry of a killed attempt (same resource, same id) finds
// the branch the dead one pushed and reuses it instead of opening another.
func provisionBranch(r infra.Resource) string { return "paved/provision-" + r.Name + "-" + r.ID }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func autoSync(a *struct {
	Prune    bool `yaml:"prune"`
	SelfHeal bool `yaml:"selfHeal"`
}) *paved.AutoSync {
	if a == nil {
		return nil
	}
	return &paved.AutoSync{Prune: a.Prune, SelfHeal: a.SelfHeal}
}
