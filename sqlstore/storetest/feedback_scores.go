package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// testDevexFeedbackScoresExact: the satisfaction counts kept per day, month
// and year sum, over ragged ranges (mid-month edges, one day, a month, a
// year's edges, 5 years, nothing) and every filter, to what counting the
// answers' rows by hand gives, after new answers, edits that move an answer
// to another score, and retention's delete.
func testDevexFeedbackScoresExact(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	start := time.Date(2021, 12, 30, 9, 0, 0, 0, time.UTC)
	var given []devex.Feedback
	for i := range 300 {
		at := start.Add(time.Duration(i*149) * time.Hour) // about every 6 days, for 5 years
		fb := devex.Feedback{TaskID: fmt.Sprintf("sc-%03d", i), UserRef: fmt.Sprintf("user:default/u%d", i%4),
			TemplateRef: fmt.Sprintf("template:default/t%d", i%3), Owner: []string{"group:default/a", "group:default/b", ""}[i%5%3],
			Score: 1 + i*7%5, Comment: "", CreatedAt: at, UpdatedAt: at}
		if _, _, err := db.PutFeedback(ctx, fb, at); err != nil {
			t.Fatalf("PutFeedback %d: %v", i, err)
		}
		given = append(given, fb)
	}
	// Edits inside the window move an answer from its score to another.
	for i := 0; i < len(given); i += 7 {
		fb := given[i]
		first := fb.CreatedAt
		fb.Score, fb.Comment, fb.CreatedAt, fb.UpdatedAt = 1+(fb.Score+1)%5, "changed my mind", first.Add(time.Hour), first.Add(time.Hour)
		if _, created, err := db.PutFeedback(ctx, fb, first); err != nil || created {
			t.Fatalf("edit %d: created=%v, %v", i, created, err)
		}
	}
	if _, err := db.DeleteDevexBefore(ctx, start, start.AddDate(0, 0, 20)); err != nil {
		t.Fatalf("DeleteDevexBefore: %v", err)
	}

	type answer struct {
		day, template, owner string
		score                int
	}
	var raw []answer
	rows, err := db.SQL().QueryContext(ctx, `SELECT day, template_ref, owner, score FROM devex_feedback`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a answer
		if err := rows.Scan(&a.day, &a.template, &a.owner, &a.score); err != nil {
			t.Fatal(err)
		}
		raw = append(raw, a)
	}
	rows.Close()
	if len(raw) < 290 || len(raw) >= 300 {
		t.Fatalf("%d answers left after retention, want the first few deleted", len(raw))
	}

	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	ranges := raggedRanges
	filters := []devex.Filter{{}, {Owner: "group:default/a"}, {Template: "template:default/t1"},
		{Owner: "group:default/b", Template: "template:default/t2"}}
	for _, r := range ranges {
		for _, base := range filters {
			f := base
			f.From, f.To = day(r.from), day(r.to)
			want := map[string]devex.ScoreCounts{}
			wantMonths, wantDays := map[string]devex.ScoreCounts{}, map[string]devex.ScoreCounts{}
			for _, a := range raw {
				if a.day < r.from || a.day >= r.to || f.Owner != "" && a.owner != f.Owner || f.Template != "" && a.template != f.Template {
					continue
				}
				c := want[a.template]
				c.Counts[a.score-1]++
				want[a.template] = c
				m := devex.Day(devex.PeriodStart(day(a.day), devex.GroupMonth))
				c = wantMonths[m]
				c.Counts[a.score-1]++
				wantMonths[m] = c
				c = wantDays[a.day]
				c.Counts[a.score-1]++
				wantDays[a.day] = c
			}
			got, err := db.ScoresByTemplate(ctx, f)
			if err != nil {
				t.Fatalf("ScoresByTemplate: %v", err)
			}
			gotBy := map[string]devex.ScoreCounts{}
			for i, g := range got {
				gotBy[g.TemplateRef] = g.ScoreCounts
				if i > 0 && got[i-1].TemplateRef >= g.TemplateRef {
					t.Errorf("%s..%s %+v: templates out of order: %q before %q", r.from, r.to, base, got[i-1].TemplateRef, g.TemplateRef)
				}
			}
			if fmt.Sprint(gotBy) != fmt.Sprint(want) {
				t.Errorf("%s..%s %+v: by template %v, want %v", r.from, r.to, base, gotBy, want)
			}
			for grouping, want := range map[string]map[string]devex.ScoreCounts{devex.GroupMonth: wantMonths, devex.GroupDay: wantDays} {
				got, err := db.ScoresByPeriod(ctx, f, grouping)
				if err != nil {
					t.Fatalf("ScoresByPeriod: %v", err)
				}
				gotBy := map[string]devex.ScoreCounts{}
				for _, g := range got {
					key := g.Day
					if grouping == devex.GroupMonth {
						key = devex.Day(devex.PeriodStart(day(g.Day), devex.GroupMonth))
					}
					c := gotBy[key]
					c.Add(g.ScoreCounts)
					gotBy[key] = c
				}
				if fmt.Sprint(gotBy) != fmt.Sprint(want) {
					t.Errorf("%s..%s %+v per %s: %v, want %v", r.from, r.to, base, grouping, gotBy, want)
				}
			}
		}
	}
	// 0023's backfill of the parts of years equals what the triggers kept.
	dump := func() string {
		return dumpRows(t, db, `SELECT grain, owner, period, template_ref, s1, s2, s3, s4, s5 FROM devex_feedback_scores
			WHERE s1 <> 0 OR s2 <> 0 OR s3 <> 0 OR s4 <> 0 OR s5 <> 0 ORDER BY grain, owner, period, template_ref`)
	}
	kept := dump()
	for _, q := range []string{`DELETE FROM devex_feedback_scores WHERE grain IN ('rest', 'ytd')`,
		`DELETE FROM schema_migrations WHERE version = '0023_devex_feedback_scores_year_parts'`} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if backfilled := dump(); backfilled != kept || !strings.Contains(kept, "ytd") || !strings.Contains(kept, "rest") {
		t.Errorf("the backfill differs from the rows the triggers kept:\n%s\nwant\n%s", backfilled, kept)
	}
	checkFeedbackPacksBackfill(t, db)
}

