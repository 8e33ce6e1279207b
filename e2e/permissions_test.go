//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/pavedproc"
	"github.com/paved-dev/paved/gitops/gitopstest"
)

// permissionEntities are the people of the permission test and two
// templates run on their behalf: alice is in platform, bob in team-a, eve in
// team-b.
const permissionEntities = `apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: platform}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: alice}
spec: {memberOf: [platform]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: bob}
spec: {memberOf: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: eve}
spec: {memberOf: [team-b]}
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-perm-provision
  title: e2e provision a database as the user
spec:
  owner: group:default/platform
  type: resource
  parameters:
    - required: [name, owner, size]
      properties:
        name: {type: string}
        owner: {type: string}
        size: {type: string}
  steps:
    - id: db
      name: Provision the database
      action: paved:provision-infra
      input:
        kind: postgresql
        name: ${{ parameters.name }}
        owner: ${{ parameters.owner }}
        parameters:
          size: ${{ parameters.size }}
          region: eu-west-1
  output:
    id: ${{ steps.db.output.id }}
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-perm-deprovision
  title: e2e deprovision a database as the user
spec:
  owner: group:default/platform
  type: resource
  parameters:
    - required: [id]
      properties:
        id: {type: string}
  steps:
    - id: teardown
      name: Deprovision the database
      action: paved:deprovision-infra
      input:
        id: ${{ parameters.id }}
  output:
    deprovisioned: ${{ steps.teardown.output.deprovisioned }}
`

