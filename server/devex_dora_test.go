package server_test

import (
	"encoding/csv"
	"encoding/json"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
)

// TestDevexDORA: one app's life stored through its facts (a change Healthy
// 90 s after its commit, a broken change Degraded, a fix Healthy 50 s after
// its commit and 70 s after the degradation) answers, per service, team and
// template, 3 changes, 1 failed (0.3333: high), a median lead time of 70 s
// (elite) and 70 s to restore (elite); as CSV too; a bad groupBy is a 400
// naming it; a user outside the readers is refused.
func TestDevexDORA(t *testing.T) {
	f := newDevexServer(t)
	t0 := f.day.Add(12 * time.Hour)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	d1 := devex.DeploymentEvent{ID: "1", Revision: "c1", Succeeded: true, DeployedAt: at(60)}
	d2 := devex.DeploymentEvent{ID: "2", Revision: "c2", Succeeded: true, DeployedAt: at(260)}
	d3 := devex.DeploymentEvent{ID: "3", Revision: "c3", Succeeded: true, DeployedAt: at(330)}
	commits := map[string]time.Time{"c1": at(0), "c2": at(200), "c3": at(300)}
	for _, l := range []struct {
		health       string
		since, recon int
		rev          string
		history      []devex.DeploymentEvent
	}{
		{"Healthy", 90, 90, "c1", []devex.DeploymentEvent{d1}},
		{"Degraded", 280, 280, "c2", []devex.DeploymentEvent{d1, d2}},
		{"Healthy", 350, 350, "c3", []devex.DeploymentEvent{d1, d2, d3}},
	} {
		ch, err := f.store.RecordAppFacts(t.Context(), devex.Facts(devex.AppState{Key: "main/argocd/dora", Name: "dora",
			Service: "component:default/dora", Owner: "group:default/team-dora", TemplateRef: "template:default/service",
			Health: l.health, HealthSince: at(l.since), ReconciledAt: at(l.recon), Synced: true, Revision: l.rev,
			OperationPhase: "Succeeded", History: l.history, ObservedAt: at(l.recon + 1)}))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ch.NeedCommit {
			if err := f.store.SetCommitTime(t.Context(), c, commits[c.Revision]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, by := range []string{"", "team", "template"} {
		r := f.do(t, "GET", "/api/paved/devex/v1/dora?owner=team-dora&groupBy="+by, testToken, "")
		var rep devex.DORAReport
		if err := json.Unmarshal([]byte(r.raw), &rep); r.status != 200 || err != nil {
			t.Fatalf("dora by %q: %d %s", by, r.status, r.raw)
		}
		o := rep.Overall
		if len(rep.Items) != 1 || o.Changes != 3 || o.FailedChanges != 1 || o.ChangeFailureRate != 0.3333 || o.ChangeFailureTier != devex.TierMedium ||
			o.LeadTimeSeconds != 70 || o.LeadTimeTier != devex.TierElite || o.TimeToRestoreSeconds != 70 || o.TimeToRestoreTier != devex.TierElite {
			t.Errorf("dora by %q = %s", by, r.raw)
		}
	}
	r := f.do(t, "GET", "/api/paved/devex/v1/dora?format=csv&owner=team-dora&groupBy=team", testToken, "")
	rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
	if r.status != 200 || err != nil || len(rows) != 3 || rows[0][0] != "group" || rows[1][0] != "" || rows[2][0] != "group:default/team-dora" || rows[2][9] != "3" {
		t.Errorf("dora as CSV: %d %v %q", r.status, err, rows)
	}
	if r := f.do(t, "GET", "/api/paved/devex/v1/dora?groupBy=user&from=x", testToken, ""); r.status != 400 ||
		!strings.Contains(r.raw, `"groupBy"`) || !strings.Contains(r.raw, `"from"`) {
		t.Errorf("bad groupBy and from: %d %s, want a 400 naming both", r.status, r.raw)
	}
	dave := f.users.Mint(t, "user:default/dave")
	if r := f.do(t, "GET", "/api/paved/devex/v1/dora", dave, ""); r.status != 403 {
		t.Errorf("dave (not a reader): %d, want 403", r.status)
	}
}

// TestDevexDORAService: service narrows the answer per service to that
// service's rows as Backstage compares refs (a template writes its
// paved.dev/entity-ref verbatim: Component:Cart is component:default/cart),
// with overall the one row's figures, none for no row or two spellings of
// one service; CSV likewise; the cached answer per service stays whole; a
// service that is not an entity ref, or with another groupBy, is a 400
// naming it.
func TestDevexDORAService(t *testing.T) {
	f := newDevexServer(t)
	t0 := f.day.Add(12 * time.Hour)
	// changes syncs of service, Healthy after the last.
	record := func(service string, changes int) {
		var history []devex.DeploymentEvent
		for i := range changes {
			history = append(history, devex.DeploymentEvent{ID: strconv.Itoa(i + 1), Revision: "c" + strconv.Itoa(i+1), Succeeded: true,
				DeployedAt: t0.Add(time.Duration(i+1) * time.Minute)})
		}
		at := t0.Add(time.Hour)
		if _, err := f.store.RecordAppFacts(t.Context(), devex.Facts(devex.AppState{Key: "main/argocd/" + service, Name: "app",
			Service: service, Owner: "group:default/team-dora", TemplateRef: "template:default/service",
			Health: "Healthy", HealthSince: at, ReconciledAt: at, Synced: true, Revision: "c" + strconv.Itoa(changes),
			OperationPhase: "Succeeded", History: history, ObservedAt: at})); err != nil {
			t.Fatal(err)
		}
	}
	record("Component:Cart", 3)
	record("component:default/cartping", 5)
	record("component:api", 2)
	record("Component:default/API", 4)
	get := func(query string) devex.DORAReport {
		t.Helper()
		r := f.do(t, "GET", "/api/paved/devex/v1/dora?"+query, testToken, "")
		var rep devex.DORAReport
		if err := json.Unmarshal([]byte(r.raw), &rep); r.status != 200 || err != nil {
			t.Fatalf("dora?%s: %d %s", query, r.status, r.raw)
		}
		t.Logf("dora?%s: %d bytes", query, len(r.raw))
		return rep
	}
	whole := get("groupBy=service")
	if len(whole.Items) < 4 {
		t.Fatalf("dora by service: %d items, want the 4 services' at least", len(whole.Items))
	}
	for _, service := range []string{"component:default/cart", "Cart", "component:CART", "Component:Default/Cart"} {
		rep := get("service=" + url.QueryEscape(service))
		if len(rep.Items) != 1 || rep.Items[0].Group != "Component:Cart" || rep.Items[0].Changes != 3 ||
			rep.Overall.Group != "" || rep.Overall.Changes != 3 || rep.Overall.Deployments != rep.Items[0].Deployments ||
			rep.Overall.LeadTimeTier != rep.Items[0].LeadTimeTier || rep.GroupBy != "service" {
			t.Errorf("dora of %q = %+v, want the row of Component:Cart (3 changes) as items and overall", service, rep)
		}
	}
	if rep := get("groupBy=service&service=component:default/api"); len(rep.Items) != 2 || rep.Items[0].Changes+rep.Items[1].Changes != 6 ||
		rep.Overall.Changes != 0 || rep.Overall.ChangeFailureTier != devex.TierNone {
		t.Errorf("dora of component:default/api (two spellings) = %+v, want both rows and an overall without figures", rep)
	}
	r := f.do(t, "GET", "/api/paved/devex/v1/dora?service=component:default/nobody", testToken, "")
	if rep := get("service=component:default/nobody"); r.status != 200 || !strings.Contains(r.raw, `"items":[]`) ||
		rep.Overall.Deployments != 0 || rep.Overall.DeploymentFrequencyTier != devex.TierNone {
		t.Errorf("dora of a service without syncs: %d %s, want no items and an overall without figures", r.status, r.raw)
	}
	r = f.do(t, "GET", "/api/paved/devex/v1/dora?format=csv&service=cart", testToken, "")
	rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
	if r.status != 200 || err != nil || len(rows) != 3 || rows[0][0] != "group" || rows[1][0] != "" || rows[1][9] != "3" ||
		rows[2][0] != "Component:Cart" || rows[2][9] != "3" {
		t.Errorf("dora of cart as CSV: %d %v %q", r.status, err, rows)
	}
	if again := get("groupBy=service"); !reflect.DeepEqual(again, whole) {
		t.Errorf("dora by service after narrowed answers = %+v, want the whole answer as before %+v", again, whole)
	}
	for _, query := range []string{"groupBy=team&service=cart", "groupBy=template&service=cart", "service=a:b/c/d", "service=" + url.QueryEscape("cart cart"),
		"service=" + url.QueryEscape("component:default/"), "service=" + strings.Repeat("s", 300)} {
		if r := f.do(t, "GET", "/api/paved/devex/v1/dora?"+query, testToken, ""); r.status != 400 || !strings.Contains(r.raw, `"field":"service"`) {
			t.Errorf("dora?%s: %d %s, want a 400 naming service", query, r.status, r.raw)
		}
	}
}
