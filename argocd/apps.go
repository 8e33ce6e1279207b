package argocd

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/project"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"

	"github.com/paved-dev/paved"
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
	if t := a.Status.Health.LastTransitionTime; t != nil {
		out.HealthSince = t.Time
	}
	if t := a.Status.ReconciledAt; t != nil {
		out.ReconciledAt = t.Time
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
