package permission_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

func user(ref string, groups ...string) context.Context {
	return paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: ref, Groups: groups, OnBehalfOf: "limited." + ref})
}

func TestDefaultPolicy(t *testing.T) {
	policy, err := permission.NewPolicy(nil, permission.Readers{DevEx: []string{"group:default/platform"}})
	if err != nil {
		t.Fatal(err)
	}
	a := permission.New(permission.Options{Decider: policy})
	res := &paved.Resource{Type: paved.ResourceInfra, Ref: "r1", Owner: "group:default/team-a", Kind: "postgresql"}
	tests := []struct {
		name string
		ctx  context.Context
		perm paved.Permission
		res  *paved.Resource
		deny string // "" allows; else a part of the refusal
	}{
		{"owner group member deprovisions", user("user:default/jane", "group:default/team-a"), permission.InfraDeprovision, res, ""},
		{"non-member may not deprovision", user("user:default/bob"), permission.InfraDeprovision, res, "rule IS_OWNER"},
		{"non-member may not read the connection", user("user:default/bob"), permission.InfraConnectionRead, res, "rule IS_OWNER"},
		{"anyone provisions", user("user:default/bob"), permission.InfraProvision, res, ""},
		{"a user may not read the audit log", user("user:default/jane"), permission.AuditRead, nil, "paved.audit.read: denied"},
		{"a plugin without user reads the audit log", paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "catalog"}), permission.AuditRead, nil, ""},
		{"a static token reads the audit log", paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalStatic, Subject: "ops"}), permission.AuditRead, nil, ""},
		{"devex readers read", user("user:default/ann", "group:default/platform"), permission.DevExRead, nil, ""},
		{"others do not read devex", user("user:default/bob"), permission.DevExRead, nil, "denied"},
		{"a user may not widen projects", user("user:default/jane"), permission.ProjectWiden, nil, "denied"},
		{"delete of an app needs ownership", user("user:default/jane"), permission.AppDelete, &paved.Resource{Type: paved.ResourceArgoApp, Owner: "group:default/other"}, "IS_OWNER"},
		{"conditional without resource is refused", user("user:default/jane"), permission.AppDelete, nil, "no resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.Authorize(tt.ctx, tt.perm, tt.res)
			if tt.deny == "" && err != nil {
				t.Fatalf("Authorize = %v, want allowed", err)
			}
			if tt.deny != "" && (paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), tt.deny)) {
				t.Fatalf("Authorize = %v, want forbidden with %q", err, tt.deny)
			}
		})
	}
}

func TestConfiguredPolicyLines(t *testing.T) {
	var sizes paved.Criteria
	_ = json.Unmarshal([]byte(`{"anyOf":[{"rule":"HAS_PARAMETER","params":{"parameter":"size","values":["small","medium"]}},{"allOf":[{"rule":"IS_OWNER"},{"rule":"HAS_KIND","params":{"kinds":["postgresql"]}}]}]}`), &sizes)
	policy, err := permission.NewPolicy([]permission.PolicyRule{
		{Permission: "paved.infra.provision", Groups: []string{"platform"}, Result: paved.DecisionAllow},
		{Permission: "paved.infra.provision", Result: paved.DecisionConditional, Conditions: &sizes},
		{Permission: "paved.action.delete-*", Users: []string{"user:default/intern"}, Result: paved.DecisionDeny},
	}, permission.Readers{})
	if err != nil {
		t.Fatal(err)
	}
	a := permission.New(permission.Options{Decider: policy})
	large := &paved.Resource{Type: paved.ResourceInfra, Kind: "redis", Owner: "group:default/team-a", Params: map[string]string{"size": "large"}}
	if err := a.Authorize(user("user:default/ann", "group:default/platform"), permission.InfraProvision, large); err != nil {
		t.Errorf("platform member, large: %v", err)
	}
	err = a.Authorize(user("user:default/bob", "group:default/team-a"), permission.InfraProvision, large)
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), `HAS_PARAMETER {"parameter":"size","values":["small","medium"]}`) {
		t.Errorf("team member, large redis = %v; want the size rule named", err)
	}
	small := *large
	small.Params = map[string]string{"size": "small"}
	if err := a.Authorize(user("user:default/bob"), permission.InfraProvision, &small); err != nil {
		t.Errorf("small: %v", err)
	}
	del := permission.ActionInvoke("delete-argocd-app", false, true)
	if err := a.Authorize(user("user:default/intern"), del, nil); paved.ErrorCode(err) != paved.EForbidden {
		t.Errorf("intern deleting = %v", err)
	}
	ok, err := a.Allowed(user("user:default/intern"), []paved.Permission{del, permission.ActionInvoke("get-argocd-app", true, false)})
	if err != nil || ok[0] || !ok[1] {
		t.Errorf("Allowed = %v, %v; want [false true]", ok, err)
	}

	for _, bad := range []permission.PolicyRule{
		{Result: "MAYBE"},
		{Permission: "paved.audit.read", Result: paved.DecisionConditional, Conditions: &paved.Criteria{Rule: "IS_OWNER"}},
		{Result: paved.DecisionConditional, Conditions: &paved.Criteria{Rule: "NO_SUCH_RULE"}},
		{Action: "destroy", Result: paved.DecisionAllow},
	} {
		if _, err := permission.NewPolicy([]permission.PolicyRule{bad}, permission.Readers{}); err == nil {
			t.Errorf("NewPolicy(%+v) accepted", bad)
		}
	}
}

