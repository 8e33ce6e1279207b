package storetest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// testDevexDORAPeriods records two years of changes and incidents through
// the store's writes (the collector's poll, the watch stream's facts, commit
// times found later, a team and template filled in after the poll stored
// changes without them) and compares every answer of FourKeys, read from
// the per-period sums, with a brute-force computation over the raw rows:
// ragged ranges (mid-month edges, a year boundary, one day, whole months, 5
// years, empty), per service, team and template, with team and template
// filters; then checks that the migration's rebuild gives the rows the
// writes kept, and the answers after retention cut mid-month.
func testDevexDORAPeriods(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	start := time.Date(2024, 12, 10, 0, 0, 0, 0, time.UTC)
	seed := uint64(42)
	rnd := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	// Lead times and restores log-uniform from a second to 200 days.
	duration := func() time.Duration {
		return time.Duration(math.Exp(float64(rnd(1000))/1000*math.Log(200*86400))) * time.Second
	}
	owners := []string{"group:default/team-a", "group:default/team-b", ""}
	templates := []string{"template:default/svc", "template:default/lib"}
	const apps = 7
	states := make([]devex.AppState, apps)
	for a := range apps {
		key := fmt.Sprintf("main/argocd/app-%d", a)
		state := devex.AppState{Key: key, Service: fmt.Sprintf("component:default/svc-%d", a%5),
			Owner: owners[a%3], TemplateRef: templates[a%2], Environment: "prod"}
		if a == 6 { // the poll stores its changes first, without team and template
			state.Owner, state.TemplateRef = "", ""
		}
		at := start.Add(time.Duration(rnd(48)) * time.Hour)
		for c := 0; at.Before(start.AddDate(2, 0, 0)); c++ {
			id := fmt.Sprint(c)
			ev := devex.DeploymentEvent{ID: id, Revision: fmt.Sprintf("r%d", c), Succeeded: rnd(9) != 0, DeployedAt: at}
			if !ev.Succeeded {
				ev.ID = devex.FailedChangeID(ev.Revision)
			}
			if a == 6 && c%3 != 0 {
				if _, err := db.RecordApps(ctx, []devex.AppObservation{{Key: key, Service: state.Service, Environment: "prod",
					CreatedAt: start, ObservedAt: at, Deployments: []devex.DeploymentEvent{ev}}}); err != nil {
					t.Fatalf("RecordApps: %v", err)
				}
			} else {
				f := devex.AppFacts{State: state, Changes: []devex.DeploymentEvent{ev}}
				if ev.Succeeded && rnd(4) != 0 {
					h := at.Add(duration())
					f.Healthy = &devex.HealthyChange{DeployID: ev.ID, At: h, AtFirstSight: h}
				}
				if !ev.Succeeded {
					f.Failures = []devex.ChangeFailure{{DeployID: ev.ID, Reason: devex.FailureOperation}}
				} else if rnd(6) == 0 {
					f.Failures = []devex.ChangeFailure{{DeployID: ev.ID, Reason: devex.FailureDegraded}}
					f.Degraded = &devex.Incident{ID: id, DeployID: id, Revision: ev.Revision, DegradedAt: at.Add(time.Minute)}
				}
				ch, err := db.RecordAppFacts(ctx, f)
				if err != nil {
					t.Fatalf("RecordAppFacts: %v", err)
				}
				for _, need := range ch.NeedCommit {
					if rnd(5) != 0 {
						if err := db.SetCommitTime(ctx, need, at.Add(-duration())); err != nil {
							t.Fatalf("SetCommitTime: %v", err)
						}
					}
				}
				// Applied twice (a second replica): nothing counts twice.
				if _, err := db.RecordAppFacts(ctx, f); err != nil {
					t.Fatalf("RecordAppFacts: %v", err)
				}
				if f.Degraded != nil && rnd(8) != 0 {
					back := f.Degraded.DegradedAt.Add(duration() / 50)
					if _, err := db.RecordAppFacts(ctx, devex.AppFacts{State: state, RestoredAt: back}); err != nil {
						t.Fatalf("RecordAppFacts: %v", err)
					}
				}
				// The team and template of the poll's changes, filled in.
				if a == 6 && c > 30 && state.Owner == "" {
					state.Owner, state.TemplateRef = "group:default/team-b", "template:default/lib"
				}
			}
			at = at.Add(time.Duration(1+rnd(120)) * time.Hour)
		}
		states[a] = state
	}

	ranges := []struct{ name, from, to string }{
		{"mid-month edges", "2025-02-13", "2025-06-17"},
		{"a year boundary", "2025-11-20", "2026-02-05"},
		{"from January", "2026-01-01", "2026-03-11"},
		{"one day", "2025-07-04", "2025-07-05"},
		{"whole months", "2025-03-01", "2025-09-01"},
		{"whole years", "2025-01-01", "2026-01-01"},
		{"5 years", "2021-12-07", "2026-12-07"},
		{"empty", "2025-04-04", "2025-04-04"},
		{"before everything", "2020-01-01", "2024-06-01"},
	}
	filters := []devex.Filter{{}, {Owner: owners[0]}, {Template: templates[1]}, {Owner: owners[1], Template: templates[1]}}
	check := func(when string, floor string) {
		t.Helper()
		for _, r := range ranges {
			for _, flt := range filters {
				f := flt
				f.From, _ = time.Parse(time.DateOnly, r.from)
				f.To, _ = time.Parse(time.DateOnly, r.to)
				for _, by := range devex.DORAGroupings {
					got, overall, err := db.FourKeys(ctx, f, by)
					if err != nil {
						t.Fatalf("FourKeys: %v", err)
					}
					from := max(r.from, floor)
					want, wantAll := bruteFourKeys(t, db, from, r.to, f, by)
					what := fmt.Sprintf("%s: %s %+v by %s", when, r.name, flt, by)
					if len(got) != len(want) {
						t.Errorf("%s: %d groups, want %d", what, len(got), len(want))
						continue
					}
					for i := range got {
						sameKeys(t, what, got[i], want[i])
					}
					sameKeys(t, what+" overall", overall, wantAll)
				}
			}
		}
	}
	check("written", "")

	// What the writes kept is what the migrations build from the rows:
	// the sums per period (0020) and their packs (0026).
	written := doraRows(t, db)
	if !slices.ContainsFunc(written, func(r string) bool { return strings.HasPrefix(r, "pack ") }) ||
		strings.HasPrefix(written[0], "pack ") {
		t.Fatal("no four keys sums or packs written")
	}
	if err := db.RebuildDORAPeriods(ctx); err != nil {
		t.Fatal(err)
	}
	if rebuilt := doraRows(t, db); !slices.Equal(written, rebuilt) {
		t.Errorf("rebuilt sums differ from the written ones:\n%d rows written, %d rebuilt", len(written), len(rebuilt))
		for i := range min(len(written), len(rebuilt)) {
			if written[i] != rebuilt[i] {
				t.Errorf("first difference: written %q, rebuilt %q", written[i], rebuilt[i])
				break
			}
		}
	}

	// Retention mid-month: raw rows and sums of the days before go; the
	// answers start there.
	cut := time.Date(2025, 5, 17, 0, 0, 0, 0, time.UTC)
	if _, err := db.DeleteDevexBefore(ctx, cut, cut); err != nil {
		t.Fatal(err)
	}
	// Restores of the incidents still open, some opened before the cut.
	for _, st := range states {
		if _, err := db.RecordAppFacts(ctx, devex.AppFacts{State: st, RestoredAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatalf("RecordAppFacts: %v", err)
		}
	}
	check("after retention", "2025-05-17")
}

// testDevexDORAPacksConcurrent: writers recording changes, failures and
// incidents of their own apps at once, on the same days, teams and
// templates (the same packs), leave the packs equal to what the migration
// packs from the rows, and the answers equal to the raw rows'.
func testDevexDORAPacksConcurrent(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	at := time.Date(2026, 1, 30, 9, 0, 0, 0, time.UTC) // January: every month's year to date
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			state := devex.AppState{Key: fmt.Sprintf("main/argocd/pk-%d", w), Service: fmt.Sprintf("component:default/pk-%d", w),
				Owner: fmt.Sprintf("group:default/team-%d", w%2), TemplateRef: "template:default/svc", Environment: "prod"}
			for i := range each {
				when := at.Add(time.Duration(i%3) * 24 * time.Hour).Add(time.Duration(w) * time.Minute)
				ev := devex.DeploymentEvent{ID: fmt.Sprint(i), Revision: fmt.Sprintf("r%d", i), Succeeded: (w+i)%4 != 0, DeployedAt: when}
				if !ev.Succeeded {
					ev.ID = devex.FailedChangeID(ev.Revision)
				}
				f := devex.AppFacts{State: state, Changes: []devex.DeploymentEvent{ev}}
				if ev.Succeeded {
					h := when.Add(time.Duration(1+w+i) * time.Minute)
					f.Healthy = &devex.HealthyChange{DeployID: ev.ID, At: h, AtFirstSight: h}
					if i%3 == 1 {
						f.Failures = []devex.ChangeFailure{{DeployID: ev.ID, Reason: devex.FailureDegraded}}
						f.Degraded = &devex.Incident{ID: ev.ID, DeployID: ev.ID, Revision: ev.Revision, DegradedAt: when.Add(time.Minute)}
					}
				} else {
					f.Failures = []devex.ChangeFailure{{DeployID: ev.ID, Reason: devex.FailureOperation}}
				}
				ch, err := db.RecordAppFacts(ctx, f)
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				for _, need := range ch.NeedCommit {
					if err := db.SetCommitTime(ctx, need, when.Add(-time.Duration(w+1)*time.Hour)); err != nil {
						errs <- fmt.Errorf("writer %d: %w", w, err)
						return
					}
				}
				if f.Degraded != nil && i%2 == 0 {
					if _, err := db.RecordAppFacts(ctx, devex.AppFacts{State: state, RestoredAt: when.Add(time.Duration(10+w) * time.Minute)}); err != nil {
						errs <- fmt.Errorf("writer %d: %w", w, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, r := range [][2]string{{"2026-01-31", "2026-02-02"}, {"2026-01-01", "2026-03-01"}, {"2025-01-01", "2027-01-01"}} {
		var f devex.Filter
		f.From, _ = time.Parse(time.DateOnly, r[0])
		f.To, _ = time.Parse(time.DateOnly, r[1])
		for _, by := range devex.DORAGroupings {
			what := fmt.Sprintf("%s to %s by %s", r[0], r[1], by)
			overall := sameFourKeys(t, ctx, db, f, by, r[0], r[1], what)
			if r[0] < "2026-01-30" && overall.Changes != writers*each {
				t.Errorf("%s: %d changes, want %d", what, overall.Changes, writers*each)
			}
		}
	}
	written := doraRows(t, db)
	if err := db.RebuildDORAPeriods(ctx); err != nil {
		t.Fatal(err)
	}
	if rebuilt := doraRows(t, db); !slices.Equal(written, rebuilt) {
		t.Errorf("packs written at once differ from the rows' (%d rows and packs written, %d rebuilt)", len(written), len(rebuilt))
	}
}

// doraRows dumps devex_dora_periods, then devex_dora_packs, ordered.
func doraRows(t *testing.T, db *sqlstore.DB) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT grain, start, service, owner, template_ref, sums FROM devex_dora_periods ORDER BY grain, start, service, owner, template_ref`,
		`SELECT 'pack', grouped_by, grain, start, part, pack FROM devex_dora_packs ORDER BY grouped_by, grain, start, part`,
	} {
		rows, err := db.SQL().QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b, c, d, e string
			var sums []byte
			if err := rows.Scan(&a, &b, &c, &d, &e, &sums); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %s %s %s %s %x", a, b, c, d, e, sums))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// bruteFourKeys computes the four keys of [from, to) from the raw rows.
func bruteFourKeys(t *testing.T, db *sqlstore.DB, from, to string, f devex.Filter, by string) ([]devex.KeysRow, devex.KeysRow) {
	t.Helper()
	d := db.Dialect()
	groups := map[string]*devex.KeysRow{}
	days := map[string]map[string]bool{}
	allDays := map[string]bool{}
	var all devex.KeysRow
	row := func(service, owner, tpl string) *devex.KeysRow {
		g := map[string]string{"service": service, "team": owner, "template": tpl}[by]
		if groups[g] == nil {
			groups[g] = &devex.KeysRow{Group: g}
			days[g] = map[string]bool{}
		}
		return groups[g]
	}
	keep := func(owner, tpl string) bool {
		return (f.Owner == "" || owner == f.Owner) && (f.Template == "" || tpl == f.Template)
	}
	rows, err := db.SQL().QueryContext(t.Context(), d.Rebind(`SELECT day, service, owner, template_ref, succeeded, failure, commit_at, healthy_at
		FROM devex_deployments WHERE day >= ? AND day < ?`), from, to)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var day, service, owner, tpl, failure string
		var ok int
		var commit, healthy any
		if err := rows.Scan(&day, &service, &owner, &tpl, &ok, &failure, &commit, &healthy); err != nil {
			t.Fatal(err)
		}
		if !keep(owner, tpl) {
			continue
		}
		g := row(service, owner, tpl)
		for _, r := range []*devex.KeysRow{g, &all} {
			r.Changes++
			if ok == 1 {
				r.Deployments++
			}
			if ok == 0 || failure != "" {
				r.FailedChanges++
			}
			if commit != nil && healthy != nil {
				r.LeadTimesMS = append(r.LeadTimesMS, max(timeOf(t, healthy).Sub(timeOf(t, commit)).Milliseconds(), 0))
			}
		}
		if ok == 1 {
			days[g.Group][day] = true
			allDays[day] = true
		}
	}
	rows.Close()
	rows, err = db.SQL().QueryContext(t.Context(), d.Rebind(`SELECT service, owner, template_ref, restore_ms FROM devex_incidents WHERE day >= ? AND day < ?`), from, to)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var service, owner, tpl string
		var restore *int64
		if err := rows.Scan(&service, &owner, &tpl, &restore); err != nil {
			t.Fatal(err)
		}
		if !keep(owner, tpl) {
			continue
		}
		for _, r := range []*devex.KeysRow{row(service, owner, tpl), &all} {
			if restore == nil {
				r.OpenIncidents++
			} else {
				r.RestoresMS = append(r.RestoresMS, *restore)
			}
		}
	}
	rows.Close()
	out := make([]devex.KeysRow, 0, len(groups))
	for g, r := range groups {
		r.DeploymentDays = int64(len(days[g]))
		slices.Sort(r.LeadTimesMS)
		slices.Sort(r.RestoresMS)
		out = append(out, *r)
	}
	all.DeploymentDays = int64(len(allDays))
	slices.Sort(all.LeadTimesMS)
	slices.Sort(all.RestoresMS)
	slices.SortFunc(out, func(a, b devex.KeysRow) int {
		if a.Changes != b.Changes {
			return int(b.Changes - a.Changes)
		}
		if a.Group < b.Group {
			return -1
		}
		if a.Group > b.Group {
			return 1
		}
		return 0
	})
	return out, all
}

// timeOf reads a raw timestamp column (integer microseconds or a time).
func timeOf(t *testing.T, v any) time.Time {
	switch x := v.(type) {
	case int64:
		return time.UnixMicro(x)
	case time.Time:
		return x
	}
	t.Fatalf("timestamp column of type %T", v)
	return time.Time{}
}

// sameKeys compares an answer with the brute-force one: counts exact,
// lead times and restores each within 2 % (the histograms' buckets), and
// the tiers of the medians exact.
// sameFourKeys compares FourKeys of f by a grouping with the brute force
// over the facts from..to, and returns the store's overall row.
func sameFourKeys(t *testing.T, ctx context.Context, db *sqlstore.DB, f devex.Filter, by, from, to, what string) devex.KeysRow {
	t.Helper()
	got, overall, err := db.FourKeys(ctx, f, by)
	if err != nil {
		t.Fatalf("FourKeys: %v", err)
	}
	want, wantAll := bruteFourKeys(t, db, from, to, f, by)
	sameKeys(t, what+" overall", overall, wantAll)
	if len(got) != len(want) {
		t.Errorf("%s: %d groups, want %d", what, len(got), len(want))
		return overall
	}
	for i := range got {
		sameKeys(t, what, got[i], want[i])
	}
	return overall
}

func sameKeys(t *testing.T, what string, got, want devex.KeysRow) {
	t.Helper()
	if got.Group != want.Group || got.Changes != want.Changes || got.Deployments != want.Deployments ||
		got.FailedChanges != want.FailedChanges || got.DeploymentDays != want.DeploymentDays || got.OpenIncidents != want.OpenIncidents ||
		len(got.LeadTimesMS) != len(want.LeadTimesMS) || len(got.RestoresMS) != len(want.RestoresMS) {
		t.Errorf("%s: got %s, want %s", what, keysString(got), keysString(want))
		return
	}
	for _, l := range [][2][]int64{{got.LeadTimesMS, want.LeadTimesMS}, {got.RestoresMS, want.RestoresMS}} {
		for i := range l[0] {
			if g, w := float64(l[0][i]), float64(l[1][i]); math.Abs(g-w) > 0.02*w+1 {
				t.Errorf("%s: value %d is %v, want %v within 2 %%", what, i, g, w)
				break
			}
		}
	}
	period := 30 * 24 * time.Hour
	g, w := devex.Keys(got, period), devex.Keys(want, period)
	if g.LeadTimeTier != w.LeadTimeTier || g.TimeToRestoreTier != w.TimeToRestoreTier {
		t.Errorf("%s: tiers %s/%s, want %s/%s (medians %v/%v s, want %v/%v s)", what, g.LeadTimeTier, g.TimeToRestoreTier,
			w.LeadTimeTier, w.TimeToRestoreTier, g.LeadTimeSeconds, g.TimeToRestoreSeconds, w.LeadTimeSeconds, w.TimeToRestoreSeconds)
	}
}

func keysString(r devex.KeysRow) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{%s changes %d deployments %d failed %d days %d open %d leads %d restores %d}", r.Group, r.Changes,
		r.Deployments, r.FailedChanges, r.DeploymentDays, r.OpenIncidents, len(r.LeadTimesMS), len(r.RestoresMS))
	return b.String()
}

// testDevexDORABandEdges records lead times and times to restore exactly
// at the DORA bands' edges and a second either side, three per service
// (two equal, one across the edge), and checks that the
// tiers FourKeys' histograms give are those of the exact medians.
func testDevexDORABandEdges(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	edges := []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 182 * 24 * time.Hour}
	want := map[string][2]string{}
	n := 0
	for _, e := range edges {
		for _, off := range []time.Duration{-time.Second, 0, time.Second} {
			x := e + off
			// The third value lies across the edge, within the
			// logarithmic bucket's 2 %: a bucket not split at the edge
			// would put its mean, and so the median, across it.
			further := e - 30*time.Second
			if x < e {
				further = e + 30*time.Second
			}
			svc := fmt.Sprintf("component:default/edge-%d", n)
			want[svc] = [2]string{devex.LeadTimeTier(x, 3), devex.TimeToRestoreTier(x, 3)}
			for i, v := range []time.Duration{x, x, further} {
				n++
				key := fmt.Sprintf("main/argocd/edge-%d", n)
				st := devex.AppState{Key: key, Service: svc, Owner: "group:default/edges", TemplateRef: "template:default/edges"}
				at := day.Add(time.Duration(i) * time.Hour)
				f := devex.AppFacts{State: st, Changes: []devex.DeploymentEvent{{ID: "1", Revision: "r1", Succeeded: true, DeployedAt: at}},
					Healthy:  &devex.HealthyChange{DeployID: "1", At: at.Add(v), AtFirstSight: at.Add(v)},
					Degraded: &devex.Incident{ID: "i", DeployID: "1", Revision: "r1", DegradedAt: at}}
				ch, err := db.RecordAppFacts(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range ch.NeedCommit {
					if err := db.SetCommitTime(ctx, c, at); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := db.RecordAppFacts(ctx, devex.AppFacts{State: st, RestoredAt: at.Add(v)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	f := devex.Filter{From: day, To: day.AddDate(0, 0, 1), Owner: "group:default/edges"}
	for _, from := range []time.Time{day, day.AddDate(-1, 0, 0)} { // a day row, and year-to-date rows
		f.From = from
		f.To = day.AddDate(0, 1, -9) // 2026-04-01: March read whole
		if from.Equal(day) {
			f.To = day.AddDate(0, 0, 1)
		}
		rows, _, err := db.FourKeys(ctx, f, "service")
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(want) {
			t.Fatalf("%d services, want %d", len(rows), len(want))
		}
		for _, r := range rows {
			k := devex.Keys(r, 24*time.Hour)
			if got := [2]string{k.LeadTimeTier, k.TimeToRestoreTier}; got != want[r.Group] {
				t.Errorf("%s from %s: tiers %v (medians %v s, %v s), want %v", r.Group, devex.Day(from), got, k.LeadTimeSeconds, k.TimeToRestoreSeconds, want[r.Group])
			}
		}
	}
}
