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
