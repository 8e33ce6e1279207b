package argocdtest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

type appService struct {
	application.UnimplementedApplicationServiceServer
	s *Server
}

// Argo CD's messages, copied from server/application and util/argo.
var (
	errPermissionDenied = status.Error(codes.PermissionDenied, "permission denied")
	errSpecDifferent    = status.Errorf(codes.InvalidArgument, "existing application spec is different, use upsert flag to force update")
	errOperationRunning = status.Errorf(codes.FailedPrecondition, "another operation is already in progress")
)

func appNotFound(name string) error {
	return status.Error(codes.NotFound, fmt.Sprintf("applications.argoproj.io %q not found", name))
}

func projectNotAllowed(project string) error {
	return status.Errorf(codes.InvalidArgument, "app is not allowed in project %q, or the project does not exist", project)
}

func (s *Server) appNamespace(ns string) string {
	if ns == "" {
		return s.opts.Namespace
	}
	return ns
}

func (s *Server) namespaceEnabled(ns string) bool {
	if ns == s.opts.Namespace {
		return true
	}
	for _, n := range s.opts.AppNamespaces {
		if n == ns {
			return true
		}
	}
	return false
}

func effectiveProject(a *v1alpha1.Application) string {
	if a.Spec.Project == "" {
		return v1alpha1.DefaultAppProjectName
	}
	return a.Spec.Project
}

// lookup is getAppEnforceRBAC for a caller allowed everything: without a
// project a missing app is "permission denied", so as not to leak existence;
// with one it is NotFound, as is an app in another project.
func (s *Server) lookup(namespace, name, project string) (*v1alpha1.Application, error) {
	a, ok := s.apps[appKey{s.appNamespace(namespace), name}]
	if !ok {
		if project != "" {
			return nil, appNotFound(name)
		}
		return nil, errPermissionDenied
	}
	if project != "" && effectiveProject(a) != project {
		return nil, appNotFound(name)
	}
	return a, nil
}

// appProject is argo.GetAppProject with getAppProject's vague error.
func (s *Server) appProject(a *v1alpha1.Application) (*v1alpha1.AppProject, error) {
	p, ok := s.projects[effectiveProject(a)]
	if !ok {
		return nil, projectNotAllowed(a.Spec.Project)
	}
	if ns := s.appNamespace(a.Namespace); ns != s.opts.Namespace && !p.IsAppNamespacePermitted(a, s.opts.Namespace) {
		return nil, projectNotAllowed(a.Spec.Project)
	}
	return p, nil
}

// Create is ApplicationService.Create.
func (v *appService) Create(ctx context.Context, q *application.ApplicationCreateRequest) (*v1alpha1.Application, error) {
	s := v.s
	if q.GetApplication() == nil {
		return nil, errors.New("error creating application: application is nil in request")
	}
	a := q.GetApplication().DeepCopy()
	validate := q.Validate == nil || *q.Validate

	s.mu.Lock()
	defer s.mu.Unlock()
	proj, err := s.appProject(a)
	if err != nil {
		return nil, err
	}
	if err := s.validateAndNormalize(a, proj, validate); err != nil {
		return nil, fmt.Errorf("error while validating and normalizing app: %w", err)
	}
	ns := s.appNamespace(a.Namespace)
	if !s.namespaceEnabled(ns) {
		return nil, fmt.Errorf("namespace '%s' is not permitted", ns)
	}
	a.Operation = nil

	existing, ok := s.apps[appKey{ns, a.Name}]
	if !ok {
		if msgs := validation.IsDNS1123Subdomain(a.Name); len(msgs) > 0 {
			return nil, status.Errorf(codes.InvalidArgument, "error creating application: %s", invalidName(a.Name, msgs))
		}
		a.ObjectMeta = s.mergeMeta(s.newMeta(a.Name, ns), a.ObjectMeta)
		a.Status = v1alpha1.ApplicationStatus{
			Sync:         v1alpha1.SyncStatus{Status: v1alpha1.SyncStatusCodeOutOfSync},
			Health:       v1alpha1.HealthStatus{Status: health.HealthStatusMissing},
			ReconciledAt: ptr(metav1.Now()),
			SourceType:   sourceType(a.Spec.GetSource()),
		}
		s.apps[appKey{ns, a.Name}] = a
		s.autoSync(a)
		// argocd-server answers with the app as written: its status comes
		// from the application controller, later.
		created := a.DeepCopy()
		created.Status = v1alpha1.ApplicationStatus{}
		return created, nil
	}

	equal := reflect.DeepEqual(existing.Spec, a.Spec) &&
		reflect.DeepEqual(existing.Labels, a.Labels) &&
		reflect.DeepEqual(existing.Annotations, a.Annotations) &&
		reflect.DeepEqual(existing.Finalizers, a.Finalizers)
	if equal {
		return existing.DeepCopy(), nil
	}
	if q.Upsert == nil || !*q.Upsert {
		return nil, errSpecDifferent
	}
	// updateApp with merge: labels and annotations are merged, the rest replaced.
	existing.Spec = a.Spec
	existing.Labels = merge(existing.Labels, a.Labels)
	existing.Annotations = merge(existing.Annotations, a.Annotations)
	existing.Finalizers = a.Finalizers
	existing.Generation++
	s.resourceVer++
	existing.ResourceVersion = fmt.Sprint(s.resourceVer)
	if existing.Status.Sync.Status == v1alpha1.SyncStatusCodeSynced {
		existing.Status.Sync.Status = v1alpha1.SyncStatusCodeOutOfSync
	}
	s.autoSync(existing)
	return existing.DeepCopy(), nil
}

