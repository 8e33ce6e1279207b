package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// testDevexFunnelPeriods: the funnel and the answers per funnel stage, read
// from the counts kept per day, month and year (migration 0021), are those
// of a brute-force computation over the raw runs, components, apps and
// answers, for ragged ranges (mid-month edges, across a year boundary, one
// day, whole months, 5 years, nothing) with team and template filters:
// after runs, entities and apps arrive in any order, after runs succeed,
// entities appear and (by retention) disappear, apps turn healthy, turn
// unhealthy again and move to another run, answers are given and edited,
// and after retention. The migration's backfill equals what the writes kept.
func testDevexFunnelPeriods(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	start := time.Date(2021, 12, 29, 9, 0, 0, 0, time.UTC)
	owners := []string{"group:default/team-0", "group:default/team-1", ""}
	statuses := []string{devex.TaskCompleted, devex.TaskFailed, devex.TaskProcessing, devex.TaskCompleted, devex.TaskCompleted, devex.TaskCancelled}
	var runs []devex.Run
	for i := range 480 {
		created := start.Add(time.Duration(i) * 91 * time.Hour) // a run every 3.8 days, for 5 years
		r := devexRun(fmt.Sprintf("fn-%04d", i), fmt.Sprintf("template:default/t%d", i%3), fmt.Sprintf("user:default/u%d", i%7),
			statuses[i%len(statuses)], created, time.Duration(1+i%13)*time.Minute)
		r.Owner = owners[i%5%3]
		if i%4 != 3 {
			r.EntityRef = fmt.Sprintf("component:default/svc-%d", i%110) // svc-97 and later never in the catalog
		}
		runs = append(runs, r)
	}
	comp := func(i int) devex.Component {
		return devex.Component{EntityRef: fmt.Sprintf("component:default/svc-%d", i), Kind: "Component", Owner: owners[i%2]}
	}
	comps := func(from, to int) []devex.Component {
		var out []devex.Component
		for i := from; i < to; i++ {
			out = append(out, comp(i))
		}
		return out
	}
	syncAt := start.AddDate(0, 0, 10)
	// Entities before their runs: svc-0..39 are in the catalog first.
	if _, _, err := db.SyncComponents(ctx, comps(0, 40), syncAt); err != nil {
		t.Fatalf("SyncComponents: %v", err)
	}
	app := func(i int, healthy bool, at time.Time) devex.AppObservation {
		r := runs[i]
		return devex.AppObservation{Key: fmt.Sprintf("in-cluster/apps/app-%d", i), Service: r.EntityRef, TemplateRef: r.TemplateRef,
			TaskID: r.TaskID, CreatedAt: r.CreatedAt.Add(time.Minute), Healthy: healthy, ObservedAt: at}
	}
	// Apps before their runs, some healthy.
	var early []devex.AppObservation
	for i := 0; i < 120; i += 5 {
		early = append(early, app(i, i%10 == 0, runs[i].CreatedAt.Add(time.Hour)))
	}
	if _, err := db.RecordApps(ctx, early); err != nil {
		t.Fatalf("RecordApps: %v", err)
	}
	answer := func(i, score int) devex.Feedback {
		r := runs[i]
		at := r.CreatedAt.Add(2 * time.Hour)
		return devex.Feedback{TaskID: r.TaskID, UserRef: r.UserRef, TemplateRef: r.TemplateRef, Owner: r.Owner,
			Score: score, CreatedAt: at, UpdatedAt: at}
	}
	put := func(fb devex.Feedback, editableSince time.Time) {
		t.Helper()
		if _, _, err := db.PutFeedback(ctx, fb, editableSince); err != nil {
			t.Fatalf("PutFeedback %s: %v", fb.TaskID, err)
		}
	}
	// Answers before their runs are stored: no stage until they are.
	for i := 0; i < 30; i += 2 {
		put(answer(i, 1+i%5), time.Time{})
	}
	upsertRuns(t, db, runs...)
	for i := 30; i < len(runs); i += 2 {
		put(answer(i, 1+i*7%5), time.Time{})
	}

	filters := []devex.Filter{{}, {Owner: "group:default/team-0"}, {Template: "template:default/t1"},
		{Owner: "group:default/team-1", Template: "template:default/t2"}}
	checkFunnel(t, db, "stored", filters, true)

	// Runs succeed; entities appear (and some leave the catalog, which
	// keeps them registered until retention deletes them); apps turn
	// healthy, one turns unhealthy again (its first healthy moment stays)
	// and a healthy one moves to another run; answers are edited.
	var moved []devex.Run
	for i := 2; i < len(runs); i += 12 {
		r := runs[i]
		r.Status, r.FinishedAt = devex.TaskCompleted, r.CreatedAt.Add(5*time.Minute)
		runs[i] = r
		moved = append(moved, r)
	}
	upsertRuns(t, db, moved...)
	if _, _, err := db.SyncComponents(ctx, comps(20, 97), syncAt.Add(time.Hour)); err != nil {
		t.Fatalf("SyncComponents: %v", err)
	}
	var later []devex.AppObservation
	for i := 0; i < len(runs); i += 5 {
		later = append(later, app(i, i%15 != 5, runs[i].CreatedAt.Add(3*time.Hour)))
	}
	if _, err := db.RecordApps(ctx, later); err != nil {
		t.Fatalf("RecordApps: %v", err)
	}
	unhealthy := app(0, false, runs[0].CreatedAt.Add(4*time.Hour))
	moving := app(10, true, runs[10].CreatedAt.Add(4*time.Hour))
	moving.TaskID = runs[13].TaskID // an app healthy for run 10 is now run 13's
	if _, err := db.RecordApps(ctx, []devex.AppObservation{unhealthy, moving}); err != nil {
		t.Fatalf("RecordApps: %v", err)
	}
	for i := 30; i < len(runs); i += 10 {
		fb := answer(i, 1+(i*7+2)%5)
		fb.CreatedAt = fb.CreatedAt.Add(time.Minute)
		fb.UpdatedAt = fb.CreatedAt
		put(fb, fb.CreatedAt.Add(-time.Hour))
	}
	checkFunnel(t, db, "moved", filters, true)

	// The backfill of 0021 rebuilds from the raw rows what the writes kept.
	dump := func() string {
		return dumpRows(t, db,
			`SELECT owner, template_ref, grain, period, started, succeeded, registered, healthy FROM devex_funnel_periods
				WHERE started <> 0 ORDER BY owner, template_ref, grain, period`,
			`SELECT owner, template_ref, grain, period, stage, s1, s2, s3, s4, s5 FROM devex_feedback_stages
				WHERE s1 <> 0 OR s2 <> 0 OR s3 <> 0 OR s4 <> 0 OR s5 <> 0 ORDER BY owner, template_ref, grain, period, stage`,
			`SELECT task_id, registered, healthy FROM devex_runs ORDER BY task_id`,
			`SELECT task_id, user_ref, stage FROM devex_feedback ORDER BY task_id, user_ref`)
	}
	kept := dump()
	undo := []string{`DROP TRIGGER devex_feedback_stages_insert`, `DROP TRIGGER devex_feedback_stages_update`,
		`DROP TRIGGER devex_feedback_stages_delete`, `DROP VIEW devex_feedback_stage_changes`}
	if db.Engine() == "postgres" {
		undo = []string{`DROP TRIGGER devex_feedback_stages_keep ON devex_feedback`, `DROP FUNCTION devex_feedback_stages_keep()`,
			`DROP FUNCTION devex_feedback_stages_add(TEXT, TEXT, TEXT, TEXT, INTEGER, INTEGER)`}
	}
	undo = append(undo, `DROP TABLE devex_funnel_periods`, `DROP TABLE devex_feedback_stages`, `DROP INDEX devex_runs_entity`,
		`ALTER TABLE devex_runs DROP COLUMN registered`, `ALTER TABLE devex_runs DROP COLUMN healthy`,
		`ALTER TABLE devex_feedback DROP COLUMN stage`, `DELETE FROM schema_migrations WHERE version = '0021_devex_funnel_periods'`)
	for _, q := range undo {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if backfilled := dump(); backfilled != kept {
		t.Errorf("the backfill differs from the rows the writes kept:\n%s\nwant\n%s", backfilled, kept)
	}
	checkFunnel(t, db, "backfilled", filters, true)

	// Retention: raw runs cut mid-month (their answers lose their stage),
	// the components removed before the cut leave the catalog (their runs
	// are no longer registered), answers before the rollups' floor go.
	if _, _, err := db.SyncComponents(ctx, comps(30, 97), syncAt.Add(2*time.Hour)); err != nil {
		t.Fatalf("SyncComponents: %v", err)
	}
	if _, err := db.DeleteDevexBefore(ctx, time.Date(2023, 5, 17, 0, 0, 0, 0, time.UTC), time.Date(2022, 2, 9, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("DeleteDevexBefore: %v", err)
	}
	var removed int
	if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM devex_components`).Scan(&removed); err != nil || removed != 67 {
		t.Fatalf("%d components after retention (%v), want the 30 removed before the cut gone", removed, err)
	}
	checkFunnel(t, db, "retention", filters, true)
}

// checkFunnel compares RunFunnel and ScoresByStage with the funnel and the
// answers per stage computed by hand from the raw rows the store holds, for
// the ragged ranges and the filters of teams and templates given; with
// every, some range must hold every stage.
func checkFunnel(t *testing.T, db *sqlstore.DB, phase string, filters []devex.Filter, every bool) {
	t.Helper()
	ctx := t.Context()
	// raw computes the funnel and the answers per stage by hand, from the
	// rows the store holds.
	type rawRun struct{ day, template, owner, status, entity string }
	raw := func() (map[string]rawRun, map[string]bool, map[string]bool, []devex.Feedback) {
		t.Helper()
		q := func(query string, scan func(scan func(...any) error) error) {
			rows, err := db.SQL().QueryContext(ctx, query)
			if err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			defer rows.Close()
			for rows.Next() {
				if err := scan(rows.Scan); err != nil {
					t.Fatal(err)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		}
		rs, entities, healthy := map[string]rawRun{}, map[string]bool{}, map[string]bool{}
		q(`SELECT task_id, day, template_ref, owner, status, entity_ref FROM devex_runs`, func(scan func(...any) error) error {
			var id string
			var r rawRun
			err := scan(&id, &r.day, &r.template, &r.owner, &r.status, &r.entity)
			rs[id] = r
			return err
		})
		q(`SELECT entity_ref FROM devex_components`, func(scan func(...any) error) error {
			var ref string
			err := scan(&ref)
			entities[ref] = true
			return err
		})
		q(`SELECT task_id FROM devex_apps WHERE first_healthy_at IS NOT NULL`, func(scan func(...any) error) error {
			var id string
			err := scan(&id)
			healthy[id] = true
			return err
		})
		var answers []devex.Feedback
		q(`SELECT task_id, template_ref, owner, score, day FROM devex_feedback`, func(scan func(...any) error) error {
			var fb devex.Feedback
			var day string
			err := scan(&fb.TaskID, &fb.TemplateRef, &fb.Owner, &fb.Score, &day)
			fb.CreatedAt, _ = time.Parse(time.DateOnly, day)
			answers = append(answers, fb)
			return err
		})
		return rs, entities, healthy, answers
	}

	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	rs, entities, healthy, answers := raw()
	var nonzero bool
	for _, rg := range raggedRanges {
		for _, base := range filters {
			f := base
			f.From, f.To = day(rg.from), day(rg.to)
			selects := func(d, template, owner string) bool {
				return d >= rg.from && d < rg.to && (f.Owner == "" || owner == f.Owner) && (f.Template == "" || template == f.Template)
			}
			stage := func(id string) string {
				r := rs[id]
				switch {
				case r.status != devex.TaskCompleted:
					return "started"
				case healthy[id]:
					return "healthy"
				case r.entity != "" && entities[r.entity]:
					return "registered"
				}
				return "succeeded"
			}
			var want devex.Funnel
			for id, r := range rs {
				if !selects(r.day, r.template, r.owner) {
					continue
				}
				want.Started++
				if r.status == devex.TaskCompleted {
					want.Succeeded++
					if r.entity != "" && entities[r.entity] {
						want.Registered++
					}
					if healthy[id] {
						want.Healthy++
					}
				}
			}
			got, err := db.RunFunnel(ctx, f)
			if err != nil {
				t.Fatalf("RunFunnel: %v", err)
			}
			if got != want {
				t.Errorf("%s: %s..%s %+v: funnel %+v, want %+v", phase, rg.from, rg.to, base, got, want)
			}
			wantStages := map[string]devex.ScoreCounts{}
			for _, a := range answers {
				if _, ok := rs[a.TaskID]; !ok || !selects(devex.Day(a.CreatedAt), a.TemplateRef, a.Owner) {
					continue
				}
				c := wantStages[stage(a.TaskID)]
				c.Counts[a.Score-1]++
				wantStages[stage(a.TaskID)] = c
			}
			byStage, err := db.ScoresByStage(ctx, f)
			if err != nil {
				t.Fatalf("ScoresByStage: %v", err)
			}
			gotStages := map[string]devex.ScoreCounts{}
			for _, s := range byStage {
				gotStages[s.Stage] = s.ScoreCounts
			}
			if fmt.Sprint(gotStages) != fmt.Sprint(wantStages) {
				t.Errorf("%s: %s..%s %+v: scores by stage %v, want %v", phase, rg.from, rg.to, base, gotStages, wantStages)
			}
			// The answers per template (packed without a filter) are
			// every answer's, whatever its stage and however it moved.
			wantTemplates := map[string]devex.ScoreCounts{}
			for _, a := range answers {
				if selects(devex.Day(a.CreatedAt), a.TemplateRef, a.Owner) {
					c := wantTemplates[a.TemplateRef]
					c.Counts[a.Score-1]++
					wantTemplates[a.TemplateRef] = c
				}
			}
			byTemplate, err := db.ScoresByTemplate(ctx, f)
			if err != nil {
				t.Fatalf("ScoresByTemplate: %v", err)
			}
			gotTemplates := map[string]devex.ScoreCounts{}
			for _, s := range byTemplate {
				gotTemplates[s.TemplateRef] = s.ScoreCounts
			}
			if fmt.Sprint(gotTemplates) != fmt.Sprint(wantTemplates) {
				t.Errorf("%s: %s..%s %+v: scores by template %v, want %v", phase, rg.from, rg.to, base, gotTemplates, wantTemplates)
			}
			nonzero = nonzero || want.Registered > 0 && want.Healthy > 0 && len(wantStages) == 4
		}
	}
	if every && !nonzero {
		t.Fatalf("%s: no range has every stage: the case tests nothing", phase)
	}
}

// testDevexFunnelConcurrent: runs succeeding, entities appearing, apps
// turning healthy and answers given at once, as replicas and the collector
// write them, all land (no deadlock between the movers and the answers'
// count rows) and leave the funnel and the answers per stage exact: no move
// is counted twice or lost.
func testDevexFunnelConcurrent(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	start := time.Date(2026, 3, 30, 9, 0, 0, 0, time.UTC)
	const n = 120
	var runs []devex.Run
	for i := range n {
		r := devexRun(fmt.Sprintf("fc-%03d", i), fmt.Sprintf("template:default/t%d", i%3), fmt.Sprintf("user:default/u%d", i),
			devex.TaskProcessing, start.Add(time.Duration(i)*7*time.Hour), time.Minute)
		r.Owner = fmt.Sprintf("group:default/team-%d", i%2)
		r.EntityRef = fmt.Sprintf("component:default/svc-%d", i)
		runs = append(runs, r)
	}
	upsertRuns(t, db, runs...)
	errs := make(chan error, 4*n)
	var wg sync.WaitGroup
	const step = 10
	for b := 0; b < n; b += step {
		wg.Go(func() { // the collector: runs succeed
			var done []devex.Run
			for _, r := range runs[b : b+step] {
				r.Status, r.FinishedAt = devex.TaskCompleted, r.CreatedAt.Add(time.Minute)
				done = append(done, r)
			}
			if _, err := db.UpsertRuns(ctx, done); err != nil {
				errs <- fmt.Errorf("runs %d: %w", b, err)
			}
		})
		wg.Go(func() { // the catalog: entities appear, a few at a time
			var comps []devex.Component
			for i := range b + step {
				comps = append(comps, devex.Component{EntityRef: fmt.Sprintf("component:default/svc-%d", (i*7)%n), Kind: "Component"})
			}
			if _, _, err := db.SyncComponents(ctx, comps, start.Add(time.Duration(b)*time.Minute)); err != nil {
				errs <- fmt.Errorf("components %d: %w", b, err)
			}
		})
		wg.Go(func() { // Argo CD: apps turn healthy
			var obs []devex.AppObservation
			for _, r := range runs[b : b+step] {
				obs = append(obs, devex.AppObservation{Key: "in-cluster/apps/" + r.TaskID, Service: r.EntityRef, TemplateRef: r.TemplateRef,
					TaskID: r.TaskID, CreatedAt: r.CreatedAt, Healthy: true, ObservedAt: r.CreatedAt.Add(time.Hour)})
			}
			if _, err := db.RecordApps(ctx, obs[:step/2]); err != nil {
				errs <- fmt.Errorf("apps %d: %w", b, err)
			}
		})
		for _, r := range runs[b : b+step] {
			wg.Go(func() { // developers answer
				at := r.CreatedAt.Add(2 * time.Hour)
				fb := devex.Feedback{TaskID: r.TaskID, UserRef: r.UserRef, TemplateRef: r.TemplateRef, Owner: r.Owner,
					Score: 1 + len(r.TaskID)%5, CreatedAt: at, UpdatedAt: at}
				if _, _, err := db.PutFeedback(ctx, fb, at); err != nil {
					errs <- fmt.Errorf("answer %s: %w", r.TaskID, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	fn, err := db.RunFunnel(ctx, devex.Filter{From: start.AddDate(0, -1, 0), To: start.AddDate(0, 2, 0)})
	if err != nil || fn.Succeeded != n || fn.Healthy != n/2 || fn.Registered == 0 {
		t.Fatalf("funnel %+v (%v), want every run succeeded, half of them healthy, some registered", fn, err)
	}
	checkFunnel(t, db, "concurrent", []devex.Filter{{}, {Owner: "group:default/team-1"}, {Template: "template:default/t0"}}, false)
}
