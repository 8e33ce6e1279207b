package argocdtest

import (
	"context"
	"fmt"
	"reflect"
	"sort"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/project"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

type projectService struct {
	project.UnimplementedProjectServiceServer
	s *Server
}

func projectNotFound(name string) error {
	return status.Error(codes.NotFound, fmt.Sprintf("appprojects.argoproj.io %q not found", name))
}

// Create is ProjectService.Create.
func (v *projectService) Create(ctx context.Context, q *project.ProjectCreateRequest) (*v1alpha1.AppProject, error) {
	s := v.s
	if q.Project == nil {
		return nil, status.Errorf(codes.InvalidArgument, "missing payload 'project' in request")
	}
	p := q.Project.DeepCopy()
	if msgs := validation.IsDNS1123Subdomain(p.Name); len(msgs) > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "AppProject.argoproj.io %q is invalid: metadata.name: Invalid value: %q: %s", p.Name, p.Name, msgs[0])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	existing, ok := s.projects[p.Name]
	if !ok {
		meta := s.newMeta(p.Name, s.opts.Namespace)
		meta.Labels, meta.Annotations, meta.Finalizers = p.Labels, p.Annotations, p.Finalizers
		p.ObjectMeta = meta
		s.projects[p.Name] = p
		return p.DeepCopy(), nil
	}
	if q.Upsert {
		existing.Spec = p.Spec
		s.touch(&existing.ObjectMeta)
		return existing.DeepCopy(), nil
	}
	if !reflect.DeepEqual(existing.Spec, p.Spec) {
		return nil, status.Error(codes.InvalidArgument, "existing project spec is different; use upsert flag to force update")
	}
	return existing.DeepCopy(), nil
}

func (s *Server) touch(m *metav1.ObjectMeta) {
	s.resourceVer++
	m.ResourceVersion = fmt.Sprint(s.resourceVer)
	m.Generation++
}

// Get is ProjectService.Get.
func (v *projectService) Get(ctx context.Context, q *project.ProjectQuery) (*v1alpha1.AppProject, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[q.Name]
	if !ok {
		return nil, projectNotFound(q.Name)
	}
	return p.DeepCopy(), nil
}

// List is ProjectService.List.
func (v *projectService) List(ctx context.Context, q *project.ProjectQuery) (*v1alpha1.AppProjectList, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	items := make([]v1alpha1.AppProject, 0, len(s.projects))
	for _, p := range s.projects {
		items = append(items, *p.DeepCopy())
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return &v1alpha1.AppProjectList{Items: items}, nil
}

// Update is ProjectService.Update.
func (v *projectService) Update(ctx context.Context, q *project.ProjectUpdateRequest) (*v1alpha1.AppProject, error) {
	s := v.s
	if q.Project == nil {
		return nil, status.Errorf(codes.InvalidArgument, "missing payload 'project' in request")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	existing, ok := s.projects[q.Project.Name]
	if !ok {
		return nil, projectNotFound(q.Project.Name)
	}
	if rv := q.Project.ResourceVersion; rv != "" && rv != existing.ResourceVersion {
		return nil, status.Errorf(codes.Aborted, "Operation cannot be fulfilled on appprojects.argoproj.io %q: the object has been modified; please apply your changes to the latest version and try again", existing.Name)
	}
	existing.Spec = *q.Project.Spec.DeepCopy()
	existing.Labels = q.Project.Labels
	existing.Annotations = q.Project.Annotations
	s.touch(&existing.ObjectMeta)
	return existing.DeepCopy(), nil
}

// Delete is ProjectService.Delete.
func (v *projectService) Delete(ctx context.Context, q *project.ProjectQuery) (*project.EmptyResponse, error) {
	s := v.s
	if q.Name == v1alpha1.DefaultAppProjectName {
		return nil, status.Errorf(codes.InvalidArgument, "name '%s' is reserved and cannot be deleted", q.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[q.Name]; !ok {
		return nil, projectNotFound(q.Name)
	}
	n := 0
	for _, a := range s.apps {
		if effectiveProject(a) == q.Name {
			n++
		}
	}
	if n > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "project is referenced by %d applications", n)
	}
	delete(s.projects, q.Name)
	return &project.EmptyResponse{}, nil
}
