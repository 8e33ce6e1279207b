package storetest

import (
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// testDevexFourKeys plays an application's life through the facts its
// watch events give: a change Healthy, a broken change Degraded, a fix
// Healthy again. Every look is applied twice (two replicas following the
// same stream), and a lagging replica's stale looks after the restore: each
// change, failure and incident counts once, with the hand-computed times.
func testDevexFourKeys(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	t0 := devexDay.Truncate(time.Second)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	d1 := devex.DeploymentEvent{ID: "1", Revision: "c1", Succeeded: true, DeployedAt: at(60)}
	d2 := devex.DeploymentEvent{ID: "2", Revision: "c2", Succeeded: true, DeployedAt: at(260)}
	d3 := devex.DeploymentEvent{ID: "3", Revision: "c3", Succeeded: true, DeployedAt: at(330)}
	state := func(health string, since, reconciled, observed int, rev string, history ...devex.DeploymentEvent) devex.AppState {
		return devex.AppState{Key: "main/argocd/shop", Instance: "main", Name: "shop", Service: "component:default/shop",
			Owner: "group:default/team-a", TemplateRef: "template:default/service", Environment: "shop",
			Health: health, HealthSince: at(since), ReconciledAt: at(reconciled), Synced: true, Revision: rev,
			OperationPhase: "Succeeded", History: history, ObservedAt: at(observed)}
	}
	commits := map[string]time.Time{"c1": at(0), "c2": at(200), "c3": at(300)}
	var opened, failed, changes int
	var restored []time.Duration
	apply := func(s devex.AppState) {
		t.Helper()
		ch, err := db.RecordAppFacts(ctx, devex.Facts(s))
		if err != nil {
			t.Fatalf("RecordAppFacts: %v", err)
		}
		changes += ch.Changes
		failed += ch.Failed
		opened += ch.Opened
		restored = append(restored, ch.Restored...)
		for _, c := range ch.NeedCommit {
			if err := db.SetCommitTime(ctx, c, commits[c.Revision]); err != nil {
				t.Fatalf("SetCommitTime: %v", err)
			}
		}
	}
	looks := []devex.AppState{
		state("Progressing", 61, 61, 62, "c1", d1),
		state("Healthy", 90, 90, 91, "c1", d1),
		// Right after the broken sync, still the old health: not the new change's.
		state("Healthy", 90, 250, 261, "c2", d1, d2),
		state("Progressing", 262, 262, 263, "c2", d1, d2),
		state("Degraded", 280, 280, 281, "c2", d1, d2),
		state("Degraded", 280, 330, 331, "c3", d1, d2, d3),
		state("Progressing", 332, 332, 333, "c3", d1, d2, d3),
		state("Healthy", 350, 350, 351, "c3", d1, d2, d3),
	}
	for _, s := range looks {
		apply(s)
		apply(s)
	}
	// A replica that lagged sees the degradation (and the stale health) again.
	apply(looks[4])
	apply(looks[2])
	if changes != 3 || failed != 1 || opened != 1 || len(restored) != 1 || restored[0] != 70*time.Second {
		t.Errorf("changes %d, failed %d, opened %d, restored %v; want 3, 1, 1, [70s]", changes, failed, opened, restored)
	}

	f := devex.Filter{From: devex.PeriodStart(t0, devex.GroupDay), To: devex.PeriodStart(t0, devex.GroupDay).AddDate(0, 0, 1)}
	for _, by := range devex.DORAGroupings {
		rows, overall, err := db.FourKeys(ctx, f, by)
		if err != nil {
			t.Fatalf("FourKeys by %s: %v", by, err)
		}
		want := map[string]string{"service": "component:default/shop", "team": "group:default/team-a", "template": "template:default/service"}[by]
		if len(rows) != 1 || rows[0].Group != want {
			t.Fatalf("FourKeys by %s = %+v, want one row of %s", by, rows, want)
		}
		r := rows[0]
		// Lead times: c1 committed at 0, Healthy at 90; c3 at 300, Healthy at 350.
		if r.Deployments != 3 || r.DeploymentDays != 1 || r.Changes != 3 || r.FailedChanges != 1 ||
			len(r.LeadTimesMS) != 2 || r.LeadTimesMS[0] != 50000 || r.LeadTimesMS[1] != 90000 ||
			len(r.RestoresMS) != 1 || r.RestoresMS[0] != 70000 || r.OpenIncidents != 0 {
			t.Errorf("FourKeys by %s = %+v", by, r)
		}
		if overall.Changes != 3 || overall.DeploymentDays != 1 || len(overall.LeadTimesMS) != 2 {
			t.Errorf("overall by %s = %+v", by, overall)
		}
	}
	other, _, err := db.FourKeys(ctx, devex.Filter{From: f.From, To: f.To, Owner: "group:default/team-b"}, "service")
	if err != nil || len(other) != 0 {
		t.Errorf("FourKeys of another team = %+v, %v; want none", other, err)
	}
	if _, _, err := db.FourKeys(ctx, f, "user"); err == nil {
		t.Error("FourKeys by user: want an error")
	}

	// Degraded again, on the same change: a second incident, open.
	apply(state("Degraded", 400, 400, 401, "c3", d1, d2, d3))
	apply(state("Degraded", 400, 400, 402, "c3", d1, d2, d3))
	rows, _, err := db.FourKeys(ctx, f, "service")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].OpenIncidents != 1 || rows[0].FailedChanges != 2 || opened != 2 {
		t.Errorf("after a second degradation: %+v, opened %d; want one open incident, 2 failed changes", rows[0], opened)
	}
}
