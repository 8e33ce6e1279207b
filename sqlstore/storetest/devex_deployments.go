package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// testDevexDeploymentsConcurrent: replicas recording at once the same
// deployments (as two pollers of one Argo CD do) and deployments of their
// own for the same services and days, in opposite service orders: every
// deployment counted once in the per-service rollups, days with a succeeded
// one exact, and no writer aborted (PostgreSQL takes the rollup rows in key
// order).
func testDevexDeploymentsConcurrent(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	at := time.Date(2026, 1, 30, 22, 0, 0, 0, time.UTC) // the days cross a month
	const writers, services = 8, 6
	shared := func() []devex.AppObservation {
		var obs []devex.AppObservation
		for s := range services {
			o := devex.AppObservation{Key: fmt.Sprintf("default/argocd/shared-%d", s), Service: fmt.Sprintf("component:default/svc-%d", s),
				Environment: "prod", CreatedAt: at}
			for j := range 4 {
				o.Deployments = append(o.Deployments, devex.DeploymentEvent{ID: fmt.Sprint(j), Revision: fmt.Sprintf("%040x", j),
					Succeeded: j != 2, DeployedAt: at.Add(time.Duration(j) * 90 * time.Minute)})
			}
			obs = append(obs, o)
		}
		return obs
	}
	own := func(w int) []devex.AppObservation {
		var obs []devex.AppObservation
		for s := range services {
			obs = append(obs, devex.AppObservation{Key: fmt.Sprintf("default/argocd/own-%d-%d", w, s), Service: fmt.Sprintf("component:default/svc-%d", s),
				Environment: "prod", CreatedAt: at, Deployments: []devex.DeploymentEvent{{ID: "1", Revision: "r", Succeeded: w%3 != 0,
					DeployedAt: at.Add(time.Duration(w) * 20 * time.Minute)}}})
		}
		if w%2 == 1 {
			slices.Reverse(obs)
		}
		return obs
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for w := range writers {
		wg.Go(func() {
			if _, err := db.RecordApps(ctx, shared()); err != nil {
				errs <- fmt.Errorf("writer %d, shared: %w", w, err)
			}
			if _, err := db.RecordApps(ctx, own(w)); err != nil {
				errs <- fmt.Errorf("writer %d, own: %w", w, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// By hand: per service the shared deployments once, and every writer's.
	want := map[string]devex.DeploymentRow{}
	days := map[[2]string]bool{}
	var succeeded int64
	count := func(service string, d devex.DeploymentEvent) {
		r := want[service]
		r.Service = service
		if !d.Succeeded {
			r.Failed++
			want[service] = r
			return
		}
		r.Succeeded++
		succeeded++
		if k := [2]string{service, devex.Day(d.DeployedAt)}; !days[k] {
			days[k] = true
			r.DeploymentDays++
		}
		want[service] = r
	}
	for _, o := range shared() {
		for _, d := range o.Deployments {
			count(o.Service, d)
		}
	}
	for w := range writers {
		for _, o := range own(w) {
			count(o.Service, o.Deployments[0])
		}
	}
	for _, f := range []devex.Filter{{From: at.AddDate(0, 0, -1), To: at.AddDate(0, 0, 2)}, {From: at.AddDate(-2, 0, 0), To: at.AddDate(1, 0, 0)}} {
		rows, err := db.Deployments(ctx, f)
		if err != nil {
			t.Fatalf("Deployments: %v", err)
		}
		got := map[string]devex.DeploymentRow{}
		for _, r := range rows {
			got[r.Service] = r
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Deployments %s..%s = %v, want %v", f.FromDay(), f.ToDay(), got, want)
		}
		if n, err := db.SucceededDeployments(ctx, f); err != nil || n != succeeded {
			t.Errorf("SucceededDeployments %s..%s = %d, %v; want %d", f.FromDay(), f.ToDay(), n, err, succeeded)
		}
	}
}

// testDevexTemplatePacksConcurrent: writers ingesting runs of the same
// templates and days at once (as two collectors would if the lease were
// lost) leave the templates' packs equal to the runs and every writer's
// users in the months' and years' bitmaps (each writer on one of two days
// of a month, with users of its own): no writer's update of a pack or
// bitmap lost (the ingest's transactions run one at a time), none aborted.
func testDevexTemplatePacksConcurrent(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	const writers, each = 8, 12
	// Five users shared by every writer, and two of each writer's own.
	user := func(w, i int) string {
		if i%3 == 2 {
			return fmt.Sprintf("user:default/own-%d-%d", w, i%2)
		}
		return fmt.Sprintf("user:default/u%d", (w+i)%5)
	}
	run := func(w, i int) devex.Run {
		return devexRun(fmt.Sprintf("pk-%d-%02d", w, i), fmt.Sprintf("template:default/t%d", i%3), user(w, i),
			devex.TaskCompleted, at.Add(time.Duration(w%2)*24*time.Hour), time.Duration(1+w)*time.Minute)
	}
	// The users known first, a year before: a new user's number is taken by
	// one writer at a time (its lease), which this test does not look at.
	var known []devex.Run
	for u := range 5 {
		known = append(known, devexRun(fmt.Sprintf("pk-known-%d", u), "template:default/t0", fmt.Sprintf("user:default/u%d", u),
			devex.TaskCompleted, at.AddDate(-1, 0, 0), time.Minute))
	}
	for w := range writers {
		for i := range 2 {
			known = append(known, devexRun(fmt.Sprintf("pk-known-%d-%d", w, i), "template:default/t0", user(w, 2+3*i),
				devex.TaskCompleted, at.AddDate(-1, 0, 0), time.Minute))
		}
	}
	upsertRuns(t, db, known...)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			var runs []devex.Run
			for i := range each {
				runs = append(runs, run(w, i))
			}
			if _, err := db.UpsertRuns(ctx, runs); err != nil {
				errs <- fmt.Errorf("writer %d: %w", w, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var all []devex.Run
	for w := range writers {
		for i := range each {
			all = append(all, run(w, i))
		}
	}
	f := devex.Filter{From: at.AddDate(0, 0, -1), To: at.AddDate(0, 0, 3)}
	want := map[string]int64{}
	users := map[string]map[string]bool{}
	everyone := map[string]bool{}
	for _, r := range all {
		want[r.TemplateRef]++
		if users[r.TemplateRef] == nil {
			users[r.TemplateRef] = map[string]bool{}
		}
		users[r.TemplateRef][r.UserRef] = true
		everyone[r.UserRef] = true
	}
	// Every writer's users in the days' months and years too: no writer's
	// bits lost from a period's bitmap.
	for _, r := range []devex.Filter{f, {From: at.AddDate(0, -2, -9), To: at.AddDate(0, 2, 0)}, {From: at.AddDate(-1, 0, 0), To: at.AddDate(2, 0, 0)}} {
		n, err := db.ActiveUsers(ctx, r)
		if err != nil || n != int64(len(everyone)) {
			t.Errorf("ActiveUsers %s..%s = %d, %v; want %d", r.FromDay(), r.ToDay(), n, err, len(everyone))
		}
	}
	totals, err := db.RunTotalsByTemplate(ctx, f)
	if err != nil {
		t.Fatalf("RunTotalsByTemplate: %v", err)
	}
	got := map[string]int64{}
	for _, r := range totals {
		got[r.TemplateRef] = r.Started
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("RunTotalsByTemplate: runs %v, want %v", got, want)
	}
	byTpl, err := db.ActiveUsersByTemplate(ctx, f)
	if err != nil {
		t.Fatalf("ActiveUsersByTemplate: %v", err)
	}
	for tpl, us := range users {
		if byTpl[tpl] != int64(len(us)) {
			t.Errorf("ActiveUsersByTemplate %s = %d, want %d", tpl, byTpl[tpl], len(us))
		}
	}
	// The edge days' durations are exact: every run's is there.
	pcts, err := db.DurationPercentiles(ctx, f, 100)
	if err != nil {
		t.Fatalf("DurationPercentiles: %v", err)
	}
	for tpl := range want {
		var longest int64
		for _, r := range all {
			if r.TemplateRef == tpl {
				longest = max(longest, r.Duration().Milliseconds())
			}
		}
		if got := pcts[tpl]; len(got) != 1 || got[0] != longest {
			t.Errorf("DurationPercentiles %s: p100 %v, want %d", tpl, got, longest)
		}
	}
}