// TestBackendCachesDecisions drives the permission backend client against a
// server speaking the permission backend's protocol.
func TestBackendCachesDecisions(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/api/permission/authorize" || r.Header.Get("Authorization") != "Bearer obo-token-for:limited.user:default/jane" {
			http.Error(w, `{"error":{"name":"AuthenticationError","message":"bad"}}`, 401)
			return
		}
		var req struct {
			Items []struct {
				ID         string           `json:"id"`
				Permission paved.Permission `json:"permission"`
			} `json:"items"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		var items []map[string]any
		for _, it := range req.Items {
			switch it.Permission.Name {
			case "paved.infra.deprovision":
				items = append(items, map[string]any{"id": it.ID, "result": "CONDITIONAL", "pluginId": "paved", "resourceType": paved.ResourceInfra,
					"conditions": map[string]any{"rule": "IS_OWNER", "resourceType": paved.ResourceInfra, "params": map[string]any{"claims": []string{"user:default/jane", "group:default/team-a"}}}})
			case "paved.audit.read":
				items = append(items, map[string]any{"id": it.ID, "result": "DENY"})
			default:
				items = append(items, map[string]any{"id": it.ID, "result": "ALLOW"})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
	}))
	defer srv.Close()
	a := permission.New(permission.Options{Decider: &permission.Backend{
		BaseURL: func() (string, error) { return srv.URL + "/api/permission", nil },
		Tokens:  fakeTokens{},
	}})
	ctx := user("user:default/jane")
	mine := &paved.Resource{Type: paved.ResourceInfra, Owner: "group:default/team-a"}
	theirs := &paved.Resource{Type: paved.ResourceInfra, Owner: "group:default/team-b", Ref: "r2"}
	if err := a.Authorize(ctx, permission.InfraDeprovision, mine); err != nil {
		t.Errorf("own resource: %v", err)
	}
	if err := a.Authorize(ctx, permission.InfraDeprovision, theirs); paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "paved-infra-resource r2: rule IS_OWNER") {
		t.Errorf("other's resource: %v", err)
	}
	if err := a.Authorize(ctx, permission.AuditRead, nil); paved.ErrorCode(err) != paved.EForbidden {
		t.Errorf("audit: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls to the permission backend, want 2 (one per permission, then cached)", n)
	}
	// A user whose token paved cannot present is refused, not allowed.
	if err := a.Authorize(paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalUser, User: "user:default/x"}), permission.AuditRead, nil); paved.ErrorCode(err) != paved.EForbidden {
		t.Errorf("no obo token: %v", err)
	}
	// The backend down: unavailable (503), never allowed.
	srv.Close()
	if err := a.Authorize(user("user:default/other"), permission.AuditRead, nil); paved.ErrorCode(err) != paved.EUnavailable {
		t.Errorf("backend down: %v", err)
	}
}

type fakeTokens struct{}

func (fakeTokens) OnBehalfOfToken(_ context.Context, aud, obo string) (string, error) {
	return "obo-token-for:" + obo, nil
}

func TestApplyConditions(t *testing.T) {
	in, err := permission.NewIntegration([]paved.Permission{permission.ActionInvoke("get-argocd-app", true, false)},
		map[string]permission.Resources{paved.ResourceInfra: staticResources{"r1": {Type: paved.ResourceInfra, Ref: "r1", Owner: "group:default/a", Kind: "postgresql"}}})
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Permissions []paved.Permission `json:"permissions"`
		Rules       []permission.Rule  `json:"rules"`
	}
	if err := json.Unmarshal(in.Metadata(), &meta); err != nil || len(meta.Permissions) != len(permission.Fixed())+1 || len(meta.Rules) != len(permission.Rules()) {
		t.Fatalf("metadata = %s, %v", in.Metadata(), err)
	}
	out, err := in.ApplyConditions(context.Background(), []byte(`{"items":[
		{"id":"1","resourceRef":"r1","resourceType":"paved-infra-resource","conditions":{"rule":"IS_OWNER","resourceType":"paved-infra-resource","params":{"claims":["group:default/a"]}}},
		{"id":"2","resourceRef":["r1","missing"],"resourceType":"paved-infra-resource","conditions":{"rule":"HAS_KIND","resourceType":"paved-infra-resource","params":{"kinds":["postgresql"]}}}]}`))
	b, _ := json.Marshal(out)
	if err != nil || string(b) != `{"items":[{"id":"1","result":"ALLOW"},{"id":"2","result":["ALLOW","DENY"]}]}` {
		t.Errorf("apply-conditions = %s, %v", b, err)
	}
	_, err = in.ApplyConditions(context.Background(), []byte(`{"items":[{"id":"1","resourceRef":"r1","resourceType":"catalog-entity","conditions":{"rule":"IS_OWNER"}}]}`))
	if paved.ErrorCode(err) != paved.EInvalid || !strings.Contains(err.Error(), "items.0.resourceType") {
		t.Errorf("unknown resource type = %v", err)
	}
}

type staticResources map[string]*paved.Resource

func (s staticResources) PermissionResources(_ context.Context, refs []string) (map[string]*paved.Resource, error) {
	out := map[string]*paved.Resource{}
	for _, r := range refs {
		if v, ok := s[r]; ok {
			out[r] = v
		}
	}
	return out, nil
}

// catalogGroups answers a user's groups, or fails while down is set.
type catalogGroups struct {
	down   atomic.Bool
	groups map[string][]string
}

func (c *catalogGroups) UserGroups(_ context.Context, user string) ([]string, error) {
	if c.down.Load() {
		return nil, paved.Errorf(paved.EUnavailable, "catalog answered 503")
	}
	return c.groups[user], nil
}

// A user whose groups the catalog cannot give is not denied what the groups
// may allow: the call is unavailable, says why, and is decided afresh once
// the catalog answers (a denial made without the groups is never cached).
func TestGroupsUnavailable(t *testing.T) {
	policy, err := permission.NewPolicy(nil, permission.Readers{DevEx: []string{"group:default/platform"}})
	if err != nil {
		t.Fatal(err)
	}
	catalog := &catalogGroups{groups: map[string][]string{"user:default/ann": {"group:default/platform"}}}
	catalog.down.Store(true)
	a := permission.New(permission.Options{Decider: policy, Membership: catalog})
	ann := user("user:default/ann") // her token lists no groups

	err = a.Authorize(ann, permission.DevExRead, nil)
	if paved.ErrorCode(err) != paved.EUnavailable || !strings.Contains(err.Error(), "catalog") {
		t.Fatalf("catalog down: Authorize = %v, want unavailable naming the catalog", err)
	}
	// What every user may do does not need the groups.
	if err := a.Authorize(ann, permission.InfraProvision, nil); err != nil {
		t.Fatalf("catalog down: provision (allowed to all) = %v", err)
	}
	catalog.down.Store(false)
	if err := a.Authorize(ann, permission.DevExRead, nil); err != nil {
		t.Fatalf("catalog back: Authorize = %v, want allowed (no denial cached while it was down)", err)
	}
}
