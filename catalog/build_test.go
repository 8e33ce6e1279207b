package catalog_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/catalog"
)

var backstageName = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)

func testOptions() catalog.Options {
	return catalog.Options{
		Instances:     []catalog.Instance{{Name: "prod"}, {Name: "staging", DefaultOwner: "group:default/staging-team"}},
		ProjectOwners: map[string]string{"payments": "group:default/payments"},
		LocationURL:   "http://paved.test/api/paved/catalog/entities.yaml",
	}
}

func app(instance, name string) paved.App {
	return paved.App{
		AppRef:       paved.AppRef{Instance: instance, Name: name, Project: "default"},
		URL:          "https://argocd.test/applications/" + name,
		SyncStatus:   "Synced",
		HealthStatus: "Healthy",
		Destination:  paved.AppDestination{Namespace: "shop"},
		RepoURL:      "https://git.test/shop.git",
	}
}

func decode(t *testing.T, it catalog.Item) catalog.Entity {
	t.Helper()
	var e catalog.Entity
	if err := json.Unmarshal(it.Entity, &e); err != nil {
		t.Fatalf("entity %s is not JSON: %v", it.Ref, err)
	}
	return e
}

// checkValid asserts what Backstage's validators check on every entity.
func checkValid(t *testing.T, items []catalog.Item) {
	t.Helper()
	seen := map[string]bool{}
	for _, it := range items {
		e := decode(t, it)
		if !backstageName.MatchString(e.Metadata.Name) || len(e.Metadata.Name) > 63 {
			t.Errorf("%s: invalid name %q", it.Ref, e.Metadata.Name)
		}
		if e.Ref() != it.Ref {
			t.Errorf("item ref %s != entity ref %s", it.Ref, e.Ref())
		}
		if seen[strings.ToLower(it.Ref)] {
			t.Errorf("duplicate ref %s", it.Ref)
		}
		seen[strings.ToLower(it.Ref)] = true
		for _, k := range []string{catalog.AnnotationManagedByLocation, catalog.AnnotationManagedByOriginLocation} {
			if !strings.HasPrefix(e.Metadata.Annotations[k], "url:") {
				t.Errorf("%s: annotation %s = %q", it.Ref, k, e.Metadata.Annotations[k])
			}
		}
		for k, v := range e.Metadata.Labels {
			if v != "" && !backstageName.MatchString(v) {
				t.Errorf("%s: label %s has invalid value %q", it.Ref, k, v)
			}
		}
		if e.Spec.Type == "" || e.Spec.Owner == "" || (e.Kind == catalog.KindComponent && e.Spec.Lifecycle == "") {
			t.Errorf("%s: spec lacks type, owner or lifecycle: %+v", it.Ref, e.Spec)
		}
	}
}

func TestBuildComponent(t *testing.T) {
	a := app("prod", "shop")
	a.Labels = map[string]string{"paved.dev/component-type": "website", "paved.dev/owner": "team-a", "paved.dev/system": "commerce"}
	a.Annotations = map[string]string{paved.AnnotationTemplate: "template:default/service", "paved.dev/lifecycle": "experimental"}
	a.Project = "payments"
	b := catalog.Build(testOptions(), []catalog.InstanceApps{{Instance: "prod", Apps: []paved.App{a}}}, nil, nil)
	if len(b.Items) != 1 || len(b.Skips) != 0 {
		t.Fatalf("Build = %d items, skips %v; want 1 item, no skips", len(b.Items), b.Skips)
	}
	checkValid(t, b.Items)
	it := b.Items[0]
	if it.Ref != "component:default/shop" || it.LocationKey != "paved:prod" {
		t.Errorf("ref, location key = %s, %s", it.Ref, it.LocationKey)
	}
	e := decode(t, it)
	want := map[string]string{
		"argocd/app-name":                         "shop",
		"argocd/instance-name":                    "prod",
		"argocd/project":                          "payments",
		"argocd/sync-status":                      "Synced",
		"argocd/health-status":                    "Healthy",
		"backstage.io/kubernetes-id":              "shop",
		"backstage.io/kubernetes-namespace":       "shop",
		"backstage.io/source-template":            "template:default/service",
		"backstage.io/managed-by-location":        "url:http://paved.test/api/paved/catalog/entities.yaml",
		"backstage.io/managed-by-origin-location": "url:http://paved.test/api/paved/catalog/entities.yaml",
	}
	for k, v := range want {
		if got := e.Metadata.Annotations[k]; got != v {
			t.Errorf("annotation %s = %q, want %q", k, got, v)
		}
	}
	if e.Metadata.Labels["argocd/health-status"] != "Healthy" {
		t.Errorf("labels = %v", e.Metadata.Labels)
	}
	if e.Spec.Type != "website" || e.Spec.Lifecycle != "experimental" || e.Spec.Owner != "group:default/team-a" || e.Spec.System != "system:default/commerce" {
		t.Errorf("spec = %+v", e.Spec)
	}
	if len(e.Metadata.Links) != 2 || e.Metadata.Links[0].URL != a.URL || e.Metadata.Links[1].URL != a.RepoURL {
		t.Errorf("links = %+v", e.Metadata.Links)
	}
}

