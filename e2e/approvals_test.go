//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/pavedproc"
	"github.com/paved-dev/paved/gitops/gitopstest"
)

// approvalEntities: alice and carol are in platform, bob in team-a; the
// template asks paved for a database of the size given.
const approvalEntities = `apiVersion: backstage.io/v1alpha1
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
kind: User
metadata: {name: alice}
spec: {memberOf: [platform]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: carol}
spec: {memberOf: [platform]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: bob}
spec: {memberOf: [team-a]}
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-approval-provision
  title: e2e provision a database, approved when large
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
    status: ${{ steps.db.output.status }}
    approvalId: ${{ steps.db.output.approvalId }}
    approvalUrl: ${{ steps.db.output.approvalUrl }}
`

// TestApprovals runs paved's approvals against the real Backstage backend
// with the real notifications backend (@backstage/plugin-notifications-backend)
// and permission backend, users signed in by the real auth backend, and a
// real PostgreSQL server: a template run for a large database ends pending
// with the request's page; the approvers' notification is read through the
// notifications API as carol; the requester cannot approve her own request
// and bob (not an approver; the policy denies paved.approval.decide) cannot
// either; carol's approval in a real Chromium on paved's request page (the
// e2e Backstage app with paved's plugin, her own token) provisions the
// database and alice gets the "Ready" notification with the Resource's link; a rejection and an expiry provision nothing and
// tell alice.
func TestApprovals(t *testing.T) {
	dir, chromium, node := browserPrereqs(t)
	bundled, _ := bundleBrowserApp(node, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := repoRoot()
	artifacts := filepath.Join(root, "e2e", ".run", "approvals")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	gitURL, _ := gitopstest.Serve(t)
	store := scenarioDatabase(t)
	admin := serverURL(t, store)
	pavedAddr, err := pavedproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	bsAddr, err := pavedproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	bsPort, _ := strconv.Atoi(bsAddr[strings.LastIndex(bsAddr, ":")+1:])
	appURL := "http://127.0.0.1:" + strconv.Itoa(bsPort)
	p := pavedproc.Start(t, pavedproc.Options{Addr: pavedAddr, Database: store, Config: fmt.Sprintf(`
backstage:
  discovery: http://%s/api/{{pluginId}}
gitops:
  url: %s
infra:
  kindsDir: %s
  budgets:
    currency: USD
    teams: {team-a: 20}
permission:
  backstage: true
approvals:
  appUrl: %s
  sweepInterval: 1s
  rules:
    - {kind: postgresql, parameters: {size: [large]}, approvers: platform}
`, bsAddr, gitURL, filepath.Join(root, "examples", "infra-kinds"), appURL),
		Env: []string{"PAVED_INFRA_POSTGRES_URL=" + admin}})

	entities := t.TempDir()
	if err := os.WriteFile(filepath.Join(entities, "approval-entities.yaml"), []byte(approvalEntities), 0o644); err != nil {
		t.Fatal(err)
	}
	bs := backstagehost.StartT(t, backstagehost.Options{
		Port:          bsPort,
		PavedBaseURL:  "http://" + pavedAddr + "/api/{{pluginId}}",
		TemplatesDir:  entities,
		Permissions:   true,
		Notifications: true,
	})
	if _, err := bs.WaitEntity(ctx, "template", "default", "e2e-approval-provision"); err != nil {
		t.Fatal(err)
	}
	for user, group := range map[string]string{"alice": "platform", "carol": "platform", "bob": "team-a"} {
		waitMemberOf(t, ctx, bs, user, "group:default/"+group)
	}
	token := map[string]string{}
	for _, user := range []string{"alice", "carol", "bob"} {
		tk, _, err := bs.SignIn(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		token[user] = tk
	}
	pg, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	exists := func(ident string) bool {
		var n int
		if err := pg.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, ident).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	suffix := randomHex(3)

	// request runs the template as alice for a large database and returns
	// the pending request's id.
	request := func(t *testing.T, name string) string {
		t.Helper()
		dropLater(t, admin, strings.ReplaceAll(name, "-", "_"))
		id, err := bs.CreateTaskAs(ctx, token["alice"], "template:default/e2e-approval-provision", map[string]any{"name": name, "owner": "group:default/platform", "size": "large"})
		if err != nil {
			t.Fatal(err)
		}
		task, err := bs.WaitTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != "completed" {
			t.Fatalf("alice asks for a large database: %s", taskFailure(task))
		}
		reqID, _ := task.Output["approvalId"].(string)
		if task.Output["status"] != "pending-approval" || reqID == "" || task.Output["approvalUrl"] != appURL+"/paved/approvals/"+reqID {
			t.Fatalf("task output %v, want status pending-approval and the request's page", task.Output)
		}
		if exists(strings.ReplaceAll(name, "-", "_")) {
			t.Fatalf("database %s exists before any approval", name)
		}
		return reqID
	}
	// notified waits for a notification of user's whose title starts with title.
	notified := func(t *testing.T, user, title string) backstagehost.Notification {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			list, err := bs.Notifications(ctx, token[user])
			if err != nil {
				t.Fatalf("%s's notifications: %v", user, err)
			}
			for _, n := range list {
				if strings.HasPrefix(n.Payload.Title, title) {
					return n
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has no notification %q; has %+v", user, title, list)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	decide := func(t *testing.T, user, id, verb, comment string) (int, map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"comment": comment})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.BaseURL+"/api/paved/approvals/v1/requests/"+id+"/"+verb, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token[user])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	message := func(out map[string]any) string {
		e, _ := out["error"].(map[string]any)
		m, _ := e["message"].(string)
		return m
	}

	t.Run("approved: provisioned, requester notified with the resource link", func(t *testing.T) {
		name := "appr-yes-" + suffix
		id := request(t, name)
		n := notified(t, "carol", "Approval needed: postgresql "+name)
		if n.Payload.Link != appURL+"/paved/approvals/"+id || n.Origin != "plugin:paved" || n.Payload.Topic != "paved-approvals" {
			t.Errorf("carol's notification = %+v", n)
		}
		t.Logf("carol's notification: %q → %s", n.Payload.Title, n.Payload.Link)
		if status, out := decide(t, "alice", id, "approve", ""); status != http.StatusForbidden || !strings.Contains(message(out), "nobody approves their own request") {
			t.Errorf("alice approves her own request: %d %v", status, out)
		}
		if status, out := decide(t, "bob", id, "approve", ""); status != http.StatusForbidden || !strings.Contains(message(out), "paved.approval.decide") {
			t.Errorf("bob (not an approver) approves: %d %v", status, out)
		}
		// carol follows her notification's link and approves on paved's page.
		if err := <-bundled; err != nil {
			t.Fatal(err)
		}
		carolURL := browserApp(t, filepath.Join(dir, "dist"),
			browserBackend{"/api/catalog/", bs.BaseURL(), bs.Token()},
			browserBackend{"/api/paved/", p.BaseURL, token["carol"]}).URL
		var result struct {
			Observed struct {
				StateBefore, StateAfter, PageText string
				ApproveStatus, DecisionButtons    int
			}
		}
		driveBrowser(t, ctx, node, dir, "drive-approval.mjs", map[string]any{
			"chromium": chromium, "artifacts": artifacts, "approverUrl": carolURL, "id": id, "comment": "fine for the launch",
		}, &result)
		o := result.Observed
		if o.StateBefore != "pending" || o.ApproveStatus != http.StatusOK || o.StateAfter != "done" || o.DecisionButtons != 0 {
			t.Errorf("carol approves in the browser: %+v", o)
		}
		for _, want := range []string{"postgresql " + name, "size=large", "user:default/alice", "approvals.rules[0] (kind postgresql, size in [large])", "group:default/platform"} {
			if !strings.Contains(o.PageText, want) {
				t.Errorf("the request's page does not show %q:\n%s", want, o.PageText)
			}
		}
		if !exists(strings.ReplaceAll(name, "-", "_")) {
			t.Fatalf("database %s does not exist after the approval", name)
		}
		ready := notified(t, "alice", "Ready: postgresql "+name)
		if ready.Payload.Link != appURL+"/catalog/default/resource/"+name || !strings.Contains(ready.Payload.Description, "fine for the launch") {
			t.Errorf("alice's notification = %+v", ready)
		}
		t.Logf("alice's notification: %q → %s", ready.Payload.Title, ready.Payload.Link)
		// The requester is left out of her approvers' notification.
		mine, err := bs.Notifications(ctx, token["alice"])
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range mine {
			if strings.HasPrefix(n.Payload.Title, "Approval needed") {
				t.Errorf("alice got her approvers' notification: %+v", n)
			}
		}
	})

	t.Run("rejected: nothing provisioned, requester told why", func(t *testing.T) {
		name := "appr-no-" + suffix
		id := request(t, name)
		status, out := decide(t, "carol", id, "reject", "use medium first")
		if status != http.StatusOK || out["state"] != "rejected" {
			t.Fatalf("carol rejects: %d %v", status, out)
		}
		if exists(strings.ReplaceAll(name, "-", "_")) {
			t.Errorf("database %s exists after a rejection", name)
		}
		if n := notified(t, "alice", "Rejected: postgresql "+name); !strings.Contains(n.Payload.Description, "use medium first") {
			t.Errorf("alice's rejection notification = %+v", n)
		}
	})

	t.Run("over budget: refused with the budget in the task's log", func(t *testing.T) {
		name := "appr-budget-" + suffix
		dropLater(t, admin, strings.ReplaceAll(name, "-", "_"))
		id, err := bs.CreateTaskAs(ctx, token["bob"], "template:default/e2e-approval-provision", map[string]any{"name": name, "owner": "group:default/team-a", "size": "small"})
		if err != nil {
			t.Fatal(err)
		}
		task, err := bs.WaitTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != "failed" {
			t.Fatalf("bob's small database over team-a's 20 USD budget: %s, want failed", task.Status)
		}
		var events strings.Builder
		for _, ev := range task.Events {
			events.Write(ev.Body)
			events.WriteByte('\n')
		}
		want := "the monthly budget of group:default/team-a (20 USD) would be exceeded: 0 USD/month in use + 30 USD/month requested"
		if !strings.Contains(events.String(), want) || !strings.Contains(events.String(), "403") {
			t.Errorf("task %s events do not say %q:\n%s", task.ID, want, events.String())
		}
		if exists(strings.ReplaceAll(name, "-", "_")) {
			t.Errorf("database %s exists after the budget refused it", name)
		}
	})

	t.Run("expired: nothing provisioned, requester told", func(t *testing.T) {
		name := "appr-late-" + suffix
		id := request(t, name)
		db, err := pgx.Connect(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close(context.Background())
		if _, err := db.Exec(ctx, `UPDATE approval_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		notified(t, "alice", "Expired: postgresql "+name)
		if status, out := decide(t, "carol", id, "approve", ""); status != http.StatusConflict || !strings.Contains(message(out), "expired") {
			t.Errorf("approving an expired request: %d %v", status, out)
		}
		if exists(strings.ReplaceAll(name, "-", "_")) {
			t.Errorf("database %s exists after its request expired", name)
		}
	})
}

// driveBrowser runs a driver script of e2e/browser with spec (a result path
// added) and decodes the result it writes into into.
func driveBrowser(t *testing.T, ctx context.Context, node, dir, script string, spec map[string]any, into any) {
	t.Helper()
	resultPath := filepath.Join(t.TempDir(), "result.json")
	spec["resultPath"] = resultPath
	specPath := filepath.Join(t.TempDir(), "spec.json")
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, script, specPath)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s\n%s", script, err, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(resultPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("E2E %s: %s\n", script, strings.TrimSpace(stdout.String()))
}
