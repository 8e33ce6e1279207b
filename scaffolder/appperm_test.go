package scaffolder_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/permission"
	"github.com/paved-dev/paved/scaffolder"
)

// The Argo CD app actions ask the policy about the application itself
// (paved.argocd.app.create, .read, .sync on paved-argocd-app), so that a
// conditional decision on its project or destination namespace holds
// whoever calls. Before, only delete did: any user who could invoke
// sync-argocd-app synced any app, and create-argocd-app created anywhere.
func TestAppActionsApplyConditionsToTheApp(t *testing.T) {
	srv, client := newFakeArgoCD(t)
	onlyX := &paved.Criteria{Rule: "HAS_PROJECT", Params: json.RawMessage(`{"projects":["team-x"]}`)}
	teamA := &paved.Criteria{Rule: "DESTINATION_NAMESPACE_MATCHES", Params: json.RawMessage(`{"patterns":["team-a-*"]}`)}
	policy, err := permission.NewPolicy([]permission.PolicyRule{
		{Permission: permission.AppSync.Name, Result: paved.DecisionConditional, Conditions: onlyX},
		{Permission: permission.AppRead.Name, Result: paved.DecisionConditional, Conditions: onlyX},
		{Permission: permission.AppCreate.Name, Result: paved.DecisionConditional, Conditions: teamA},
	}, permission.Readers{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved", Authorizer: permission.New(permission.Options{Decider: policy})})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: client})...); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, app := range []struct{ name, project string }{{"in-x", "team-x"}, {"in-y", "team-y"}} {
		if _, err := client.CreateApp(ctx, paved.AppRequest{AppRef: paved.AppRef{Instance: "prod", Name: app.name, Project: app.project}, CreateProject: true,
			Sources:     []paved.AppSource{{RepoURL: "https://git.example/" + app.name + ".git", Path: "deploy"}},
			Destination: paved.AppDestination{Server: "https://kubernetes.default.svc", Namespace: app.name},
			Labels:      map[string]string{paved.LabelManagedBy: paved.ManagedByPaved}}); err != nil {
			t.Fatal(err)
		}
	}
	jane := paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/jane"})
	refused := func(t *testing.T, err error, perm, rule string) {
		t.Helper()
		if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "user:default/jane may not "+perm) || !strings.Contains(err.Error(), rule) {
			t.Fatalf("err = %v, want 403 naming %s and %s", err, perm, rule)
		}
	}

	t.Run("sync", func(t *testing.T) {
		syncs := srv.Calls(argocdtest.MethodAppSync)
		_, err := reg.Invoke(jane, "paved:sync-argocd-app", json.RawMessage(`{"name":"in-y","project":"team-y"}`), nil)
		refused(t, err, "paved.argocd.app.sync", "HAS_PROJECT")
		if got := srv.Calls(argocdtest.MethodAppSync); got != syncs {
			t.Fatalf("a refused sync reached Argo CD (%d syncs)", got-syncs)
		}
		if a, _ := srv.App("", "in-y"); a.Operation != nil {
			t.Fatalf("in-y has an operation after a refused sync: %+v", a.Operation)
		}
		if _, err := reg.Invoke(jane, "paved:sync-argocd-app", json.RawMessage(`{"name":"in-x","project":"team-x"}`), nil); err != nil {
			t.Fatalf("sync of an app in team-x: %v", err)
		}
		if got := srv.Calls(argocdtest.MethodAppSync); got != syncs+1 {
			t.Fatalf("Argo CD saw %d syncs, want 1", got-syncs)
		}
	})

	t.Run("read", func(t *testing.T) {
		_, err := reg.Invoke(jane, "paved:get-argocd-app", json.RawMessage(`{"name":"in-y","project":"team-y"}`), nil)
		refused(t, err, "paved.argocd.app.read", "HAS_PROJECT")
		if out, err := reg.Invoke(jane, "paved:get-argocd-app", json.RawMessage(`{"name":"in-x","project":"team-x"}`), nil); err != nil || out["project"] != "team-x" {
			t.Fatalf("get of an app in team-x: %v, %v", out, err)
		}
		_, err = reg.Invoke(jane, "paved:wait-argocd-app", json.RawMessage(`{"name":"in-y","project":"team-y","timeout":"1s"}`), nil)
		refused(t, err, "paved.argocd.app.read", "HAS_PROJECT")
	})

	t.Run("create", func(t *testing.T) {
		creates := srv.Calls(argocdtest.MethodAppCreate)
		_, err := reg.Invoke(jane, "paved:create-argocd-app", json.RawMessage(`{"name":"b1","source":{"repoURL":"https://git.example/b1.git","path":"."},"destination":{"namespace":"team-b-1"}}`), nil)
		refused(t, err, "paved.argocd.app.create", "DESTINATION_NAMESPACE_MATCHES")
		if _, ok := srv.App("", "b1"); ok || srv.Calls(argocdtest.MethodAppCreate) != creates {
			t.Fatalf("a refused create reached Argo CD")
		}
		if _, err := reg.Invoke(jane, "paved:create-argocd-app", json.RawMessage(`{"name":"a1","source":{"repoURL":"https://git.example/a1.git","path":"."},"destination":{"namespace":"team-a-1"}}`), nil); err != nil {
			t.Fatalf("create into team-a-1: %v", err)
		}
		if _, ok := srv.App("", "a1"); !ok {
			t.Fatal("a1 is not in Argo CD")
		}
	})
}

