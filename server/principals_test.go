package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// The principals of the table, in the order of its columns.
var principalNames = []string{"anonymous", "static", "plugin", "plugin+obo", "user"}

// principalRow is one route (or, for invoke, one action) and the status
// each principal gets for a valid call: anonymous, a static token, a plugin
// token without obo (scaffolder acting as itself), the scaffolder on behalf
// of carol, carol's own user token. carol is in group platform (the adoption
// readers); the policy denies her destructive actions and the feedback
// comments, and nothing else beyond paved's defaults.
type principalRow struct {
	key      string // "METHOD /route" of routes.go, or "invoke <action id>"
	statuses string // one status per principal, separated by spaces
}

var principalTable = []principalRow{
	{"GET /healthz", "200 200 200 200 200"},
	{"GET /readyz", "200 200 200 200 200"},
	{"GET /metrics", "200 200 200 200 200"},
	{"GET /api/paved/.backstage/auth/v1/jwks.json", "200 200 200 200 200"},
	{"GET /api/paved/.backstage/actions/v1/actions", "401 200 200 200 200"},
	{"GET /api/paved/.backstage/actions/v1/status", "401 200 200 403 403"},
	{"GET /api/paved/.well-known/backstage/permissions/metadata", "401 200 200 200 200"},
	{"POST /api/paved/.well-known/backstage/permissions/apply-conditions", "401 200 200 403 403"},
	{"GET /api/paved/invocations", "401 200 200 403 403"},
	{"POST /api/paved/admin/keys/rotate", "401 200 403 403 403"},
	{"GET /api/paved/catalog/entities", "401 200 200 200 200"},
	{"GET /api/paved/catalog/entities.yaml", "401 200 200 200 200"},
	{"GET /api/paved/catalog/changes", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/summary", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/templates", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/timeseries", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/coverage", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/deployments", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/funnel", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/satisfaction", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/slos", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/freshness", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/dora", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/costs", "401 200 200 200 200"},
	{"GET /api/paved/devex/v1/feedback/comments", "401 200 200 403 403"},
	{"GET /api/paved/devex/v1/feedback/runs", "401 403 403 200 200"},
	{"GET /api/paved/devex/v1/feedback/runs/:taskId", "401 403 403 404 404"},
	{"PUT /api/paved/devex/v1/feedback/runs/:taskId", "401 403 403 400 400"},
	{"GET /api/paved/infra/:id/connection", "401 404 404 404 404"}, // no such resource: 404 before who may read it
	{"GET /api/paved/infra/v1/resources", "401 200 200 200 200"},
	{"GET /api/paved/infra/v1/resources/:id", "401 404 404 404 404"},
	{"POST /api/paved/infra/v1/resources/:id/extend", "401 404 404 404 404"},
	{"DELETE /api/paved/infra/v1/resources/:id", "401 404 404 404 404"},
	{"GET /api/paved/apps/v1/by-entity", "401 200 200 200 200"},
	{"POST /api/paved/apps/v1/instances/:instance/apps/:name/sync", "401 404 404 404 404"},
	{"GET /api/paved/approvals/v1/requests", "401 200 200 200 200"},
	{"GET /api/paved/approvals/v1/requests/:id", "401 404 404 404 404"},
	{"POST /api/paved/approvals/v1/requests/:id/approve", "401 404 404 404 404"},
	{"POST /api/paved/approvals/v1/requests/:id/reject", "401 400 400 400 400"}, // a rejection without its comment
	// Every action, through v1 and v2 invoke alike, with an empty input.
	{"invoke paved:create-argocd-app", "401 400 400 400 400"},
	{"invoke paved:get-argocd-app", "401 400 400 400 400"},
	{"invoke paved:sync-argocd-app", "401 400 400 400 400"},
	{"invoke paved:wait-argocd-app", "401 400 400 400 400"},
	{"invoke paved:delete-argocd-app", "401 400 400 403 403"},
	{"invoke paved:create-argocd-appset", "401 400 400 400 400"},
	{"invoke paved:get-argocd-appset", "401 400 400 400 400"},
	{"invoke paved:delete-argocd-appset", "401 400 400 403 403"},
	{"invoke paved:list-infra-kinds", "401 200 200 200 200"},
	{"invoke paved:provision-infra", "401 400 400 400 400"},
	{"invoke paved:deprovision-infra", "401 400 400 403 403"},
}

// TestPrincipalRouteTable calls every route of routes.go, and every action
// through both invoke routes, as each kind of principal, and compares the
// status with the table. A route or an action without a row fails.
func TestPrincipalRouteTable(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := newHostileWith(t, store, []permission.PolicyRule{
		{Permission: "paved.action.*", Action: "delete", Users: []string{"user:default/carol"}, Result: paved.DecisionDeny},
		{Permission: permission.FeedbackCommentsRead.Name, Users: []string{"user:default/carol"}, Result: paved.DecisionDeny},
	})
	carol := "user:default/carol"
	tokens := map[string]string{
		"anonymous":  "",
		"static":     testToken,
		"plugin":     f.users.MintPlugin(t, "scaffolder", "paved", ""),
		"plugin+obo": f.users.MintPlugin(t, "scaffolder", "paved", f.users.MintLimited(t, carol)),
		"user":       f.users.Mint(t, carol),
	}

	rows := map[string][]int{}
	for _, r := range principalTable {
		if _, dup := rows[r.key]; dup {
			t.Fatalf("two rows for %s", r.key)
		}
		var statuses []int
		for _, s := range strings.Fields(r.statuses) {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("%s: status %q", r.key, s)
			}
			statuses = append(statuses, n)
		}
		if len(statuses) != len(principalNames) {
			t.Fatalf("%s: %d statuses for %d principals", r.key, len(statuses), len(principalNames))
		}
		rows[r.key] = statuses
	}

	// Every route registered, and every action served, has a row.
	targets := map[string]string{}
	for _, r := range hostileRoutes {
		targets[r.method+" "+r.route] = r.target
	}
	var keys []string
	for _, r := range f.echo.Routes() {
		key := r.Method + " " + r.Path
		if r.Method == echo.RouteNotFound || strings.HasSuffix(r.Path, "/:id/invoke") {
			continue
		}
		if _, ok := rows[key]; !ok {
			t.Errorf("route %s has no row in principalTable", key)
		}
		keys = append(keys, key)
	}
	list := f.serve(t, hostileRequest{method: "GET", target: "/api/paved/.backstage/actions/v1/actions", header: bearer(testToken)})
	var actions struct{ Actions []struct{ ID string } }
	if err := json.Unmarshal(list.raw, &actions); err != nil || len(actions.Actions) == 0 {
		t.Fatalf("action list: %d %s", list.status, list.raw)
	}
	for _, a := range actions.Actions {
		key := "invoke " + a.ID
		if _, ok := rows[key]; !ok {
			t.Errorf("action %s has no row in principalTable", a.ID)
		}
		keys = append(keys, key)
	}
	for key := range rows {
		if !slices.Contains(keys, key) {
			t.Errorf("row %s names no route or action", key)
		}
	}

	// A valid body where a route needs one beyond {}.
	bodies := map[string]string{"POST /api/paved/infra/v1/resources/:id/extend": `{"by":"1d"}`}
	call := func(key, method, target, token string) hostileResponse {
		h := http.Header{"Content-Type": {"application/json"}}
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		body := bodies[key]
		if body == "" {
			body = "{}"
		}
		return f.serve(t, hostileRequest{method: method, target: target, header: h, body: body})
	}
	for _, key := range keys {
		want := rows[key]
		for i, who := range principalNames {
			var got []hostileResponse
			if id, ok := strings.CutPrefix(key, "invoke "); ok {
				got = append(got, call(key, "POST", hostileV1+id+"/invoke", tokens[who]), call(key, "POST", hostileV2+id+"/invoke", tokens[who]))
			} else {
				method, _, _ := strings.Cut(key, " ")
				got = append(got, call(key, method, targets[key], tokens[who]))
			}
			for _, resp := range got {
				if resp.status != want[i] {
					t.Errorf("%s as %s: %d, want %d: %.300s", key, who, resp.status, want[i], resp.raw)
					continue
				}
				if resp.status >= 400 {
					if msg := checkErrorJSON(resp); msg != "" {
						t.Errorf("%s as %s: %s", key, who, msg)
					}
				}
				if resp.status == http.StatusForbidden && (who == "user" || who == "plugin+obo") && !strings.Contains(string(resp.raw), carol) {
					t.Errorf("%s as %s: the refusal does not name %s: %s", key, who, carol, resp.raw)
				}
			}
		}
	}
}
