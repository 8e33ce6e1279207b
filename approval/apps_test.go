package approval_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
)

// fakeArgoCD stands for the Argo CD client as Argo CD answers: creating the
// same application again changes nothing (created false), a different spec
// of an existing one is a conflict. fail, while set, answers every create.
type fakeArgoCD struct {
	mu      sync.Mutex
	apps    map[string]string // name → spec
	creates atomic.Int32
	fail    error
}

func newFakeArgoCD() *fakeArgoCD { return &fakeArgoCD{apps: map[string]string{}} }

func (a *fakeArgoCD) CreateApp(ctx context.Context, req paved.AppRequest) (paved.App, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return paved.App{}, a.fail
	}
	spec, _ := json.Marshal(req)
	app := paved.App{AppRef: req.AppRef, URL: "https://argocd.example.com/applications/argocd/" + req.Name, Destination: req.Destination}
	if have, ok := a.apps[req.Name]; ok {
		if have != string(spec) {
			return paved.App{}, paved.Errorf(paved.EConflict, "existing application spec is different")
		}
		return app, nil
	}
	time.Sleep(20 * time.Millisecond) // long enough for a second replica to overlap
	a.apps[req.Name] = string(spec)
	a.creates.Add(1)
	app.Created = true
	return app, nil
}

func (a *fakeArgoCD) setFail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = err
}

func prodApp(name, namespace string) paved.AppRequest {
	return paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "default", Name: name},
		Sources:     []paved.AppSource{{RepoURL: "https://git.example.com/shop.git", Path: "deploy", TargetRevision: "main"}},
		Destination: paved.AppDestination{Server: "https://kubernetes.default.svc", Namespace: namespace},
		Annotations: map[string]string{paved.AnnotationEntityRef: "component:default/shop"},
	}
}

func (f *fixture) pendingApp(t *testing.T, name string) approval.Request {
	t.Helper()
	p, ok, err := f.svc.GateApp(viaScaffolder(t.Context(), jane), prodApp(name, "prod-"+name))
	if err != nil || !ok {
		t.Fatalf("GateApp = %v, %v; want pending", ok, err)
	}
	return p.Request
}

func TestGateApp(t *testing.T) {
	f := newFixture(t)
	ctx := viaScaffolder(t.Context(), jane)
	if _, ok, err := f.svc.GateApp(ctx, prodApp("shop", "staging-shop")); ok || err != nil {
		t.Errorf("GateApp(staging) = %v, %v; want no approval", ok, err)
	}
	p, ok, err := f.svc.GateApp(ctx, prodApp("shop", "prod-shop"))
	if err != nil || !ok {
		t.Fatalf("GateApp(prod) = %v, %v", ok, err)
	}
	r := p.Request
	if r.Kind != approval.KindArgoCDApp || r.Name != "default/shop" || r.State != approval.StatePending || r.Requester != jane ||
		r.Approvers != "group:default/platform" || r.Owner != "component:default/shop" || r.EntityRef != "component:default/shop" ||
		r.Reason != "approvals.rules[2] (action create-argocd-app, namespace prod-*)" || r.Parameters["namespace"] != "prod-shop" ||
		r.Parameters["source"] != "https://git.example.com/shop.git deploy main" || r.App == nil {
		t.Errorf("pending request = %+v", r)
	}
	if stored, err := f.store.GetApproval(t.Context(), r.ID); err != nil || stored.App == nil || stored.App.Destination.Namespace != "prod-shop" {
		t.Errorf("stored request = %+v, %v; want the app to create", stored, err)
	}
	n := f.notes.last()
	if strings.Join(n.Recipients, ",") != "group:default/platform" || strings.Join(n.Exclude, ",") != jane ||
		n.Title != "Approval needed: argocd-app default/shop for component:default/shop" || n.Link != p.URL ||
		!strings.Contains(n.Description, "namespace=prod-shop") {
		t.Errorf("approvers' notification = %+v", n)
	}
	// A retried step finds its request; another spec for the same app is a conflict.
	if again, ok, err := f.svc.GateApp(ctx, prodApp("shop", "prod-shop")); err != nil || !ok || again.Request.ID != r.ID {
		t.Errorf("GateApp again = %+v, %v, %v; want the same request", again.Request.ID, ok, err)
	}
	other := prodApp("shop", "prod-shop")
	other.Sources[0].TargetRevision = "v2"
	_, _, err = f.svc.GateApp(ctx, other)
	wantCode(t, err, paved.EConflict, "argocd-app \"default/shop\" is already requested by "+jane)
	_, _, err = f.svc.GateApp(paved.WithPrincipal(t.Context(), paved.Principal{Kind: paved.PrincipalStatic, Subject: "ci"}), prodApp("ci", "prod-ci"))
	wantCode(t, err, paved.EForbidden, "on behalf of a user")
	// An infra rule does not match an app, nor an app rule an infra request.
	if _, reason, ok := f.svc.AppRule(prodApp("x", "dev")); ok {
		t.Errorf("AppRule(dev) = %q", reason)
	}
	if f.apps.creates.Load() != 0 || f.infra.provisions.Load() != 0 {
		t.Errorf("%d apps created, %d provisionings before any approval", f.apps.creates.Load(), f.infra.provisions.Load())
	}
}

