package argocd

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/project"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd/argocdtest"
)

// TestCheckSources: every source that renders is asked about (a ref-only
// source is not), a missing path is EInvalid naming the source's path field
// with Argo CD's message, several at once; a repository the project does not
// admit names repoURL; an outage stays an outage, never a bad path.
func TestCheckSources(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()

	if err := c.CheckSources(ctx, appRequest("billing")); err != nil {
		t.Fatalf("a source that resolves: %v", err)
	}
	if n := srv.Calls(argocdtest.MethodAppDetails); n != 1 {
		t.Fatalf("%d GetAppDetails calls, want 1", n)
	}

	srv.SetMissing(testRepo, "apps/ghost")
	srv.SetMissing(testRepo, "values/ghost")
	multi := appRequest("ghost")
	multi.Sources = []paved.AppSource{
		{RepoURL: testRepo, Ref: "values", TargetRevision: "main"},
		{RepoURL: testRepo, Path: "apps/ghost", TargetRevision: "main"},
		{RepoURL: testRepo, Path: "apps/billing", TargetRevision: "main"},
		{RepoURL: testRepo, Path: "values/ghost", TargetRevision: "main"},
	}
	err := c.CheckSources(ctx, multi)
	wantError(t, err, paved.EInvalid, "sources.1.path: Argo CD cannot resolve the source: apps/ghost: app path does not exist")
	var pe *paved.Error
	if !errors.As(err, &pe) || !slices.Equal(fieldNames(pe.Fields), []string{"sources.1.path", "sources.3.path"}) {
		t.Errorf("fields = %+v, want sources.1.path and sources.3.path", pe)
	}
	if n := srv.Calls(argocdtest.MethodAppDetails); n != 4 {
		t.Errorf("%d GetAppDetails calls, want 4 (the ref-only source is not asked about)", n)
	}

	closed := appRequest("billing")
	closed.Project = "closed"
	in, _ := c.instance("default")
	if err := in.call(ctx, "project.ProjectService/Create", func(ctx context.Context, a *authed) error {
		_, err := a.projects.Create(ctx, &project.ProjectCreateRequest{Project: &v1alpha1.AppProject{
			ObjectMeta: metav1.ObjectMeta{Name: "closed"},
			Spec: v1alpha1.AppProjectSpec{SourceRepos: []string{"https://git.example/other.git"},
				Destinations: []v1alpha1.ApplicationDestination{{Server: "*", Namespace: "*"}}},
		}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wantError(t, c.CheckSources(ctx, closed), paved.EInvalid, "sources.0.repoURL: Argo CD cannot resolve the source: repository '"+testRepo+"' not permitted in project 'closed'")

	srv.FailUnavailable(1000)
	err = c.CheckSources(ctx, appRequest("ghost"))
	wantError(t, err, paved.EUnavailable, `Argo CD instance "default" is unavailable`)
	srv.FailUnavailable(0)
}

func fieldNames(fields []paved.FieldError) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Field
	}
	return names
}