func (s *Server) mergeMeta(base, req metav1.ObjectMeta) metav1.ObjectMeta {
	base.Labels = req.Labels
	base.Annotations = req.Annotations
	base.Finalizers = req.Finalizers
	return base
}

// invalidName formats the Kubernetes API server's rejection of a name.
func invalidName(name string, msgs []string) string {
	errs := make([]string, len(msgs))
	for i, m := range msgs {
		errs[i] = fmt.Sprintf("metadata.name: Invalid value: %q: %s", name, m)
	}
	detail := errs[0]
	if len(errs) > 1 {
		detail = "[" + strings.Join(errs, ", ") + "]"
	}
	return fmt.Sprintf("Application.argoproj.io %q is invalid: %s", name, detail)
}

func (s *Server) validateAndNormalize(a *v1alpha1.Application, proj *v1alpha1.AppProject, validate bool) error {
	if a.Name == "" {
		return errors.New("resource name may not be empty")
	}
	if a.Spec.HasMultipleSources() {
		seen := map[string]bool{}
		for _, src := range a.Spec.Sources {
			if src.Name != "" && seen[src.Name] {
				return fmt.Errorf("application %s has duplicate source name: %s", a.Name, src.Name)
			}
			seen[src.Name] = true
		}
	}
	if err := s.validateDestination(&a.Spec.Destination); err != nil {
		return status.Errorf(codes.InvalidArgument, "application destination spec for %s is invalid: %s", a.Name, err.Error())
	}
	if validate {
		var conds []string
		for _, src := range a.Spec.GetSources() {
			if s.missing[src.RepoURL+"\x00"+src.Path] {
				conds = append(conds, fmt.Sprintf("%s: Unable to generate manifests in %s: rpc error: code = Unknown desc = %s: app path does not exist",
					v1alpha1.ApplicationConditionInvalidSpecError, src.Path, src.Path))
			}
		}
		if len(conds) > 0 {
			return status.Errorf(codes.InvalidArgument, "application spec for %s is invalid: %s", a.Name, strings.Join(conds, ";"))
		}
	}
	if conds := s.permissionConditions(&a.Spec, proj); len(conds) > 0 {
		return status.Errorf(codes.InvalidArgument, "application spec for %s is invalid: %s", a.Name, strings.Join(conds, ";"))
	}
	normalize(&a.Spec)
	return nil
}

// validateDestination is argo.ValidateDestination against the known clusters.
func (s *Server) validateDestination(d *v1alpha1.ApplicationDestination) error {
	switch {
	case d.Name != "" && d.Server != "":
		return fmt.Errorf("application destination can't have both name and server defined: %s %s", d.Name, d.Server)
	case d.Name != "":
		if _, ok := s.clusters[d.Name]; !ok {
			return fmt.Errorf("application references destination cluster %s which does not exist", d.Name)
		}
	case d.Server != "":
		for _, server := range s.clusters {
			if server == d.Server {
				return nil
			}
		}
		return fmt.Errorf("application references destination cluster %s which does not exist", d.Server)
	}
	return nil
}

