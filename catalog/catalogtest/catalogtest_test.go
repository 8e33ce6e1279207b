package catalogtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/catalog"
)

func snapshot() *catalog.Snapshot {
	b := catalog.Build(catalog.Options{Instances: []catalog.Instance{{Name: "prod"}}},
		[]catalog.InstanceApps{{Instance: "prod", Apps: []paved.App{{AppRef: paved.AppRef{Instance: "prod", Name: "shop"}}}}},
		[]catalog.Infra{{ID: "r1", Name: "shop-db", Type: "database", App: paved.AppRef{Instance: "prod", Name: "shop"}}}, nil)
	return catalog.NewSnapshot(catalog.State{}, b.Items)
}

// backstageView is an entity as Backstage's catalog returns it, relations included.
func backstageView(kind, name, owner string, relations ...string) map[string]any {
	var rel []any
	for _, r := range relations {
		t, target, _ := strings.Cut(r, " ")
		rel = append(rel, map[string]any{"type": t, "targetRef": target})
	}
	ann := map[string]any{}
	if kind == "component" {
		ann["argocd/app-name"] = name
		ann["argocd/instance-name"] = "prod"
	} else {
		ann["paved.dev/infra-id"] = "r1"
	}
	return map[string]any{"kind": kind, "metadata": map[string]any{"name": name, "annotations": ann},
		"spec": map[string]any{"owner": owner}, "relations": rel}
}

func TestVerifyIngested(t *testing.T) {
	complete := map[string]map[string]any{
		"component/shop":   backstageView("component", "shop", "group:default/unknown", "ownedBy group:default/unknown", "dependsOn resource:default/shop-db"),
		"resource/shop-db": backstageView("resource", "shop-db", "group:default/unknown", "ownedBy group:default/unknown", "dependencyOf component:default/shop"),
	}
	get := func(catalogView map[string]map[string]any) GetEntity {
		return func(_ context.Context, kind, _, name string) (map[string]any, error) {
			return catalogView[kind+"/"+name], nil
		}
	}
	if err := VerifyIngested(context.Background(), get(complete), snapshot()); err != nil {
		t.Fatalf("complete catalog: %v", err)
	}
	unrelated := map[string]map[string]any{
		"component/shop":   backstageView("component", "shop", "group:default/unknown", "ownedBy group:default/unknown"),
		"resource/shop-db": complete["resource/shop-db"],
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := VerifyIngested(ctx, get(unrelated), snapshot())
	if err == nil || !strings.Contains(err.Error(), `relation "dependsOn resource:default/shop-db" missing`) {
		t.Fatalf("missing relation: err = %v", err)
	}
}
