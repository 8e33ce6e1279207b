package approval_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// fakeInfra stands for infra.Service: it admits every request (owner
// defaults to the caller), says size huge is over budget, and counts the
// provisionings of approved requests.
type fakeInfra struct {
	provisions atomic.Int32
	fail       error
}

func (f *fakeInfra) Admit(ctx context.Context, req infra.Request) (infra.Request, error) {
	if req.Name == "bad" {
		return infra.Request{}, paved.InvalidFields(paved.FieldError{Field: "name", Message: "bad"})
	}
	if req.Owner == "" {
		p, _ := paved.PrincipalFrom(ctx)
		req.Owner = p.User
	}
	return req, nil
}

func (f *fakeInfra) OverBudget(_ context.Context, req infra.Request) (string, bool, error) {
	if req.Parameters["size"] == "huge" {
		return "the monthly budget of group:default/payments (100 USD) would be exceeded", true, nil
	}
	return "", false, nil
}

func (f *fakeInfra) Provision(ctx context.Context, req infra.Request) (infra.Resource, bool, error) {
	if req.Approval == "" {
		return infra.Resource{}, false, paved.Errorf(paved.EInternal, "not an approved request")
	}
	f.provisions.Add(1)
	time.Sleep(20 * time.Millisecond) // long enough for a second approver to overlap
	if f.fail != nil {
		return infra.Resource{}, false, f.fail
	}
	p, _ := paved.PrincipalFrom(ctx)
	return infra.Resource{ID: "res-" + req.Name, Kind: req.Kind, Name: req.Name, Owner: req.Owner, CreatedBy: p.User, Status: infra.StatusReady}, true, nil
}

type groups map[string][]string

func (g groups) UserGroups(_ context.Context, user string) ([]string, error) { return g[user], nil }

type notifier struct {
	mu   sync.Mutex
	sent []approval.Notification
	// fail, while set, answers every notification.
	fail error
}

func (n *notifier) Notify(_ context.Context, m approval.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail != nil {
		return n.fail
	}
	n.sent = append(n.sent, m)
	return nil
}

func (n *notifier) setFail(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fail = err
}

// titles counts the notifications sent by title.
func (n *notifier) titles() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]int{}
	for _, m := range n.sent {
		out[m.Title]++
	}
	return out
}

func (n *notifier) last() approval.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.sent) == 0 {
		return approval.Notification{}
	}
	return n.sent[len(n.sent)-1]
}

type fixture struct {
	svc   *approval.Service
	opts  approval.Options
	store *sqlstore.DB
	infra *fakeInfra
	apps  *fakeArgoCD
	notes *notifier
	now   *atomic.Int64
}

const (
	jane  = "user:default/jane"  // requester, member of payments
	paula = "user:default/paula" // platform approver
	pete  = "user:default/pete"  // platform approver
	omar  = "user:default/omar"  // neither
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	f := &fixture{store: db, infra: &fakeInfra{}, apps: newFakeArgoCD(), notes: &notifier{}, now: &atomic.Int64{}}
	f.now.Store(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC).UnixMicro())
	f.opts = approval.Options{
		Rules: []approval.Rule{
			{Kind: "postgresql", Parameters: map[string][]string{"size": {"large"}}, Approvers: "group:default/platform"},
			{OverBudget: true, Approvers: approval.ApproversOwner},
			{Action: approval.ActionCreateApp, Namespace: "prod-*", Approvers: "group:default/platform"},
		},
		ExpireAfter: time.Hour, Store: db, Infra: f.infra, Apps: f.apps, Leases: db, Notifier: f.notes,
		Membership: groups{jane: {"group:default/payments"}, paula: {"group:default/platform"}, pete: {"group:default/platform", "group:default/payments"}},
		Links: approval.Links{
			Request: func(id string) string { return "https://backstage.example.com/paved/approvals/" + id },
			Resource: func(r infra.Resource) string {
				return "https://backstage.example.com/catalog/default/resource/" + r.Name
			},
		},
		Now: func() time.Time { return time.UnixMicro(f.now.Load()).UTC() },
	}
	f.svc, err = approval.NewService(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func as(ctx context.Context, user string) context.Context {
	return paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalUser, Subject: user, User: user})
}

