//go:build e2e

package catalog_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/catalog"
	"github.com/paved-dev/paved/catalog/catalogtest"
	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/loopback"
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
		AllowedPlugins: []string{"scaffolder", "mcp-actions"},
		PluginID:       "paved",
		Discovery:      backstage.NewDiscovery("http://127.0.0.1:1/api/{{pluginId}}", nil),
		StaticTokens:   []backstage.StaticToken{{Token: "e2e-static-token-0123456789", Subject: "e2e"}},
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

// TestBackstageIngestsThroughTheProviderModule loads paved's catalog backend
// module (plugins/catalog-backend-module-paved, built by make build-ts) into
// the real Backstage backend: the EntityProvider authenticates to paved with
// the catalog's own plugin token, applies paved's snapshot, and every entity
// shows up with its owner and relations.
func TestBackstageIngestsThroughTheProviderModule(t *testing.T) {
	module, err := filepath.Abs(filepath.Join("..", "plugins", "catalog-backend-module-paved", "dist", "index.cjs.js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(module); err != nil {
		t.Fatalf("the catalog module is not built (run make build-ts): %v", err)
	}
	client, _ := argo(t, "prod")
	createApp(t, client, "prod", "orders", map[string]string{"paved.dev/owner": "team-orders"})
	createApp(t, client, "prod", "payments.api-v2", nil) // dots: a valid app name, sanitized for the catalog
	infra := &memInfra{list: []catalog.Infra{{ID: "r9", Name: "orders-db", Type: "database", App: paved.AppRef{Instance: "prod", Name: "orders"}}}}

	// Backstage binds its port seconds later: below the ephemeral range, no
	// outgoing connection takes it meanwhile.
	bsPort, err := loopback.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// The catalog's plugin tokens are verified against Backstage's own JWKS.
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{
		PluginID:       "paved",
		Discovery:      backstage.NewDiscovery(fmt.Sprintf("http://127.0.0.1:%d/api/{{pluginId}}", bsPort), nil),
		AllowedPlugins: []string{"catalog"},
		Leeway:         10 * time.Second, // Backstage's own clock margin
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	r := catalog.NewRefresher(catalog.RefresherOptions{
		Options: catalog.Options{
			Instances:   []catalog.Instance{{Name: "prod"}},
			LocationURL: catalogtest.YAMLURL(srv.URL, "paved"),
		},
		Apps: client, Infra: infra, Store: openStore(t, filepath.Join(t.TempDir(), "paved.db")),
	})
	srv.Config.Handler = server.New(server.Deps{PluginID: "paved", Auth: verifier, Catalog: r})
	mustRefresh(t, r, true)

	b := backstagehost.StartT(t, backstagehost.Options{
		Port:         bsPort,
		PavedBaseURL: srv.URL + "/api/{{pluginId}}",
		ExtraModules: []string{module},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	get := func(ctx context.Context, kind, ns, name string) (map[string]any, error) {
		return b.WaitEntity(ctx, kind, ns, name)
	}
	if err := catalogtest.VerifyIngested(ctx, get, r.Snapshot()); err != nil {
		t.Fatalf("%v\nbackstage log:\n%s", err, b.Logs())
	}
}