// permissionConditions is argo.ValidatePermissions, formatted.
func (s *Server) permissionConditions(spec *v1alpha1.ApplicationSpec, proj *v1alpha1.AppProject) []string {
	cond := func(msg string) string {
		return fmt.Sprintf("%s: %s", v1alpha1.ApplicationConditionInvalidSpecError, msg)
	}
	var conds []string
	multi := spec.HasMultipleSources()
	for _, src := range spec.GetSources() {
		if multi && (src.RepoURL == "" || (src.Path == "" && src.Chart == "" && src.Ref == "")) {
			return []string{cond(fmt.Sprintf("spec.source.repoURL and either source.path, source.chart, or source.ref are required for source %s", src))}
		}
		if !multi && (src.RepoURL == "" || (src.Path == "" && src.Chart == "")) {
			return []string{cond("spec.source.repoURL and either spec.source.path or spec.source.chart are required")}
		}
		if src.Chart != "" && src.TargetRevision == "" {
			return []string{cond("spec.source.targetRevision is required if the manifest source is a helm chart")}
		}
		if !proj.IsSourcePermitted(src) {
			conds = append(conds, cond(fmt.Sprintf("application repo %s is not permitted in project '%s'", src.RepoURL, spec.Project)))
		}
	}
	dest := spec.Destination
	if dest.Server == "" && dest.Name != "" {
		dest.Server = s.clusters[dest.Name]
	}
	if dest.Server == "" {
		return append(conds, cond("Destination server missing from app spec"))
	}
	ok, err := proj.IsDestinationPermitted(dest, func(string) ([]*v1alpha1.Cluster, error) { return nil, nil })
	if err != nil || !ok {
		conds = append(conds, cond(fmt.Sprintf("application destination server '%s' and namespace '%s' do not match any of the allowed destinations in project '%s'",
			dest.Server, dest.Namespace, spec.Project)))
	}
	return conds
}

// normalize is argo.NormalizeApplicationSpec.
func normalize(spec *v1alpha1.ApplicationSpec) {
	if spec.Project == "" {
		spec.Project = v1alpha1.DefaultAppProjectName
	}
	if spec.SyncPolicy.IsZero() {
		spec.SyncPolicy = nil
	}
	if spec.Source != nil && len(spec.Sources) == 0 {
		src := spec.Source
		if src.Kustomize != nil && src.Kustomize.IsZero() {
			src.Kustomize = nil
		}
		if src.Helm != nil && src.Helm.IsZero() {
			src.Helm = nil
		}
		if src.Directory != nil && src.Directory.IsZero() && src.Directory.Include == "" && src.Directory.Exclude == "" {
			src.Directory = nil
		}
	}
}

func sourceType(src v1alpha1.ApplicationSource) v1alpha1.ApplicationSourceType {
	switch {
	case src.Chart != "" || src.Helm != nil:
		return v1alpha1.ApplicationSourceTypeHelm
	case src.Kustomize != nil:
		return v1alpha1.ApplicationSourceTypeKustomize
	default:
		return v1alpha1.ApplicationSourceTypeDirectory
	}
}

// Get is ApplicationService.Get.
func (v *appService) Get(ctx context.Context, q *application.ApplicationQuery) (*v1alpha1.Application, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	project := ""
	projects := q.Projects
	if q.Project != nil {
		projects = q.Project
	}
	if len(projects) == 1 {
		project = projects[0]
	} else if len(projects) > 1 {
		return nil, status.Errorf(codes.InvalidArgument, "multiple projects specified - the get endpoint accepts either zero or one project")
	}
	a, err := s.lookup(q.GetAppNamespace(), q.GetName(), project)
	if err != nil {
		return nil, err
	}
	if q.Refresh != nil {
		a.Status.ReconciledAt = ptr(metav1.Now())
	}
	return a.DeepCopy(), nil
}