// TestPermissionPolicy runs paved against Backstage's real permission
// backend (@backstage/plugin-permission-backend) with the policy module of
// e2e/backstagehost/permission-policy.js, users signed in by the real auth
// backend: each of paved's decisions allowed for one user and denied for
// another, through the scaffolder (the reason in the task's events) and
// directly with the user's own token (the reason in the 403), the action
// list per user, and the latency a decision adds.
func TestPermissionPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := repoRoot()

	gitURL, _ := gitopstest.Serve(t)
	store := scenarioDatabase(t)
	admin := serverURL(t, store)
	h := startPermissionHost(t, ctx, permissionHostOptions{
		Database: store,
		PavedConfig: fmt.Sprintf(`
gitops:
  url: %s
infra:
  kindsDir: %s
`, gitURL, filepath.Join(root, "examples", "infra-kinds")),
		Env:       []string{"PAVED_INFRA_POSTGRES_URL=" + admin},
		Entities:  permissionEntities,
		Templates: []string{"e2e-perm-provision", "e2e-perm-deprovision"},
		Users:     map[string]string{"alice": "platform", "bob": "team-a", "eve": "team-b"},
		MCP:       true,
	})
	p, bs, token, c := h.p, h.bs, h.token, h.c
	suffix := randomHex(3)
	run := func(t *testing.T, user, template string, values map[string]any) backstagehost.Task {
		t.Helper()
		return h.run(t, ctx, user, template, values)
	}

	t.Run("the action list differs per user", func(t *testing.T) {
		alice := listActions(t, ctx, p, token["alice"])
		bob := listActions(t, ctx, p, token["bob"])
		static := listActions(t, ctx, p, p.Token)
		for _, id := range []string{"paved:provision-infra", "paved:deprovision-infra", "paved:list-infra-kinds", "paved:get-argocd-app"} {
			if !slices.Contains(alice, id) || !slices.Contains(bob, id) {
				t.Errorf("%s: alice sees it %t, bob %t; the policy lets both", id, slices.Contains(alice, id), slices.Contains(bob, id))
			}
		}
		for _, id := range []string{"paved:create-argocd-app", "paved:delete-argocd-app", "paved:sync-argocd-app"} {
			if !slices.Contains(alice, id) || slices.Contains(bob, id) {
				t.Errorf("%s: alice sees it %t, bob %t; the policy lets platform only", id, slices.Contains(alice, id), slices.Contains(bob, id))
			}
		}
		if len(static) != len(alice) || len(bob) >= len(alice) {
			t.Errorf("actions: static token %d, alice %d, bob %d", len(static), len(alice), len(bob))
		}
		res, err := c.invokeAs(ctx, token["bob"], "paved:delete-argocd-app", map[string]any{"instance": "default", "name": "shop"})
		if err != nil {
			t.Fatal(err)
		}
		forbidden(t, "bob invokes delete-argocd-app", res.Status, res.Error.Name, res.Error.Message, "user:default/bob", "paved.action.delete-argocd-app.invoke")
	})

	var bobDB, platformDB, bobRun string
	t.Run("size large only for group platform", func(t *testing.T) {
		small := "perm-small-" + suffix
		dropLater(t, admin, strings.ReplaceAll(small, "-", "_"))
		task := run(t, "bob", "e2e-perm-provision", map[string]any{"name": small, "owner": "group:default/team-a", "size": "small"})
		if task.Status != "completed" {
			t.Fatalf("bob provisions a small database for his team: %s", taskFailure(task))
		}
		bobDB, _ = task.Output["id"].(string)
		bobRun = task.ID

		large := "perm-large-" + suffix
		dropLater(t, admin, strings.ReplaceAll(large, "-", "_"))
		task = run(t, "bob", "e2e-perm-provision", map[string]any{"name": large, "owner": "group:default/team-a", "size": "large"})
		taskEventsSay(t, task, "403", "user:default/bob may not paved.infra.provision", "HAS_PARAMETER")

		res, err := c.invokeAs(ctx, token["bob"], "paved:provision-infra", map[string]any{"kind": "postgresql", "name": large, "owner": "group:default/team-a",
			"parameters": map[string]any{"size": "large", "region": "eu-west-1"}})
		if err != nil {
			t.Fatal(err)
		}
		forbidden(t, "bob provisions large with his token", res.Status, res.Error.Name, res.Error.Message, "paved.infra.provision", "not HAS_PARAMETER")

		platformName := "perm-platform-" + suffix
		dropLater(t, admin, strings.ReplaceAll(platformName, "-", "_"))
		task = run(t, "alice", "e2e-perm-provision", map[string]any{"name": platformName, "owner": "group:default/platform", "size": "large"})
		if task.Status != "completed" {
			t.Fatalf("alice (platform) provisions a large database: %s", taskFailure(task))
		}
		platformDB, _ = task.Output["id"].(string)
	})

	t.Run("members of the owner group may deprovision", func(t *testing.T) {
		if bobDB == "" {
			t.Skip("no database of team-a")
		}
		task := run(t, "eve", "e2e-perm-deprovision", map[string]any{"id": bobDB})
		taskEventsSay(t, task, "403", "user:default/eve may not paved.infra.deprovision", "IS_OWNER")

		res, err := c.invokeAs(ctx, token["eve"], "paved:deprovision-infra", map[string]any{"id": bobDB})
		if err != nil {
			t.Fatal(err)
		}
		forbidden(t, "eve deprovisions team-a's database with her token", res.Status, res.Error.Name, res.Error.Message, "paved.infra.deprovision", "IS_OWNER")

		// The connection details: the owner group's members only.
		connURL := p.BaseURL + "/api/paved/infra/" + bobDB + "/connection"
		if status, body := getConnection(t, ctx, connURL, token["bob"]); status != http.StatusOK {
			t.Errorf("bob reads his team's connection details: %d %s", status, body)
		}
		status, body := getConnection(t, ctx, connURL, token["eve"])
		var e struct {
			Error struct{ Name, Message string }
		}
		_ = json.Unmarshal(body, &e)
		forbidden(t, "eve reads team-a's connection details", status, e.Error.Name, e.Error.Message, "paved.infra.connection.read", "IS_OWNER")

		task = run(t, "bob", "e2e-perm-deprovision", map[string]any{"id": bobDB})
		if task.Status != "completed" || task.Output["deprovisioned"] != true {
			t.Fatalf("bob deprovisions his team's database: %s (output %v)", taskFailure(task), task.Output)
		}
	})

	// An AI agent: the official MCP SDK through Backstage's mcp-actions
	// plugin, signed in as the user; paved sees the plugin acting for them.
	t.Run("an MCP client sees and may call what the user may", func(t *testing.T) {
		toolNamed := func(tools []backstagehost.MCPTool, action string) (backstagehost.MCPTool, bool) {
			for _, tool := range tools {
				if strings.HasSuffix(tool.Name, action) {
					return tool, true
				}
			}
			return backstagehost.MCPTool{}, false
		}
		bobTools, err := bs.MCPListTools(ctx, token["bob"])
		if err != nil {
			t.Fatal(err)
		}
		aliceTools, err := bs.MCPListTools(ctx, token["alice"])
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := toolNamed(bobTools, "list-infra-kinds"); !ok {
			t.Fatalf("bob's MCP tools lack list-infra-kinds: %+v", bobTools)
		}
		if _, ok := toolNamed(bobTools, "delete-argocd-app"); ok {
			t.Errorf("bob's MCP tools hold delete-argocd-app, which the policy keeps for platform")
		}
		if tool, ok := toolNamed(aliceTools, "delete-argocd-app"); !ok || !tool.Annotations.DestructiveHint {
			t.Errorf("alice's MCP tools: delete-argocd-app %+v (found %t), want it, destructive", tool, ok)
		}
		list, _ := toolNamed(bobTools, "list-infra-kinds")
		res, err := bs.MCPCallTool(ctx, token["bob"], list.Name, map[string]any{})
		if err != nil || res.IsError || !strings.Contains(res.Text(), "postgresql") {
			t.Fatalf("bob calls %s: %+v, %v", list.Name, res, err)
		}
		if platformDB == "" {
			t.Skip("no database of platform")
		}
		deprovision, ok := toolNamed(bobTools, "deprovision-infra")
		if !ok {
			t.Fatalf("bob's MCP tools lack deprovision-infra")
		}
		res, err = bs.MCPCallTool(ctx, token["bob"], deprovision.Name, map[string]any{"id": platformDB})
		if err != nil || !res.IsError || !strings.Contains(res.Text(), "NotAllowedError") || !strings.Contains(res.Text(), "IS_OWNER") {
			t.Errorf("bob deprovisions platform's database through MCP: %+v, %v; want an error naming IS_OWNER", res, err)
		}
	})

	t.Run("audit and adoption metrics for platform", func(t *testing.T) {
		for _, route := range []string{"/api/paved/invocations?limit=100", "/api/paved/devex/v1/summary"} {
			perm := "paved.audit.read"
			if strings.Contains(route, "devex") {
				perm = "paved.devex.read"
			}
			status, body := getConnection(t, ctx, p.BaseURL+route, token["bob"])
			var e struct {
				Error struct{ Name, Message string }
			}
			_ = json.Unmarshal(body, &e)
			forbidden(t, "bob GET "+route, status, e.Error.Name, e.Error.Message, "user:default/bob", perm)
			if status, body := getConnection(t, ctx, p.BaseURL+route, token["alice"]); status != http.StatusOK {
				t.Errorf("alice GET %s: %d %s", route, status, body)
			}
		}
		// Denied calls are in the audit log with the rule that denied them.
		status, body := getConnection(t, ctx, p.BaseURL+"/api/paved/invocations?limit=200&action=paved:provision-infra", token["alice"])
		if status != http.StatusOK {
			t.Fatalf("alice reads the audit log: %d %s", status, body)
		}
		var audit struct{ Items []invocation }
		if err := json.Unmarshal(body, &audit); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(audit.Items, func(in invocation) bool {
			return in.Status == "failed" && strings.Contains(in.Error, "HAS_PARAMETER")
		}) {
			t.Errorf("no refused provisioning with its rule in the audit log: %+v", audit.Items)
		}
	})

	// Developer feedback with what Backstage really hands paved: the task
	// the real scaffolder ran as bob (its createdBy), the users' own tokens,
	// and the comments decided by the real permission backend
	// (paved.devex.feedback.read: platform only in this policy).
	t.Run("feedback on one's own run, comments for platform", func(t *testing.T) {
		if bobRun == "" {
			t.Skip("no run of bob")
		}
		feedback := p.BaseURL + "/api/paved/devex/v1/feedback/runs/" + bobRun
		errorOf := func(body []byte) (name, message string) {
			var e struct {
				Error struct{ Name, Message string }
			}
			_ = json.Unmarshal(body, &e)
			return e.Error.Name, e.Error.Message
		}
		status, body := requestAs(t, ctx, http.MethodPut, feedback, token["eve"], `{"score": 1, "comment": "not mine"}`)
		name, eveRefused := errorOf(body)
		forbidden(t, "eve rates bob's run", status, name, eveRefused, "user:default/eve did not start run")
		// A comment is data: a spreadsheet must not run it from the CSV.
		const comment = "=cmd|' /C calc'!A0 the database came up in a minute"
		status, body = requestAs(t, ctx, http.MethodPut, feedback, token["bob"], `{"score": 4, "comment": "`+strings.ReplaceAll(comment, "'", "\u0027")+`"}`)
		if status != http.StatusCreated {
			t.Fatalf("bob rates his run %s: %d %s", bobRun, status, body)
		}
		var run struct {
			TemplateRef string
			Editable    bool
			Feedback    struct{ Score int }
		}
		if err := json.Unmarshal(body, &run); err != nil || run.TemplateRef != "template:default/e2e-perm-provision" || !run.Editable || run.Feedback.Score != 4 {
			t.Errorf("bob's answer: %s, want his run of e2e-perm-provision, editable, scored 4", body)
		}

		comments := p.BaseURL + "/api/paved/devex/v1/feedback/comments"
		status, body = getConnection(t, ctx, comments, token["bob"])
		name, bobRefused := errorOf(body)
		forbidden(t, "bob reads the comments", status, name, bobRefused, "user:default/bob may not paved.devex.feedback.read")
		status, body = getConnection(t, ctx, comments, token["alice"])
		if status != http.StatusOK || !strings.Contains(string(body), "the database came up in a minute") || strings.Contains(string(body), "bob") {
			t.Errorf("alice (platform) reads the comments: %d %s, want bob's comment without his name", status, body)
		}
		status, body = getConnection(t, ctx, comments+"?format=csv", token["alice"])
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if status != http.StatusOK || err != nil || len(rows) != 2 || rows[1][4] != "'"+comment {
			t.Fatalf("the comments' CSV: %d %v %q, want the comment behind an apostrophe", status, err, rows)
		}
		t.Logf("E2E feedback through the real backend: eve refused (%s); bob's answer stored; comments: bob refused (%s), alice reads them; CSV cell %q",
			eveRefused, bobRefused, rows[1][4])
	})

	t.Run("latency of a decision", func(t *testing.T) {
		// A cache miss is one round trip to the permission backend on the
		// user's behalf, measured here as Backstage answers it.
		const n = 15
		var direct []float64
		for i := 0; i < n; i++ {
			began := time.Now()
			authorizeAsUser(t, ctx, bs, token["bob"], fmt.Sprintf("paved.e2e.latency%d", i))
			direct = append(direct, ms(time.Since(began)))
		}
		// Through paved: the first call after paved's decision cache (10 s)
		// expired misses it, the next ones hit it.
		tk, _, err := bs.SignIn(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		var miss, hit []float64
		for i := 0; i < 3; i++ {
			time.Sleep(11 * time.Second) // past paved's decision cache
			began := time.Now()
			if status, body := getConnection(t, ctx, p.BaseURL+"/api/paved/devex/v1/summary", tk); status != http.StatusOK {
				t.Fatalf("alice GET summary: %d %s", status, body)
			}
			miss = append(miss, ms(time.Since(began)))
			for j := 0; j < 3; j++ {
				began = time.Now()
				if status, body := getConnection(t, ctx, p.BaseURL+"/api/paved/devex/v1/summary", tk); status != http.StatusOK {
					t.Fatalf("alice GET summary: %d %s", status, body)
				}
				hit = append(hit, ms(time.Since(began)))
			}
		}
		sort.Float64s(direct)
		t.Logf("PERMISSION-LATENCY permission backend authorize round trip (the user's token, real backend): median %.2f ms over %d", median(direct), n)
		t.Logf("PERMISSION-LATENCY GET devex/v1/summary as a user: cache miss median %.2f ms, cache hit median %.2f ms (added by a miss %.2f ms)",
			median(miss), median(hit), median(miss)-median(hit))
	})
}

