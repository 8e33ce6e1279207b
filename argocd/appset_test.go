package argocd

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd/argocdtest"
)

func appSetRequest(name string) paved.AppSetRequest {
	tmpl := appRequest(name)
	tmpl.Sources[0].Path = "envs/{{.environment}}"
	tmpl.Destination = paved.AppDestination{}
	tmpl.Automated = &paved.AutoSync{Prune: true}
	tmpl.CreateNamespace = true
	return paved.AppSetRequest{Template: tmpl, Environments: []paved.Environment{
		{Name: "dev", Namespace: name + "-dev"},
		{Name: "prod", Namespace: name, Server: "https://prod.example:6443"},
	}}
}

func TestBuildApplicationSetTemplatesTheSingleApplication(t *testing.T) {
	req := appSetRequest("shop")
	set, err := BuildApplicationSet(req, "platform")
	if err != nil {
		t.Fatal(err)
	}
	if !set.Spec.GoTemplate || len(set.Spec.Generators) != 1 || set.Spec.Generators[0].List == nil {
		t.Fatalf("want one list generator with goTemplate, got %+v", set.Spec)
	}
	var elems []map[string]string
	for _, e := range set.Spec.Generators[0].List.Elements {
		var m map[string]string
		if err := json.Unmarshal(e.Raw, &m); err != nil {
			t.Fatal(err)
		}
		elems = append(elems, m)
	}
	want := []map[string]string{
		{"environment": "dev", "namespace": "shop-dev", "server": paved.InClusterServer},
		{"environment": "prod", "namespace": "shop", "server": "https://prod.example:6443"},
	}
	if !reflect.DeepEqual(elems, want) {
		t.Fatalf("elements = %v, want %v", elems, want)
	}
	tm := set.Spec.Template
	if tm.Name != "shop-{{.environment}}" || tm.Labels[paved.LabelEnvironment] != "{{.environment}}" || tm.Labels[paved.LabelManagedBy] != paved.ManagedByPaved {
		t.Fatalf("template metadata = %+v", tm.ApplicationSetTemplateMeta)
	}
	// The rest is what create-argocd-app would create for one environment.
	single := req.Template
	single.Destination = paved.AppDestination{Server: "{{.server}}", Namespace: "{{.namespace}}"}
	app, err := BuildApplication(single, "platform")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tm.Spec, app.Spec) || !reflect.DeepEqual(tm.Finalizers, app.Finalizers) {
		t.Fatalf("template spec differs from BuildApplication's:\n%+v\n%+v", tm.Spec, app.Spec)
	}
	if set.Labels[paved.LabelEnvironment] != "" {
		t.Fatal("the ApplicationSet itself must not carry the per-environment label")
	}
}

func TestBuildApplicationSetNamesEveryBadField(t *testing.T) {
	req := appSetRequest("shop")
	req.Environments = append(req.Environments, paved.Environment{Name: "dev"}, paved.Environment{})
	req.Template.Sources[0].RepoURL = ""
	_, err := BuildApplicationSet(req, "")
	var got []string
	if pe, ok := err.(*paved.Error); ok {
		for _, f := range pe.Fields {
			got = append(got, f.Field)
		}
	}
	if paved.ErrorCode(err) != paved.EInvalid || strings.Join(got, ",") != "environments[2].name,environments[3].name,sources[0].repoURL" {
		t.Fatalf("got %v, fields %v", err, got)
	}
}

func TestApplicationSetYAMLIsTheBuiltObject(t *testing.T) {
	req := appSetRequest("shop")
	body, err := ApplicationSetYAML(req, "", "argocd")
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"status", "creationTimestamp", "template: {}"} {
		if strings.Contains(string(body), absent) {
			t.Errorf("YAML holds %q:\n%s", absent, body)
		}
	}
	var got v1alpha1.ApplicationSet
	if err := yaml.UnmarshalStrict(body, &got); err != nil {
		t.Fatal(err)
	}
	want, _ := BuildApplicationSet(req, "")
	if got.Kind != "ApplicationSet" || got.Namespace != "argocd" || !reflect.DeepEqual(got.Spec, want.Spec) {
		t.Fatalf("YAML does not read back as the built ApplicationSet:\n%s", body)
	}
}

func TestCreateAppSetIsIdempotentAndConflictsLikeArgoCD(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	req := appSetRequest("shop")

	set, err := c.CreateAppSet(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !set.Created || set.Updated || set.Project != "default" || len(set.Apps) != 2 {
		t.Fatalf("first create: %+v", set)
	}
	if a := set.Apps[1]; a.Name != "shop-prod" || a.URL != "https://argocd.example/applications/shop-prod" || a.Server != "https://prod.example:6443" {
		t.Fatalf("app = %+v", a)
	}
	stored, ok := srv.AppSet("", "shop")
	if !ok || stored.Spec.Template.Spec.Source.Path != "envs/{{.environment}}" {
		t.Fatalf("stored = %+v", stored)
	}

	again, err := c.CreateAppSet(ctx, req)
	if err != nil || again.Created || again.Updated {
		t.Fatalf("re-run: %+v, %v", again, err)
	}
	if s2, _ := srv.AppSet("", "shop"); s2.ResourceVersion != stored.ResourceVersion {
		t.Fatal("an identical re-run changed the ApplicationSet")
	}

	changed := appSetRequest("shop")
	changed.Environments = changed.Environments[:1]
	_, err = c.CreateAppSet(ctx, changed)
	wantError(t, err, paved.EConflict, "existing ApplicationSet spec is different, use upsert flag to force update")

	changed.Template.Upsert = true
	up, err := c.CreateAppSet(ctx, changed)
	if err != nil || up.Created || !up.Updated || len(up.Apps) != 1 {
		t.Fatalf("upsert: %+v, %v", up, err)
	}
	if s3, _ := srv.AppSet("", "shop"); len(s3.Spec.Generators[0].List.Elements) != 1 {
		t.Fatal("upsert did not replace the spec")
	}

	if err := c.DeleteAppSet(ctx, "default", "shop", ""); err != nil {
		t.Fatal(err)
	}
	wantError(t, c.DeleteAppSet(ctx, "default", "shop", ""), paved.ENotFound, `applicationsets.argoproj.io "shop" not found`)
}

func TestCreateAppSetPassesArgoCDsRefusal(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	req := appSetRequest("shop")
	req.Template.Project = "nope"
	_, err := c.CreateAppSet(context.Background(), req)
	wantError(t, err, paved.EInvalid, "ApplicationSet references project nope which does not exist")
	if _, ok := srv.AppSet("", "shop"); ok {
		t.Fatal("a refused ApplicationSet was stored")
	}
}

func TestAppSetURLsFollowAppsInAnyNamespace(t *testing.T) {
	srv := startFake(t, argocdtest.Options{AppNamespaces: []string{"teams"}})
	c := newClient(t, srv, func(cfg *InstanceConfig) { cfg.AppNamespace = "teams" })
	set, err := c.CreateAppSet(context.Background(), appSetRequest("shop"))
	if err != nil {
		t.Fatal(err)
	}
	if set.Namespace != "teams" || set.Apps[0].URL != "https://argocd.example/applications/teams/shop-dev" {
		t.Fatalf("set = %+v", set)
	}
	if _, ok := srv.AppSet("teams", "shop"); !ok {
		t.Fatal("the ApplicationSet is not in the apps namespace")
	}
}
