package argocd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/project"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// CreateApp creates the application, or returns it unchanged when it already
// exists with the same spec (Created false), so that a template can be re-run.
// A different spec is Argo CD's conflict unless Upsert is set.
func (c *Client) CreateApp(ctx context.Context, req paved.AppRequest) (paved.App, error) {
	in, err := c.instance(req.Instance)
	if err != nil {
		return paved.App{}, err
	}
	if req.Namespace == "" {
		req.Namespace = in.cfg.AppNamespace
	}
	app, err := BuildApplication(req, in.cfg.DefaultProject)
	if err != nil {
		return paved.App{}, err
	}
	projectCreated := false
	if req.CreateProject {
		if projectCreated, err = in.ensureProject(ctx, app); err != nil {
			return paved.App{}, err
		}
	}
	// A project this call created goes again when the app is not created:
	// a failed create leaves nothing behind. Argo CD refuses to delete a
	// project an app uses (another call's, meanwhile), which is kept then.
	rollback := func(cause error) error {
		if !projectCreated {
			return cause
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.cfg.Timeout)
		defer cancel()
		derr := in.call(cctx, "project.ProjectService/Delete", func(ctx context.Context, a *authed) error {
			_, err := a.projects.Delete(ctx, &project.ProjectQuery{Name: app.Spec.Project})
			return err
		})
		if derr != nil && paved.ErrorCode(derr) != paved.ENotFound {
			in.log.Warn("could not remove the project created for an application whose create failed",
				"instance", in.cfg.Name, "project", app.Spec.Project, "error", derr)
		}
		return cause
	}
	// Argo CD answers a create of an identical app with the existing app, the
	// same as a fresh one: only a prior lookup tells them apart.
	_, err = in.get(ctx, app.Name, app.Namespace, app.Spec.Project, false)
	existed := err == nil
	if err != nil && paved.ErrorCode(err) != paved.ENotFound {
		return paved.App{}, rollback(err)
	}
	var out *v1alpha1.Application
	err = in.call(ctx, "application.ApplicationService/Create", func(ctx context.Context, a *authed) error {
		var err error
		out, err = a.apps.Create(ctx, &application.ApplicationCreateRequest{
			Application: app,
			Upsert:      &req.Upsert,
			Validate:    ptr(true),
		})
		return err
	})
	if err != nil {
		return paved.App{}, rollback(err)
	}
	res := in.toApp(out, req.Namespace)
	res.Created = !existed
	return res, nil
}

// GetApp returns an application. Without a project in ref, the instance's
// default project is assumed: Argo CD answers a lookup without a project with
// "permission denied" for a missing app, so as not to reveal which exist.
func (c *Client) GetApp(ctx context.Context, ref paved.AppRef, refresh bool) (paved.App, error) {
	in, err := c.instance(ref.Instance)
	if err != nil {
		return paved.App{}, err
	}
	ns := in.namespace(ref.Namespace)
	a, err := in.get(ctx, ref.Name, ns, in.project(ref.Project), refresh)
	if err != nil {
		return paved.App{}, err
	}
	return in.toApp(a, ns), nil
}

func (in *instance) get(ctx context.Context, name, namespace, proj string, refresh bool) (*v1alpha1.Application, error) {
	q := &application.ApplicationQuery{Name: &name, Projects: []string{proj}}
	if namespace != "" {
		q.AppNamespace = &namespace
	}
	if refresh {
		q.Refresh = ptr("normal")
	}
	var out *v1alpha1.Application
	err := in.call(ctx, "application.ApplicationService/Get", func(ctx context.Context, a *authed) error {
		var err error
		out, err = a.apps.Get(ctx, q)
		return err
	})
	return out, err
}

// ListApps lists the applications matching a label selector and, when given,
// belonging to one of the projects.
func (c *Client) ListApps(ctx context.Context, instance, selector string, projects []string) ([]paved.App, error) {
	in, err := c.instance(instance)
	if err != nil {
		return nil, err
	}
	q := &application.ApplicationQuery{Projects: projects}
	if selector != "" {
		q.Selector = &selector
	}
	var list *v1alpha1.ApplicationList
	err = in.call(ctx, "application.ApplicationService/List", func(ctx context.Context, a *authed) error {
		var err error
		list, err = a.apps.List(ctx, q)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]paved.App, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, in.toApp(&list.Items[i], in.cfg.AppNamespace))
	}
	return out, nil
}

// SyncApp starts a sync and returns the app as Argo CD reports it right
// after: the operation is usually still running.
func (c *Client) SyncApp(ctx context.Context, req paved.SyncRequest) (paved.App, error) {
	in, err := c.instance(req.Instance)
	if err != nil {
		return paved.App{}, err
	}
	ns := in.namespace(req.Namespace)
	q := &application.ApplicationSyncRequest{
		Name:    &req.Name,
		Project: ptr(in.project(req.Project)),
		Prune:   &req.Prune,
		DryRun:  &req.DryRun,
	}
	if req.Revision != "" {
		q.Revision = &req.Revision
	}
	if ns != "" {
		q.AppNamespace = &ns
	}
	var out *v1alpha1.Application
	err = in.call(ctx, "application.ApplicationService/Sync", func(ctx context.Context, a *authed) error {
		var err error
		out, err = a.apps.Sync(ctx, q)
		return err
	})
	if err != nil {
		return paved.App{}, err
	}
	return in.toApp(out, ns), nil
}

