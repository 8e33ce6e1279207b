//go:build e2e

package catalog_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/catalog"
	"github.com/paved-dev/paved/catalog/catalogtest"
	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/server"
)

// TestBackstageIngestsEntitiesYAML is the zero-code path end to end: a real
// Backstage catalog reads paved's entities.yaml as a URL location, and every
// entity shows up with its owner and relations. Run with -tags e2e.
func TestBackstageIngestsEntitiesYAML(t *testing.T) {
	client, _ := argo(t, "prod", "staging")
	createApp(t, client, "prod", "shop", map[string]string{"paved.dev/owner": "team-shop"})
	createApp(t, client, "staging", "shop", nil)                                          // a duplicate name across instances
	createApp(t, client, "prod", "billing-with-a-rather-long-name-that-keeps-going", nil) // needs no change, still valid
	infra := &memInfra{list: []catalog.Infra{{ID: "r1", Name: "shop-db", Type: "database", App: paved.AppRef{Instance: "prod", Name: "shop"}}}}

	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{
		PluginID:     "paved",
		Discovery:    backstage.NewDiscovery("http://127.0.0.1:1/api/{{pluginId}}", nil),
		StaticTokens: []backstage.StaticToken{{Token: "e2e-static-token-0123456789", Subject: "e2e"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The server starts first: the entities need its URL for their
	// managed-by annotations.
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	r := catalog.NewRefresher(catalog.RefresherOptions{
		Options: catalog.Options{
			Instances:   []catalog.Instance{{Name: "prod"}, {Name: "staging"}},
			LocationURL: catalogtest.YAMLURL(srv.URL, "paved"),
		},
		Apps: client, Infra: infra, Store: openStore(t, filepath.Join(t.TempDir(), "paved.db")),
	})
	srv.Config.Handler = server.New(server.Deps{PluginID: "paved", Auth: verifier, Catalog: r, CatalogYAMLPublic: true})
	mustRefresh(t, r, true)
	if r.Snapshot().Len() != 4 {
		t.Fatalf("snapshot holds %s, want 3 components and a resource", names(r.Snapshot()))
	}

	b := backstagehost.StartT(t, backstagehost.Options{PavedBaseURL: srv.URL + "/api/{{pluginId}}"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.RegisterLocation(ctx, catalogtest.YAMLURL(srv.URL, "paved")); err != nil {
		t.Fatal(err)
	}
	get := func(ctx context.Context, kind, ns, name string) (map[string]any, error) {
		e, err := b.WaitEntity(ctx, kind, ns, name)
		return e, err
	}
	if err := catalogtest.VerifyIngested(ctx, get, r.Snapshot()); err != nil {
		t.Fatalf("%v\nbackstage log:\n%s", err, b.Logs())
	}
}
