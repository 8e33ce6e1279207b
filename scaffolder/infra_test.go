package scaffolder_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
	"github.com/paved-dev/paved/guardrail"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/infra/manifests"
	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

type gitopsFixture struct {
	reg   *scaffolder.Registry
	store *sqlstore.DB
	dir   string
}

// newGitOpsRegistry registers the Argo CD actions (gitops mode only: no Argo
// CD) and the infra actions over the example manifests kinds, committing to a
// repository served by git daemon.
func newGitOpsRegistry(t *testing.T, withGitOps bool) gitopsFixture {
	t.Helper()
	return newGitOpsRegistryWith(t, withGitOps, nil)
}

// newGitOpsRegistryWith is newGitOpsRegistry with guardrails and approval rules.
func newGitOpsRegistryWith(t *testing.T, withGitOps bool, guards *guardrail.Set, rules ...approval.Rule) gitopsFixture {
	t.Helper()
	url, dir := gitopstest.Serve(t)
	repo, err := gitops.Open(gitops.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	d := manifests.New(manifests.Options{Render: argocd.Manifests{}, Repo: repo, RepoURL: url})
	kinds, skipped, err := infra.LoadKinds(filepath.Join("..", "examples", "infra-kinds"), map[string]infra.Driver{"manifests": d})
	if err != nil || len(skipped) != 1 {
		t.Fatalf("kinds: %v (skipped %v)", err, skipped)
	}
	key := make([]byte, infra.KeySize)
	_, _ = rand.Read(key)
	sealer, _ := infra.NewSealer(key)
	svc, err := infra.NewService(infra.Options{Kinds: kinds, Drivers: map[string]infra.Driver{"manifests": d}, Store: store, Sealer: sealer, Guardrails: guards})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved", Recorder: store})
	if err != nil {
		t.Fatal(err)
	}
	o := scaffolder.AppActionsOptions{Guardrails: guards}
	if withGitOps {
		o.GitOps = gitops.Writer{Repo: repo, Render: argocd.Manifests{}}
	}
	if err := reg.Register(scaffolder.AppActions(o)...); err != nil {
		t.Fatal(err)
	}
	io := scaffolder.InfraActionsOptions{Infra: svc}
	if len(rules) > 0 {
		a, err := approval.NewService(approval.Options{Rules: rules, Store: store, Infra: svc, Leases: store,
			Links: approval.Links{Request: func(id string) string { return "https://backstage.test/paved/approvals/" + id }}})
		if err != nil {
			t.Fatal(err)
		}
		io.Approvals = a
	}
	if err := reg.Register(scaffolder.InfraActions(io)...); err != nil {
		t.Fatal(err)
	}
	return gitopsFixture{reg: reg, store: store, dir: dir}
}

func jane() context.Context {
	return paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/jane"})
}

func fieldsOf(err error) []string {
	var pe *paved.Error
	if !errors.As(err, &pe) {
		return nil
	}
	var out []string
	for _, f := range pe.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestCreateAppGitOpsMode(t *testing.T) {
	f := newGitOpsRegistry(t, true)
	in := `{"name":"payments","mode":"gitops","source":{"repoURL":"https://git.example.test/payments.git","path":"deploy"},
		"destination":{"namespace":"payments"},"automated":{"prune":true},"entityRef":"component:default/payments"}`
	out, err := f.reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(in), nil)
	if err != nil {
		t.Fatalf("create-argocd-app in gitops mode: %v", err)
	}
	if out["commit"] != gitopstest.Git(t, f.dir, "rev-parse", "main") || out["created"] != true || out["path"] != "apps/payments.yaml" || out["mode"] != "gitops" {
		t.Errorf("output = %v", out)
	}
	body := gitopstest.Git(t, f.dir, "show", "main:apps/payments.yaml")
	for _, want := range []string{"kind: Application", "repoURL: https://git.example.test/payments.git", "namespace: payments",
		"paved.dev/entity-ref: component:default/payments", "paved.dev/initiator: user:default/jane", "prune: true"} {
		if !strings.Contains(body, want) {
			t.Errorf("apps/payments.yaml lacks %q:\n%s", want, body)
		}
	}
	again, err := f.reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(in), nil)
	if err != nil || again["created"] != false || again["commit"] != out["commit"] {
		t.Errorf("the same request again = %v, %v; want no new commit", again, err)
	}
	changed := strings.Replace(in, `"path":"deploy"`, `"path":"deploy/v2"`, 1)
	if _, err := f.reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(changed), nil); paved.ErrorCode(err) != paved.EConflict {
		t.Errorf("a different spec without upsert: %v, want conflict", err)
	}
	upsert := strings.Replace(changed, `"mode":"gitops"`, `"mode":"gitops","upsert":true`, 1)
	up, err := f.reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(upsert), nil)
	if err != nil || up["created"] != true || !strings.Contains(gitopstest.Git(t, f.dir, "show", "main:apps/payments.yaml"), "path: deploy/v2") {
		t.Errorf("upsert = %v, %v; want a new commit with the new path", up, err)
	}
	wait := strings.Replace(in, `"mode":"gitops"`, `"mode":"gitops","wait":true`, 1)
	if _, err := f.reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(wait), nil); !strings.Contains(strings.Join(fieldsOf(err), ","), "wait") {
		t.Errorf("wait in gitops mode: %v, want a 400 naming wait", err)
	}
	if n := gitopstest.Commits(t, f.dir, "main"); n != 2 {
		t.Errorf("main has %d commits, want 2 (create, upsert)", n)
	}
}

