package argocd

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/project"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

func (in *instance) deleteProjectIfUnused(ctx context.Context, name, app, ns string) error {
	if name == v1alpha1.DefaultAppProjectName {
		return nil
	}
	p, err := in.getProject(ctx, name)
	if paved.ErrorCode(err) == paved.ENotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if p.Labels[paved.LabelManagedBy] != paved.ManagedByPaved {
		in.log.Info("keeping Argo CD project paved did not create", "instance", in.cfg.Name, "project", name)
		return nil
	}
	// A cascading delete leaves the app in place, with a deletion timestamp,
	// until its resources are gone; Argo CD refuses to delete a project that
	// any app still references, so wait for ours, and for others already
	// being deleted, to go.
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		var list *v1alpha1.ApplicationList
		err := in.call(ctx, "application.ApplicationService/List", func(ctx context.Context, a *authed) error {
			var err error
			list, err = a.apps.List(ctx, &application.ApplicationQuery{Projects: []string{name}})
			return err
		})
		if err != nil {
			return err
		}
		pending := false
		for _, a := range list.Items {
			ours := a.Name == app && (ns == "" || a.Namespace == ns)
			if !ours && a.DeletionTimestamp == nil {
				in.log.Info("keeping Argo CD project that other apps use", "instance", in.cfg.Name, "project", name)
				return nil
			}
			pending = true
		}
		if !pending {
			break
		}
		select {
		case <-ctx.Done():
			return paved.Wrap(paved.ETimeout, ctx.Err(), "application %q was deleted but is still finalizing; project %q was kept", app, name)
		case <-time.After(wait):
		}
	}
	err = in.call(ctx, "project.ProjectService/Delete", func(ctx context.Context, a *authed) error {
		_, err := a.projects.Delete(ctx, &project.ProjectQuery{Name: name})
		return err
	})
	if paved.ErrorCode(err) == paved.ENotFound {
		return nil
	}
	return err
}

func (in *instance) getProject(ctx context.Context, name string) (*v1alpha1.AppProject, error) {
	var p *v1alpha1.AppProject
	err := in.call(ctx, "project.ProjectService/Get", func(ctx context.Context, a *authed) error {
		var err error
		p, err = a.projects.Get(ctx, &project.ProjectQuery{Name: name})
		return err
	})
	return p, err
}

// ensureProject makes sure app's project exists and admits app, and reports
// whether it created it: a missing project is created (labelled as paved's
// and with the app's entity); a project paved created for the same entity
// gains the app's repositories and destination when the caller holds
// paved.argocd.project.widen; paved's project of another entity is a
// conflict (a caller never opens another team's project to its own
// destinations); anyone else's project is left alone, and Argo CD's
// validation of the app says what it lacks.
func (in *instance) ensureProject(ctx context.Context, app *v1alpha1.Application) (bool, error) {
	name := app.Spec.Project
	if name == v1alpha1.DefaultAppProjectName {
		return false, nil
	}
	want := projectFor(app)
	for attempt := 0; ; attempt++ {
		p, err := in.getProject(ctx, name)
		creating := false
		switch {
		case paved.ErrorCode(err) == paved.ENotFound:
			creating = true
			err = in.call(ctx, "project.ProjectService/Create", func(ctx context.Context, a *authed) error {
				_, err := a.projects.Create(ctx, &project.ProjectCreateRequest{Project: want})
				return err
			})
		case err != nil:
			return false, err
		case p.Labels[paved.LabelManagedBy] != paved.ManagedByPaved:
			return false, nil
		default:
			before := p.Spec.DeepCopy()
			if !widen(&p.Spec, want.Spec) {
				return false, nil
			}
			if err := mayWiden(ctx, p, app, before); err != nil {
				return false, err
			}
			err = in.call(ctx, "project.ProjectService/Update", func(ctx context.Context, a *authed) error {
				_, err := a.projects.Update(ctx, &project.ProjectUpdateRequest{Project: p})
				return err
			})
		}
		// A concurrent create or update of the same project: look again, once.
		if err != nil && attempt == 0 && (paved.ErrorCode(err) == paved.EConflict || strings.Contains(err.Error(), "existing project spec is different")) {
			continue
		}
		return creating && err == nil, err
	}
}

