package storetest

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/sqlstore"
)

var approvalTests = []struct {
	name string
	test func(t *testing.T, db *sqlstore.DB)
}{
	{"ApprovalRoundTrip", testApprovalRoundTrip},
	{"ApprovalStateMachine", testApprovalStateMachine},
	{"ApprovalConcurrentDecisionsOneWins", testApprovalRace},
	{"ApprovalExpiredAndStalled", testApprovalDue},
	{"ApprovalOfAnArgoCDApp", testApprovalApp},
	{"ApprovalNoticesOutbox", testApprovalNotices},
}

func approvalRequest(id, name string) approval.Request {
	t := base.Truncate(time.Microsecond)
	return approval.Request{
		ID: id, Kind: "postgresql", Name: name, Owner: "group:default/payments",
		Parameters: map[string]any{"size": "large", "replicas": float64(2)}, TTL: 7 * 24 * time.Hour,
		EntityRef: "component:default/shop", Requester: "user:default/jane", Approvers: "group:default/platform",
		Reason: "approvals.rules[0] (kind postgresql, size in [large])", State: approval.StatePending,
		CreatedAt: t, UpdatedAt: t, ExpiresAt: t.Add(72 * time.Hour),
	}
}

func testApprovalRoundTrip(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	r := approvalRequest("ap-1", "orders")
	if err := db.CreateApproval(ctx, r); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	got, err := db.GetApproval(ctx, "ap-1")
	if err != nil {
		t.Fatalf("GetApproval: %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("GetApproval =\n%+v\nwant\n%+v", got, r)
	}
	// One open request per kind and name.
	if err := db.CreateApproval(ctx, approvalRequest("ap-2", "orders")); paved.ErrorCode(err) != paved.EConflict {
		t.Errorf("a second open request for orders: %v, want conflict", err)
	}
	if open, err := db.FindOpenApproval(ctx, "postgresql", "orders"); err != nil || open.ID != "ap-1" {
		t.Errorf("FindOpenApproval = %q, %v; want ap-1", open.ID, err)
	}
	if _, err := db.GetApproval(ctx, "nope"); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("GetApproval(nope): %v, want not found", err)
	}
	bad := r
	bad.ID, bad.Requester, bad.State = "", "", approval.StateDone
	if err := db.CreateApproval(ctx, bad); paved.ErrorCode(err) != paved.EInvalid {
		t.Errorf("CreateApproval(bad): %v, want invalid", err)
	}
	// Once the first is final, the name may be asked for again.
	if ok, err := db.ChangeApproval(ctx, approval.Change{ID: "ap-1", From: approval.StatePending, To: approval.StateRejected, Actor: "user:default/ops", Comment: "too big", At: base.Add(time.Minute)}); !ok || err != nil {
		t.Fatalf("reject: %v, %v", ok, err)
	}
	later := approvalRequest("ap-2", "orders")
	later.CreatedAt = later.CreatedAt.Add(time.Hour)
	if err := db.CreateApproval(ctx, later); err != nil {
		t.Fatalf("CreateApproval after a rejection: %v", err)
	}
	list, err := db.ListApprovals(ctx, approval.Filter{})
	if err != nil || len(list) != 2 || list[0].ID != "ap-2" || list[1].ID != "ap-1" {
		t.Errorf("ListApprovals = %+v, %v; want ap-2, ap-1", list, err)
	}
	list, err = db.ListApprovals(ctx, approval.Filter{State: approval.StatePending})
	if err != nil || len(list) != 1 || list[0].ID != "ap-2" {
		t.Errorf("ListApprovals(pending) = %+v, %v; want ap-2", list, err)
	}
	if got, _ := db.GetApproval(ctx, "ap-1"); got.State != approval.StateRejected || got.DecidedBy != "user:default/ops" || got.Comment != "too big" {
		t.Errorf("rejected request = %+v", got)
	}
}

