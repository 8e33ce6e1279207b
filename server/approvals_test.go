package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/infra"
)

// TestApprovalRoutes: a request of mallory's held for group platform's
// approval, read and decided through the routes by each kind of caller; the
// approval by carol (platform) provisions it (the manifests in the GitOps
// repository), once.
func TestApprovalRoutes(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		mallory := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/mallory"})
		gate := func(name string) string {
			t.Helper()
			p, ok, err := f.approvals.Gate(mallory, infra.Request{Kind: "postgresql-crossplane", Name: name,
				Parameters: map[string]any{"size": "large", "region": "eu-west-1"}})
			if err != nil || !ok {
				t.Fatalf("Gate(%s) = %v, %v; want pending", name, ok, err)
			}
			return p.Request.ID
		}
		id, other := gate("orders"), gate("ledger")
		base := "/api/paved/approvals/v1/requests/"
		carolTk := f.readerTk
		malloryTk := f.users.Mint(t, "user:default/mallory")
		cases := []struct {
			name, token, method, target, body string
			status                            int
			inBody                            string
		}{
			{"list pending", carolTk, "GET", "/api/paved/approvals/v1/requests?state=pending", "", 200, `"name":"orders"`},
			{"list shows who may decide", carolTk, "GET", "/api/paved/approvals/v1/requests?state=pending", "", 200, `"canDecide":true`},
			{"bad state", carolTk, "GET", "/api/paved/approvals/v1/requests?state=maybe", "", 400, `"field":"state"`},
			{"get with its trail", malloryTk, "GET", base + id, "", 200, `"events":[{"requestId":"` + id + `","state":"pending","actor":"user:default/mallory"`},
			{"the requester may not decide", malloryTk, "GET", base + id, "", 200, `"canDecide":false`},
			{"bad id", carolTk, "GET", base + "nope", "", 400, `"field":"id"`},
			{"no token", "", "POST", base + id + "/approve", "{}", 401, ""},
			{"self-approval", malloryTk, "POST", base + id + "/approve", "{}", 403, "nobody approves their own request"},
			{"an operator's token is not an approver", testToken, "POST", base + id + "/approve", "{}", 403, "a Backstage user with their own token"},
			{"bad body", carolTk, "POST", base + id + "/approve", `["x"]`, 400, `comment`},
			{"reject needs a comment", carolTk, "POST", base + other + "/reject", `{"comment":""}`, 400, `"field":"comment"`},
			{"approve", carolTk, "POST", base + id + "/approve", `{"comment":"ok for launch"}`, 200, `"state":"done"`},
			{"approve twice", carolTk, "POST", base + id + "/approve", "{}", 409, "the request is done, no longer pending"},
			{"reject", carolTk, "POST", base + other + "/reject", `{"comment":"use medium"}`, 200, `"state":"rejected"`},
			{"reject after reject", carolTk, "POST", base + other + "/reject", `{"comment":"again"}`, 409, "rejected"},
		}
		for _, c := range cases {
			resp := f.serve(t, hostileRequest{method: c.method, target: c.target, header: bearer(c.token), body: c.body})
			if resp.status != c.status || !strings.Contains(string(resp.raw), c.inBody) {
				t.Errorf("%s: %d %.400s; want %d with %s", c.name, resp.status, resp.raw, c.status, c.inBody)
			}
			if resp.status >= 400 {
				if msg := checkErrorJSON(resp); msg != "" {
					t.Errorf("%s: %s", c.name, msg)
				}
			}
		}
		var got approval.View
		mustJSONBody(t, f.serve(t, hostileRequest{method: "GET", target: base + id, header: bearer(carolTk)}), &got)
		r, err := f.store.GetInfraResource(context.Background(), got.ResourceID)
		if err != nil || r.Status != infra.StatusReady || r.Name != "orders" || r.CreatedBy != "user:default/mallory" || r.Owner != "user:default/mallory" {
			t.Errorf("provisioned resource = %+v, %v", r, err)
		}
		if _, err := f.store.FindInfraResource(context.Background(), "postgresql-crossplane", "ledger"); paved.ErrorCode(err) != paved.ENotFound {
			t.Errorf("the rejected request was provisioned: %v", err)
		}
		var trail []string
		for _, e := range got.Events {
			trail = append(trail, e.State+" "+e.Actor+" "+e.Comment)
		}
		if !strings.Contains(strings.Join(trail, "|"), "approved user:default/carol ok for launch|provisioning paved |done paved") {
			t.Errorf("audit trail = %q", trail)
		}
		raw, _ := json.Marshal(got)
		if strings.Contains(string(raw), "secret") {
			t.Errorf("the view carries a secret: %s", raw)
		}
	})
}
