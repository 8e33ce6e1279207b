package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// testDevexUsersByPeriod: distinct users per day, week and month, from the
// day bitmaps (no filter) and from the per-template rows (a filter), agree
// with counting DayUsers' rows by hand.
func testDevexUsersByPeriod(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	var runs []devex.Run
	for i := range 60 {
		created := devexDay.AddDate(0, 0, i/2) // two runs a day for 30 days
		r := devexRun(fmt.Sprintf("p-%02d", i), fmt.Sprintf("template:default/t%d", i%3), fmt.Sprintf("user:default/u%d", i%7), devex.TaskCompleted, created, time.Minute)
		runs = append(runs, r)
	}
	upsertRuns(t, db, runs...)
	from, to := devex.DayRange(devexDay.AddDate(0, 0, 3), devexDay.AddDate(0, 0, 25))
	for _, f := range []devex.Filter{{From: from, To: to}, {From: from, To: to, Template: "template:default/t1"}} {
		days, err := db.DayUsers(ctx, f)
		if err != nil {
			t.Fatalf("DayUsers: %v", err)
		}
		for _, grouping := range []string{devex.GroupDay, devex.GroupWeek, devex.GroupMonth} {
			want := map[string]int64{}
			seen := map[[2]string]bool{}
			for _, d := range days {
				day, _ := time.Parse(time.DateOnly, d.Day)
				p := devex.Day(devex.PeriodStart(day, grouping))
				if !seen[[2]string{p, d.UserRef}] {
					seen[[2]string{p, d.UserRef}] = true
					want[p]++
				}
			}
			got, err := db.ActiveUsersByPeriod(ctx, f, grouping)
			if err != nil {
				t.Fatalf("ActiveUsersByPeriod: %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
				t.Errorf("%s users of %q = %v, want %v", grouping, f.Template, got, want)
			}
		}
	}
}

// testDevexSucceededDeployments: the summary's count of succeeded
// deployments is the sum of the per-service rows, with and without filters.
func testDevexSucceededDeployments(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	var obs []devex.AppObservation
	for i := range 6 {
		o := devex.AppObservation{Key: fmt.Sprintf("default/argocd/app-%d", i), Service: fmt.Sprintf("component:default/svc-%d", i%3),
			Environment: "prod", TemplateRef: fmt.Sprintf("template:default/t%d", i%2), CreatedAt: devexDay, ObservedAt: devexDay.AddDate(0, 0, 5)}
		for j := range i + 1 {
			o.Deployments = append(o.Deployments, devex.DeploymentEvent{ID: fmt.Sprint(j), Revision: fmt.Sprint(j), Succeeded: j%4 != 3,
				DeployedAt: devexDay.AddDate(0, 0, j)})
		}
		obs = append(obs, o)
	}
	if _, err := db.RecordApps(ctx, obs); err != nil {
		t.Fatalf("RecordApps: %v", err)
	}
	if _, _, err := db.SyncComponents(ctx, []devex.Component{{EntityRef: "component:default/svc-1", Kind: "Component", Owner: "group:default/team-b"}}, devexDay); err != nil {
		t.Fatalf("SyncComponents: %v", err)
	}
	from, to := devex.DayRange(devexDay.AddDate(0, 0, 1), devexDay.AddDate(0, 0, 4))
	for _, f := range []devex.Filter{{From: from, To: to}, {From: from, To: to, Owner: "group:default/team-b"}, {From: from, To: to, Template: "template:default/t1"}} {
		rows, err := db.Deployments(ctx, f)
		if err != nil {
			t.Fatalf("Deployments: %v", err)
		}
		var want int64
		for _, r := range rows {
			want += r.Succeeded
		}
		got, err := db.SucceededDeployments(ctx, f)
		if err != nil {
			t.Fatalf("SucceededDeployments: %v", err)
		}
		if got != want || want == 0 {
			t.Errorf("succeeded deployments of %+v = %d, want %d (the rows' sum, not 0)", f, got, want)
		}
	}
}