// permissionHost is paved on PostgreSQL behind a real Backstage backend
// whose permission framework is on (@backstage/plugin-permission-backend
// with the policy of e2e/backstagehost/permission-policy.js), paved asking
// it (permission.backstage: true), and users signed in through Backstage's
// real auth backend.
type permissionHost struct {
	p     *pavedproc.Paved
	bs    *backstagehost.Backstage
	c     pavedHTTP
	token map[string]string // user name → their Backstage user token
}

type permissionHostOptions struct {
	Database string
	// PavedConfig is added to paved's config after its discovery of
	// Backstage and permission.backstage.
	PavedConfig string
	Env         []string
	// Entities is the catalog: the users and groups, the templates.
	Entities  string
	Templates []string          // waited for in the catalog
	Users     map[string]string // user → group, waited for and signed in
	MCP       bool
}

func startPermissionHost(t *testing.T, ctx context.Context, o permissionHostOptions) *permissionHost {
	t.Helper()
	pavedAddr, bsAddr, bsPort := freeAddrs(t)
	p := pavedproc.Start(t, pavedproc.Options{Addr: pavedAddr, Database: o.Database, Config: fmt.Sprintf(`
backstage:
  discovery: http://%s/api/{{pluginId}}
permission:
  backstage: true
`, bsAddr) + o.PavedConfig, Env: o.Env})

	entities := t.TempDir()
	if err := os.WriteFile(filepath.Join(entities, "permission-entities.yaml"), []byte(o.Entities), 0o644); err != nil {
		t.Fatal(err)
	}
	bs := backstagehost.StartT(t, backstagehost.Options{
		Port:         bsPort,
		PavedBaseURL: "http://" + pavedAddr + "/api/{{pluginId}}",
		TemplatesDir: entities,
		Permissions:  true,
		MCP:          o.MCP,
	})
	for _, tmpl := range o.Templates {
		if _, err := bs.WaitEntity(ctx, "template", "default", tmpl); err != nil {
			t.Fatal(err)
		}
	}
	h := &permissionHost{p: p, bs: bs, c: pavedHTTP{p: p, client: &http.Client{Timeout: time.Minute}}, token: map[string]string{}}
	for user, group := range o.Users {
		waitMemberOf(t, ctx, bs, user, "group:default/"+group)
		tk, refs, err := bs.SignIn(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) < 2 {
			t.Fatalf("%s signed in with ownership refs %v, want the user and their group", user, refs)
		}
		h.token[user] = tk
	}
	return h
}