func testApprovalStateMachine(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	if err := db.CreateApproval(ctx, approvalRequest("ap-1", "orders")); err != nil {
		t.Fatal(err)
	}
	step := func(from, to string, c approval.Change, want bool) {
		t.Helper()
		c.ID, c.From, c.To = "ap-1", from, to
		ok, err := db.ChangeApproval(ctx, c)
		if err != nil || ok != want {
			t.Fatalf("%s → %s = %v, %v; want %v", from, to, ok, err, want)
		}
	}
	// Not a transition of the machine: refused whatever the stored state.
	if _, err := db.ChangeApproval(ctx, approval.Change{ID: "ap-1", From: approval.StatePending, To: approval.StateDone}); paved.ErrorCode(err) != paved.EInvalid {
		t.Errorf("pending → done: %v, want invalid", err)
	}
	step(approval.StateApproved, approval.StateProvisioning, approval.Change{}, false) // not approved yet
	step(approval.StatePending, approval.StateApproved, approval.Change{Actor: "user:default/ops", Comment: "ok", At: base.Add(time.Minute)}, true)
	step(approval.StatePending, approval.StateRejected, approval.Change{Actor: "user:default/other"}, false) // decided already
	step(approval.StateApproved, approval.StateProvisioning, approval.Change{Actor: "paved", At: base.Add(2 * time.Minute)}, true)
	step(approval.StateProvisioning, approval.StateDone, approval.Change{Actor: "paved", ResourceID: "res-9", At: base.Add(3 * time.Minute)}, true)
	got, err := db.GetApproval(ctx, "ap-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != approval.StateDone || got.DecidedBy != "user:default/ops" || got.Comment != "ok" || got.ResourceID != "res-9" ||
		!got.UpdatedAt.Equal(base.Add(3*time.Minute).Truncate(time.Microsecond)) {
		t.Errorf("done request = %+v", got)
	}
	events, err := db.ApprovalEvents(ctx, "ap-1")
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, e := range events {
		states = append(states, e.State+" by "+e.Actor)
	}
	want := []string{"pending by user:default/jane", "approved by user:default/ops", "provisioning by paved", "done by paved"}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("audit trail = %q, want %q", states, want)
	}
	if events[1].Comment != "ok" || !events[1].At.Equal(base.Add(time.Minute).Truncate(time.Microsecond)) {
		t.Errorf("approval event = %+v", events[1])
	}
}

// testApprovalRace: approvers deciding at once make one decision, one event.
func testApprovalRace(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	if err := db.CreateApproval(ctx, approvalRequest("ap-1", "orders")); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	wins := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			to := approval.StateApproved
			if i%2 == 1 {
				to = approval.StateRejected
			}
			ok, err := db.ChangeApproval(ctx, approval.Change{ID: "ap-1", From: approval.StatePending, To: to, Actor: "user:default/ops", Comment: "c"})
			if err != nil {
				t.Errorf("ChangeApproval: %v", err)
			}
			if ok {
				wins <- to
			}
		})
	}
	wg.Wait()
	close(wins)
	var won []string
	for w := range wins {
		won = append(won, w)
	}
	if len(won) != 1 {
		t.Fatalf("%d decisions won, want 1: %v", len(won), won)
	}
	if got, _ := db.GetApproval(ctx, "ap-1"); got.State != won[0] {
		t.Errorf("state = %s, the winner said %s", got.State, won[0])
	}
	if events, _ := db.ApprovalEvents(ctx, "ap-1"); len(events) != 2 {
		t.Errorf("%d events, want 2 (pending, the one decision)", len(events))
	}
}

