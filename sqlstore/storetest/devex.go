package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// devexTests are the adoption-metrics store tests; Run appends them to its table.
var devexTests = []struct {
	name string
	test func(t *testing.T, db *sqlstore.DB)
}{
	{"DevexRunsUpsertIdempotent", testDevexRunsIdempotent},
	{"DevexRollupsMatchRuns", testDevexRollups},
	{"DevexActiveAndStuckRuns", testDevexActiveRuns},
	{"DevexComponentsCoverage", testDevexCoverage},
	{"DevexAppsAndDeployments", testDevexApps},
	{"DevexRetention", testDevexRetention},
	{"DevexDistinctUsersOverRanges", testDevexDistinctUsers},
	{"DevexFeedback", testDevexFeedback},
	{"DevexFeedbackScoresExact", testDevexFeedbackScoresExact},
	{"DevexFeedbackScoresConcurrent", testDevexFeedbackScoresConcurrent},
	{"DevexSLICounts", testDevexSLICounts},
	{"DevexFreshness", testDevexFreshness},
	{"DevexUsersByPeriod", testDevexUsersByPeriod},
	{"DevexSucceededDeployments", testDevexSucceededDeployments},
	{"DevexFourKeys", testDevexFourKeys},
	{"DevexFourKeysPeriods", testDevexDORAPeriods},
	{"DevexFourKeysBandEdges", testDevexDORABandEdges},
	{"DevexFourKeysPacksConcurrent", testDevexDORAPacksConcurrent},
	{"DevexPeriodRollups", testDevexPeriodRollups},
	{"DevexFunnelPeriods", testDevexFunnelPeriods},
	{"DevexFunnelConcurrent", testDevexFunnelConcurrent},
	{"DevexDeploymentsConcurrent", testDevexDeploymentsConcurrent},
	{"DevexTemplatePacksConcurrent", testDevexTemplatePacksConcurrent},
}

var devexDay = time.Date(2026, 11, 2, 10, 0, 0, 123456789, time.UTC)

func devexRun(id, template, user, status string, created time.Time, took time.Duration) devex.Run {
	r := devex.Run{TaskID: id, TemplateRef: template, Owner: "group:default/team-a", UserRef: user,
		Status: status, CreatedAt: created, HeartbeatAt: created.Add(took), TimeSaved: 2 * time.Hour}
	if devex.Final(status) {
		r.FinishedAt = created.Add(took)
	}
	return r
}

func upsertRuns(t *testing.T, db *sqlstore.DB, runs ...devex.Run) devex.Change {
	t.Helper()
	ch, err := db.UpsertRuns(t.Context(), runs)
	if err != nil {
		t.Fatalf("UpsertRuns: %v", err)
	}
	return ch
}

func taskIDs(runs []devex.Run) []string {
	ids := []string{}
	for _, r := range runs {
		ids = append(ids, r.TaskID)
	}
	return ids
}

