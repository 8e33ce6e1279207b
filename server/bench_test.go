package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// instantApps answers at once: the benchmarks measure paved's own overhead
// (HTTP, token verification, schema validation, audit record), not Argo CD.
type instantApps struct{}

func (instantApps) Instances() []string { return []string{"default"} }
func (instantApps) CreateApp(_ context.Context, r paved.AppRequest) (paved.App, error) {
	return paved.App{AppRef: r.AppRef, URL: "https://argocd.example/applications/" + r.Name, SyncStatus: "Synced", HealthStatus: "Healthy", Created: true}, nil
}
func (instantApps) GetApp(_ context.Context, ref paved.AppRef, _ bool) (paved.App, error) {
	return paved.App{AppRef: ref, SyncStatus: "Synced", HealthStatus: "Healthy"}, nil
}
func (instantApps) SyncApp(_ context.Context, r paved.SyncRequest) (paved.App, error) {
	return paved.App{AppRef: r.AppRef}, nil
}
func (instantApps) DeleteApp(context.Context, paved.DeleteRequest) error { return nil }

// benchServer is paved's real router with the real Argo CD actions, a real
// SQLite audit log and real ES256 plugin tokens from a "scaffolder" whose JWKS
// is served over HTTP, as Backstage does.
func benchServer(b *testing.B) (base, token string) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "paved.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	scaffStore, err := sqlite.Open(ctx, filepath.Join(dir, "scaffolder.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { scaffStore.Close() })
	scaffolderKeys, err := backstage.NewSigner(ctx, scaffStore, "scaffolder", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := scaffolderKeys.JWKS(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(jwks.Close)
	token, err = scaffolderKeys.PluginToken(ctx, "paved")
	if err != nil {
		b.Fatal(err)
	}
	pavedKeys, err := backstage.NewSigner(ctx, store, "paved", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{AllowedPlugins: []string{"scaffolder", "mcp-actions"}, PluginID: "paved", Discovery: backstage.NewDiscovery(jwks.URL+"/api/{{pluginId}}", nil)})
	if err != nil {
		b.Fatal(err)
	}
	var rec scaffolder.Recorder = store
	if os.Getenv("BENCH_NO_RECORD") != "" {
		rec = nil
	}
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved", Recorder: rec})
	if err != nil {
		b.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: instantApps{}})...); err != nil {
		b.Fatal(err)
	}
	var h *echo.Echo = server.New(server.Deps{PluginID: "paved", Auth: verifier, Actions: reg, Keys: pavedKeys, Invocations: store})
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL, token
}

func BenchmarkListActions(b *testing.B) {
	base, token := benchServer(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", base+"/api/paved/.backstage/actions/v1/actions", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lists/s")
}
