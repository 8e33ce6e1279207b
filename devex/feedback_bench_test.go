package devex_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
)

// feedbackYears of answers for 1,000 templates and 500 teams: 100 answers a
// day (182,600 in all), as a platform with a busy feedback prompt gets.
const (
	feedbackYears     = 5
	feedbackPerDay    = 100
	feedbackTemplates = 1000
	feedbackTeams     = 500
)

// BenchmarkSatisfaction5Years answers GET devex/v1/satisfaction for the
// page's default 28 days and for the longest range (5 years) over five years
// of answers, and reports the 95th percentile of each.
func BenchmarkSatisfaction5Years(b *testing.B) {
	db := openStore(b)
	ctx := context.Background()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	days := feedbackYears * 365
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO devex_feedback (task_id, user_ref, template_ref, owner, score, comment, day, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for d := range days {
		at := end.AddDate(0, 0, -d-1).Add(10 * time.Hour)
		for i := range feedbackPerDay {
			n := d*feedbackPerDay + i
			comment := ""
			if n%4 == 0 {
				comment = "the deploy step took long"
			}
			if _, err := st.ExecContext(ctx, fmt.Sprintf("task-%08d", n), fmt.Sprintf("user:default/u%05d", n%20000),
				fmt.Sprintf("template:default/tpl-%04d", n*7%feedbackTemplates), fmt.Sprintf("group:default/team-%03d", n*13%feedbackTeams),
				1+n*31%5, comment, devex.Day(at), at.UnixMicro(), at.UnixMicro()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	// Written around the store's methods: the packs as migration 0025
	// builds them.
	if err := db.RebuildFeedbackPacks(ctx); err != nil {
		b.Fatal(err)
	}
	svc := devex.NewService(db)
	for _, r := range []struct {
		name string
		days int
	}{{"28d", 28}, {"5y", days}} {
		b.Run(r.name, func(b *testing.B) {
			f := devex.Filter{From: end.AddDate(0, 0, -r.days), To: end}
			grouping := devex.GroupDay
			if r.days > 366 {
				grouping = devex.GroupMonth
			}
			s, err := svc.Satisfaction(ctx, f, grouping) // warm, as a running paved is
			if err != nil {
				b.Fatal(err)
			}
			if want := int64(r.days * feedbackPerDay); s.Overall.Responses != want {
				b.Fatalf("%d answers in %s, want %d", s.Overall.Responses, r.name, want)
			}
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := svc.Satisfaction(ctx, f, grouping); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[(len(took)*95+99)/100-1].Microseconds())/1000, "p95-ms")
		})
	}
}
