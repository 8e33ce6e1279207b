package scaffolder_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

type approverGroups map[string][]string

func (g approverGroups) UserGroups(_ context.Context, user string) ([]string, error) {
	return g[user], nil
}

// TestCreateAppPendingApproval: an application a rule holds (destination
// namespace prod-*) ends the step at once with status pending-approval and
// the request's page, and nothing in Argo CD; the approver's yes creates it
// in Argo CD as the requester asked (her labels); gitops mode cannot hold it
// and is refused; an application no rule matches is created at once.
func TestCreateAppPendingApproval(t *testing.T) {
	_, client := newFakeArgoCD(t)
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key := make([]byte, infra.KeySize)
	_, _ = rand.Read(key)
	sealer, _ := infra.NewSealer(key)
	svc, err := infra.NewService(infra.Options{Store: store, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	approvals, err := approval.NewService(approval.Options{
		Rules: []approval.Rule{{Action: approval.ActionCreateApp, Namespace: "prod-*", Approvers: "group:default/platform"}},
		Store: store, Infra: svc, Apps: client, Leases: store, Membership: approverGroups{"user:default/paula": {"group:default/platform"}},
		Links: approval.Links{Request: func(id string) string { return "https://backstage.test/paved/approvals/" + id }},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved", Recorder: store})
	if err != nil {
		t.Fatal(err)
	}
	url, _ := gitopstest.Serve(t)
	repo, err := gitops.Open(gitops.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: client, Approvals: approvals,
		GitOps: gitops.Writer{Repo: repo, Render: argocd.Manifests{}}})...); err != nil {
		t.Fatal(err)
	}
	in := json.RawMessage(`{"name":"web","source":{"repoURL":"https://git.example.com/deploy.git","path":"web"},"destination":{"namespace":"prod-web"},"entityRef":"component:default/web"}`)
	out, err := reg.Invoke(jane(), "paved:create-argocd-app", in, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := out["approvalId"].(string)
	page := "https://backstage.test/paved/approvals/" + id
	if out["status"] != "pending-approval" || id == "" || out["approvalUrl"] != page || out["url"] != page || out["created"] != false ||
		out["name"] != "web" || out["instance"] != "prod" || out["project"] != "default" || out["destinationNamespace"] != "prod-web" ||
		out["reason"] != "approvals.rules[0] (action create-argocd-app, namespace prod-*)" {
		t.Errorf("output = %v", out)
	}
	ref := paved.AppRef{Instance: "prod", Name: "web"}
	if _, err := client.GetApp(t.Context(), ref, false); paved.ErrorCode(err) != paved.ENotFound {
		t.Fatalf("a pending application exists in Argo CD: %v", err)
	}
	if again, err := reg.Invoke(jane(), "paved:create-argocd-app", in, nil); err != nil || again["approvalId"] != id {
		t.Errorf("retried step = %v, %v; want the same request %s", again, err, id)
	}
	_, err = reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(`{"name":"web2","mode":"gitops","source":{"repoURL":"https://git.example.com/deploy.git","path":"web"},"destination":{"namespace":"prod-web"}}`), nil)
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(paved.ErrorMessage(err), "needs approval (approvals.rules[0]") {
		t.Errorf("gitops mode into prod: %v, want 403 naming the rule", err)
	}

	paula := paved.WithPrincipal(t.Context(), paved.Principal{Kind: paved.PrincipalUser, Subject: "user:default/paula", User: "user:default/paula"})
	done, err := approvals.Decide(paula, id, approval.Decision{Approve: true})
	if err != nil || done.State != approval.StateDone {
		t.Fatalf("approve = %+v, %v", done, err)
	}
	app, err := client.GetApp(t.Context(), ref, false)
	if err != nil || app.Destination.Namespace != "prod-web" || app.Labels[paved.LabelUser] != paved.LabelValue("user:default/jane") ||
		app.Annotations[paved.AnnotationEntityRef] != "component:default/web" {
		t.Errorf("the approved application in Argo CD = %+v, %v", app, err)
	}

	staging, err := reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(`{"name":"web-staging","source":{"repoURL":"https://git.example.com/deploy.git","path":"web"},"destination":{"namespace":"staging-web"}}`), nil)
	if err != nil || staging["created"] != true || staging["status"] != nil {
		t.Errorf("an application no rule holds = %v, %v; want it created", staging, err)
	}
}