// mayWiden decides whether paved may add to project p what app needs
// beyond before (p's spec as it was): only for the entity paved created p
// for, and only for a caller holding paved.argocd.project.widen.
func mayWiden(ctx context.Context, p *v1alpha1.AppProject, app *v1alpha1.Application, before *v1alpha1.AppProjectSpec) error {
	adds := describeWidening(before, &p.Spec)
	owner, entity := p.Labels[paved.LabelEntity], app.Labels[paved.LabelEntity]
	if owner == "" || owner != entity {
		madeFor := "no entity"
		if ref := p.Annotations[paved.AnnotationEntityRef]; ref != "" {
			madeFor = ref
		} else if owner != "" {
			madeFor = owner
		}
		return paved.Errorf(paved.EConflict, "project: paved created project %s for %s, not for this application's entity; paved does not widen it (%s): use a project of this entity, or ask the platform team to change %s",
			p.Name, madeFor, adds, p.Name)
	}
	if err := paved.Authorize(ctx, permission.ProjectWiden, nil); err != nil {
		return paved.Errorf(paved.EForbidden, "project: widening project %s (%s): %s", p.Name, adds, paved.ErrorMessage(err))
	}
	return nil
}

// describeWidening names what after adds to before, for a refusal.
func describeWidening(before, after *v1alpha1.AppProjectSpec) string {
	var parts []string
	for _, r := range after.SourceRepos[len(before.SourceRepos):] {
		parts = append(parts, "source repository "+r)
	}
	for _, d := range after.Destinations[len(before.Destinations):] {
		where := d.Server
		if where == "" {
			where = d.Name
		}
		parts = append(parts, "destination "+where+" namespace "+d.Namespace)
	}
	for _, ns := range after.SourceNamespaces[len(before.SourceNamespaces):] {
		parts = append(parts, "source namespace "+ns)
	}
	return "it would add " + strings.Join(parts, ", ")
}

func projectFor(app *v1alpha1.Application) *v1alpha1.AppProject {
	p := &v1alpha1.AppProject{
		ObjectMeta: metav1.ObjectMeta{
			Name:   app.Spec.Project,
			Labels: map[string]string{paved.LabelManagedBy: paved.ManagedByPaved},
		},
		Spec: v1alpha1.AppProjectSpec{Description: "Created by paved"},
	}
	// The entity the project is for: only its applications may widen it.
	if e := app.Labels[paved.LabelEntity]; e != "" {
		p.Labels[paved.LabelEntity] = e
	}
	if ref := app.Annotations[paved.AnnotationEntityRef]; ref != "" {
		p.Annotations = map[string]string{paved.AnnotationEntityRef: ref}
	}
	widen(&p.Spec, v1alpha1.AppProjectSpec{
		SourceRepos:      repos(app),
		Destinations:     []v1alpha1.ApplicationDestination{app.Spec.Destination},
		SourceNamespaces: nonEmpty(app.Namespace),
	})
	if app.Spec.SyncPolicy != nil && slices.Contains(app.Spec.SyncPolicy.SyncOptions, createNamespace) {
		// Argo CD creates the namespace only if the project admits Namespaces.
		p.Spec.ClusterResourceWhitelist = []metav1.GroupKind{{Group: "", Kind: "Namespace"}}
	}
	return p
}

// widen adds to spec the repositories, destinations and source namespaces of
// add that it lacks, and reports whether it changed anything.
func widen(spec *v1alpha1.AppProjectSpec, add v1alpha1.AppProjectSpec) bool {
	changed := false
	for _, r := range add.SourceRepos {
		if !slices.Contains(spec.SourceRepos, r) {
			spec.SourceRepos = append(spec.SourceRepos, r)
			changed = true
		}
	}
	for _, d := range add.Destinations {
		d := v1alpha1.ApplicationDestination{Server: d.Server, Name: d.Name, Namespace: d.Namespace}
		if !slices.ContainsFunc(spec.Destinations, func(e v1alpha1.ApplicationDestination) bool {
			return e.Server == d.Server && e.Name == d.Name && e.Namespace == d.Namespace
		}) {
			spec.Destinations = append(spec.Destinations, d)
			changed = true
		}
	}
	for _, ns := range add.SourceNamespaces {
		if !slices.Contains(spec.SourceNamespaces, ns) {
			spec.SourceNamespaces = append(spec.SourceNamespaces, ns)
			changed = true
		}
	}
	return changed
}

func repos(app *v1alpha1.Application) []string {
	var out []string
	for _, s := range app.Spec.GetSources() {
		if !slices.Contains(out, s.RepoURL) {
			out = append(out, s.RepoURL)
		}
	}
	return out
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