func TestBuildDefaults(t *testing.T) {
	plain := app("prod", "plain") // no labels or annotations at all
	paid := app("prod", "billing")
	paid.Project = "payments"
	staged := app("staging", "web")
	b := catalog.Build(testOptions(), []catalog.InstanceApps{
		{Instance: "prod", Apps: []paved.App{plain, paid}},
		{Instance: "staging", Apps: []paved.App{staged}},
	}, nil, nil)
	checkValid(t, b.Items)
	owners := map[string]string{}
	for _, it := range b.Items {
		e := decode(t, it)
		owners[e.Metadata.Name] = e.Spec.Owner
		if e.Spec.Type != "service" || e.Spec.Lifecycle != "production" {
			t.Errorf("%s: type %q lifecycle %q, want the defaults", it.Ref, e.Spec.Type, e.Spec.Lifecycle)
		}
		if _, ok := e.Metadata.Annotations[paved.AnnotationTemplate]; ok {
			t.Errorf("%s: source-template without a template", it.Ref)
		}
	}
	want := map[string]string{"plain": "group:default/unknown", "billing": "group:default/payments", "web": "group:default/staging-team"}
	for n, o := range want {
		if owners[n] != o {
			t.Errorf("owner of %s = %q, want %q", n, owners[n], o)
		}
	}
}

func TestBuildBadData(t *testing.T) {
	long := strings.Repeat("a", 300)
	long2 := strings.Repeat("a", 299) + "b" // same 63-char prefix as long
	odd := app("prod", "My App/ä€!!")
	odd.Labels = map[string]string{"paved.dev/owner": "team-b"}
	odd.Annotations = map[string]string{
		"backstage.io/owner":           "not a valid owner!", // labels win; still ignored when reached
		paved.AnnotationTemplate:       "not a ref at all/with/slashes",
		catalog.AnnotationKubernetesID: "shop-k8s",
	}
	badOwner := app("prod", "bad-owner")
	badOwner.Annotations = map[string]string{"paved.dev/owner": "Team With Spaces"}
	weird := app("prod", "--..__--")
	weird.SyncStatus = "Out of Sync!" // not a valid label value
	apps := []catalog.InstanceApps{
		{Instance: "prod", Apps: []paved.App{app("prod", long), app("prod", long2), odd, badOwner, weird, app("prod", ""), app("prod", "dup"), app("prod", "dup")}},
	}
	b := catalog.Build(testOptions(), apps, nil, nil)
	checkValid(t, b.Items)
	if len(b.Items) != 6 {
		t.Fatalf("%d items, want 6 (long, long2, odd, bad-owner, weird, dup): %v", len(b.Items), refs(b.Items))
	}
	names := map[string]catalog.Entity{}
	for _, it := range b.Items {
		e := decode(t, it)
		names[e.Metadata.Annotations["argocd/app-name"]] = e
	}
	if a, b := names[long].Metadata.Name, names[long2].Metadata.Name; a == b || len(a) > 63 || len(b) > 63 {
		t.Errorf("300-char names map to %q and %q", a, b)
	}
	if names[long].Metadata.Title != long {
		t.Errorf("the title should keep the original name")
	}
	o := names["My App/ä€!!"]
	if o.Metadata.Name != "my-app" || o.Spec.Owner != "group:default/team-b" || o.Metadata.Annotations[catalog.AnnotationKubernetesID] != "shop-k8s" {
		t.Errorf("odd app = name %q owner %q k8s-id %q", o.Metadata.Name, o.Spec.Owner, o.Metadata.Annotations[catalog.AnnotationKubernetesID])
	}
	if _, ok := o.Metadata.Annotations[paved.AnnotationTemplate]; ok {
		t.Errorf("an invalid template ref was copied")
	}
	if bo := names["bad-owner"]; bo.Spec.Owner != "group:default/unknown" {
		t.Errorf("bad owner fell back to %q", bo.Spec.Owner)
	}
	w := names["--..__--"]
	if _, ok := w.Metadata.Labels[catalog.LabelSyncStatus]; ok || w.Metadata.Annotations[catalog.AnnotationSyncStatus] != "Out of Sync!" {
		t.Errorf("invalid sync status: labels %v, annotation %q", w.Metadata.Labels, w.Metadata.Annotations[catalog.AnnotationSyncStatus])
	}
	reasons := strings.Join(skipStrings(b.Skips), "\n")
	for _, want := range []string{"no name", "listed twice", `ignored owner "Team With Spaces"`, "ignored annotation backstage.io/source-template"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("skips lack %q:\n%s", want, reasons)
		}
	}
}

