package argocdtest_test

import (
	"context"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/applicationset"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paved-dev/paved/argocd/argocdtest"
)

func environments(name string, labels map[string]string) *v1alpha1.ApplicationSet {
	app := guestbook()
	return &v1alpha1.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: v1alpha1.ApplicationSetSpec{
			GoTemplate: true,
			Generators: []v1alpha1.ApplicationSetGenerator{{List: &v1alpha1.ListGenerator{Elements: []apiextensionsv1.JSON{{Raw: []byte(`{"environment":"dev"}`)}}}}},
			Template: v1alpha1.ApplicationSetTemplate{
				ApplicationSetTemplateMeta: v1alpha1.ApplicationSetTemplateMeta{Name: name + "-{{.environment}}"},
				Spec:                       app.Spec,
			},
		},
	}
}

func TestAppSetServiceSpeaksArgoCDSemantics(t *testing.T) {
	srv, conn := start(t, argocdtest.Options{APITokens: []string{"tok"}})
	ctx := metadata.AppendToOutgoingContext(context.Background(), "token", "tok")
	sets := applicationset.NewApplicationSetServiceClient(conn)

	_, err := sets.Get(ctx, &applicationset.ApplicationSetGetQuery{Name: "shop"})
	wantCode(t, err, codes.NotFound, `error getting ApplicationSet: applicationset.argoproj.io "shop" not found`)
	_, err = sets.Create(context.Background(), &applicationset.ApplicationSetCreateRequest{Applicationset: environments("shop", nil)})
	wantCode(t, err, codes.Unauthenticated, "no session information")

	_, err = sets.Create(ctx, &applicationset.ApplicationSetCreateRequest{})
	wantCode(t, err, codes.Unknown, "ApplicationSets is nil in request")
	bad := environments("shop", nil)
	bad.Spec.Generators = []v1alpha1.ApplicationSetGenerator{{}}
	_, err = sets.Create(ctx, &applicationset.ApplicationSetCreateRequest{Applicationset: bad})
	wantCode(t, err, codes.Unknown, "ApplicationSet shop contains unrecognized generators")
	bad = environments("Shop", nil)
	_, err = sets.Create(ctx, &applicationset.ApplicationSetCreateRequest{Applicationset: bad})
	wantCode(t, err, codes.InvalidArgument, `ApplicationSet.argoproj.io "Shop" is invalid: metadata.name`)
	bad = environments("shop", nil)
	bad.Spec.Template.Spec.Project = "{{.project}}"
	_, err = sets.Create(ctx, &applicationset.ApplicationSetCreateRequest{Applicationset: bad})
	wantCode(t, err, codes.Unknown, "does not currently support creating ApplicationSets with templated `project` fields")

	dry, err := sets.Create(ctx, &applicationset.ApplicationSetCreateRequest{Applicationset: environments("shop", nil), DryRun: true})
	if err != nil || dry.Name != "shop" {
		t.Fatalf("dry run: %v %v", dry, err)
	}
	if _, ok := srv.AppSet("", "shop"); ok {
		t.Fatal("a dry run stored the ApplicationSet")
	}

	created, err := sets.Create(ctx, &applicationset.ApplicationSetCreateRequest{Applicationset: environments("shop", map[string]string{"team": "a"})})
	if err != nil || created.UID == "" || created.Namespace != "argocd" {
		t.Fatalf("create: %+v %v", created, err)
	}
	if _, err := sets.Create(ctx, &applicationset.ApplicationSetCreateRequest{Applicationset: environments("other", map[string]string{"team": "b"})}); err != nil {
		t.Fatal(err)
	}
	list, err := sets.List(ctx, &applicationset.ApplicationSetListQuery{Selector: "team=a", Projects: []string{"default"}})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "shop" {
		t.Fatalf("list: %+v %v", list, err)
	}

	if _, err := sets.Delete(ctx, &applicationset.ApplicationSetDeleteRequest{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	_, err = sets.Delete(ctx, &applicationset.ApplicationSetDeleteRequest{Name: "shop"})
	wantCode(t, err, codes.NotFound, `applicationsets.argoproj.io "shop" not found`)
	if srv.Calls(argocdtest.MethodAppSetDelete) != 2 {
		t.Fatalf("Calls(Delete) = %d", srv.Calls(argocdtest.MethodAppSetDelete))
	}
}