func viaScaffolder(ctx context.Context, user string) context.Context {
	return paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: user})
}

func large(name string) infra.Request {
	return infra.Request{Kind: "postgresql", Name: name, Owner: "group:default/payments", Parameters: map[string]any{"size": "large"}}
}

func (f *fixture) pending(t *testing.T, name string) approval.Request {
	t.Helper()
	p, ok, err := f.svc.Gate(viaScaffolder(t.Context(), jane), large(name))
	if err != nil || !ok {
		t.Fatalf("Gate = %v, %v; want pending", ok, err)
	}
	return p.Request
}

func wantCode(t *testing.T, err error, code paved.Code, msg string) {
	t.Helper()
	if paved.ErrorCode(err) != code || !strings.Contains(paved.ErrorMessage(err), msg) {
		t.Errorf("error = %v (%s), want %s containing %q", err, paved.ErrorCode(err), code, msg)
	}
}

func TestGate(t *testing.T) {
	f := newFixture(t)
	ctx := viaScaffolder(t.Context(), jane)
	small := large("small-db")
	small.Parameters = map[string]any{"size": "small"}
	if _, ok, err := f.svc.Gate(ctx, small); ok || err != nil {
		t.Errorf("Gate(small) = %v, %v; want no approval", ok, err)
	}
	if _, _, err := f.svc.Gate(ctx, large("bad")); paved.ErrorCode(err) != paved.EInvalid {
		t.Errorf("Gate(bad) = %v; a bad request is refused before any approval", err)
	}
	p, ok, err := f.svc.Gate(ctx, large("orders"))
	if err != nil || !ok {
		t.Fatalf("Gate(large) = %v, %v", ok, err)
	}
	r := p.Request
	if r.State != approval.StatePending || r.Requester != jane || r.Approvers != "group:default/platform" ||
		!strings.Contains(r.Reason, "approvals.rules[0] (kind postgresql, size in [large])") || !r.ExpiresAt.Equal(r.CreatedAt.Add(time.Hour)) {
		t.Errorf("pending request = %+v", r)
	}
	if p.URL != "https://backstage.example.com/paved/approvals/"+r.ID {
		t.Errorf("URL = %q", p.URL)
	}
	n := f.notes.last()
	if strings.Join(n.Recipients, ",") != "group:default/platform" || strings.Join(n.Exclude, ",") != jane ||
		!strings.HasPrefix(n.Title, "Approval needed: postgresql orders") || n.Link != p.URL || n.Topic != approval.Topic {
		t.Errorf("approvers' notification = %+v", n)
	}
	// A retried step finds its request; someone else's is a conflict.
	again, ok, err := f.svc.Gate(ctx, large("orders"))
	if err != nil || !ok || again.Request.ID != r.ID {
		t.Errorf("Gate again = %+v, %v, %v; want the same request", again.Request.ID, ok, err)
	}
	_, _, err = f.svc.Gate(viaScaffolder(t.Context(), pete), large("orders"))
	wantCode(t, err, paved.EConflict, "already requested by "+jane)
	// Over budget: the owner group decides.
	huge := large("analytics")
	huge.Parameters = map[string]any{"size": "huge"}
	p, ok, err = f.svc.Gate(ctx, huge)
	if err != nil || !ok || p.Request.Approvers != "group:default/payments" || !strings.Contains(p.Request.Reason, "(over budget): the monthly budget") {
		t.Errorf("Gate(over budget) = %+v, %v, %v", p.Request, ok, err)
	}
	// Without a user there is nobody to tell and nobody who may not decide.
	_, _, err = f.svc.Gate(paved.WithPrincipal(t.Context(), paved.Principal{Kind: paved.PrincipalStatic, Subject: "ci"}), large("ci-db"))
	wantCode(t, err, paved.EForbidden, "on behalf of a user")
	if f.infra.provisions.Load() != 0 {
		t.Errorf("%d provisionings before any approval", f.infra.provisions.Load())
	}
}

