package argocd

import (
	"context"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd/argocdtest"
)

func TestOwnedBy(t *testing.T) {
	set := &v1alpha1.ApplicationSet{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "argocd", UID: types.UID("set-2")}}
	ref := func(kind, name, uid string) metav1.OwnerReference {
		return metav1.OwnerReference{Kind: kind, Name: name, UID: types.UID(uid)}
	}
	tests := []struct {
		name string
		ns   string
		refs []metav1.OwnerReference
		want bool
	}{
		{"owner reference to the set", "argocd", []metav1.OwnerReference{ref("ApplicationSet", "shop", "set-2")}, true},
		{"no UID on the reference", "argocd", []metav1.OwnerReference{ref("ApplicationSet", "shop", "")}, true},
		{"among other owners", "argocd", []metav1.OwnerReference{ref("ConfigMap", "x", "1"), ref("ApplicationSet", "shop", "set-2")}, true},
		{"no owner", "argocd", nil, false},
		{"another set", "argocd", []metav1.OwnerReference{ref("ApplicationSet", "shop2", "set-2")}, false},
		{"a predecessor of the same name", "argocd", []metav1.OwnerReference{ref("ApplicationSet", "shop", "set-1")}, false},
		{"another kind of the same name", "argocd", []metav1.OwnerReference{ref("Application", "shop", "set-2")}, false},
		{"another namespace", "team-a", []metav1.OwnerReference{ref("ApplicationSet", "shop", "set-2")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "shop-dev", Namespace: tt.ns, OwnerReferences: tt.refs}}
			if got := ownedBy(app, set); got != tt.want {
				t.Fatalf("ownedBy = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestGetAppSetListsItsOwnApplicationsInEnvironmentOrder(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	req := appSetRequest("shop")
	// prod first: the order of the environments, not of the names, counts.
	req.Environments[0], req.Environments[1] = req.Environments[1], req.Environments[0]
	if _, err := c.CreateAppSet(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAppSet(ctx, appSetRequest("shopping")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"shop", "shopping"} {
		if _, err := srv.GenerateAppSet("", name); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.GetAppSet(ctx, "default", "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	if !st.ManagedByPaved || st.Project != "default" || st.Instance != "default" || len(st.Environments) != 2 || st.Environments[0].Name != "prod" {
		t.Fatalf("state = %+v", st)
	}
	if len(st.Apps) != 2 || st.Apps[0].Name != "shop-prod" || st.Apps[1].Name != "shop-dev" {
		t.Fatalf("apps = %+v, want shop-prod then shop-dev and none of shopping's", st.Apps)
	}
	prod := st.Apps[0]
	if prod.Environment != "prod" || prod.Destination.Server != "https://prod.example:6443" || prod.Destination.Namespace != "shop" ||
		!prod.Healthy() || prod.URL != "https://argocd.example/applications/shop-prod" {
		t.Fatalf("shop-prod = %+v", prod)
	}

	if err := c.DeleteAppSet(ctx, "default", "shop", ""); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAppSet(ctx, "default", "shop", "")
	wantError(t, err, paved.ENotFound, `"shop" not found`)
	if _, ok := srv.App("", "shop-dev"); ok {
		t.Fatal("the generated application outlived its ApplicationSet")
	}
	if _, ok := srv.App("", "shopping-dev"); !ok {
		t.Fatal("deleting shop took shopping's application")
	}
}