// DeleteApp deletes an application. With DeleteProject it then deletes the
// app's project, but only one paved created and that no other app uses.
func (c *Client) DeleteApp(ctx context.Context, req paved.DeleteRequest) error {
	in, err := c.instance(req.Instance)
	if err != nil {
		return err
	}
	ns := in.namespace(req.Namespace)
	proj := in.project(req.Project)
	q := &application.ApplicationDeleteRequest{
		Name:    &req.Name,
		Cascade: &req.Cascade,
		Project: &proj,
	}
	if req.PropagationPolicy != "" {
		q.PropagationPolicy = &req.PropagationPolicy
	}
	if ns != "" {
		q.AppNamespace = &ns
	}
	err = in.call(ctx, "application.ApplicationService/Delete", func(ctx context.Context, a *authed) error {
		_, err := a.apps.Delete(ctx, q)
		return err
	})
	if err != nil || !req.DeleteProject {
		return err
	}
	return in.deleteProjectIfUnused(ctx, proj, req.Name, ns)
}

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

func (in *instance) namespace(ns string) string {
	if ns == "" {
		return in.cfg.AppNamespace
	}
	return ns
}

func (in *instance) project(p string) string {
	if p == "" {
		return in.cfg.DefaultProject
	}
	return p
}

// toApp maps an Application to paved's view. requestedNS is the namespace the
// caller used: the app's namespace shows, and goes into its URL, only when
// apps-in-any-namespace is in play, so that control-plane apps keep the
// short /applications/<name> links.
func (in *instance) toApp(a *v1alpha1.Application, requestedNS string) paved.App {
	out := paved.App{
		AppRef: paved.AppRef{
			Instance: in.cfg.Name,
			Name:     a.Name,
			Project:  a.Spec.Project,
		},
		SyncStatus:   string(a.Status.Sync.Status),
		HealthStatus: string(a.Status.Health.Status),
		Revision:     a.Status.Sync.Revision,
		Labels:       a.Labels,
		Annotations:  a.Annotations,
		Destination: paved.AppDestination{
			Server:    a.Spec.Destination.Server,
			Name:      a.Spec.Destination.Name,
			Namespace: a.Spec.Destination.Namespace,
		},
		CreatedAt: a.CreationTimestamp.Time,
	}
	if out.Revision == "" && len(a.Status.Sync.Revisions) > 0 {
		out.Revision = a.Status.Sync.Revisions[0]
	}
	if srcs := a.Spec.GetSources(); len(srcs) > 0 {
		out.RepoURL = srcs[0].RepoURL
	}
	if op := a.Status.OperationState; op != nil {
		out.OperationPhase = string(op.Phase)
		out.OperationMessage = op.Message
	}
	// An operation requested (by a Sync call) that the application
	// controller has not started yet: operationState still describes the
	// previous one, whose end must not read as this one's (Argo CD's UI
	// shows it as syncing too).
	if a.Operation != nil && (a.Status.OperationState == nil || a.Status.OperationState.Phase.Completed()) {
		out.OperationPhase = string(synccommon.OperationRunning)
		out.OperationMessage = "waiting for the application controller to start the requested sync"
	}
	out.Problems = problems(a)
	for _, h := range a.Status.History {
		d := paved.Deployment{ID: h.ID, Revision: h.Revision, DeployedAt: h.DeployedAt.Time}
		if d.Revision == "" && len(h.Revisions) > 0 {
			d.Revision = h.Revisions[0]
		}
		if h.DeployStartedAt != nil {
			d.StartedAt = h.DeployStartedAt.Time
		}
		out.History = append(out.History, d)
	}
	base := in.cfg.uiURL() + "/applications/"
	if requestedNS != "" {
		out.Namespace = a.Namespace
		out.URL = base + a.Namespace + "/" + a.Name
	} else {
		out.URL = base + a.Name
	}
	return out
}

// maxProblems bounds what one answer lists: an app of hundreds of failing
// resources is told by its first few and a count.
const maxProblems = 8

// problems lists what keeps a from Synced and Healthy: error conditions,
// the resources the last sync operation failed on, then the resources that
// are not Healthy (each resource once).
func problems(a *v1alpha1.Application) []paved.AppProblem {
	var out []paved.AppProblem
	seen := map[string]bool{}
	more := 0
	add := func(p paved.AppProblem) {
		if len(out) == maxProblems {
			more++
			return
		}
		p.Message = shorten(p.Message, 300)
		out = append(out, p)
	}
	for _, c := range a.Status.Conditions {
		if c.IsError() {
			add(paved.AppProblem{Status: c.Type, Message: c.Message})
		}
	}
	if op := a.Status.OperationState; op != nil && op.SyncResult != nil {
		for _, r := range op.SyncResult.Resources {
			if r == nil || (r.Status != synccommon.ResultCodeSyncFailed && r.HookPhase != synccommon.OperationFailed && r.HookPhase != synccommon.OperationError) {
				continue
			}
			id := resourceID(r.Kind, r.Namespace, r.Name)
			seen[id] = true
			status := string(r.Status)
			if status == "" {
				status = "hook " + string(r.HookPhase)
			}
			add(paved.AppProblem{Resource: id, Status: status, Message: r.Message})
		}
	}
	for _, r := range a.Status.Resources {
		if r.Health == nil || r.Health.Status == "" || r.Health.Status == health.HealthStatusHealthy {
			continue
		}
		id := resourceID(r.Kind, r.Namespace, r.Name)
		if seen[id] {
			continue
		}
		add(paved.AppProblem{Resource: id, Status: string(r.Health.Status), Message: r.Health.Message})
	}
	if more > 0 {
		out = append(out, paved.AppProblem{Status: fmt.Sprintf("%d more", more)})
	}
	return out
}

func resourceID(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// shorten cuts s to at most n bytes on a rune boundary, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func ptr[T any](v T) *T { return &v }
