package argocd

import (
	"context"
	"slices"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd/argocdtest"
)

var buildCases = []struct {
	name  string
	req   paved.AppRequest
	check func(t *testing.T, a *v1alpha1.Application)
}{
	{
		name: "single source",
		req:  appRequest("single"),
		check: func(t *testing.T, a *v1alpha1.Application) {
			if a.Spec.Source == nil || a.Spec.Sources != nil || a.Spec.Source.Path != "apps/single" || a.Spec.Source.TargetRevision != "main" {
				t.Errorf("source %+v, sources %+v", a.Spec.Source, a.Spec.Sources)
			}
			if a.Spec.Source.Helm != nil || a.Spec.Source.Kustomize != nil || a.Spec.Source.Directory != nil {
				t.Error("empty source options must be nil, as Argo CD normalises them")
			}
			if a.Spec.SyncPolicy != nil {
				t.Errorf("sync policy %+v, want nil", a.Spec.SyncPolicy)
			}
			if a.Spec.Project != "default" || a.Spec.Destination.Server != paved.InClusterServer || a.Spec.Destination.Namespace != "single" {
				t.Errorf("project %q destination %+v", a.Spec.Project, a.Spec.Destination)
			}
			if a.Kind != "Application" || a.APIVersion != "argoproj.io/v1alpha1" {
				t.Errorf("type meta %+v", a.TypeMeta)
			}
		},
	},
	{
		name: "multi source with a values ref",
		req: func() paved.AppRequest {
			r := appRequest("multi")
			r.Sources = []paved.AppSource{
				{RepoURL: "https://charts.example", Chart: "web", TargetRevision: "1.2.3", Helm: &paved.HelmSource{ValueFiles: []string{"$values/web/values.yaml"}}},
				{RepoURL: testRepo, TargetRevision: "main", Ref: "values"},
			}
			return r
		}(),
		check: func(t *testing.T, a *v1alpha1.Application) {
			if a.Spec.Source != nil || len(a.Spec.Sources) != 2 {
				t.Fatalf("source %+v, sources %d", a.Spec.Source, len(a.Spec.Sources))
			}
			if a.Spec.Sources[0].Chart != "web" || a.Spec.Sources[1].Ref != "values" ||
				a.Spec.Sources[0].Helm.ValueFiles[0] != "$values/web/values.yaml" {
				t.Errorf("sources %+v", a.Spec.Sources)
			}
		},
	},
	{
		name: "helm values and parameters",
		req: func() paved.AppRequest {
			r := appRequest("helm")
			r.Sources[0].Helm = &paved.HelmSource{
				ReleaseName:  "web",
				Values:       "replicas: 2\n",
				ValuesObject: map[string]any{"image": map[string]any{"tag": "v1"}, "a": 1},
				Parameters:   []paved.HelmParameter{{Name: "service.port", Value: "8080", ForceString: true}},
			}
			return r
		}(),
		check: func(t *testing.T, a *v1alpha1.Application) {
			h := a.Spec.Source.Helm
			if h == nil || h.ReleaseName != "web" || h.Values != "replicas: 2\n" ||
				string(h.ValuesObject.Raw) != `{"a":1,"image":{"tag":"v1"}}` ||
				len(h.Parameters) != 1 || h.Parameters[0] != (v1alpha1.HelmParameter{Name: "service.port", Value: "8080", ForceString: true}) {
				t.Errorf("helm %+v", h)
			}
		},
	},
	{
		name: "kustomize",
		req: func() paved.AppRequest {
			r := appRequest("kust")
			r.Sources[0].Kustomize = &paved.KustomizeSource{NamePrefix: "dev-", Namespace: "kust", Images: []string{"web=registry.example/web:v2"}, CommonLabels: map[string]string{"team": "a"}}
			return r
		}(),
		check: func(t *testing.T, a *v1alpha1.Application) {
			k := a.Spec.Source.Kustomize
			if k == nil || k.NamePrefix != "dev-" || k.Namespace != "kust" || len(k.Images) != 1 || k.Images[0] != "web=registry.example/web:v2" || k.CommonLabels["team"] != "a" {
				t.Errorf("kustomize %+v", k)
			}
		},
	},
	{
		name: "directory options, and empty ones dropped",
		req: func() paved.AppRequest {
			r := appRequest("dir")
			r.Sources[0].Directory = &paved.DirectorySource{Recurse: true, Include: "*.yaml"}
			r.Sources[0].Helm = &paved.HelmSource{}
			r.Sources[0].Kustomize = &paved.KustomizeSource{}
			return r
		}(),
		check: func(t *testing.T, a *v1alpha1.Application) {
			s := a.Spec.Source
			if s.Directory == nil || !s.Directory.Recurse || s.Directory.Include != "*.yaml" || s.Helm != nil || s.Kustomize != nil {
				t.Errorf("source %+v", s)
			}
		},
	},
	{
		name: "CreateNamespace and automated prune and selfHeal",
		req: func() paved.AppRequest {
			r := appRequest("auto")
			r.CreateNamespace = true
			r.SyncOptions = []string{"ServerSideApply=true", "CreateNamespace=true"}
			r.Automated = &paved.AutoSync{Prune: true, SelfHeal: true}
			return r
		}(),
		check: func(t *testing.T, a *v1alpha1.Application) {
			p := a.Spec.SyncPolicy
			if p == nil || p.Automated == nil || !p.Automated.Prune || !p.Automated.SelfHeal {
				t.Fatalf("sync policy %+v", p)
			}
			if !slices.Equal(p.SyncOptions, v1alpha1.SyncOptions{"ServerSideApply=true", "CreateNamespace=true"}) {
				t.Errorf("sync options %v", p.SyncOptions)
			}
		},
	},
	{
		name: "finalizer, labels, annotations, project and namespace",
		req: func() paved.AppRequest {
			r := appRequest("meta")
			r.Project = "team-a"
			r.Namespace = "team-a-apps"
			r.Annotations = map[string]string{paved.AnnotationEntityRef: "component:default/meta"}
			return r
		}(),
		check: func(t *testing.T, a *v1alpha1.Application) {
			if !slices.Equal(a.Finalizers, []string{"resources-finalizer.argocd.argoproj.io"}) {
				t.Errorf("finalizers %v", a.Finalizers)
			}
			if a.Labels[paved.LabelManagedBy] != paved.ManagedByPaved || a.Labels[paved.LabelEntity] != "component-default-meta" {
				t.Errorf("labels %v", a.Labels)
			}
			if a.Annotations[paved.AnnotationEntityRef] != "component:default/meta" || a.Spec.Project != "team-a" || a.Namespace != "team-a-apps" {
				t.Errorf("annotations %v project %q namespace %q", a.Annotations, a.Spec.Project, a.Namespace)
			}
		},
	},
	{
		name: "destination by cluster name",
		req: func() paved.AppRequest {
			r := appRequest("named")
			r.Destination = paved.AppDestination{Name: "in-cluster", Namespace: "named"}
			return r
		}(),
		check: func(t *testing.T, a *v1alpha1.Application) {
			if a.Spec.Destination.Server != "" || a.Spec.Destination.Name != "in-cluster" {
				t.Errorf("destination %+v", a.Spec.Destination)
			}
		},
	},
}