func testDevexRunsIdempotent(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	const tpl = "template:default/service"
	a := devexRun("a", tpl, "user:default/jane", devex.TaskProcessing, devexDay, time.Minute)
	b := devexRun("b", tpl, "user:default/joe", devex.TaskCompleted, devexDay, 90*time.Second)

	ch := upsertRuns(t, db, a, b)
	if got := taskIDs(ch.New); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("first upsert: new %v, want [a b]", got)
	}
	if got := taskIDs(ch.Finished); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("first upsert: finished %v, want [b]", got)
	}
	ch = upsertRuns(t, db, a, b)
	if len(ch.New)+len(ch.Finished) != 0 {
		t.Errorf("the same runs again changed %d new, %d finished; want none", len(ch.New), len(ch.Finished))
	}

	a.Status, a.FinishedAt, a.EntityRef = devex.TaskFailed, a.CreatedAt.Add(3*time.Minute), "component:default/shop"
	ch = upsertRuns(t, db, a)
	if len(ch.New) != 0 || !reflect.DeepEqual(taskIDs(ch.Finished), []string{"a"}) {
		t.Errorf("a finishing: new %v finished %v, want [] [a]", taskIDs(ch.New), taskIDs(ch.Finished))
	}
	// A late report of a final run (an older page, a replica behind) changes nothing.
	late := devexRun("a", tpl, "user:default/jane", devex.TaskProcessing, devexDay, time.Minute)
	if ch := upsertRuns(t, db, late); len(ch.New)+len(ch.Finished) != 0 {
		t.Errorf("late report changed %v %v", taskIDs(ch.New), taskIDs(ch.Finished))
	}
	got, err := db.GetRun(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	want := a
	want.CreatedAt, want.HeartbeatAt, want.FinishedAt = a.CreatedAt.Truncate(time.Microsecond), a.HeartbeatAt.Truncate(time.Microsecond), a.FinishedAt.Truncate(time.Microsecond)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetRun(a) = %+v\nwant %+v", got, want)
	}
	if got.Duration() != 3*time.Minute {
		t.Errorf("duration %v, want 3m", got.Duration())
	}

	tot, err := db.RunTotals(ctx, devex.Filter{From: devexDay.Truncate(24 * time.Hour), To: devexDay.Truncate(24*time.Hour).AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	wantTot := devex.Totals{Started: 2, Succeeded: 1, Failed: 1, DurationMS: 90_000 + 180_000, TimeSavedSeconds: 7200}
	if tot != wantTot {
		t.Errorf("RunTotals = %+v, want %+v", tot, wantTot)
	}
	if _, err := db.UpsertRuns(ctx, []devex.Run{{TaskID: "x"}}); err == nil {
		t.Error("UpsertRuns accepted a run without template, status and time")
	}
}

// testDevexRollups drives runs through their states over several days and
// checks every rollup query against figures computed from the runs.
func testDevexRollups(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	tpls := []string{"template:default/service", "template:default/website"}
	users := []string{"user:default/u0", "user:default/u1", "user:default/u2"}
	statuses := []string{devex.TaskCompleted, devex.TaskFailed, devex.TaskCancelled, devex.TaskProcessing}
	var final []devex.Run
	for i := range 40 {
		created := devexDay.AddDate(0, 0, i%4).Add(time.Duration(i) * time.Minute)
		r := devexRun(string(rune('A'+i%26))+string(rune('a'+i/26)), tpls[i%2], users[i%3], statuses[i%4], created, time.Duration(10+i)*time.Second)
		if i%5 == 0 {
			r.Owner = "group:default/team-b"
		}
		final = append(final, r)
		// Each run is first seen open, then processing, then in its last state.
		open := r
		open.Status, open.FinishedAt = devex.TaskOpen, time.Time{}
		upsertRuns(t, db, open)
		proc := open
		proc.Status = devex.TaskProcessing
		upsertRuns(t, db, proc)
	}
	upsertRuns(t, db, final...)
	upsertRuns(t, db, final...) // a second collector pass

	from := devexDay.Truncate(24 * time.Hour)
	f := devex.Filter{From: from, To: from.AddDate(0, 0, 4)}
	want := map[string]*devex.Totals{}
	wantAll := devex.Totals{}
	wantUsers := map[string]map[string]bool{}
	for _, r := range final {
		if r.Owner != "group:default/team-a" {
			continue
		}
		d := want[r.TemplateRef]
		if d == nil {
			d = &devex.Totals{}
			want[r.TemplateRef] = d
		}
		add := devex.Totals{Started: 1}
		switch r.Status {
		case devex.TaskCompleted:
			add.Succeeded, add.TimeSavedSeconds = 1, 7200
		case devex.TaskFailed:
			add.Failed = 1
		case devex.TaskCancelled:
			add.Cancelled = 1
		}
		if devex.Final(r.Status) {
			add.DurationMS = r.Duration().Milliseconds()
		}
		d.Add(add)
		wantAll.Add(add)
		if wantUsers[r.TemplateRef] == nil {
			wantUsers[r.TemplateRef] = map[string]bool{}
		}
		wantUsers[r.TemplateRef][r.UserRef] = true
	}
	f.Owner = "group:default/team-a"
	got, err := db.RunTotals(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if got != wantAll {
		t.Errorf("RunTotals(team-a) = %+v, want %+v", got, wantAll)
	}
	byTpl, err := db.RunTotalsByTemplate(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(byTpl) != 2 {
		t.Fatalf("RunTotalsByTemplate: %d templates, want 2", len(byTpl))
	}
	for _, tt := range byTpl {
		if tt.Totals != *want[tt.TemplateRef] {
			t.Errorf("template %s: %+v, want %+v", tt.TemplateRef, tt.Totals, *want[tt.TemplateRef])
		}
	}
	users1, err := db.ActiveUsersByTemplate(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	for tpl, u := range wantUsers {
		if users1[tpl] != int64(len(u)) {
			t.Errorf("users of %s: %d, want %d", tpl, users1[tpl], len(u))
		}
	}
	f.Owner = ""
	all, err := db.RunTotals(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if all.Started != 40 || all.Succeeded != 10 || all.Failed != 10 || all.Cancelled != 10 {
		t.Errorf("RunTotals(all) = %+v, want 40 started, 10 of each final state", all)
	}
	days, err := db.RunTotalsByDay(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	var sum devex.Totals
	for _, d := range days {
		sum.Add(d.Totals)
	}
	if len(days) != 4 || sum != all {
		t.Errorf("RunTotalsByDay: %d days summing to %+v, want 4 days summing to %+v", len(days), sum, all)
	}
	n, err := db.ActiveUsers(ctx, f)
	if err != nil || n != 3 {
		t.Errorf("ActiveUsers = %d, %v; want 3", n, err)
	}
	f.Template = tpls[1]
	dur, err := db.RunDurations(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(dur) != 1 || len(dur[tpls[1]]) != 10 { // 20 runs of the template, 10 still processing
		t.Errorf("RunDurations(%s) = %v, want 10 durations", tpls[1], dur)
	}
	du, err := db.DayUsers(ctx, devex.Filter{From: from, To: from.AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(du) != 3 {
		t.Errorf("DayUsers on the first day = %v, want 3 users", du)
	}
	// Outside the range nothing counts.
	none, err := db.RunTotals(ctx, devex.Filter{From: from.AddDate(0, 0, 4), To: from.AddDate(0, 0, 10)})
	if err != nil || none != (devex.Totals{}) {
		t.Errorf("RunTotals after the runs = %+v, %v; want zero", none, err)
	}
}

func testDevexActiveRuns(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	now := devexDay.Add(time.Hour)
	fresh := devexRun("fresh", "template:default/a", "user:default/u", devex.TaskProcessing, now.Add(-2*time.Minute), time.Minute)
	stuck := devexRun("stuck", "template:default/a", "user:default/u", devex.TaskProcessing, now.Add(-time.Hour), time.Minute)
	open := devexRun("open", "template:default/b", "", devex.TaskOpen, now.Add(-time.Minute), 0)
	open.HeartbeatAt = time.Time{}
	done := devexRun("done", "template:default/b", "", devex.TaskCompleted, now.Add(-time.Minute), time.Second)
	upsertRuns(t, db, fresh, stuck, open, done)

	got, err := db.ActiveRuns(ctx, now.Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []devex.ActiveRuns{{TemplateRef: "template:default/a", Active: 2, Stuck: 1}, {TemplateRef: "template:default/b", Active: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ActiveRuns = %+v, want %+v", got, want)
	}
	un, err := db.UnfinishedRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := taskIDs(un); !reflect.DeepEqual(ids, []string{"stuck", "fresh", "open"}) {
		t.Errorf("UnfinishedRuns = %v, want [stuck fresh open]", ids)
	}
	counts, err := db.UserCounts(ctx, []string{devex.Day(now), devex.Day(now.AddDate(0, 0, 1))})
	if err != nil || !reflect.DeepEqual(counts, []int64{1, 0}) {
		t.Errorf("UserCounts = %v, %v; want [1 0]", counts, err)
	}
}

func testDevexCoverage(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	t0 := devexDay
	comps := []devex.Component{
		{EntityRef: "component:default/a", Kind: "Component", Owner: "group:default/team-a", SourceTemplate: "template:default/service"},
		{EntityRef: "component:default/b", Kind: "Component", Owner: "group:default/team-a"},
		{EntityRef: "component:default/c", Kind: "Component", Owner: "group:default/team-b", SourceTemplate: "template:default/service"},
	}
	added, hadAny, err := db.SyncComponents(ctx, comps, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 3 || hadAny {
		t.Errorf("first snapshot: added %d, hadAny %v; want 3, false", len(added), hadAny)
	}
	// b is gone, d is new.
	next := []devex.Component{comps[0], comps[2], {EntityRef: "component:default/d", Kind: "Component", Owner: "group:default/team-b"}}
	t1 := t0.Add(time.Hour)
	added, hadAny, err = db.SyncComponents(ctx, next, t1)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 1 || added[0].EntityRef != "component:default/d" || !hadAny {
		t.Errorf("second snapshot: added %v, hadAny %v; want [d], true", added, hadAny)
	}
	at0, err := db.Coverage(ctx, t0.Add(time.Minute), "")
	if err != nil {
		t.Fatal(err)
	}
	want0 := []devex.CoverageRow{{Owner: "group:default/team-a", Components: 2, FromTemplate: 1}, {Owner: "group:default/team-b", Components: 1, FromTemplate: 1}}
	if !reflect.DeepEqual(at0, want0) {
		t.Errorf("Coverage before = %+v, want %+v", at0, want0)
	}
	at1, err := db.Coverage(ctx, t1, "group:default/team-b")
	if err != nil {
		t.Fatal(err)
	}
	want1 := []devex.CoverageRow{{Owner: "group:default/team-b", Components: 2, FromTemplate: 1}}
	if !reflect.DeepEqual(at1, want1) {
		t.Errorf("Coverage after (team-b) = %+v, want %+v", at1, want1)
	}
	// The summary's total is the rows summed, with and without an owner,
	// before, between and after the snapshots.
	for _, at := range []time.Time{t0.Add(-time.Minute), t0.Add(time.Minute), t1, t1.Add(time.Hour)} {
		for _, owner := range []string{"", "group:default/team-a", "group:default/team-b", "group:default/team-x"} {
			rows, err := db.Coverage(ctx, at, owner)
			if err != nil {
				t.Fatal(err)
			}
			want := devex.CoverageRow{Owner: owner}
			for _, r := range rows {
				want.Components += r.Components
				want.FromTemplate += r.FromTemplate
			}
			if got, err := db.CoverageTotal(ctx, at, owner); err != nil || got != want {
				t.Errorf("CoverageTotal(%s, %q) = %+v, %v; want %+v", at, owner, got, err, want)
			}
		}
	}
	// The same snapshot again adds nothing.
	if added, _, err := db.SyncComponents(ctx, next, t1.Add(time.Minute)); err != nil || len(added) != 0 {
		t.Errorf("repeated snapshot added %v, %v", added, err)
	}
}

func testDevexApps(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	created := devexDay
	run := devexRun("task-1", "template:default/service", "user:default/jane", devex.TaskCompleted, created.Add(-2*time.Minute), time.Minute)
	run.EntityRef = "component:default/shop"
	upsertRuns(t, db, run)
	if _, _, err := db.SyncComponents(ctx, []devex.Component{{EntityRef: "component:default/shop", Kind: "Component", Owner: "group:default/team-a", SourceTemplate: "template:default/service"}}, created); err != nil {
		t.Fatal(err)
	}
	obs := devex.AppObservation{Key: "in/argocd/shop", Service: "component:default/shop", Environment: "shop-dev",
		TemplateRef: "template:default/service", TaskID: "task-1", CreatedAt: created}
	ch, err := db.RecordApps(ctx, []devex.AppObservation{obs})
	if err != nil || len(ch.Healthy)+len(ch.Deployments) != 0 {
		t.Fatalf("unhealthy app without history: %+v, %v", ch, err)
	}
	// Seen unhealthy first, healthy at the next look: healthy since that look.
	obs.Healthy, obs.ObservedAt, obs.LastSyncAt = true, created.Add(3*time.Minute), created.Add(2*time.Minute)
	obs.Deployments = []devex.DeploymentEvent{
		{ID: "0", Revision: "r0", Succeeded: true, DeployedAt: created.Add(2 * time.Minute)},
		{ID: "1", Revision: "r1", Succeeded: true, DeployedAt: created.Add(24 * time.Hour)},
		{ID: "failed:r2", Revision: "r2", DeployedAt: created.Add(25 * time.Hour)},
	}
	ch, err = db.RecordApps(ctx, []devex.AppObservation{obs})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Healthy) != 1 || ch.Healthy[0].Duration != 5*time.Minute || len(ch.Deployments) != 3 {
		t.Errorf("healthy app: %+v, want one healthy after 5m (from the run) and 3 deployments", ch)
	}
	obs.ObservedAt = created.Add(time.Hour)
	if ch, err := db.RecordApps(ctx, []devex.AppObservation{obs}); err != nil || len(ch.Healthy)+len(ch.Deployments) != 0 {
		t.Errorf("the same app again: %+v, %v; want no change", ch, err)
	}
	// An app healthy at first sight was healthy since its last sync at the latest.
	quick := devex.AppObservation{Key: "in/argocd/quick", Service: "quick", CreatedAt: created, Healthy: true,
		ObservedAt: created.Add(10 * time.Minute), LastSyncAt: created.Add(40 * time.Second)}
	if ch, err := db.RecordApps(ctx, []devex.AppObservation{quick}); err != nil || len(ch.Healthy) != 1 || ch.Healthy[0].Duration != 40*time.Second {
		t.Errorf("app healthy at first sight: %+v, %v; want healthy after 40s", ch, err)
	}
	from := created.Truncate(24 * time.Hour)
	f := devex.Filter{From: from, To: from.AddDate(0, 0, 7), Owner: "group:default/team-a"}
	tth, err := db.TimesToHealthy(ctx, f)
	if err != nil || !reflect.DeepEqual(tth, []int64{300_000}) {
		t.Errorf("TimesToHealthy = %v, %v; want [300000]", tth, err)
	}
	deps, err := db.Deployments(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	wantDeps := []devex.DeploymentRow{{Service: "component:default/shop", Succeeded: 2, Failed: 1, DeploymentDays: 2}}
	if !reflect.DeepEqual(deps, wantDeps) {
		t.Errorf("Deployments = %+v, want %+v", deps, wantDeps)
	}
	if other, err := db.Deployments(ctx, devex.Filter{From: f.From, To: f.To, Owner: "group:default/team-x"}); err != nil || len(other) != 0 {
		t.Errorf("Deployments of another owner = %+v, %v", other, err)
	}
	fn, err := db.RunFunnel(ctx, devex.Filter{From: from.AddDate(0, 0, -1), To: from.AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if fn != (devex.Funnel{Started: 1, Succeeded: 1, Registered: 1, Healthy: 1}) {
		t.Errorf("RunFunnel = %+v, want 1 at every stage", fn)
	}
}

func testDevexRetention(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	old := devexRun("old", "template:default/a", "user:default/u", devex.TaskCompleted, devexDay.AddDate(0, 0, -100), time.Second)
	recent := devexRun("recent", "template:default/a", "user:default/u", devex.TaskCompleted, devexDay, time.Second)
	stillRunning := devexRun("running", "template:default/a", "user:default/u", devex.TaskProcessing, devexDay.AddDate(0, 0, -100), time.Second)
	upsertRuns(t, db, old, recent, stillRunning)
	if _, err := db.DeleteDevexBefore(ctx, devexDay.AddDate(0, 0, -30), devexDay.AddDate(0, 0, -365)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetRun(ctx, "old"); err == nil {
		t.Error("the old finished run survived retention")
	}
	for _, id := range []string{"recent", "running"} {
		if _, err := db.GetRun(ctx, id); err != nil {
			t.Errorf("run %s: %v", id, err)
		}
	}
	// The rollups keep the old run until their own retention.
	from := devexDay.AddDate(0, 0, -200).Truncate(24 * time.Hour)
	tot, err := db.RunTotals(ctx, devex.Filter{From: from, To: from.AddDate(0, 0, 300)})
	if err != nil || tot.Started != 3 || tot.Succeeded != 2 {
		t.Errorf("RunTotals after raw retention = %+v, %v; want 3 started, 2 succeeded", tot, err)
	}
	if _, err := db.DeleteDevexBefore(ctx, devexDay.AddDate(0, 0, -30), devexDay.AddDate(0, 0, -30)); err != nil {
		t.Fatal(err)
	}
	tot, err = db.RunTotals(ctx, devex.Filter{From: from, To: from.AddDate(0, 0, 300)})
	if err != nil || tot.Started != 1 {
		t.Errorf("RunTotals after rollup retention = %+v, %v; want only the recent run", tot, err)
	}
}

// testDevexDistinctUsers spreads 30 users over 10 days, in batches that
// revisit days, and checks distinct users over ranges with and without
// filters against a count made here.
func testDevexDistinctUsers(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	from := devexDay.Truncate(24 * time.Hour)
	type key struct{ day, user int }
	active := map[key]bool{}
	var batch []devex.Run
	for i := range 200 {
		day, user := i*7%10, i*11%30
		active[key{day, user}] = true
		r := devexRun(fmt.Sprintf("r%03d", i), "template:default/a", fmt.Sprintf("user:default/u%02d", user), devex.TaskCompleted,
			from.AddDate(0, 0, day).Add(time.Duration(i)*time.Second), time.Second)
		batch = append(batch, r)
		if len(batch) == 37 {
			upsertRuns(t, db, batch...)
			batch = nil
		}
	}
	upsertRuns(t, db, batch...)
	for _, rng := range [][2]int{{0, 10}, {0, 1}, {3, 5}, {9, 10}, {10, 12}} {
		want := map[int]bool{}
		for k := range active {
			if k.day >= rng[0] && k.day < rng[1] {
				want[k.user] = true
			}
		}
		f := devex.Filter{From: from.AddDate(0, 0, rng[0]), To: from.AddDate(0, 0, rng[1])}
		got, err := db.ActiveUsers(ctx, f)
		if err != nil || got != int64(len(want)) {
			t.Errorf("ActiveUsers(days %v) = %d, %v; want %d", rng, got, err, len(want))
		}
		f.Template = "template:default/a" // the filtered path counts the same users
		got, err = db.ActiveUsers(ctx, f)
		if err != nil || got != int64(len(want)) {
			t.Errorf("ActiveUsers(days %v, template) = %d, %v; want %d", rng, got, err, len(want))
		}
	}
}
