package server_test

import (
	"encoding/csv"
	"encoding/json"
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