func testApprovalDue(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		r := approvalRequest("ap-"+id, "db-"+id)
		if err := db.CreateApproval(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	expiry := base.Add(72 * time.Hour)
	if got, err := db.ExpiredApprovals(ctx, expiry.Add(-time.Second), 10); err != nil || len(got) != 0 {
		t.Errorf("ExpiredApprovals before expiry = %d, %v; want none", len(got), err)
	}
	if ok, err := db.ChangeApproval(ctx, approval.Change{ID: "ap-b", From: approval.StatePending, To: approval.StateApproved, Actor: "user:default/ops", At: base.Add(time.Minute)}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	got, err := db.ExpiredApprovals(ctx, expiry, 10)
	if err != nil || len(got) != 2 || got[0].ID != "ap-a" || got[1].ID != "ap-c" {
		t.Errorf("ExpiredApprovals = %+v, %v; want ap-a, ap-c (ap-b is decided)", got, err)
	}
	stalled, err := db.StalledApprovals(ctx, base.Add(time.Minute), base.Add(time.Minute), 10)
	if err != nil || len(stalled) != 1 || stalled[0].ID != "ap-b" {
		t.Errorf("StalledApprovals = %+v, %v; want ap-b", stalled, err)
	}
	if stalled, _ := db.StalledApprovals(ctx, base, base, 10); len(stalled) != 0 {
		t.Errorf("StalledApprovals before its change = %d, want none", len(stalled))
	}
	// A failed attempt backs off: not stalled again until its retry is due.
	if _, err := db.RetryApproval(ctx, "ap-b", base.Add(time.Minute), base.Add(time.Hour), "unreachable"); paved.ErrorCode(err) != paved.EConflict {
		t.Errorf("RetryApproval of an approved (not provisioning) request: %v, want conflict", err)
	}
	if ok, err := db.ChangeApproval(ctx, approval.Change{ID: "ap-b", From: approval.StateApproved, To: approval.StateProvisioning, Actor: "paved", At: base.Add(time.Minute)}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for want := 1; want <= 2; want++ {
		if n, err := db.RetryApproval(ctx, "ap-b", base.Add(2*time.Minute), base.Add(time.Hour), "argocd: connection refused"); n != want || err != nil {
			t.Errorf("RetryApproval = %d, %v; want %d", n, err, want)
		}
	}
	later := base.Add(30 * time.Minute)
	if stalled, _ := db.StalledApprovals(ctx, later, later, 10); len(stalled) != 0 {
		t.Errorf("StalledApprovals before its retry is due = %+v, want none", stalled)
	}
	stalled, err = db.StalledApprovals(ctx, later, base.Add(time.Hour), 10)
	if err != nil || len(stalled) != 1 || stalled[0].Attempts != 2 {
		t.Errorf("StalledApprovals once its retry is due = %+v, %v; want ap-b with 2 attempts", stalled, err)
	}
	events, _ := db.ApprovalEvents(ctx, "ap-b")
	if last := events[len(events)-1]; last.State != approval.StateProvisioning || !strings.Contains(last.Comment, "attempt 2 failed: argocd: connection refused; retrying after") {
		t.Errorf("last event = %+v", last)
	}
}

// testApprovalApp: a request for an Argo CD application keeps the
// application to create, whole, through every read: the sweep that
// resumes it creates exactly what was asked for.
func testApprovalApp(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	r := approvalRequest("ap-app", "default/shop-prod")
	r.Kind, r.TTL, r.Owner = approval.KindArgoCDApp, 0, "component:default/shop"
	r.Parameters = map[string]any{"namespace": "prod-shop", "project": "default"}
	r.App = &paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "default", Name: "shop-prod", Project: "payments"},
		Sources:     []paved.AppSource{{RepoURL: "https://git.example.com/shop.git", Path: "deploy", TargetRevision: "main", Helm: &paved.HelmSource{ValueFiles: []string{"prod.yaml"}}}},
		Destination: paved.AppDestination{Server: "https://kubernetes.default.svc", Namespace: "prod-shop"}, CreateNamespace: true,
		Automated: &paved.AutoSync{Prune: true}, Labels: map[string]string{paved.LabelManagedBy: paved.ManagedByPaved},
		Annotations: map[string]string{paved.AnnotationEntityRef: "component:default/shop"},
	}
	if err := db.CreateApproval(ctx, r); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	got, err := db.GetApproval(ctx, r.ID)
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("GetApproval = %+v, %v\nwant %+v", got, err, r)
	}
	// The same name of an infra kind is another request.
	if err := db.CreateApproval(ctx, approvalRequest("ap-infra", "default/shop-prod")); err != nil {
		t.Errorf("an infra request of the same name: %v", err)
	}
	if open, err := db.FindOpenApproval(ctx, approval.KindArgoCDApp, "default/shop-prod"); err != nil || open.App == nil || open.App.Destination.Namespace != "prod-shop" {
		t.Errorf("FindOpenApproval = %+v, %v", open, err)
	}
	at := base.Add(time.Minute)
	for _, c := range []approval.Change{{From: approval.StatePending, To: approval.StateApproved, Actor: "user:default/ops"}, {From: approval.StateApproved, To: approval.StateProvisioning, Actor: "paved"}} {
		c.ID, c.At = r.ID, at
		if ok, err := db.ChangeApproval(ctx, c); !ok || err != nil {
			t.Fatalf("%s → %s: %v, %v", c.From, c.To, ok, err)
		}
	}
	stalled, err := db.StalledApprovals(ctx, at, at, 10)
	if err != nil || len(stalled) != 1 || !reflect.DeepEqual(stalled[0].App, r.App) {
		t.Errorf("StalledApprovals = %+v, %v; want the app's request with its app", stalled, err)
	}
	// An infra request has none.
	if infra, err := db.GetApproval(ctx, "ap-infra"); err != nil || infra.App != nil {
		t.Errorf("infra request = %+v, %v; want no app", infra, err)
	}
}