// An ApplicationSet generates Applications: create-argocd-appset asks for
// paved.argocd.app.create on each it would generate, delete-argocd-appset
// for paved.argocd.app.delete on each it deletes. Before, a set reached any
// project or namespace the invoke permission let a user name.
func TestAppSetActionsApplyConditionsToTheirApps(t *testing.T) {
	srv, client := newFakeArgoCD(t)
	shopNamespaces := &paved.Criteria{Rule: "DESTINATION_NAMESPACE_MATCHES", Params: json.RawMessage(`{"patterns":["shop-*"]}`)}
	policy, err := permission.NewPolicy([]permission.PolicyRule{
		{Permission: permission.AppCreate.Name, Result: paved.DecisionConditional, Conditions: shopNamespaces},
		{Permission: permission.AppDelete.Name, Users: []string{"user:default/jane"}, Result: paved.DecisionConditional,
			Conditions: &paved.Criteria{Rule: "HAS_PROJECT", Params: json.RawMessage(`{"projects":["elsewhere"]}`)}},
	}, permission.Readers{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved", Authorizer: permission.New(permission.Options{Decider: policy})})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppSetActions(scaffolder.AppSetActionsOptions{AppSets: client})...); err != nil {
		t.Fatal(err)
	}
	jane := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/jane"})
	input := func(prodNamespace string) json.RawMessage {
		return json.RawMessage(`{"name":"shop","repoURL":"https://git.example/shop.git","path":"envs/{{.environment}}","targetRevision":"main",
			"environments":[{"name":"dev","namespace":"shop-dev"},{"name":"prod","namespace":"` + prodNamespace + `"}]}`)
	}

	_, err = reg.Invoke(jane, "paved:create-argocd-appset", input("payments"), nil)
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "paved.argocd.app.create") ||
		!strings.Contains(err.Error(), "shop-prod") || !strings.Contains(err.Error(), "DESTINATION_NAMESPACE_MATCHES") {
		t.Fatalf("a set generating an app into payments = %v, want 403 naming shop-prod and the rule", err)
	}
	if srv.Calls(argocdtest.MethodAppSetCreate) != 0 {
		t.Fatal("a refused set reached Argo CD")
	}
	if _, err := reg.Invoke(jane, "paved:create-argocd-appset", input("shop-prod"), nil); err != nil {
		t.Fatalf("a set within shop-*: %v", err)
	}

	_, err = reg.Invoke(jane, "paved:delete-argocd-appset", json.RawMessage(`{"name":"shop"}`), nil)
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "paved.argocd.app.delete") || !strings.Contains(err.Error(), "HAS_PROJECT") {
		t.Fatalf("jane deleting the set = %v, want 403 naming the permission and the rule", err)
	}
	if _, ok := srv.AppSet("", "shop"); !ok || srv.Calls(argocdtest.MethodAppSetDelete) != 0 {
		t.Fatal("a refused delete reached Argo CD")
	}
	operator := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalStatic, Subject: "ops"})
	if out, err := reg.Invoke(operator, "paved:delete-argocd-appset", json.RawMessage(`{"name":"shop"}`), nil); err != nil || out["deleted"] != true {
		t.Fatalf("an operator deleting the set: %v, %v", out, err)
	}
}