func TestBuildCollisionsAcrossInstances(t *testing.T) {
	apps := []catalog.InstanceApps{
		// Listed in the opposite order to the configuration: the result must not care.
		{Instance: "staging", Apps: []paved.App{app("staging", "shop"), app("staging", "Shop")}},
		{Instance: "prod", Apps: []paved.App{app("prod", "shop")}},
	}
	b := catalog.Build(testOptions(), apps, nil, nil)
	checkValid(t, b.Items)
	if len(b.Items) != 3 {
		t.Fatalf("%d items, want 3: %v", len(b.Items), refs(b.Items))
	}
	byOrigin := map[string]string{}
	for _, it := range b.Items {
		e := decode(t, it)
		byOrigin[e.Metadata.Annotations["argocd/instance-name"]+"/"+e.Metadata.Annotations["argocd/app-name"]] = e.Metadata.Name
	}
	if byOrigin["prod/shop"] != "shop" {
		t.Errorf("the first configured instance should keep the plain name: %v", byOrigin)
	}
	if !strings.HasPrefix(byOrigin["staging/shop"], "shop-") || !strings.HasPrefix(byOrigin["staging/Shop"], "shop-") {
		t.Errorf("colliding names should get a hash suffix: %v", byOrigin)
	}
	// Deterministic: the same input in another order gives the same entities.
	again := catalog.Build(testOptions(), []catalog.InstanceApps{apps[1], {Instance: "staging", Apps: []paved.App{app("staging", "Shop"), app("staging", "shop")}}}, nil, nil)
	if fmt.Sprint(refs(again.Items)) != fmt.Sprint(refs(b.Items)) {
		t.Errorf("builds differ: %v vs %v", refs(again.Items), refs(b.Items))
	}
	for i := range b.Items {
		if string(b.Items[i].Entity) != string(again.Items[i].Entity) {
			t.Errorf("entity %s differs between builds", b.Items[i].Ref)
		}
	}
}

func TestBuildInfraRelations(t *testing.T) {
	infra := []catalog.Infra{
		{ID: "db-1", Name: "shop-db", Type: "database", Owner: "team-a", App: paved.AppRef{Instance: "prod", Name: "shop"}, Status: "ready", CostMonthly: "480 USD"},
		{ID: "b-1", Name: "assets", Type: "bucket", EntityRef: "component:default/website"},
		{ID: "db-2", Name: "orphan", App: paved.AppRef{Instance: "prod", Name: "gone"}},
		{ID: "db-1", Name: "zzz-listed-again"},
		{ID: "x", Name: strings.Repeat("x/", 100)},
	}
	b := catalog.Build(testOptions(), []catalog.InstanceApps{{Instance: "prod", Apps: []paved.App{app("prod", "shop")}}}, infra, nil)
	checkValid(t, b.Items)
	got := map[string]catalog.Entity{}
	for _, it := range b.Items {
		got[it.Ref] = decode(t, it)
		if it.Ref[:9] == "resource:" && it.LocationKey != catalog.LocationKeyInfra {
			t.Errorf("%s has location key %s", it.Ref, it.LocationKey)
		}
	}
	shop, db := got["component:default/shop"], got["resource:default/shop-db"]
	if fmt.Sprint(shop.Spec.DependsOn) != "[resource:default/shop-db]" {
		t.Errorf("shop dependsOn = %v", shop.Spec.DependsOn)
	}
	if fmt.Sprint(db.Spec.DependencyOf) != "[component:default/shop]" || db.Spec.Type != "database" || db.Spec.Owner != "group:default/team-a" {
		t.Errorf("shop-db spec = %+v", db.Spec)
	}
	if db.Metadata.Annotations[paved.AnnotationCostMonthly] != "480 USD" {
		t.Errorf("shop-db annotations = %v", db.Metadata.Annotations)
	}
	if _, ok := got["resource:default/assets"].Metadata.Annotations[paved.AnnotationCostMonthly]; ok {
		t.Errorf("an unpriced resource has a cost annotation")
	}
	if fmt.Sprint(got["resource:default/assets"].Spec.DependencyOf) != "[component:default/website]" {
		t.Errorf("assets spec = %+v", got["resource:default/assets"].Spec)
	}
	if len(got["resource:default/orphan"].Spec.DependencyOf) != 0 {
		t.Errorf("orphan has a dependency on a missing app")
	}
	if len(b.Items) != 5 {
		t.Errorf("items = %v, want shop and 4 resources", refs(b.Items))
	}
	reasons := strings.Join(skipStrings(b.Skips), "\n")
	if !strings.Contains(reasons, "infra/db-1: listed twice") || !strings.Contains(reasons, "infra/db-2: its application") {
		t.Errorf("skips = %s", reasons)
	}
}

