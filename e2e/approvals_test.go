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
	"github.com/paved-dev/paved/e2e/stack"
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
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-approval-app
  title: e2e deploy a service through Argo CD, approved into prod-*
spec:
  owner: group:default/platform
  type: service
  parameters:
    - required: [name, namespace, repoURL]
      properties:
        name: {type: string}
        namespace: {type: string}
        repoURL: {type: string}
  steps:
    - id: app
      name: Create the Argo CD application
      action: paved:create-argocd-app
      input:
        name: ${{ parameters.name }}
        source:
          repoURL: ${{ parameters.repoURL }}
          path: .
          targetRevision: main
        destination:
          namespace: ${{ parameters.namespace }}
        createNamespace: true
        entityRef: component:default/${{ parameters.name }}
  output:
    status: ${{ steps.app.output.status }}
    created: ${{ steps.app.output.created }}
    approvalId: ${{ steps.app.output.approvalId }}
    approvalUrl: ${{ steps.app.output.approvalUrl }}
    url: ${{ steps.app.output.url }}
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-ttl-bucket
  title: e2e a bucket for a while
spec:
  owner: group:default/platform
  type: resource
  parameters:
    - required: [name, ttl]
      properties:
        name: {type: string}
        ttl: {type: string}
  steps:
    - id: bucket
      name: Provision the bucket
      action: paved:provision-infra
      input:
        kind: s3-bucket
        name: ${{ parameters.name }}
        owner: group:default/platform
        ttl: ${{ parameters.ttl }}
        parameters:
          region: eu-west-1
  output:
    id: ${{ steps.bucket.output.id }}
    expiresAt: ${{ steps.bucket.output.expiresAt }}
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
	env := startApprovals(t, ctx, store, approvalEntities, "e2e-approval-provision", func(appURL string) string {
		return fmt.Sprintf(`
gitops:
  url: %s
infra:
  kindsDir: %s
  budgets:
    currency: USD
    teams: {team-a: 20}
approvals:
  appUrl: %s
  sweepInterval: 1s
  rules:
    - {kind: postgresql, parameters: {size: [large]}, approvers: platform}
`, gitURL, filepath.Join(root, "examples", "infra-kinds"), appURL)
	}, "PAVED_INFRA_POSTGRES_URL="+admin)
	p, bs, token, appURL := env.p, env.bs, env.token, env.appURL
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
	t.Run("approved: provisioned, requester notified with the resource link", func(t *testing.T) {
		name := "appr-yes-" + suffix
		id := request(t, name)
		n := env.notified(t, "carol", "Approval needed: postgresql "+name)
		if n.Payload.Link != appURL+"/paved/approvals/"+id || n.Origin != "plugin:paved" || n.Payload.Topic != "paved-approvals" {
			t.Errorf("carol's notification = %+v", n)
		}
		t.Logf("carol's notification: %q → %s", n.Payload.Title, n.Payload.Link)
		if status, out := env.decide(t, "alice", id, "approve", ""); status != http.StatusForbidden || !strings.Contains(errorMessage(out), "nobody approves their own request") {
			t.Errorf("alice approves her own request: %d %v", status, out)
		}
		if status, out := env.decide(t, "bob", id, "approve", ""); status != http.StatusForbidden || !strings.Contains(errorMessage(out), "paved.approval.decide") {
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
		ready := env.notified(t, "alice", "Ready: postgresql "+name)
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
		status, out := env.decide(t, "carol", id, "reject", "use medium first")
		if status != http.StatusOK || out["state"] != "rejected" {
			t.Fatalf("carol rejects: %d %v", status, out)
		}
		if exists(strings.ReplaceAll(name, "-", "_")) {
			t.Errorf("database %s exists after a rejection", name)
		}
		if n := env.notified(t, "alice", "Rejected: postgresql "+name); !strings.Contains(n.Payload.Description, "use medium first") {
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
		env.notified(t, "alice", "Expired: postgresql "+name)
		if status, out := env.decide(t, "carol", id, "approve", ""); status != http.StatusConflict || !strings.Contains(errorMessage(out), "expired") {
			t.Errorf("approving an expired request: %d %v", status, out)
		}
		if exists(strings.ReplaceAll(name, "-", "_")) {
			t.Errorf("database %s exists after its request expired", name)
		}
	})
}

// TestApprovalsArgoCDApp runs an approval rule for paved:create-argocd-app
// (destination namespace prod-*) against the real Argo CD and the real
// Backstage backend with its notifications backend: alice's template run
// into prod-… ends at once pending with the request's page and nothing in
// Argo CD; carol's notification is read through the notifications API as
// carol; alice cannot approve her own request; carol's approval creates the
// application in the real Argo CD, and alice's "Ready" notification links
// it in Argo CD's UI; a rejected one is never created; a run into a
// namespace no rule holds creates the application at once.
func TestApprovalsArgoCDApp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st := stack.StartForTest(ctx, t, "argocd-server")
	store := scenarioDatabase(t)
	env := startApprovals(t, ctx, store, approvalEntities, "e2e-approval-app", func(appURL string) string {
		return fmt.Sprintf(`
argocd:
  instances:
    - name: default
      server: %s
      plainText: true
      token: ${ARGO_TOKEN}
approvals:
  appUrl: %s
  sweepInterval: 1s
  rules:
    - {action: create-argocd-app, namespace: "prod-*", approvers: platform}
`, st.ArgoCDAddr, appURL)
	}, "ARGO_TOKEN="+st.PavedToken)
	suffix := randomHex(3)

	// run runs the template as alice for app name into namespace.
	run := func(t *testing.T, name, namespace string) map[string]any {
		t.Helper()
		id, err := env.bs.CreateTaskAs(ctx, env.token["alice"], "template:default/e2e-approval-app",
			map[string]any{"name": name, "namespace": namespace, "repoURL": st.GitURL("plain")})
		if err != nil {
			t.Fatal(err)
		}
		task, err := env.bs.WaitTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != "completed" {
			t.Fatalf("alice deploys %s into %s: %s", name, namespace, taskFailure(task))
		}
		t.Logf("task %s output: %v", id, task.Output)
		return task.Output
	}
	// inArgoCD returns the application's destination namespace in the real
	// Argo CD, or "" when it has none of that name.
	inArgoCD := func(t *testing.T, name string) string {
		t.Helper()
		code, body, err := st.ArgoREST(http.MethodGet, "/api/v1/applications/"+name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusOK {
			return ""
		}
		var app struct {
			Spec struct {
				Destination struct{ Namespace string } `json:"destination"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(body, &app); err != nil {
			t.Fatal(err)
		}
		return app.Spec.Destination.Namespace
	}
	pending := func(t *testing.T, name string) string {
		t.Helper()
		out := run(t, name, "prod-"+name)
		id, _ := out["approvalId"].(string)
		page := env.appURL + "/paved/approvals/" + id
		if out["status"] != "pending-approval" || id == "" || out["approvalUrl"] != page || out["url"] != page {
			t.Fatalf("task output %v, want status pending-approval and the request's page", out)
		}
		if ns := inArgoCD(t, name); ns != "" {
			t.Fatalf("application %s is in Argo CD before any approval (into %s)", name, ns)
		}
		return id
	}

	t.Run("approved: created in Argo CD, requester notified with its link", func(t *testing.T) {
		name := "appr-app-" + suffix
		id := pending(t, name)
		n := env.notified(t, "carol", "Approval needed: argocd-app default/"+name)
		if n.Payload.Link != env.appURL+"/paved/approvals/"+id || n.Origin != "plugin:paved" || !strings.Contains(n.Payload.Description, "namespace=prod-"+name) {
			t.Errorf("carol's notification = %+v", n)
		}
		t.Logf("carol's notification: %q → %s", n.Payload.Title, n.Payload.Link)
		if status, out := env.decide(t, "alice", id, "approve", ""); status != http.StatusForbidden || !strings.Contains(errorMessage(out), "nobody approves their own request") {
			t.Errorf("alice approves her own request: %d %v", status, out)
		}
		status, out := env.decide(t, "carol", id, "approve", "prod is ready")
		if status != http.StatusOK || out["state"] != "done" {
			t.Fatalf("carol approves: %d %v", status, out)
		}
		if ns := inArgoCD(t, name); ns != "prod-"+name {
			t.Fatalf("after the approval Argo CD has %s into %q, want prod-%s", name, ns, name)
		}
		ready := env.notified(t, "alice", "Ready: argocd-app default/"+name)
		if !strings.HasSuffix(ready.Payload.Link, "/applications/"+name) || !strings.Contains(ready.Payload.Description, "prod is ready") {
			t.Errorf("alice's notification = %+v", ready)
		}
		t.Logf("alice's notification: %q → %s", ready.Payload.Title, ready.Payload.Link)
	})

	t.Run("rejected: never created", func(t *testing.T) {
		name := "appr-app-no-" + suffix
		id := pending(t, name)
		if status, out := env.decide(t, "carol", id, "reject", "wait for the freeze to end"); status != http.StatusOK || out["state"] != "rejected" {
			t.Fatalf("carol rejects: %d %v", status, out)
		}
		env.notified(t, "alice", "Rejected: argocd-app default/"+name)
		if ns := inArgoCD(t, name); ns != "" {
			t.Errorf("a rejected application is in Argo CD (into %s)", ns)
		}
	})

	t.Run("no rule: created at once", func(t *testing.T) {
		name := "appr-app-dev-" + suffix
		out := run(t, name, "dev-"+name)
		if created := fmt.Sprint(out["created"]); created != "true" || (out["status"] != nil && out["status"] != "") {
			t.Errorf("task output %v, want the application created", out)
		}
		if ns := inArgoCD(t, name); ns != "dev-"+name {
			t.Errorf("Argo CD has %s into %q, want dev-%s", name, ns, name)
		}
	})
}

// TestTTLNotices runs paved's TTL notices against the real Backstage
// notifications backend: alice's template run provisions a bucket owned by
// group platform with a TTL of one minute (infra.ttlNotice 24h: the notice is
// due at once); carol, a member of the owner group, reads the "Expiring"
// notification through the notifications API with her own token, linking the
// resource's page, where Extend is; once the reaper tears the bucket down she
// has the "Torn down" one, and the "Expiring" one still once.
func TestTTLNotices(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	gitURL, _ := gitopstest.Serve(t)
	store := scenarioDatabase(t)
	env := startApprovals(t, ctx, store, approvalEntities, "e2e-ttl-bucket", func(appURL string) string {
		return fmt.Sprintf(`
gitops:
  url: %s
infra:
  kindsDir: %s
  reapInterval: 1s
  ttlNotice: 24h
approvals:
  appUrl: %s
`, gitURL, filepath.Join(repoRoot(), "examples", "infra-kinds"), appURL)
	})
	name := "ttl-" + randomHex(3)
	id, err := env.bs.CreateTaskAs(ctx, env.token["alice"], "template:default/e2e-ttl-bucket", map[string]any{"name": name, "ttl": "1m"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := env.bs.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	resID, _ := task.Output["id"].(string)
	if task.Status != "completed" || resID == "" || task.Output["expiresAt"] == "" {
		t.Fatalf("alice's bucket for a minute: %s %v", taskFailure(task), task.Output)
	}
	t.Logf("bucket %s (%s) expires at %v", name, resID, task.Output["expiresAt"])

	expiring := env.notified(t, "carol", "Expiring: s3-bucket "+name)
	if expiring.Payload.Link != env.appURL+"/paved/resources/"+resID || expiring.Origin != "plugin:paved" ||
		!strings.Contains(expiring.Payload.Description, "owner group:default/platform") || !strings.Contains(expiring.Payload.Description, "Extend it on its page") {
		t.Errorf("carol's expiring notification = %+v", expiring)
	}
	t.Logf("carol's notification: %q → %s: %s", expiring.Payload.Title, expiring.Payload.Link, expiring.Payload.Description)

	// The reaper tears the bucket down when its minute is up.
	deadline := time.Now().Add(3 * time.Minute)
	var gone backstagehost.Notification
	for gone.ID == "" {
		list, err := env.bs.Notifications(ctx, env.token["carol"])
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range list {
			if strings.HasPrefix(n.Payload.Title, "Torn down: s3-bucket "+name) {
				gone = n
			}
		}
		if gone.ID == "" && time.Now().After(deadline) {
			t.Fatalf("carol has no torn-down notification 3 minutes after the bucket's TTL; has %+v", list)
		}
		time.Sleep(time.Second)
	}
	if gone.Payload.Link != env.appURL+"/paved" || !strings.Contains(gone.Payload.Description, "has been torn down") {
		t.Errorf("carol's torn-down notification = %+v", gone)
	}
	t.Logf("carol's notification: %q → %s: %s", gone.Payload.Title, gone.Payload.Link, gone.Payload.Description)
	list, err := env.bs.Notifications(ctx, env.token["carol"])
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, n := range list {
		if strings.HasSuffix(n.Payload.Title, "s3-bucket "+name) {
			count[n.Payload.Title[:strings.Index(n.Payload.Title, ":")]]++
		}
	}
	if count["Expiring"] != 1 || count["Torn down"] != 1 {
		t.Errorf("carol's notifications about %s: %v, want one Expiring and one Torn down", name, count)
	}
}

// approvalsEnv is paved and the real Backstage backend (catalog, auth,
// permission and notifications backends) of the approvals tests, with the
// users of approvalEntities signed in.
type approvalsEnv struct {
	ctx    context.Context
	p      *pavedproc.Paved
	bs     *backstagehost.Backstage
	appURL string // Backstage's app URL (approvals.appUrl)
	token  map[string]string
}

// startApprovals starts paved with the backstage and permission sections
// and config(appURL), then Backstage with entities, and waits for template
// and the users' groups.
func startApprovals(t *testing.T, ctx context.Context, store, entities, template string, config func(appURL string) string, env ...string) *approvalsEnv {
	t.Helper()
	pavedAddr, bsAddr, bsPort := freeAddrs(t)
	appURL := "http://127.0.0.1:" + strconv.Itoa(bsPort)
	p := pavedproc.Start(t, pavedproc.Options{Addr: pavedAddr, Database: store, Config: fmt.Sprintf(`
backstage:
  discovery: http://%s/api/{{pluginId}}
permission:
  backstage: true
`, bsAddr) + config(appURL), Env: env})

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "approval-entities.yaml"), []byte(entities), 0o644); err != nil {
		t.Fatal(err)
	}
	bs := backstagehost.StartT(t, backstagehost.Options{
		Port:          bsPort,
		PavedBaseURL:  "http://" + pavedAddr + "/api/{{pluginId}}",
		TemplatesDir:  dir,
		Permissions:   true,
		Notifications: true,
	})
	if _, err := bs.WaitEntity(ctx, "template", "default", template); err != nil {
		t.Fatal(err)
	}
	for user, group := range map[string]string{"alice": "platform", "carol": "platform", "bob": "team-a"} {
		waitMemberOf(t, ctx, bs, user, "group:default/"+group)
	}
	e := &approvalsEnv{ctx: ctx, p: p, bs: bs, appURL: appURL, token: map[string]string{}}
	for _, user := range []string{"alice", "carol", "bob"} {
		tk, _, err := bs.SignIn(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		e.token[user] = tk
	}
	return e
}

// notified waits for a notification of user's whose title starts with
// title, read through the notifications API with user's own token.
func (e *approvalsEnv) notified(t *testing.T, user, title string) backstagehost.Notification {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := e.bs.Notifications(e.ctx, e.token[user])
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

// decide approves or rejects (verb) request id as user, through paved's API
// with user's token; it returns the status and the answer.
func (e *approvalsEnv) decide(t *testing.T, user, id, verb, comment string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"comment": comment})
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.p.BaseURL+"/api/paved/approvals/v1/requests/"+id+"/"+verb, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token[user])
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

// errorMessage is the message of Backstage's error JSON.
func errorMessage(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
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