func TestApproveAppCreatesIt(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	r := f.pendingApp(t, "shop")
	_, err := f.svc.Decide(as(ctx, jane), r.ID, approval.Decision{Approve: true})
	wantCode(t, err, paved.EForbidden, "nobody approves their own request")
	done, err := f.svc.Decide(as(ctx, paula), r.ID, approval.Decision{Approve: true, Comment: "go live"})
	if err != nil || done.State != approval.StateDone || done.ResourceID != "" {
		t.Fatalf("approve = %+v, %v; want done", done, err)
	}
	if f.apps.creates.Load() != 1 {
		t.Errorf("%d apps created, want 1", f.apps.creates.Load())
	}
	n := f.notes.last()
	if strings.Join(n.Recipients, ",") != jane || n.Title != "Ready: argocd-app default/shop" ||
		n.Link != "https://argocd.example.com/applications/argocd/shop" || !strings.Contains(n.Description, "(go live)") {
		t.Errorf("requester's notification = %+v", n)
	}

	// A rejection and an expiry create nothing.
	no := f.pendingApp(t, "cart")
	if got, err := f.svc.Decide(as(ctx, paula), no.ID, approval.Decision{Comment: "not before the freeze ends"}); err != nil || got.State != approval.StateRejected {
		t.Errorf("reject = %+v, %v", got, err)
	}
	late := f.pendingApp(t, "search")
	f.now.Add((time.Hour + time.Second).Microseconds())
	if n, err := f.svc.Expire(ctx); n != 1 || err != nil {
		t.Errorf("Expire = %d, %v; want 1", n, err)
	}
	if got, _ := f.store.GetApproval(ctx, late.ID); got.State != approval.StateExpired {
		t.Errorf("late request = %s, want expired", got.State)
	}
	if f.apps.creates.Load() != 1 {
		t.Errorf("%d apps created, want 1: a rejection or expiry created one", f.apps.creates.Load())
	}
}

// TestAppResumedOnceByTwoReplicas: approvals whose replica died (after the
// decision; after Argo CD created the app but before the request was marked
// done) are finished by the sweeps of two replicas at once, each app created
// exactly once.
func TestAppResumedOnceByTwoReplicas(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	b, err := approval.NewService(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMicro(f.now.Load())
	approve := func(r approval.Request, to ...string) {
		from := approval.StatePending
		for _, s := range to {
			if ok, err := f.store.ChangeApproval(ctx, approval.Change{ID: r.ID, From: from, To: s, Actor: paula, At: at}); !ok || err != nil {
				t.Fatal(ok, err)
			}
			from = s
		}
	}
	killedAfterDecision := f.pendingApp(t, "shop")
	approve(killedAfterDecision, approval.StateApproved)
	killedAfterCreate := f.pendingApp(t, "cart")
	approve(killedAfterCreate, approval.StateApproved, approval.StateProvisioning)
	if _, err := f.apps.CreateApp(ctx, *killedAfterCreate.App); err != nil {
		t.Fatal(err)
	}
	f.now.Add((2 * time.Minute).Microseconds())
	var wg sync.WaitGroup
	var finished atomic.Int32
	for _, svc := range []*approval.Service{f.svc, b, f.svc, b} {
		wg.Go(func() {
			n, err := svc.Resume(ctx)
			if err != nil {
				t.Errorf("Resume: %v", err)
			}
			finished.Add(int32(n))
		})
	}
	wg.Wait()
	for _, r := range []approval.Request{killedAfterDecision, killedAfterCreate} {
		if got, _ := f.store.GetApproval(ctx, r.ID); got.State != approval.StateDone {
			t.Errorf("%s = %s, want done", r.Name, got.State)
		}
	}
	if f.apps.creates.Load() != 2 || finished.Load() != 2 {
		t.Errorf("%d apps created, %d requests finished; want 2, 2", f.apps.creates.Load(), finished.Load())
	}
}

// TestAppTransientErrorRetried: Argo CD unreachable leaves the approved
// request provisioning for the sweep; a refusal (a conflicting app) is final.
func TestAppTransientErrorRetried(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	r := f.pendingApp(t, "shop")
	f.apps.setFail(paved.Errorf(paved.EUnavailable, "argocd: connection refused"))
	got, err := f.svc.Decide(as(ctx, paula), r.ID, approval.Decision{Approve: true})
	if err != nil || got.State != approval.StateProvisioning {
		t.Fatalf("approve with Argo CD down = %+v, %v; want provisioning", got, err)
	}
	f.apps.setFail(nil)
	f.now.Add((2 * time.Minute).Microseconds())
	if n, err := f.svc.Resume(ctx); n != 1 || err != nil {
		t.Fatalf("Resume = %d, %v", n, err)
	}
	if got, _ := f.store.GetApproval(ctx, r.ID); got.State != approval.StateDone || f.apps.creates.Load() != 1 {
		t.Errorf("after the sweep: %s, %d apps created; want done, 1", got.State, f.apps.creates.Load())
	}

	clash := f.pendingApp(t, "cart")
	f.apps.apps["cart"] = "someone else's"
	got, err = f.svc.Decide(as(ctx, paula), clash.ID, approval.Decision{Approve: true})
	if err != nil || got.State != approval.StateFailed || !strings.Contains(got.Error, "spec is different") {
		t.Errorf("approve a conflicting app = %+v, %v; want failed with Argo CD's reason", got, err)
	}
	if n := f.notes.last(); n.Title != "Failed: argocd-app default/cart" {
		t.Errorf("notification = %+v", n)
	}
}

func TestAppRuleNeedsArgoCD(t *testing.T) {
	f := newFixture(t)
	o := f.opts
	o.Apps = nil
	if _, err := approval.NewService(o); err == nil || !strings.Contains(err.Error(), "no Argo CD client") {
		t.Errorf("NewService without Apps = %v", err)
	}
}
