package server_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/backstage/backstagetest"
	"github.com/paved-dev/paved/costs"
	"github.com/paved-dev/paved/devex/devextest"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

func TestDevexCostsRoute(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	users := backstagetest.NewUsers(t)
	bs := devextest.New(t, "catalog-token-0123456789")
	bs.AddUser("user:default/carol", "group:default/platform")
	bs.AddUser("user:default/dave", "group:default/other")
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{
		AllowedPlugins: []string{"scaffolder", "mcp-actions"},
		PluginID:       "paved", Discovery: backstage.NewDiscovery(users.URL+"/api/{{pluginId}}", nil),
		StaticTokens: []backstage.StaticToken{{Token: testToken, Subject: "test"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	for _, e := range []costs.Entry{
		{ResourceID: "a", Kind: "postgresql", Name: "orders", Team: "group:default/payments", Monthly: 480, Currency: "USD", StartedAt: day},
		{ResourceID: "b", Kind: "postgresql", Name: "carts", Team: "group:default/shop", Monthly: 30, Currency: "USD", StartedAt: day},
	} {
		if err := store.OpenCost(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	budgets := costs.Budgets{Currency: "USD", Teams: map[string]float64{"group:default/payments": 1000}}
	h := server.New(server.Deps{
		PluginID: "paved", Auth: verifier, Invocations: store,
		DevExReaders: []string{"group:default/platform"},
		Membership:   backstage.NewReadClient(backstage.NewDiscovery(bs.Discovery(), nil), backstage.StaticTokenSource(bs.Token), nil),
		Costs:        &costs.Reporter{Store: store, Budgets: budgets},
	})
	f := fixture{handler: h}
	const path = "/api/paved/devex/v1/costs"
	for _, tt := range []struct {
		name, path, token string
		status            int
		errName           string
	}{
		{"no token", path, "", 401, "AuthenticationError"},
		{"member of a reader group", path, users.Mint(t, "user:default/carol"), 200, ""},
		{"not a member", path, users.Mint(t, "user:default/dave"), 403, "NotAllowedError"},
		{"static token", path + "?owner=payments&grouping=week", testToken, 200, ""},
		{"bad range", path + "?from=yesterday", testToken, 400, "InputError"},
		{"bad grouping", path + "?grouping=hour", testToken, 400, "InputError"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, "GET", tt.path, tt.token, "")
			if r.status != tt.status || errorName(r) != tt.errName {
				t.Fatalf("GET %s = %d %s, want %d %s: %s", tt.path, r.status, errorName(r), tt.status, tt.errName, r.raw)
			}
		})
	}
	r := f.do(t, "GET", path, testToken, "")
	total := r.body["total"].(map[string]any)
	teams := r.body["teams"].([]any)
	first := teams[0].(map[string]any)
	if total["monthly"] != 510.0 || total["resources"] != 2.0 || r.body["currency"] != "USD" || len(teams) != 2 ||
		first["team"] != "group:default/payments" || first["budget"] != 1000.0 || first["monthly"] != 480.0 {
		t.Errorf("costs = %s", r.raw)
	}
	if r := f.do(t, "GET", path+"?owner=group:default/shop", testToken, ""); len(r.body["teams"].([]any)) != 1 || r.body["total"].(map[string]any)["monthly"] != 30.0 {
		t.Errorf("costs of shop = %s", r.raw)
	}
	if r := f.do(t, "GET", path+"?format=csv", testToken, ""); r.status != 200 || !strings.HasPrefix(r.raw, "team,kind,resources,monthly,spend,currency\ngroup:default/payments,postgresql,1,480,") {
		t.Errorf("csv = %d %q", r.status, r.raw)
	}
	off := fixture{handler: server.New(server.Deps{PluginID: "paved", Auth: verifier, Invocations: store})}
	if r := off.do(t, "GET", path, testToken, ""); r.status != 503 {
		t.Errorf("without costs: %d %s", r.status, r.raw)
	}
}