func TestDecide(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	r := f.pending(t, "orders")

	_, err := f.svc.Decide(as(ctx, jane), r.ID, approval.Decision{Approve: true})
	wantCode(t, err, paved.EForbidden, "nobody approves their own request")
	_, err = f.svc.Decide(as(ctx, omar), r.ID, approval.Decision{Approve: true})
	wantCode(t, err, paved.EForbidden, "not a member of group:default/platform")
	_, err = f.svc.Decide(viaScaffolder(ctx, paula), r.ID, approval.Decision{Approve: true})
	wantCode(t, err, paved.EForbidden, "with their own token")
	_, err = f.svc.Decide(as(ctx, paula), r.ID, approval.Decision{Approve: false, Comment: "  "})
	wantCode(t, err, paved.EInvalid, "comment: is required to reject")
	_, err = f.svc.Decide(as(ctx, paula), "6a1b7c1e-0000-4000-8000-000000000000", approval.Decision{Approve: true})
	wantCode(t, err, paved.ENotFound, "not found")
	if f.infra.provisions.Load() != 0 {
		t.Fatalf("refused decisions provisioned %d times", f.infra.provisions.Load())
	}

	done, err := f.svc.Decide(as(ctx, paula), r.ID, approval.Decision{Approve: true, Comment: "fine for Q1"})
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if done.State != approval.StateDone || done.ResourceID != "res-orders" || done.DecidedBy != paula || done.Comment != "fine for Q1" {
		t.Errorf("approved request = %+v", done)
	}
	n := f.notes.last()
	if strings.Join(n.Recipients, ",") != jane || n.Title != "Ready: postgresql orders" ||
		n.Link != "https://backstage.example.com/catalog/default/resource/orders" || !strings.Contains(n.Description, paula+" approved your request (fine for Q1)") {
		t.Errorf("requester's notification = %+v", n)
	}
	_, err = f.svc.Decide(as(ctx, pete), r.ID, approval.Decision{Approve: false, Comment: "no"})
	wantCode(t, err, paved.EConflict, "the request is done, no longer pending (decided by "+paula+")")

	v, err := f.svc.Get(as(ctx, jane), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, e := range v.Events {
		trail = append(trail, e.State+" "+e.Actor)
	}
	if got := strings.Join(trail, "; "); got != "pending "+jane+"; approved "+paula+"; provisioning paved; done paved" {
		t.Errorf("audit trail = %s", got)
	}
	if f.infra.provisions.Load() != 1 {
		t.Errorf("%d provisionings, want 1", f.infra.provisions.Load())
	}
}

func TestRejectProvisionsNothing(t *testing.T) {
	f := newFixture(t)
	r := f.pending(t, "orders")
	got, err := f.svc.Decide(as(t.Context(), paula), r.ID, approval.Decision{Comment: "use a small one first"})
	if err != nil || got.State != approval.StateRejected || got.Comment != "use a small one first" {
		t.Fatalf("reject = %+v, %v", got, err)
	}
	n := f.notes.last()
	if n.Title != "Rejected: postgresql orders" || !strings.Contains(n.Description, "use a small one first") || strings.Join(n.Recipients, ",") != jane {
		t.Errorf("rejection notification = %+v", n)
	}
	if f.infra.provisions.Load() != 0 {
		t.Errorf("a rejection provisioned %d times", f.infra.provisions.Load())
	}
	// The name is free to be asked for again.
	if again := f.pending(t, "orders"); again.ID == r.ID {
		t.Errorf("a new request reused the rejected one")
	}
}

func TestTwoApproversAtOnceProvisionOnce(t *testing.T) {
	f := newFixture(t)
	r := f.pending(t, "orders")
	var wg sync.WaitGroup
	var ok, conflict atomic.Int32
	for _, u := range []string{paula, pete, paula, pete} {
		wg.Go(func() {
			_, err := f.svc.Decide(as(t.Context(), u), r.ID, approval.Decision{Approve: true})
			switch paved.ErrorCode(err) {
			case "":
				ok.Add(1)
			case paved.EConflict:
				conflict.Add(1)
			default:
				t.Errorf("Decide: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != 3 || f.infra.provisions.Load() != 1 {
		t.Errorf("%d approvals went through, %d conflicts, %d provisionings; want 1, 3, 1", ok.Load(), conflict.Load(), f.infra.provisions.Load())
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	r := f.pending(t, "orders")
	if n, err := f.svc.Expire(t.Context()); n != 0 || err != nil {
		t.Errorf("Expire before its time = %d, %v", n, err)
	}
	f.now.Add((time.Hour + time.Second).Microseconds())
	if n, err := f.svc.Expire(t.Context()); n != 1 || err != nil {
		t.Fatalf("Expire = %d, %v; want 1", n, err)
	}
	if n, _ := f.svc.Expire(t.Context()); n != 0 {
		t.Errorf("a second sweep expired %d again", n)
	}
	_, err := f.svc.Decide(as(t.Context(), paula), r.ID, approval.Decision{Approve: true})
	wantCode(t, err, paved.EConflict, "the request is expired")
	if n := f.notes.last(); n.Title != "Expired: postgresql orders" || strings.Join(n.Recipients, ",") != jane {
		t.Errorf("expiry notification = %+v", n)
	}
	if f.infra.provisions.Load() != 0 {
		t.Errorf("an expired request provisioned %d times", f.infra.provisions.Load())
	}
}

// TestResumeAfterAKill: an approval whose provisioner died (the request left
// approved or provisioning) is finished by the sweep of any replica.
func TestResumeAfterAKill(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, stop := range []string{approval.StateApproved, approval.StateProvisioning} {
		r := f.pending(t, "db-"+stop)
		at := time.UnixMicro(f.now.Load())
		if ok, err := f.store.ChangeApproval(ctx, approval.Change{ID: r.ID, From: approval.StatePending, To: approval.StateApproved, Actor: paula, At: at}); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if stop == approval.StateProvisioning {
			if ok, err := f.store.ChangeApproval(ctx, approval.Change{ID: r.ID, From: approval.StateApproved, To: approval.StateProvisioning, Actor: "paved", At: at}); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
	}
	if n, err := f.svc.Resume(ctx); n != 0 || err != nil {
		t.Errorf("Resume at once = %d, %v; a live provisioner may still be at work", n, err)
	}
	f.now.Add((2 * time.Minute).Microseconds())
	if n, err := f.svc.Resume(ctx); n != 2 || err != nil {
		t.Fatalf("Resume = %d, %v; want 2", n, err)
	}
	list, err := f.store.ListApprovals(ctx, approval.Filter{State: approval.StateDone})
	if err != nil || len(list) != 2 {
		t.Errorf("done requests = %d, %v; want 2", len(list), err)
	}
	if f.infra.provisions.Load() != 2 {
		t.Errorf("%d provisionings, want 2", f.infra.provisions.Load())
	}
}

func TestProvisioningFailureIsFinal(t *testing.T) {
	f := newFixture(t)
	f.infra.fail = paved.Errorf(paved.EForbidden, "guardrails.infra[0]: size large is not allowed for group:default/payments")
	r := f.pending(t, "orders")
	got, err := f.svc.Decide(as(t.Context(), paula), r.ID, approval.Decision{Approve: true})
	if err != nil || got.State != approval.StateFailed || !strings.Contains(got.Error, "guardrails.infra[0]") {
		t.Errorf("approve = %+v, %v; want failed with the guardrail", got, err)
	}
	if n := f.notes.last(); n.Title != "Failed: postgresql orders" {
		t.Errorf("notification = %+v", n)
	}
}

// TestNotificationsOutbox: a notification is recorded with the change it
// tells of; the notifications backend down when the change is made loses
// nothing (the sweep sends it once the backend answers, once), and neither
// does a kill between the change and the send.
func TestNotificationsOutbox(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.notes.setFail(paved.Errorf(paved.EUnavailable, "notifications: 503"))
	r := f.pending(t, "orders")
	if _, err := f.svc.Decide(as(ctx, paula), r.ID, approval.Decision{Comment: "too big"}); err != nil {
		t.Fatalf("reject with the backend down: %v", err)
	}
	if got := f.notes.titles(); len(got) != 0 {
		t.Fatalf("sent %v while the backend was down", got)
	}
	f.notes.setFail(nil)
	if n, err := f.svc.SendDue(ctx); n != 0 || err != nil {
		t.Errorf("SendDue at once = %d, %v; a failed notice waits before its retry", n, err)
	}
	f.now.Add((3 * time.Minute).Microseconds())
	if n, err := f.svc.SendDue(ctx); n != 2 || err != nil {
		t.Fatalf("SendDue = %d, %v; want the approvers' and the rejection", n, err)
	}
	if n, _ := f.svc.SendDue(ctx); n != 0 {
		t.Errorf("a second sweep sent %d again", n)
	}
	// A kill between the change and the send: the notice is in the store only.
	r2 := f.pending(t, "carts")
	at := time.UnixMicro(f.now.Load())
	lost := approval.Notice{ID: "n-killed", RequestID: r2.ID, CreatedAt: at, Notification: approval.Notification{
		Recipients: []string{jane}, Title: "Rejected: postgresql carts", Description: "no", Topic: approval.Topic}}
	if ok, err := f.store.ChangeApproval(ctx, approval.Change{ID: r2.ID, From: approval.StatePending, To: approval.StateRejected, Actor: paula, Comment: "no", At: at, Notices: []approval.Notice{lost}}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if n, err := f.svc.SendDue(ctx); n != 1 || err != nil {
		t.Fatalf("SendDue after a kill = %d, %v; want 1", n, err)
	}
	want := map[string]int{"Approval needed: postgresql orders for group:default/payments": 1, "Rejected: postgresql orders": 1,
		"Approval needed: postgresql carts for group:default/payments": 1, "Rejected: postgresql carts": 1}
	if got := f.notes.titles(); !reflect.DeepEqual(got, want) {
		t.Errorf("sent %v, want each once: %v", got, want)
	}
}

// TestTransientErrorsBackOffThenFail: a provisioning that keeps failing on
// a transient error is retried by the sweep, each time later (1, 2, 4 …
// minutes), then fails with the reason after MaxAttempts, and the requester
// is told.
func TestTransientErrorsBackOffThenFail(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.infra.fail = paved.Errorf(paved.EUnavailable, "crossplane: the API server is unreachable")
	r := f.pending(t, "orders")
	got, err := f.svc.Decide(as(ctx, paula), r.ID, approval.Decision{Approve: true})
	if err != nil || got.State != approval.StateProvisioning || got.Attempts != 1 {
		t.Fatalf("approve = %+v, %v; want provisioning after 1 attempt", got, err)
	}
	for attempt := 2; attempt <= approval.DefaultMaxAttempts; attempt++ {
		delay := time.Minute << (attempt - 2)
		if delay > time.Hour {
			delay = time.Hour
		}
		f.now.Add((delay - time.Second).Microseconds())
		before := f.infra.provisions.Load()
		if _, err := f.svc.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		if f.infra.provisions.Load() != before {
			t.Fatalf("attempt %d was made before its delay of %s", attempt, delay)
		}
		f.now.Add(time.Second.Microseconds())
		if _, err := f.svc.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		if f.infra.provisions.Load() != before+1 {
			t.Fatalf("attempt %d was not made after its delay of %s", attempt, delay)
		}
	}
	got, _ = f.store.GetApproval(ctx, r.ID)
	if got.State != approval.StateFailed || got.Error != "gave up after 8 attempts: crossplane: the API server is unreachable" {
		t.Errorf("after %d attempts: %s %q", approval.DefaultMaxAttempts, got.State, got.Error)
	}
	if n := f.notes.last(); n.Title != "Failed: postgresql orders" || !strings.Contains(n.Description, "gave up after 8 attempts") {
		t.Errorf("requester's notification = %+v", n)
	}
	if f.infra.provisions.Load() != approval.DefaultMaxAttempts {
		t.Errorf("%d provisionings, want %d", f.infra.provisions.Load(), approval.DefaultMaxAttempts)
	}
}