// checkFeedbackPacksBackfill: migration 0025's backfill of the packs of
// every template's answers per period, from the raw answers, equals the
// packs the writes kept (a template of no answers left out, a pack of
// none deleted, as the writes leave them).
func checkFeedbackPacksBackfill(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	ctx := t.Context()
	dump := func() string {
		return dumpRows(t, db, `SELECT grain, period, pack FROM devex_feedback_packs ORDER BY grain, period`)
	}
	kept := dump()
	for _, q := range []string{`DELETE FROM devex_feedback_packs`,
		`DELETE FROM schema_migrations WHERE version = '0025_devex_feedback_packs'`, `DROP TABLE devex_feedback_packs`} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if backfilled := dump(); backfilled != kept || kept == "" {
		t.Errorf("the packs' backfill differs from the packs the writes kept:\n%s\nwant\n%s", backfilled, kept)
	}
}

// testDevexFeedbackScoresConcurrent: answers given and changed at once by
// many users, for different templates and teams on the same day, all land
// (their counts share the day's, month's and year's overall rows, which
// writers must take in one order) and the counts stay exact.
func testDevexFeedbackScoresConcurrent(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	at := time.Date(2026, 5, 12, 9, 0, 0, 0, time.UTC)
	const n = 24
	// Answers of the weeks before, which retention deletes while the
	// answers below are given: their counts share the month's, year's and
	// parts of the year's packs.
	for i := range 6 {
		old := at.AddDate(0, 0, -7-i)
		fb := devex.Feedback{TaskID: fmt.Sprintf("cc-old-%d", i), UserRef: "user:default/old", TemplateRef: fmt.Sprintf("template:default/t%d", i%5),
			Owner: "group:default/g0", Score: 1 + i%5, CreatedAt: old}
		if _, _, err := db.PutFeedback(ctx, fb, old); err != nil {
			t.Fatalf("old answer %d: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n+1)
	wg.Go(func() {
		if _, err := db.DeleteDevexBefore(ctx, at.AddDate(-1, 0, 0), at.AddDate(0, 0, -1)); err != nil {
			errs <- fmt.Errorf("retention: %w", err)
		}
	})
	for i := range n {
		wg.Go(func() {
			fb := devex.Feedback{TaskID: fmt.Sprintf("cc-%02d", i), UserRef: fmt.Sprintf("user:default/u%d", i),
				TemplateRef: fmt.Sprintf("template:default/t%d", i%5), Owner: fmt.Sprintf("group:default/g%d", i%3),
				Score: 1 + i%5, CreatedAt: at.Add(time.Duration(i) * time.Second)}
			if _, _, err := db.PutFeedback(ctx, fb, at); err != nil {
				errs <- fmt.Errorf("answer %d: %w", i, err)
				return
			}
			fb.Score, fb.CreatedAt = 5-i%5, fb.CreatedAt.Add(time.Minute)
			if _, _, err := db.PutFeedback(ctx, fb, at); err != nil {
				errs <- fmt.Errorf("change %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var want devex.ScoreCounts
	wantBy := map[string]devex.ScoreCounts{}
	for i := range n {
		want.Counts[4-i%5]++
		c := wantBy[fmt.Sprintf("template:default/t%d", i%5)]
		c.Counts[4-i%5]++
		wantBy[fmt.Sprintf("template:default/t%d", i%5)] = c
	}
	for _, f := range []devex.Filter{{From: at, To: at.AddDate(0, 0, 1)}, {From: at.AddDate(0, -1, 0), To: at.AddDate(1, 0, 0)},
		{From: at.AddDate(-1, 0, 0), To: at.AddDate(1, 0, 0)}} {
		got, err := db.ScoresByTemplate(ctx, f)
		if err != nil {
			t.Fatalf("ScoresByTemplate: %v", err)
		}
		var all devex.ScoreCounts
		gotBy := map[string]devex.ScoreCounts{}
		for _, g := range got {
			all.Add(g.ScoreCounts)
			gotBy[g.TemplateRef] = g.ScoreCounts
		}
		if all != want || fmt.Sprint(gotBy) != fmt.Sprint(wantBy) {
			t.Errorf("%s..%s: %v by template %v, want %v by template %v", f.FromDay(), f.ToDay(), all, gotBy, want, wantBy)
		}
	}
	checkFeedbackPacksBackfill(t, db)
}

// raggedRanges are ranges of days [from, to) that the counts kept per day,
// month and year answer from each of their parts.
var raggedRanges = []struct{ from, to string }{
	{"2022-01-15", "2022-01-16"}, // one day
	{"2022-03-17", "2022-05-09"}, // mid-month to mid-month
	{"2022-06-01", "2022-07-01"}, // one whole month
	{"2022-11-20", "2024-02-11"}, // across a whole year, months at both ends
	{"2023-01-01", "2025-01-01"}, // whole years
	{"2021-11-02", "2026-11-01"}, // 5 years, from before the first answer
	{"2024-12-31", "2025-01-02"}, // a year's edge
	{"2025-07-14", "2025-07-14"}, // nothing
}
