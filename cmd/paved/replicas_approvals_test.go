package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex/devextest"
)

// TestReplicasApprovals: requests held for approval behave as one paved on
// two replicas. A request made through a and approved through b is
// provisioned; two approvers approving at once, one on each replica, make
// one decision and one provisioning (the other gets a 409); a request a
// replica died with after the approval (left approved in the store) is
// finished by the sweep. The same for an Argo CD application into a prod-*
// namespace: held through a, created in Argo CD on the approval through b;
// one a replica died with after the approval is created by the sweep. The
// approvers' notification reaches Backstage's
// notifications plugin with paved's plugin token, verified as Backstage
// verifies it.
func TestReplicasApprovals(t *testing.T) {
	p := startPair(t, replicaOptions{
		devexOff: true,
		seed: func(bs *devextest.Backstage) {
			bs.AddUser("user:default/jane", "group:default/payments")
			bs.AddUser("user:default/carol", "group:default/platform")
			bs.AddUser("user:default/dave", "group:default/platform")
		},
		config: `
approvals:
  appUrl: https://backstage.example.com
  sweepInterval: 1s
  rules:
    - {kind: s3-bucket, approvers: platform}
    - {action: create-argocd-app, namespace: "prod-*", approvers: platform}
`,
	})
	jane := p.users.Mint(t, "user:default/jane")
	carol := p.users.Mint(t, "user:default/carol")
	dave := p.users.Mint(t, "user:default/dave")

	request := func(name string) string {
		t.Helper()
		a := p.a.callAs(t, jane, http.MethodPost, "/api/paved/.backstage/actions/v1/actions/paved:provision-infra/invoke",
			fmt.Sprintf(`{"kind":"s3-bucket","name":%q,"parameters":{"region":"eu-west-1"}}`, name))
		if a.status != http.StatusOK {
			t.Fatalf("request %s through a: %d %s", name, a.status, a.body)
		}
		out := a.output(t)
		id, _ := out["approvalId"].(string)
		if out["status"] != "pending-approval" || out["approvalUrl"] != "https://backstage.example.com/paved/approvals/"+id {
			t.Fatalf("request %s: output %v, want pending-approval with the request's page", name, out)
		}
		return id
	}
	state := func(id string) (string, string) {
		var s, res string
		if err := p.db.QueryRow(`SELECT state, resource_id FROM approval_requests WHERE id = $1`, id).Scan(&s, &res); err != nil {
			t.Fatal(err)
		}
		return s, res
	}
	provisionings := func(name string) int {
		var n int
		if err := p.db.QueryRow(`SELECT count(*) FROM infra_provisionings WHERE kind = 's3-bucket' AND name = $1 AND operation = 'provision' AND status = 'succeeded'`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const approve = "/api/paved/approvals/v1/requests/%s/approve"

	// Created through a, approved through b.
	one := request("assets")
	if s, _ := state(one); s != "pending" || provisionings("assets") != 0 {
		t.Fatalf("before any decision: %s, %d provisionings", s, provisionings("assets"))
	}
	if a := p.b.callAs(t, jane, http.MethodPost, fmt.Sprintf(approve, one), `{}`); a.status != http.StatusForbidden || !strings.Contains(string(a.body), "nobody approves their own request") {
		t.Errorf("self-approval through b: %d %s", a.status, a.body)
	}
	a := p.b.callAs(t, carol, http.MethodPost, fmt.Sprintf(approve, one), `{"comment":"ok"}`)
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"state":"done"`) {
		t.Fatalf("approval through b: %d %s", a.status, a.body)
	}
	if s, res := state(one); s != "done" || res == "" || provisionings("assets") != 1 {
		t.Errorf("after the approval through b: %s (resource %q), %d provisionings; want done, 1", s, res, provisionings("assets"))
	}

	// Two approvers at once, one on each replica.
	two := request("images")
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	start := make(chan struct{})
	for i, r := range []*running{p.a, p.b} {
		token := carol
		if i == 1 {
			token = dave
		}
		wg.Go(func() {
			<-start
			statuses[i] = r.callAs(t, token, http.MethodPost, fmt.Sprintf(approve, two), `{}`).status
		})
	}
	close(start)
	wg.Wait()
	if ok := (statuses[0] == 200) != (statuses[1] == 200); !ok || statuses[0]+statuses[1] != 200+409 {
		t.Errorf("two approvals at once: %v, want one 200 and one 409", statuses)
	}
	if s, _ := state(two); s != "done" || provisionings("images") != 1 {
		t.Errorf("after two approvals at once: %s, %d provisionings; want done, 1", s, provisionings("images"))
	}
	var decisions int
	if err := p.db.QueryRow(`SELECT count(*) FROM approval_events WHERE request_id = $1 AND state = 'approved'`, two).Scan(&decisions); err != nil || decisions != 1 {
		t.Errorf("%d approvals audited (%v), want 1", decisions, err)
	}

	// A replica died right after an approval: the sweep finishes it.
	three := request("logs")
	if _, err := p.db.Exec(`UPDATE approval_requests SET state = 'approved', decided_by = 'user:default/carol', updated_at = now() - interval '5 minutes' WHERE id = $1`, three); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the sweep provisions the approved request", func() (bool, string) {
		s, _ := state(three)
		return s == "done", s
	})
	if n := provisionings("logs"); n != 1 {
		t.Errorf("the resumed request was provisioned %d times, want 1", n)
	}

	// The approvers were notified through the notifications plugin, with a
	// plugin token Backstage accepts for it.
	sent := p.gateway.calls("/api/notifications/")
	if len(sent) == 0 {
		t.Fatal("no notification reached Backstage's notifications plugin")
	}
	for _, c := range sent {
		if c.err != nil {
			t.Errorf("a notification's token was refused: %v", c.err)
		}
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if a := p.a.callAs(t, carol, http.MethodGet, "/api/paved/approvals/v1/requests?state=done", ""); a.status != http.StatusOK || json.Unmarshal(a.body, &list) != nil || len(list.Items) != 3 {
		t.Errorf("done requests through a: %d %s", a.status, a.body)
	}

	// An Argo CD application into prod-*: held through a, created in Argo CD
	// by the approval through b.
	requestApp := func(name string) string {
		t.Helper()
		a := p.a.callAs(t, jane, http.MethodPost, "/api/paved/.backstage/actions/v1/actions/paved:create-argocd-app/invoke",
			fmt.Sprintf(`{"name":%q,"source":{"repoURL":"https://git.example.com/deploy.git","path":"apps/shop"},"destination":{"namespace":"prod-%s"},"createNamespace":true}`, name, name))
		if a.status != http.StatusOK {
			t.Fatalf("app %s through a: %d %s", name, a.status, a.body)
		}
		out := a.output(t)
		id, _ := out["approvalId"].(string)
		if out["status"] != "pending-approval" || out["url"] != "https://backstage.example.com/paved/approvals/"+id {
			t.Fatalf("app %s: output %v, want pending-approval with the request's page", name, out)
		}
		if _, ok := p.argo.App("", name); ok {
			t.Fatalf("app %s exists in Argo CD before any approval", name)
		}
		return id
	}
	shop := requestApp("shop")
	if a := p.b.callAs(t, carol, http.MethodPost, fmt.Sprintf(approve, shop), `{}`); a.status != http.StatusOK || !strings.Contains(string(a.body), `"state":"done"`) {
		t.Fatalf("app approval through b: %d %s", a.status, a.body)
	}
	if app, ok := p.argo.App("", "shop"); !ok || app.Spec.Destination.Namespace != "prod-shop" {
		t.Errorf("after the approval through b, Argo CD has %+v, %v; want shop into prod-shop", app, ok)
	}
	cart := requestApp("cart")
	if _, err := p.db.Exec(`UPDATE approval_requests SET state = 'approved', decided_by = 'user:default/carol', updated_at = now() - interval '5 minutes' WHERE id = $1`, cart); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the sweep creates the approved application", func() (bool, string) {
		s, _ := state(cart)
		return s == "done", s
	})
	if _, ok := p.argo.App("", "cart"); !ok {
		t.Error("the resumed request's application is not in Argo CD")
	}
}