func TestBuildApplication(t *testing.T) {
	for _, tc := range buildCases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := BuildApplication(tc.req, "default")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, a)
		})
	}
}

// Every shape BuildApplication produces must survive Argo CD's same-spec
// comparison after a trip through gRPC, or re-running a template conflicts.
func TestBuiltApplicationsRecreateIdempotently(t *testing.T) {
	srv := startFake(t, argocdtest.Options{AppNamespaces: []string{"team-a-apps"}})
	c := newClient(t, srv, nil)
	for _, tc := range buildCases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.CreateProject = req.Project != ""
			first, err := c.CreateApp(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			second, err := c.CreateApp(context.Background(), req)
			if err != nil {
				t.Fatalf("re-create: %v", err)
			}
			if !first.Created || second.Created {
				t.Fatalf("created: first %t, second %t", first.Created, second.Created)
			}
		})
	}
}

func TestBuildApplicationRejects(t *testing.T) {
	_, err := BuildApplication(paved.AppRequest{Sources: []paved.AppSource{{Path: "x"}}}, "")
	var fields []string
	if pe, ok := err.(*paved.Error); ok {
		for _, f := range pe.Fields {
			fields = append(fields, f.Field)
		}
	}
	if !slices.Equal(fields, []string{"name", "sources[0].repoURL"}) {
		t.Fatalf("got %v (%v)", fields, err)
	}
}
