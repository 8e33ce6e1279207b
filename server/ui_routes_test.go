package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/argocd/argocdtest"
)

// TestUIRoutesByPrincipal is the principal table of the routes behind
// paved's Backstage cards: each route with an operator's static token, a
// member of the owner group, a user outside it and no token, on a resource
// and an application that exist.
func TestUIRoutesByPrincipal(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		provision := func(name string) string {
			t.Helper()
			resp := f.serve(t, hostileRequest{method: "POST", target: hostileV1 + "paved:provision-infra/invoke", header: bearer(testToken),
				body: `{"kind":"s3-bucket","name":"` + name + `","owner":"group:default/platform","parameters":{"region":"eu-west-1"},"ttl":"1d","entityRef":"component:default/shop"}`})
			var out struct {
				Output struct{ ID string } `json:"output"`
			}
			if err := json.Unmarshal(resp.raw, &out); err != nil || resp.status != 200 || out.Output.ID == "" {
				t.Fatalf("provision: %d %s", resp.status, resp.raw)
			}
			return out.Output.ID
		}
		id := provision("assets")
		created := f.serve(t, hostileRequest{method: "POST", target: hostileV1 + "paved:create-argocd-app/invoke", header: bearer(testToken),
			body: `{"name":"shop","source":{"repoURL":"https://git.test/x.git","path":"a"},"destination":{"namespace":"shop"},
				"entityRef":"component:default/shop","annotations":{"paved.dev/owner":"group:default/platform"}}`})
		if created.status != 200 {
			t.Fatalf("create app: %d %s", created.status, created.raw)
		}
		// The controller could not render the app: the card says why.
		const notThere = "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = a: app path does not exist"
		if !f.argo.SetCondition("", "shop", "ComparisonError", notThere) {
			t.Fatal("no app shop in Argo CD")
		}
		res := "/api/paved/infra/v1/resources/" + id
		const sync = "/api/paved/apps/v1/instances/prod/apps/shop/sync"
		tokens := map[string]string{"static": testToken, "member": f.readerTk, "outsider": f.otherTk, "none": ""}
		cases := []struct {
			who, method, target, body string
			status                    int
			inBody                    string
		}{
			{"none", "GET", "/api/paved/infra/v1/resources", "", 401, ""},
			{"outsider", "GET", "/api/paved/infra/v1/resources?owner=group:default/platform", "", 200, `"canManage":false`},
			{"member", "GET", "/api/paved/infra/v1/resources?owner=platform", "", 200, `"canManage":true,"canReadConnection":false`},
			{"member", "GET", "/api/paved/infra/v1/resources?entityRef=shop", "", 200, `"name":"assets"`},
			{"member", "GET", "/api/paved/infra/v1/resources?entityRef=component:default/other", "", 200, `"items":[]`},
			{"member", "GET", "/api/paved/infra/v1/resources?owner=group:x/", "", 400, `"field":"owner"`},
			{"static", "GET", res, "", 200, `"canManage":true`},
			{"member", "GET", res, "", 200, `"costMonthly":"5 USD"`}, // the kind's price, as the catalog's paved.dev/cost-monthly
			{"outsider", "GET", res, "", 200, `"canManage":false`},
			{"outsider", "POST", res + "/extend", `{"by":"1d"}`, 403, "may not paved.infra.extend on paved-infra-resource"},
			{"member", "POST", res + "/extend", `{"by":"2x"}`, 400, `"field":"by"`},
			{"member", "POST", res + "/extend", `{"by":"9999d"}`, 400, `"field":"by"`},
			{"member", "POST", res + "/extend", `{"by":"1d"}`, 200, `"id":"` + id},
			{"static", "POST", res + "/extend", `{"by":"1h"}`, 200, `"id":"` + id},
			{"none", "GET", "/api/paved/apps/v1/by-entity?entityRef=component:default/shop", "", 401, ""},
			{"outsider", "GET", "/api/paved/apps/v1/by-entity?entityRef=component:default/shop", "", 200, `"canSync":false`},
			{"member", "GET", "/api/paved/apps/v1/by-entity?entityRef=shop", "", 200, `"canSync":true`},
			{"outsider", "GET", "/api/paved/apps/v1/by-entity?entityRef=shop", "", 200, `"problems":[{"status":"ComparisonError","message":"` + notThere + `"}]`},
			{"member", "GET", "/api/paved/apps/v1/by-entity", "", 400, `"field":"entityRef"`},
			{"member", "GET", "/api/paved/apps/v1/by-entity?entityRef=component:default/nothing", "", 200, `"items":[]`},
			{"outsider", "POST", sync, "", 403, "not the owner"},
			{"member", "POST", "/api/paved/apps/v1/instances/prod/apps/nope/sync", "", 404, ""},
			{"member", "POST", "/api/paved/apps/v1/instances/elsewhere/apps/shop/sync", "", 404, "elsewhere"},
			{"member", "POST", sync, "", 200, `"name":"shop"`},
			{"static", "POST", sync, "", 200, `"name":"shop"`},
			{"outsider", "DELETE", res, "", 403, "rule IS_OWNER"},
			{"member", "DELETE", res, "", 200, `"deleted":true`},
			{"member", "DELETE", res, "", 404, ""},
			{"member", "GET", res, "", 404, ""},
		}
		syncs := f.argo.Calls(argocdtest.MethodAppSync)
		for _, c := range cases {
			req := hostileRequest{method: c.method, target: c.target, header: bearer(tokens[c.who]), body: c.body}
			if c.who == "none" {
				req.header = nil
			}
			resp := f.serve(t, req)
			if resp.status != c.status || !strings.Contains(string(resp.raw), c.inBody) {
				t.Errorf("%s %s %s as %s: %d %s, want %d with %q", c.method, c.target, c.body, c.who, resp.status, resp.raw, c.status, c.inBody)
			}
			if resp.status >= 400 {
				checkError(t, c.who, req, resp, "")
			}
		}
		if got := f.argo.Calls(argocdtest.MethodAppSync) - syncs; got != 2 {
			t.Errorf("%d syncs reached Argo CD, want 2 (the member's and the operator's)", got)
		}

		// The extensions add up from the expiry, not from now.
		id2 := provision("logs")
		var before, after struct {
			ExpiresAt time.Time `json:"expiresAt"`
		}
		mustJSONBody(t, f.serve(t, hostileRequest{method: "GET", target: "/api/paved/infra/v1/resources/" + id2, header: bearer(f.readerTk)}), &before)
		mustJSONBody(t, f.serve(t, hostileRequest{method: "POST", target: "/api/paved/infra/v1/resources/" + id2 + "/extend", header: bearer(f.readerTk), body: `{"by":"2d"}`}), &after)
		if d := after.ExpiresAt.Sub(before.ExpiresAt); d != 48*time.Hour {
			t.Errorf("extend by 2d moved the expiry by %s", d)
		}
	})
}

func mustJSONBody(t *testing.T, resp hostileResponse, v any) {
	t.Helper()
	if resp.status != 200 {
		t.Fatalf("%d %s", resp.status, resp.raw)
	}
	if err := json.Unmarshal(resp.raw, v); err != nil {
		t.Fatal(err)
	}
}