func TestCreateAppGitOpsModeNotConfigured(t *testing.T) {
	f := newGitOpsRegistry(t, false)
	in := `{"name":"payments","mode":"gitops","source":{"repoURL":"r","path":"p"},"destination":{"namespace":"payments"}}`
	_, err := f.reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(in), nil)
	if paved.ErrorCode(err) != paved.EInvalid || !strings.Contains(strings.Join(fieldsOf(err), ","), "mode") {
		t.Errorf("gitops mode without a repository: %v, want a 400 naming mode", err)
	}
}

// TestProvisionInfraRefusesBadInput sends an injection attempt in every
// string input of paved:provision-infra: each is a 400 naming the field, and
// nothing reaches the repository or the store.
func TestProvisionInfraRefusesBadInput(t *testing.T) {
	f := newGitOpsRegistry(t, true)
	inj := `x'; DROP TABLE infra_resources; --`
	base := func() map[string]any {
		return map[string]any{"kind": "postgresql-crossplane", "name": "orders", "owner": "group:default/payments",
			"parameters": map[string]any{"size": "small", "region": "eu-west-1", "version": "16"}, "ttl": "7d", "entityRef": "component:default/orders"}
	}
	cases := map[string]func(m map[string]any){
		"kind":               func(m map[string]any) { m["kind"] = inj },
		"name":               func(m map[string]any) { m["name"] = inj },
		"owner":              func(m map[string]any) { m["owner"] = inj },
		"ttl":                func(m map[string]any) { m["ttl"] = inj },
		"entityRef":          func(m map[string]any) { m["entityRef"] = inj },
		"parameters.size":    func(m map[string]any) { m["parameters"].(map[string]any)["size"] = inj },
		"parameters.region":  func(m map[string]any) { m["parameters"].(map[string]any)["region"] = inj },
		"parameters.version": func(m map[string]any) { m["parameters"].(map[string]any)["version"] = inj },
		"parameters.extra":   func(m map[string]any) { m["parameters"].(map[string]any)["extra"] = "x" },
		"taskId":             func(m map[string]any) { m["taskId"] = inj },
	}
	for field, mutate := range cases {
		t.Run(field, func(t *testing.T) {
			m := base()
			mutate(m)
			raw, _ := json.Marshal(m)
			_, err := f.reg.Invoke(jane(), "paved:provision-infra", raw, nil)
			if paved.ErrorCode(err) != paved.EInvalid {
				t.Fatalf("Invoke = %v, want invalid", err)
			}
			if got := strings.Join(fieldsOf(err), ","); !strings.Contains(got, field) {
				t.Errorf("the error names %q, want %s", got, field)
			}
		})
	}
	if n := gitopstest.Commits(t, f.dir, "main"); n != 0 {
		t.Errorf("refused requests made %d commits", n)
	}
	if all, _ := f.store.ListInfraResources(t.Context()); len(all) != 0 {
		t.Errorf("refused requests left %v", all)
	}

	// jane may not provision for a group she is not a member of (no catalog here).
	raw, _ := json.Marshal(base())
	if _, err := f.reg.Invoke(jane(), "paved:provision-infra", raw, nil); paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "owner: user:default/jane is not group:default/payments nor a member of it") {
		t.Fatalf("provision-infra for another owner = %v, want forbidden naming the owner", err)
	}
	// The good request goes through, and a non-owner cannot tear it down.
	good := base()
	good["owner"] = "user:default/jane"
	raw, _ = json.Marshal(good)
	out, err := f.reg.Invoke(jane(), "paved:provision-infra", raw, nil)
	if err != nil || out["created"] != true || out["entityRef"] != "resource:default/orders" || out["commit"] == "" {
		t.Fatalf("provision-infra = %v, %v", out, err)
	}
	if _, ok := out["connectionUrl"]; ok {
		t.Errorf("a manifests resource got a connection URL: %v", out)
	}
	mallory := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/mallory"})
	if _, err := f.reg.Invoke(mallory, "paved:deprovision-infra", json.RawMessage(`{"kind":"postgresql-crossplane","name":"orders"}`), nil); paved.ErrorCode(err) != paved.EForbidden {
		t.Errorf("deprovision by a non-owner: %v, want forbidden", err)
	}
	bob := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalUser, Subject: "user:default/bob", User: "user:default/bob"})
	gone, err := f.reg.Invoke(bob, "paved:deprovision-infra", json.RawMessage(`{"id":"`+out["id"].(string)+`"}`), nil)
	if paved.ErrorCode(err) != paved.EForbidden {
		t.Errorf("deprovision by a user who is not the owner: %v, %v; want forbidden", gone, err)
	}
	none, err := f.reg.Invoke(jane(), "paved:deprovision-infra", json.RawMessage(`{"kind":"s3-bucket","name":"nothing"}`), nil)
	if err != nil || none["deprovisioned"] != false {
		t.Errorf("deprovisioning what does not exist = %v, %v; want deprovisioned false", none, err)
	}
}