// List is ApplicationService.List.
func (v *appService) List(ctx context.Context, q *application.ApplicationQuery) (*v1alpha1.ApplicationList, error) {
	s := v.s
	selector, err := labels.Parse(q.GetSelector())
	if err != nil {
		return nil, fmt.Errorf("error parsing the selector: %w", err)
	}
	projects := append(append([]string(nil), q.GetProjects()...), q.GetProject()...)
	s.mu.Lock()
	defer s.mu.Unlock()
	items := make([]v1alpha1.Application, 0, len(s.apps))
	for k, a := range s.apps {
		if q.GetAppNamespace() != "" && k.namespace != q.GetAppNamespace() {
			continue
		}
		if q.Name != nil && *q.Name != "" && a.Name != *q.Name {
			continue
		}
		if !selector.Matches(labels.Set(a.Labels)) {
			continue
		}
		if len(projects) > 0 && !contains(projects, a.Spec.Project) {
			continue
		}
		if q.GetRepo() != "" && !hasRepo(a, q.GetRepo()) {
			continue
		}
		items = append(items, *a.DeepCopy())
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return &v1alpha1.ApplicationList{
		ListMeta: metav1.ListMeta{ResourceVersion: fmt.Sprint(s.resourceVer)},
		Items:    items,
	}, nil
}

func hasRepo(a *v1alpha1.Application, repo string) bool {
	for _, src := range a.Spec.GetSources() {
		if src.RepoURL == repo {
			return true
		}
	}
	return false
}

// Sync is ApplicationService.Sync: the operation runs for Options.SyncDelay.
func (v *appService) Sync(ctx context.Context, q *application.ApplicationSyncRequest) (*v1alpha1.Application, error) {
	s := v.s
	user, _ := ctx.Value(claimsKey{}).(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.lookup(q.GetAppNamespace(), q.GetName(), q.GetProject())
	if err != nil {
		return nil, err
	}
	if a.DeletionTimestamp != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "application is deleting")
	}
	if a.Operation != nil {
		return nil, errOperationRunning
	}
	s.startSync(a, &v1alpha1.SyncOperation{
		Revision: q.GetRevision(),
		Prune:    q.GetPrune(),
		DryRun:   q.GetDryRun(),
	}, v1alpha1.OperationInitiator{Username: user})
	return a.DeepCopy(), nil
}

// autoSync plays the application controller for automated apps: an
// out-of-sync app with an automated policy gets a sync operation.
func (s *Server) autoSync(a *v1alpha1.Application) {
	if a.Spec.SyncPolicy == nil || a.Spec.SyncPolicy.Automated == nil || a.Operation != nil {
		return
	}
	s.startSync(a, &v1alpha1.SyncOperation{Prune: a.Spec.SyncPolicy.Automated.Prune},
		v1alpha1.OperationInitiator{Username: "argocd-application-controller", Automated: true})
}

// startSync sets the operation, as the API server does, and schedules what
// the controller does with it.
func (s *Server) startSync(a *v1alpha1.Application, op *v1alpha1.SyncOperation, by v1alpha1.OperationInitiator) {
	started := metav1.Now()
	a.Operation = &v1alpha1.Operation{Sync: op, InitiatedBy: by}
	a.Status.OperationState = &v1alpha1.OperationState{
		Operation: *a.Operation,
		Phase:     synccommon.OperationRunning,
		Message:   "one or more tasks are running",
		StartedAt: started,
	}
	a.Status.Health.Status = health.HealthStatusProgressing
	uid := a.UID
	key := appKey{a.Namespace, a.Name}
	s.after(s.opts.SyncDelay, func() {
		cur, ok := s.apps[key]
		if !ok || cur.UID != uid {
			return
		}
		s.finishSync(cur, started)
	})
}

