package storetest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// testDevexPeriodRollups: totals read from edge days, whole months and whole
// years, and distinct users from edge days and month bits, are exactly those
// of a brute-force computation over the runs (durations' percentiles from
// histograms within 1 %), for ragged
// ranges (mid-month edges, across a year boundary, one day, five years),
// with template and owner filters, per template and per period, after runs
// changed status, and after retention cut the days mid-month.
func testDevexPeriodRollups(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	start := time.Date(2022, 3, 17, 9, 0, 0, 0, time.UTC)
	var runs []devex.Run
	statuses := []string{devex.TaskCompleted, devex.TaskFailed, devex.TaskCancelled, devex.TaskCompleted, devex.TaskProcessing}
	for i := range 700 {
		created := start.Add(time.Duration(i) * 61 * time.Hour) // about one run every 2.5 days, for 4.9 years
		r := devexRun(fmt.Sprintf("pr-%04d", i), fmt.Sprintf("template:default/t%d", i%3), fmt.Sprintf("user:default/u%d", i%11),
			statuses[i%len(statuses)], created, time.Duration(1+i%17)*time.Minute)
		r.Owner = fmt.Sprintf("group:default/team-%d", i%2)
		runs = append(runs, r)
	}
	// A user of one month only: the month bits of the other months of its
	// block must not count them.
	for i, at := range []time.Time{time.Date(2023, 2, 10, 8, 0, 0, 0, time.UTC), time.Date(2025, 7, 4, 8, 0, 0, 0, time.UTC)} {
		r := devexRun(fmt.Sprintf("rare-%d", i), "template:default/t1", "user:default/rare", devex.TaskCompleted, at, time.Minute)
		r.Owner = "group:default/team-1"
		runs = append(runs, r)
	}
	upsertRuns(t, db, runs...)
	// Some runs move on: processing → completed takes their contribution
	// from one state to the other, in the days and in the periods.
	var moved []devex.Run
	for i := 4; i < len(runs); i += 10 {
		r := runs[i]
		r.Status, r.FinishedAt = devex.TaskCompleted, r.CreatedAt.Add(3*time.Minute)
		runs[i] = r
		moved = append(moved, r)
	}
	upsertRuns(t, db, moved...)

	// Deployments of four services over the same years, several a day on
	// some days, one in seven failed, stored by the app recorder and by the
	// watch stream's facts, and each recorded twice (counted once).
	type deployment struct {
		service string
		at      time.Time
		ok      bool
	}
	var deployments []deployment
	for i := range 900 {
		d := deployment{fmt.Sprintf("component:default/svc-%d", i%4), start.Add(time.Duration(i) * 47 * time.Hour).Add(time.Duration(i%3) * time.Hour), i%7 != 3}
		deployments = append(deployments, d)
		key := fmt.Sprintf("default/argocd/app-%d", i%5)
		id := fmt.Sprint(i)
		if i%2 == 0 {
			ev := devex.DeploymentEvent{ID: id, Revision: fmt.Sprintf("%040x", i), Succeeded: d.ok, DeployedAt: d.at}
			obs := devex.AppObservation{Key: key, Service: d.service, Environment: "prod", CreatedAt: start, Deployments: []devex.DeploymentEvent{ev}}
			for range 2 {
				if _, err := db.RecordApps(ctx, []devex.AppObservation{obs}); err != nil {
					t.Fatalf("RecordApps: %v", err)
				}
			}
			continue
		}
		rev := fmt.Sprintf("%040x", i)
		if !d.ok {
			id = devex.FailedChangeID(rev)
		}
		facts := devex.AppFacts{State: devex.AppState{Key: key + "-facts", Service: d.service, Environment: "prod"},
			Changes: []devex.DeploymentEvent{{ID: id, Revision: rev, Succeeded: d.ok, DeployedAt: d.at}}}
		for range 2 {
			if _, err := db.RecordAppFacts(ctx, facts); err != nil {
				t.Fatalf("RecordAppFacts: %v", err)
			}
		}
	}
	// bruteDeployments counts by hand per service the deployments of f's
	// days, and their days with a succeeded one.
	bruteDeployments := func(f devex.Filter, floor time.Time) ([]devex.DeploymentRow, int64) {
		rows := map[string]*devex.DeploymentRow{}
		days := map[[2]string]bool{}
		var succeeded int64
		for _, d := range deployments {
			day := d.at.Truncate(24 * time.Hour)
			if day.Before(f.From) || !day.Before(f.To) || day.Before(floor) {
				continue
			}
			r := rows[d.service]
			if r == nil {
				r = &devex.DeploymentRow{Service: d.service}
				rows[d.service] = r
			}
			if !d.ok {
				r.Failed++
				continue
			}
			r.Succeeded++
			succeeded++
			if k := [2]string{d.service, devex.Day(day)}; !days[k] {
				days[k] = true
				r.DeploymentDays++
			}
		}
		var out []devex.DeploymentRow
		for _, r := range rows {
			out = append(out, *r)
		}
		slices.SortFunc(out, func(a, b devex.DeploymentRow) int {
			return cmp.Or(cmp.Compare(b.Succeeded, a.Succeeded), strings.Compare(a.Service, b.Service))
		})
		return out, succeeded
	}

	// brute sums the runs f selects by hand, per key.
	brute := func(f devex.Filter, floor time.Time, key func(devex.Run) string) map[string]devex.Totals {
		out := map[string]devex.Totals{}
		for _, r := range runs {
			day := r.CreatedAt.Truncate(24 * time.Hour)
			if day.Before(f.From) || !day.Before(f.To) || day.Before(floor) ||
				(f.Owner != "" && r.Owner != f.Owner) || (f.Template != "" && r.TemplateRef != f.Template) {
				continue
			}
			d := devex.Totals{Started: 1}
			switch r.Status {
			case devex.TaskCompleted:
				d.Succeeded, d.TimeSavedSeconds = 1, int64(r.TimeSaved/time.Second)
			case devex.TaskFailed:
				d.Failed = 1
			case devex.TaskCancelled:
				d.Cancelled = 1
			}
			if devex.Final(r.Status) {
				d.DurationMS = r.Duration().Milliseconds()
			}
			t := out[key(r)]
			t.Add(d)
			out[key(r)] = t
		}
		return out
	}
	// bruteUsers counts by hand the distinct users of the runs f selects,
	// per key.
	bruteUsers := func(f devex.Filter, floor time.Time, key func(devex.Run) string) map[string]int64 {
		seen := map[[2]string]bool{}
		out := map[string]int64{}
		for _, r := range runs {
			day := r.CreatedAt.Truncate(24 * time.Hour)
			if day.Before(f.From) || !day.Before(f.To) || day.Before(floor) ||
				(f.Owner != "" && r.Owner != f.Owner) || (f.Template != "" && r.TemplateRef != f.Template) {
				continue
			}
			if k := [2]string{key(r), r.UserRef}; !seen[k] {
				seen[k] = true
				out[key(r)]++
			}
		}
		return out
	}
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	type span struct {
		name     string
		from, to time.Time
	}
	spans := []span{
		{"mid-month to mid-month", day(2023, 4, 12), day(2023, 9, 20)},
		{"across a year boundary", day(2023, 11, 5), day(2024, 2, 11)},
		{"whole years and ragged edges", day(2022, 6, 13), day(2026, 8, 3)},
		{"five years", day(2021, 12, 31), day(2026, 12, 31)},
		{"whole months", day(2024, 1, 1), day(2024, 5, 1)},
		{"one day", day(2024, 7, 9), day(2024, 7, 10)},
		{"within a month", day(2025, 2, 3), day(2025, 2, 27)},
		{"empty", day(2025, 2, 3), day(2025, 2, 3)},
	}
	filters := []devex.Filter{{}, {Template: "template:default/t1"}, {Owner: "group:default/team-0"},
		{Template: "template:default/t2", Owner: "group:default/team-1"}}
	check := func(floor time.Time) {
		t.Helper()
		nonzero := false
		for _, s := range spans {
			for _, base := range filters {
				f := base
				f.From, f.To = s.from, s.to
				what := fmt.Sprintf("%s %s..%s %q %q", s.name, devex.Day(f.From), devex.Day(f.To), f.Template, f.Owner)
				want := brute(f, floor, func(devex.Run) string { return "" })[""]
				got, err := db.RunTotals(ctx, f)
				if err != nil {
					t.Fatalf("RunTotals %s: %v", what, err)
				}
				if got != want {
					t.Errorf("RunTotals %s = %+v, want %+v", what, got, want)
				}
				nonzero = nonzero || want.Started > 0
				if base == (devex.Filter{}) {
					wantDeploys, wantSucceeded := bruteDeployments(f, floor)
					gotDeploys, err := db.Deployments(ctx, f)
					if err != nil {
						t.Fatalf("Deployments %s: %v", what, err)
					}
					if fmt.Sprint(gotDeploys) != fmt.Sprint(wantDeploys) {
						t.Errorf("Deployments %s = %v, want %v", what, gotDeploys, wantDeploys)
					}
					if got, err := db.SucceededDeployments(ctx, f); err != nil || got != wantSucceeded {
						t.Errorf("SucceededDeployments %s = %d, %v; want %d", what, got, err, wantSucceeded)
					}
				}
				byTpl, err := db.RunTotalsByTemplate(ctx, f)
				if err != nil {
					t.Fatalf("RunTotalsByTemplate %s: %v", what, err)
				}
				wantTpl := brute(f, floor, func(r devex.Run) string { return r.TemplateRef })
				gotTpl := map[string]devex.Totals{}
				for _, r := range byTpl {
					gotTpl[r.TemplateRef] = r.Totals
				}
				if fmt.Sprint(gotTpl) != fmt.Sprint(wantTpl) {
					t.Errorf("RunTotalsByTemplate %s = %v, want %v", what, gotTpl, wantTpl)
				}
				// Durations: the nearest-rank percentiles of the finished
				// runs, within 1 % (the histograms' buckets; 1 ms rounding).
				exact := map[string][]int64{}
				for _, r := range runs {
					day := r.CreatedAt.Truncate(24 * time.Hour)
					if !devex.Final(r.Status) || day.Before(f.From) || !day.Before(f.To) || day.Before(floor) ||
						(f.Owner != "" && r.Owner != f.Owner) || (f.Template != "" && r.TemplateRef != f.Template) {
						continue
					}
					exact[r.TemplateRef] = append(exact[r.TemplateRef], r.Duration().Milliseconds())
				}
				pcts, err := db.DurationPercentiles(ctx, f, 50, 95, 100)
				if err != nil {
					t.Fatalf("DurationPercentiles %s: %v", what, err)
				}
				if len(pcts) != len(exact) {
					t.Errorf("DurationPercentiles %s: %d templates, want %d", what, len(pcts), len(exact))
				}
				for tpl, d := range exact {
					slices.Sort(d)
					for i, p := range []int{50, 95, 100} {
						want := d[min(max(int(math.Ceil(float64(p)/100*float64(len(d)))), 1), len(d))-1]
						tol := float64(want)/100 + 1
						if s.name == "one day" || s.name == "within a month" {
							tol = 0 // no whole month: the raw runs, exact
						}
						if got := pcts[tpl]; len(got) != 3 || math.Abs(float64(got[i]-want)) > tol {
							t.Errorf("DurationPercentiles %s: p%d of %s = %v, want %d within 1 %%", what, p, tpl, got, want)
						}
					}
				}
				users := bruteUsers(f, floor, func(devex.Run) string { return "" })[""]
				gotUsers, err := db.ActiveUsers(ctx, f)
				if err != nil {
					t.Fatalf("ActiveUsers %s: %v", what, err)
				}
				if gotUsers != users {
					t.Errorf("ActiveUsers %s = %d, want %d", what, gotUsers, users)
				}
				byTplUsers, err := db.ActiveUsersByTemplate(ctx, f)
				if err != nil {
					t.Fatalf("ActiveUsersByTemplate %s: %v", what, err)
				}
				if want := bruteUsers(f, floor, func(r devex.Run) string { return r.TemplateRef }); fmt.Sprint(byTplUsers) != fmt.Sprint(want) {
					t.Errorf("ActiveUsersByTemplate %s = %v, want %v", what, byTplUsers, want)
				}
				for _, grouping := range []string{devex.GroupDay, devex.GroupWeek, devex.GroupMonth} {
					byPeriod, err := db.ActiveUsersByPeriod(ctx, f, grouping)
					if err != nil {
						t.Fatalf("ActiveUsersByPeriod %s %s: %v", grouping, what, err)
					}
					want := bruteUsers(f, floor, func(r devex.Run) string { return devex.Day(devex.PeriodStart(r.CreatedAt, grouping)) })
					if fmt.Sprint(byPeriod) != fmt.Sprint(want) {
						t.Errorf("ActiveUsersByPeriod %s %s = %v, want %v", grouping, what, byPeriod, want)
					}
					periods, err := db.RunTotalsByPeriod(ctx, f, grouping)
					if err != nil {
						t.Fatalf("RunTotalsByPeriod %s %s: %v", grouping, what, err)
					}
					got := map[string]devex.Totals{}
					for _, p := range periods {
						got[p.Day] = p.Totals
					}
					wantTotals := brute(f, floor, func(r devex.Run) string { return devex.Day(devex.PeriodStart(r.CreatedAt, grouping)) })
					if fmt.Sprint(got) != fmt.Sprint(wantTotals) {
						t.Errorf("RunTotalsByPeriod %s %s = %v, want %v", grouping, what, got, wantTotals)
					}
				}
			}
		}
		if !nonzero {
			t.Fatal("every range is empty: the case tests nothing")
		}
	}
	check(time.Time{})

	// The migrations' backfills build from the days what the writes kept:
	// undo 0014, 0016, 0017, 0022, 0027 and 0028 and apply them again over
	// the same days.
	dump := func() string {
		return dumpRows(t, db,
			`SELECT grain, start, template_ref, owner, started, succeeded, failed, cancelled, duration_ms, time_saved_s
				FROM devex_period_totals ORDER BY grain, start, template_ref, owner`,
			`SELECT template_ref, owner, user_ref, block, months FROM devex_user_months ORDER BY template_ref, owner, user_ref, block`,
			`SELECT grain, start, started, succeeded, failed, cancelled, duration_ms, time_saved_s FROM devex_totals ORDER BY grain, start`,
			`SELECT grain, start, template_ref, owner, hist FROM devex_period_durations ORDER BY grain, start, template_ref, owner`,
			`SELECT grain, start, service, succeeded, failed, days FROM devex_deployment_totals ORDER BY grain, start, service`,
			`SELECT grain, start, succeeded, failed FROM devex_deployment_sums ORDER BY grain, start`,
			`SELECT grain, start, bits FROM devex_period_users ORDER BY grain, start`,
			`SELECT kind, grain, start, pack FROM devex_template_packs ORDER BY kind, grain, start`)
	}
	kept := dump()
	for _, q := range []string{`DROP TABLE devex_period_totals`, `DROP TABLE devex_user_months`, `DROP TABLE devex_totals`,
		`DROP TABLE devex_period_durations`, `DROP TABLE devex_deployment_totals`, `DROP TABLE devex_template_packs`,
		`DROP TABLE devex_deployment_sums`, `DROP TABLE devex_period_users`,
		`DELETE FROM schema_migrations WHERE version IN ('0014_devex_rollups_period', '0016_devex_rollups_all', '0017_devex_durations',
			'0022_devex_templates_deployments', '0027_devex_deployment_sums', '0028_devex_period_users')`} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if backfilled := dump(); backfilled != kept || kept == "" {
		t.Errorf("the backfill differs from the rows the writes kept:\n%s\nwant\n%s", backfilled, kept)
	}
	// Retention cuts the days mid-month and mid-year: the months and the
	// year that began before the floor hold days it deleted.
	floor := day(2023, 5, 14)
	if _, err := db.DeleteDevexBefore(ctx, floor, floor); err != nil {
		t.Fatalf("DeleteDevexBefore: %v", err)
	}
	check(floor)
}

// dumpRows prints the rows of queries, one line per row, to compare two
// states of the store.
func dumpRows(t *testing.T, db *sqlstore.DB, queries ...string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range queries {
		rows, err := db.SQL().QueryContext(t.Context(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
