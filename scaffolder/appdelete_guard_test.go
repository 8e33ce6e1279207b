package scaffolder_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/scaffolder"
)

// delete-argocd-app refuses an application paved did not create unless
// force, and force needs paved.argocd.app.delete on it; what a user created
// through paved they may delete. Before, any caller deleted any application
// paved's Argo CD account reached.
func TestDeleteAppRefusesWhatPavedDidNotCreate(t *testing.T) {
	_, client := newFakeArgoCD(t)
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved"})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: client})...); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// An application someone else made in Argo CD.
	if _, err := client.CreateApp(ctx, paved.AppRequest{AppRef: paved.AppRef{Instance: "prod", Name: "legacy", Project: "default"},
		Sources:     []paved.AppSource{{RepoURL: "https://git.example/legacy.git", Path: "deploy"}},
		Destination: paved.AppDestination{Server: "https://kubernetes.default.svc", Namespace: "legacy"},
		Labels:      map[string]string{paved.LabelManagedBy: "helm"}}); err != nil {
		t.Fatal(err)
	}
	jane := paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/jane"})
	operator := paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalStatic, Subject: "ops"})

	_, err = reg.Invoke(jane, "paved:delete-argocd-app", json.RawMessage(`{"name":"legacy"}`), nil)
	if paved.ErrorCode(err) != paved.EConflict || !strings.Contains(err.Error(), "not created by paved") || !strings.Contains(err.Error(), "force") {
		t.Fatalf("delete of a foreign app = %v, want 409 naming force", err)
	}
	_, err = reg.Invoke(jane, "paved:delete-argocd-app", json.RawMessage(`{"name":"legacy","force":true}`), nil)
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "paved.argocd.app.delete") || !strings.Contains(err.Error(), "IS_OWNER") {
		t.Fatalf("forced delete by a user without the permission = %v, want 403 naming the permission and rule", err)
	}
	if _, err := client.GetApp(ctx, paved.AppRef{Instance: "prod", Name: "legacy"}, false); err != nil {
		t.Fatalf("the refused deletes removed the app: %v", err)
	}
	out, err := reg.Invoke(operator, "paved:delete-argocd-app", json.RawMessage(`{"name":"legacy","force":true}`), nil)
	if err != nil || out["deleted"] != true {
		t.Fatalf("forced delete by an operator = %v, %v", out, err)
	}

	// What jane made through paved she may delete; bob may not.
	create := json.RawMessage(`{"name":"mine","source":{"repoURL":"https://git.example/mine.git","path":"deploy"},"destination":{"namespace":"mine"}}`)
	if _, err := reg.Invoke(jane, "paved:create-argocd-app", create, nil); err != nil {
		t.Fatal(err)
	}
	bob := paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalUser, Subject: "user:default/bob", User: "user:default/bob"})
	if _, err := reg.Invoke(bob, "paved:delete-argocd-app", json.RawMessage(`{"name":"mine"}`), nil); paved.ErrorCode(err) != paved.EForbidden {
		t.Fatalf("bob deleting jane's app = %v, want 403", err)
	}
	if out, err := reg.Invoke(jane, "paved:delete-argocd-app", json.RawMessage(`{"name":"mine"}`), nil); err != nil || out["deleted"] != true {
		t.Fatalf("jane deleting her app = %v, %v", out, err)
	}
}