// run runs a template through the scaffolder as the user (their token) and
// returns the finished task.
func (h *permissionHost) run(t *testing.T, ctx context.Context, user, template string, values map[string]any) backstagehost.Task {
	t.Helper()
	id, err := h.bs.CreateTaskAs(ctx, h.token[user], "template:default/"+template, values)
	if err != nil {
		t.Fatalf("%s starts %s: %v", user, template, err)
	}
	task, err := h.bs.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// taskEventsSay asserts the task failed and that the scaffolder's task
// events API (what Backstage's task page shows) carries every want.
func taskEventsSay(t *testing.T, task backstagehost.Task, wants ...string) {
	t.Helper()
	if task.Status != "failed" {
		t.Fatalf("task %s: %s, want failed\n%s", task.ID, task.Status, strings.Join(task.Log, "\n"))
	}
	var events strings.Builder
	for _, ev := range task.Events {
		events.Write(ev.Body)
		events.WriteByte('\n')
	}
	for _, want := range wants {
		if !strings.Contains(events.String(), want) {
			t.Errorf("task %s events do not say %q:\n%s", task.ID, want, events.String())
		}
	}
}

// forbidden asserts a 403 NotAllowedError whose message carries every want.
func forbidden(t *testing.T, what string, status int, name, message string, wants ...string) {
	t.Helper()
	if status != http.StatusForbidden || name != "NotAllowedError" {
		t.Errorf("%s: %d %s %q, want 403 NotAllowedError", what, status, name, message)
		return
	}
	for _, want := range wants {
		if !strings.Contains(message, want) {
			t.Errorf("%s: message %q does not say %q", what, message, want)
		}
	}
}

func listActions(t *testing.T, ctx context.Context, p *pavedproc.Paved, token string) []string {
	t.Helper()
	status, body := getConnection(t, ctx, p.BaseURL+"/api/paved/.backstage/actions/v1/actions", token)
	if status != http.StatusOK {
		t.Fatalf("list actions: %d %s", status, body)
	}
	var out struct{ Actions []struct{ ID string } }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range out.Actions {
		ids = append(ids, a.ID)
	}
	return ids
}

// authorizeAsUser asks Backstage's permission backend what paved asks on a
// cache miss, with the user's own token (the backend decides a basic
// permission for a user as for paved acting for them).
func authorizeAsUser(t *testing.T, ctx context.Context, bs *backstagehost.Backstage, userToken, permission string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"items": []any{map[string]any{"id": "1",
		"permission": map[string]any{"type": "basic", "name": permission, "attributes": map[string]string{}}}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, bs.BaseURL()+"/api/permission/authorize", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+userToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"result"`)) {
		t.Fatalf("authorize %s: %d %s", permission, resp.StatusCode, raw)
	}
}