// The price a developer sees in the form (enum titles of list-infra-kinds)
// is the one the provision output reports.
func TestInfraCostInKindsAndOutput(t *testing.T) {
	f := newGitOpsRegistry(t, true)
	kinds, err := f.reg.Invoke(jane(), "paved:list-infra-kinds", json.RawMessage(`{"kind":"postgresql-crossplane"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	k := kinds["kinds"].([]any)[0].(map[string]any)
	size := k["parameters"].(map[string]any)["properties"].(map[string]any)["size"].(map[string]any)
	titles, _ := json.Marshal(size["enumNames"])
	if string(titles) != `["small — +40 USD/month","medium — +150 USD/month","large — +560 USD/month"]` {
		t.Errorf("size enumNames = %s", titles)
	}
	if p, ok := k["price"].(*infra.Price); !ok || p.Currency != "USD" || p.Monthly != 20 {
		t.Errorf("price = %#v", k["price"])
	}
	out, err := f.reg.Invoke(jane(), "paved:provision-infra", json.RawMessage(`{"kind":"postgresql-crossplane","name":"big","owner":"user:default/jane",
		"parameters":{"size":"large","region":"us-east-1"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	cost, _ := json.Marshal(out["cost"])
	if string(cost) != `{"currency":"USD","monthly":580,"text":"580 USD/month"}` {
		t.Errorf("cost = %s, want 20 + 560 USD", cost)
	}
}

// TestProvisionPendingApproval: a request a rule holds ends the step at once
// with status pending-approval and the request's page; nothing is
// provisioned; the retried step finds the same request; a bad request is
// refused, never held; a request no rule matches is provisioned.
func TestProvisionPendingApproval(t *testing.T) {
	f := newGitOpsRegistryWith(t, true, nil, approval.Rule{Kind: "postgresql-*", Parameters: map[string][]string{"size": {"large"}}, Approvers: "group:default/platform"})
	in := json.RawMessage(`{"kind":"postgresql-crossplane","name":"big","owner":"user:default/jane","parameters":{"size":"large","region":"us-east-1"}}`)
	out, err := f.reg.Invoke(jane(), "paved:provision-infra", in, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := out["approvalId"].(string)
	if out["status"] != "pending-approval" || id == "" || out["approvalUrl"] != "https://backstage.test/paved/approvals/"+id ||
		out["created"] != false || !strings.Contains(out["reason"].(string), "approvals.rules[0] (kind postgresql-*, size in [large])") {
		t.Errorf("output = %v", out)
	}
	if _, err := f.store.FindInfraResource(t.Context(), "postgresql-crossplane", "big"); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("a pending request was provisioned: %v", err)
	}
	again, err := f.reg.Invoke(jane(), "paved:provision-infra", in, nil)
	if err != nil || again["approvalId"] != id {
		t.Errorf("retried step = %v, %v; want the same request %s", again, err, id)
	}
	_, err = f.reg.Invoke(jane(), "paved:provision-infra", json.RawMessage(`{"kind":"postgresql-crossplane","name":"big2","parameters":{"size":"large","region":"mars"}}`), nil)
	if got := fieldsOf(err); len(got) != 1 || got[0] != "parameters.region" {
		t.Errorf("a bad request: %v (fields %v), want a 400 naming parameters.region", err, got)
	}
	small, err := f.reg.Invoke(jane(), "paved:provision-infra", json.RawMessage(`{"kind":"postgresql-crossplane","name":"tiny","parameters":{"size":"small","region":"us-east-1"}}`), nil)
	if err != nil || small["status"] != infra.StatusReady || small["created"] != true {
		t.Errorf("a request no rule holds = %v, %v; want it provisioned", small, err)
	}
}

// TestGuardrailsWhoeverCalls: the configured guardrails refuse an
// application outside its golden path's projects, destinations and
// repositories, and a size outside the owner's, with a 403 naming each field
// and the rule, for a user and a static token alike; nothing is committed or
// recorded as a resource.
func TestGuardrailsWhoeverCalls(t *testing.T) {
	guards, err := guardrail.New([]guardrail.Apps{{Templates: []string{"template:default/new-service"},
		Projects: []string{"team-*"}, Destinations: []string{"https://kubernetes.default.svc/team-*"}, RepoURLs: []string{"https://git.example.test/*"}}},
		[]guardrail.Infra{{Owners: []string{"user:default/jane"}, Sizes: []string{"small"}}})
	if err != nil {
		t.Fatal(err)
	}
	f := newGitOpsRegistryWith(t, true, guards)
	operator := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalStatic, Subject: "ops"})
	app := func(project, namespace, repo string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"name":"payments","mode":"gitops","project":%q,"source":{"repoURL":%q,"path":"deploy"},
			"destination":{"namespace":%q},"entityRef":"component:default/payments","templateRef":"template:default/new-service"}`, project, repo, namespace))
	}
	for who, ctx := range map[string]context.Context{"jane": jane(), "a static token": operator} {
		_, err := f.reg.Invoke(ctx, "paved:create-argocd-app", app("platform", "kube-system", "https://evil.example/x.git"), nil)
		if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "guardrails.apps[0]") {
			t.Fatalf("%s outside the golden path: %v, want forbidden naming the rule", who, err)
		}
		if got := strings.Join(fieldsOf(err), ","); !strings.Contains(got, "project") || !strings.Contains(got, "destination.namespace") || !strings.Contains(got, "source.repoURL") {
			t.Errorf("%s: fields %q, want project, destination.namespace and source.repoURL", who, got)
		}
	}
	if n := gitopstest.Commits(t, f.dir, "main"); n != 0 {
		t.Fatalf("refused creates made %d commits", n)
	}
	if _, err := f.reg.Invoke(jane(), "paved:create-argocd-app", app("team-pay", "team-pay", "https://git.example.test/pay.git"), nil); err != nil {
		t.Fatalf("inside the golden path: %v", err)
	}

	db := func(size string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"kind":"postgresql-crossplane","name":"orders-%s","owner":"user:default/jane","parameters":{"size":%q,"region":"eu-west-1","version":"16"}}`, size, size))
	}
	for who, ctx := range map[string]context.Context{"jane": jane(), "a static token": operator} {
		_, err := f.reg.Invoke(ctx, "paved:provision-infra", db("large"), nil)
		if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), `parameters.size: "large" is outside guardrails.infra[0].sizes`) {
			t.Fatalf("%s provisions large for jane: %v, want forbidden naming the field and the rule", who, err)
		}
	}
	if all, _ := f.store.ListInfraResources(t.Context()); len(all) != 0 {
		t.Fatalf("refused provisionings left %v", all)
	}
	if _, err := f.reg.Invoke(jane(), "paved:provision-infra", db("small"), nil); err != nil {
		t.Fatalf("small for jane: %v", err)
	}
}
