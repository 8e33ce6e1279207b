package argocdtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/applicationset"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Full gRPC method names of the ApplicationSet service, keys of Calls.
const (
	MethodAppSetCreate = "/applicationset.ApplicationSetService/Create"
	MethodAppSetGet    = "/applicationset.ApplicationSetService/Get"
	MethodAppSetList   = "/applicationset.ApplicationSetService/List"
	MethodAppSetDelete = "/applicationset.ApplicationSetService/Delete"
)

// appSetService is server/applicationset over in-memory state. Like the real
// API server it only stores ApplicationSets: generating their Applications is
// the ApplicationSet controller's work, which this fake does not do.
type appSetService struct {
	applicationset.UnimplementedApplicationSetServiceServer
	s *Server
}

// Argo CD's messages, copied from server/applicationset; the NotFound texts
// are the Kubernetes client's, for the lister (Get) and the clientset (Delete).
var errAppSetSpecDifferent = status.Errorf(codes.InvalidArgument, "existing ApplicationSet spec is different, use upsert flag to force update")

func appSetNotFound(prefix, resource, name string) error {
	return status.Errorf(codes.NotFound, "%s: %s.argoproj.io %q not found", prefix, resource, name)
}

// AppSet returns a copy of an ApplicationSet as stored; namespace "" is the
// control-plane namespace.
func (s *Server) AppSet(namespace, name string) (*v1alpha1.ApplicationSet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.appsets[appKey{s.appNamespace(namespace), name}]
	if !ok {
		return nil, false
	}
	return a.DeepCopy(), true
}

// Create is ApplicationSetService.Create.
func (v *appSetService) Create(ctx context.Context, q *applicationset.ApplicationSetCreateRequest) (*v1alpha1.ApplicationSet, error) {
	s := v.s
	if q.GetApplicationset() == nil {
		return nil, errors.New("error creating ApplicationSets: ApplicationSets is nil in request")
	}
	set := q.GetApplicationset().DeepCopy()
	project := set.Spec.Template.Spec.Project
	if strings.Contains(project, "{{") {
		return nil, errors.New("error validating ApplicationSets: the Argo CD API does not currently support creating ApplicationSets with templated `project` fields")
	}
	if err := unknownGenerators(set); err != nil {
		return nil, fmt.Errorf("error validating ApplicationSets: %w", err)
	}
	ns := s.appNamespace(set.Namespace)

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.namespaceEnabled(ns) {
		return nil, status.Errorf(codes.PermissionDenied, "namespace '%s' is not permitted", ns)
	}
	if _, ok := s.projects[project]; !ok {
		return nil, fmt.Errorf("error checking create permissions for ApplicationSets %s : %w", set.Name,
			status.Errorf(codes.InvalidArgument, "ApplicationSet references project %s which does not exist", project))
	}
	if q.DryRun {
		return set, nil
	}
	existing, ok := s.appsets[appKey{ns, set.Name}]
	if !ok {
		if set.Name == "" {
			return nil, status.Errorf(codes.InvalidArgument, "error creating ApplicationSet: ApplicationSet.argoproj.io \"\" is invalid: metadata.name: Required value: name or generateName is required")
		}
		if msgs := validation.IsDNS1123Subdomain(set.Name); len(msgs) > 0 {
			return nil, status.Errorf(codes.InvalidArgument, "error creating ApplicationSet: ApplicationSet.argoproj.io %q is invalid: metadata.name: Invalid value: %q: %s", set.Name, set.Name, msgs[0])
		}
		meta := s.newMeta(set.Name, ns)
		meta.Labels, meta.Annotations, meta.Finalizers = set.Labels, set.Annotations, set.Finalizers
		set.ObjectMeta = meta
		set.Status = v1alpha1.ApplicationSetStatus{}
		s.appsets[appKey{ns, set.Name}] = set
		return set.DeepCopy(), nil
	}
	equal := reflect.DeepEqual(existing.Spec, set.Spec) &&
		reflect.DeepEqual(existing.Labels, set.Labels) &&
		reflect.DeepEqual(existing.Annotations, set.Annotations) &&
		reflect.DeepEqual(existing.Finalizers, set.Finalizers)
	if equal {
		return existing.DeepCopy(), nil
	}
	if !q.Upsert {
		return nil, errAppSetSpecDifferent
	}
	// updateAppSet with merge: labels and annotations merged, the spec replaced.
	existing.Spec = set.Spec
	existing.Labels = merge(existing.Labels, set.Labels)
	existing.Annotations = merge(existing.Annotations, set.Annotations)
	s.touch(&existing.ObjectMeta)
	return existing.DeepCopy(), nil
}

// unknownGenerators is appsetutils.CheckInvalidGenerators: a generator that
// sets none of the known kinds.
func unknownGenerators(set *v1alpha1.ApplicationSet) error {
	for _, g := range set.Spec.Generators {
		if g.List == nil && g.Clusters == nil && g.Git == nil && g.SCMProvider == nil && g.ClusterDecisionResource == nil &&
			g.PullRequest == nil && g.Matrix == nil && g.Merge == nil && g.Plugin == nil {
			return fmt.Errorf("ApplicationSet %s contains unrecognized generators", set.Name)
		}
	}
	return nil
}

// Get is ApplicationSetService.Get.
func (v *appSetService) Get(ctx context.Context, q *applicationset.ApplicationSetGetQuery) (*v1alpha1.ApplicationSet, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.appNamespace(q.AppsetNamespace)
	if !s.namespaceEnabled(ns) {
		return nil, status.Errorf(codes.PermissionDenied, "namespace '%s' is not permitted", ns)
	}
	a, ok := s.appsets[appKey{ns, q.Name}]
	if !ok {
		return nil, appSetNotFound("error getting ApplicationSet", "applicationset", q.Name)
	}
	return a.DeepCopy(), nil
}

// List is ApplicationSetService.List.
func (v *appSetService) List(ctx context.Context, q *applicationset.ApplicationSetListQuery) (*v1alpha1.ApplicationSetList, error) {
	s := v.s
	sel, err := labels.Parse(q.Selector)
	if err != nil {
		return nil, fmt.Errorf("error parsing the selector: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := []v1alpha1.ApplicationSet{}
	for k, a := range s.appsets {
		if q.AppsetNamespace != "" && k.namespace != q.AppsetNamespace {
			continue
		}
		if !sel.Matches(labels.Set(a.Labels)) {
			continue
		}
		if len(q.Projects) > 0 && !contains(q.Projects, a.Spec.Template.Spec.Project) {
			continue
		}
		items = append(items, *a.DeepCopy())
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return &v1alpha1.ApplicationSetList{Items: items}, nil
}

// Delete is ApplicationSetService.Delete.
func (v *appSetService) Delete(ctx context.Context, q *applicationset.ApplicationSetDeleteRequest) (*applicationset.ApplicationSetResponse, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	key := appKey{s.appNamespace(q.AppsetNamespace), q.Name}
	set, ok := s.appsets[key]
	if !ok {
		return nil, appSetNotFound("error getting ApplicationSets", "applicationsets", q.Name)
	}
	delete(s.appsets, key)
	s.deleteOwnedApps(set)
	return &applicationset.ApplicationSetResponse{}, nil
}