func (s *Server) finishSync(a *v1alpha1.Application, started metav1.Time) {
	op := a.Operation
	if op == nil || op.Sync == nil {
		return
	}
	now := metav1.Now()
	sources := a.Spec.GetSources()
	revisions := make([]string, len(sources))
	for i, src := range sources {
		rev := src.TargetRevision
		if i == 0 && op.Sync.Revision != "" {
			rev = op.Sync.Revision
		}
		revisions[i] = resolveRevision(src.RepoURL, rev)
	}
	state := a.Status.OperationState
	state.Phase = synccommon.OperationSucceeded
	state.Message = "successfully synced (all tasks run)"
	state.FinishedAt = &now
	result := &v1alpha1.SyncOperationResult{}
	if a.Spec.HasMultipleSources() {
		result.Sources = sources
		result.Revisions = revisions
	} else if len(sources) > 0 {
		result.Source = sources[0]
		result.Revision = revisions[0]
	}
	state.SyncResult = result
	a.Operation = nil
	if op.Sync.DryRun {
		a.Status.Health.Status = health.HealthStatusMissing
		return
	}
	a.Status.Sync = v1alpha1.SyncStatus{
		Status:     v1alpha1.SyncStatusCodeSynced,
		ComparedTo: v1alpha1.ComparedTo{Destination: a.Spec.Destination},
	}
	a.Status.Health = v1alpha1.HealthStatus{Status: health.HealthStatusHealthy}
	a.Status.ReconciledAt = &now
	h := v1alpha1.RevisionHistory{
		ID:              nextHistoryID(a.Status.History),
		DeployedAt:      now,
		DeployStartedAt: &started,
		InitiatedBy:     state.Operation.InitiatedBy,
	}
	if a.Spec.HasMultipleSources() {
		a.Status.Sync.Revisions = revisions
		a.Status.Sync.ComparedTo.Sources = sources
		h.Revisions, h.Sources = revisions, sources
	} else if len(sources) > 0 {
		a.Status.Sync.Revision = revisions[0]
		a.Status.Sync.ComparedTo.Source = sources[0]
		h.Revision, h.Source = revisions[0], sources[0]
	}
	a.Status.History = append(a.Status.History, h)
	// The controller keeps revisionHistoryLimit entries, 10 by default.
	if n := len(a.Status.History); n > 10 {
		a.Status.History = a.Status.History[n-10:]
	}
}

func nextHistoryID(h v1alpha1.RevisionHistories) int64 {
	var id int64
	for _, e := range h {
		if e.ID > id {
			id = e.ID
		}
	}
	return id + 1
}

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// resolveRevision stands in for the repo server resolving a branch or tag to
// a commit: the same repo and revision always give the same SHA.
func resolveRevision(repoURL, rev string) string {
	if commitSHA.MatchString(rev) {
		return rev
	}
	if rev == "" {
		rev = "HEAD"
	}
	sum := sha1.Sum([]byte(repoURL + "@" + rev))
	return hex.EncodeToString(sum[:])
}

// Delete is ApplicationService.Delete.
func (v *appService) Delete(ctx context.Context, q *application.ApplicationDeleteRequest) (*application.ApplicationResponse, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.lookup(q.GetAppNamespace(), q.GetName(), q.GetProject())
	if err != nil {
		return nil, err
	}
	if q.Cascade != nil && !*q.Cascade && q.GetPropagationPolicy() != "" {
		return nil, status.Error(codes.InvalidArgument, "cannot set propagation policy when cascading is disabled")
	}
	cascade := q.Cascade == nil || *q.Cascade
	if cascade {
		switch q.GetPropagationPolicy() {
		case "", "foreground", "background":
		default:
			return nil, status.Errorf(codes.InvalidArgument, "invalid propagation policy: %s", *q.PropagationPolicy)
		}
		if !hasFinalizer(a) {
			a.Finalizers = append(a.Finalizers, v1alpha1.ResourcesFinalizerName)
		}
	} else {
		a.Finalizers = nil
	}
	key := appKey{a.Namespace, a.Name}
	if len(a.Finalizers) == 0 {
		delete(s.apps, key)
		return &application.ApplicationResponse{}, nil
	}
	// The controller deletes the app's resources, then drops the finalizer.
	now := metav1.Now()
	a.DeletionTimestamp = &now
	uid := a.UID
	s.after(s.opts.SyncDelay, func() {
		if cur, ok := s.apps[key]; ok && cur.UID == uid {
			delete(s.apps, key)
		}
	})
	return &application.ApplicationResponse{}, nil
}

func hasFinalizer(a *v1alpha1.Application) bool {
	for _, f := range a.Finalizers {
		if strings.HasPrefix(f, v1alpha1.ResourcesFinalizerName) {
			return true
		}
	}
	return false
}

func merge(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	out := make(map[string]string, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		out[k] = v
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