func TestBuildKeepsTakenNames(t *testing.T) {
	taken := map[string]bool{"component:default/shop": true}
	b := catalog.Build(testOptions(), []catalog.InstanceApps{{Instance: "staging", Apps: []paved.App{app("staging", "shop")}}}, nil, taken)
	if len(b.Items) != 1 || b.Items[0].Ref == "component:default/shop" {
		t.Fatalf("a taken name was reused: %v", refs(b.Items))
	}
}

func refs(items []catalog.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Ref
	}
	return out
}

func skipStrings(skips []catalog.Skip) []string {
	out := make([]string, len(skips))
	for i, s := range skips {
		out[i] = s.Source + ": " + s.Reason
	}
	return out
}

func TestSanitizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"shop", "shop"},
		{"Shop", "shop"},
		{"my app", "my-app"},
		{"a//b", "a-b"},
		{"-x-", "x"},
		{"a.b_c", "a.b_c"},
	}
	for _, tt := range tests {
		if got, _ := catalog.SanitizeName(tt.in); got != tt.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{"", "!!!", "ä", strings.Repeat("ab", 200), strings.Repeat("-", 80) + "x"} {
		got, changed := catalog.SanitizeName(in)
		if !catalog.ValidName(got) || !changed {
			t.Errorf("SanitizeName(%q) = %q, %v", in, got, changed)
		}
	}
}

func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"shop", "My App", strings.Repeat("z", 300), "..", "a--b", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := catalog.SanitizeName(s)
		if !catalog.ValidName(got) {
			t.Fatalf("SanitizeName(%q) = %q, not a valid name", s, got)
		}
		again, changed := catalog.SanitizeName(got)
		if again != got || changed {
			t.Fatalf("SanitizeName is not idempotent: %q → %q → %q", s, got, again)
		}
	})
}

func TestBuildInfraDeliveredByArgoCD(t *testing.T) {
	svc := app("prod", "orders-app")
	svc.Annotations = map[string]string{paved.AnnotationEntityRef: "component:default/orders"}
	delivery := app("prod", "postgresql-orders-db")
	delivery.Labels = map[string]string{paved.LabelInfraID: "r9", "paved.dev/infra-kind": "postgresql"}
	stray := app("prod", "gone-db") // delivers a resource paved no longer lists
	stray.Labels = map[string]string{paved.LabelInfraID: "r-deleted"}
	infra := []catalog.Infra{{ID: "r9", Name: "orders-db", Type: "postgresql", EntityRef: "component:default/orders"}}
	b := catalog.Build(testOptions(), []catalog.InstanceApps{{Instance: "prod", Apps: []paved.App{svc, delivery, stray}}}, infra, nil)
	checkValid(t, b.Items)
	if got := fmt.Sprint(refs(b.Items)); got != "[component:default/gone-db component:default/orders-app resource:default/orders-db]" {
		t.Fatalf("entities = %s", got)
	}
	res := decode(t, b.Items[2])
	if res.Metadata.Annotations[catalog.AnnotationArgoAppName] != "postgresql-orders-db" || res.Metadata.Annotations[catalog.AnnotationHealthStatus] != "Healthy" ||
		len(res.Metadata.Links) != 1 {
		t.Errorf("the resource lacks its Argo CD application: %+v", res.Metadata)
	}
	if fmt.Sprint(res.Spec.DependencyOf) != "[component:default/orders-app]" {
		t.Errorf("dependencyOf = %v, want the component created for component:default/orders", res.Spec.DependencyOf)
	}
	if comp := decode(t, b.Items[1]); fmt.Sprint(comp.Spec.DependsOn) != "[resource:default/orders-db]" {
		t.Errorf("orders-app dependsOn = %v", comp.Spec.DependsOn)
	}
}