// testApprovalNotices: a request's notices are recorded with the change
// they tell of (and not when the change is not applied), are due until
// sent, go to one of two senders at once, are due again once a claim is
// stale, and are pruned once sent long ago.
func testApprovalNotices(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	notice := func(id, title string) approval.Notice {
		return approval.Notice{ID: id, RequestID: "ap-n", CreatedAt: base.Truncate(time.Microsecond), Notification: approval.Notification{
			Recipients: []string{"group:default/platform"}, Exclude: []string{"user:default/jane"}, Title: title,
			Description: "jane asks for postgresql \"orders\"", Link: "https://backstage.example.com/paved/approvals/ap-n", Severity: "high", Topic: "paved-approvals"}}
	}
	asked := notice("n-1", "Approval needed: postgresql orders")
	if err := db.CreateApproval(ctx, approvalRequest("ap-n", "orders"), asked); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	// Not applied (the request is not approved): nothing recorded.
	if ok, err := db.ChangeApproval(ctx, approval.Change{ID: "ap-n", From: approval.StateApproved, To: approval.StateProvisioning, Notices: []approval.Notice{notice("n-lost", "Ready")}}); ok || err != nil {
		t.Fatalf("change from the wrong state = %v, %v", ok, err)
	}
	rejected := notice("n-2", "Rejected: postgresql orders")
	rejected.CreatedAt = rejected.CreatedAt.Add(time.Second)
	if ok, err := db.ChangeApproval(ctx, approval.Change{ID: "ap-n", From: approval.StatePending, To: approval.StateRejected, Actor: "user:default/ops", Comment: "no", At: base, Notices: []approval.Notice{rejected}}); !ok || err != nil {
		t.Fatalf("reject: %v, %v", ok, err)
	}
	at := base.Add(time.Minute)
	due, err := db.DueApprovalNotices(ctx, at, 10)
	if err != nil || len(due) != 2 || !reflect.DeepEqual(due[0], asked) || due[1].ID != "n-2" {
		t.Fatalf("DueApprovalNotices = %+v, %v; want n-1 (as recorded), n-2", due, err)
	}
	var wg sync.WaitGroup
	var won sync.Map
	for i := range 4 {
		wg.Go(func() {
			if ok, err := db.ClaimApprovalNotice(ctx, "n-1", at, at.Add(-2*time.Minute)); err != nil {
				t.Errorf("claim: %v", err)
			} else if ok {
				won.Store(i, true)
			}
		})
	}
	wg.Wait()
	n := 0
	won.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Errorf("%d senders claimed n-1, want 1", n)
	}
	if due, _ := db.DueApprovalNotices(ctx, at.Add(-2*time.Minute), 10); len(due) != 1 || due[0].ID != "n-2" {
		t.Errorf("due while n-1 is claimed = %+v, want n-2", due)
	}
	// The sender died: the stale claim is due again, with its attempt counted.
	if due, _ := db.DueApprovalNotices(ctx, at, 10); len(due) != 2 || due[0].Attempts != 1 {
		t.Errorf("due after a stale claim = %+v, want n-1 (1 attempt) and n-2", due)
	}
	for _, id := range []string{"n-1", "n-2"} {
		if ok, err := db.ClaimApprovalNotice(ctx, id, at.Add(time.Minute), at); !ok || err != nil {
			t.Fatalf("claim %s: %v, %v", id, ok, err)
		}
		if err := db.FinishApprovalNotice(ctx, id, at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if due, _ := db.DueApprovalNotices(ctx, at.Add(time.Hour), 10); len(due) != 0 {
		t.Errorf("due after both were sent = %+v", due)
	}
	if ok, _ := db.ClaimApprovalNotice(ctx, "n-1", at.Add(time.Hour), at.Add(time.Hour)); ok {
		t.Error("a sent notice was claimed again")
	}
	if n, err := db.PruneApprovalNotices(ctx, at); n != 0 || err != nil {
		t.Errorf("prune before they were sent = %d, %v", n, err)
	}
	if n, err := db.PruneApprovalNotices(ctx, at.Add(time.Hour)); n != 2 || err != nil {
		t.Errorf("prune = %d, %v; want 2", n, err)
	}
}
