package devex_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// benchBatch is how many runs one UpsertRuns stores, in one transaction: a
// few pages of the scaffolder's task list.
const benchBatch = 5000

// benchRun is the i-th of a synthetic history: 50 templates, 2,000 users in
// 20 teams, one run every ~30 seconds going back from end, 85% succeeded.
func benchRun(i int, end time.Time) devex.Run {
	created := end.Add(-time.Duration(i) * 31 * time.Second)
	status := benchStatus(i)
	user := i * 7919 % 2000
	took := time.Duration(20+i%600) * time.Second
	return devex.Run{
		TaskID: fmt.Sprintf("task-%08d", i), TemplateRef: fmt.Sprintf("template:default/tpl-%02d", i%50),
		Owner: fmt.Sprintf("group:default/team-%02d", user%20), UserRef: fmt.Sprintf("user:default/u%04d", user),
		Status: status, CreatedAt: created, HeartbeatAt: created.Add(took), FinishedAt: created.Add(took), TimeSaved: time.Hour,
	}
}

// benchStatus is the i-th run's status: 85% succeed, 10% fail, 5% are cancelled.
func benchStatus(i int) string {
	switch i % 20 {
	case 0, 7:
		return devex.TaskFailed
	case 13:
		return devex.TaskCancelled
	}
	return devex.TaskCompleted
}

// BenchmarkIngestSQLite stores finished runs into SQLite in batches, with
// their rollups, and reports events per second.
func BenchmarkIngestSQLite(b *testing.B) {
	db := openStore(b)
	ctx := context.Background()
	end := time.Now().UTC()
	runs := make([]devex.Run, b.N) // made up front: generating them is not ingesting them
	for i := range runs {
		runs[i] = benchRun(i, end)
	}
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < b.N; i += benchBatch {
		if _, err := db.UpsertRuns(ctx, runs[i:min(i+benchBatch, b.N)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	// The machine is shared: events per CPU second says what paved itself costs.
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu).Seconds(), "events/cpu-s")
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// summaryStore is a SQLite store holding 1,000,000 runs (about a year),
// built once per process: building it is not what is measured.
var summaryStore struct {
	once sync.Once
	db   *sqlstore.DB
	end  time.Time
	took time.Duration
	err  error
}

const summaryEvents = 1_000_000

func millionRuns(b *testing.B) (*sqlstore.DB, time.Time) {
	s := &summaryStore
	s.once.Do(func() {
		// Seeding takes minutes; a seeded store is kept in the temp directory
		// and reused by later runs (the marker file says it is complete).
		dir := filepath.Join(os.TempDir(), "paved-devex-bench-v3")
		marker := filepath.Join(dir, "complete")
		s.end = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		_, statErr := os.Stat(marker)
		if statErr != nil {
			_ = os.RemoveAll(dir)
		}
		s.db, s.err = sqlite.Open(context.Background(), filepath.Join(dir, "paved.db"))
		if s.err != nil || statErr == nil {
			return
		}
		start := time.Now()
		batch := make([]devex.Run, 0, benchBatch)
		for i := range summaryEvents {
			batch = append(batch, benchRun(i, s.end))
			if len(batch) == benchBatch {
				if _, s.err = s.db.UpsertRuns(context.Background(), batch); s.err != nil {
					return
				}
				batch = batch[:0]
			}
		}
		s.took = time.Since(start)
		// Steady state: the write-ahead log checkpointed, as SQLite does on its own over time.
		if _, s.err = s.db.SQL().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); s.err != nil {
			return
		}
		s.err = os.WriteFile(marker, nil, 0o600)
		fmt.Fprintf(os.Stderr, "devex bench: stored %d runs in %v (%.0f events/s)\n", summaryEvents, s.took.Round(time.Millisecond), summaryEvents/s.took.Seconds())
	})
	if s.err != nil {
		b.Fatal(s.err)
	}
	return s.db, s.end
}

// BenchmarkSummary1M answers GET devex/v1/summary (28 days and the 28
// before) over a store of 1,000,000 runs.
func BenchmarkSummary1M(b *testing.B) {
	db, end := millionRuns(b)
	svc := devex.NewService(db)
	f := devex.Filter{From: end.AddDate(0, 0, -28), To: end}
	ctx := context.Background()
	s, err := svc.Summary(ctx, f) // warm the page cache, as a running paved has it
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if s, err = svc.Summary(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/summary")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/summary")
	if s.KPIs["runsStarted"].Value < 70_000 {
		b.Fatalf("the summary saw %v runs in 28 days, want about 78,000", s.KPIs["runsStarted"].Value)
	}
}

// BenchmarkTemplates1M answers GET devex/v1/templates over the same store;
// its percentiles read raw runs, so it is slower than the summary.
func BenchmarkTemplates1M(b *testing.B) {
	db, end := millionRuns(b)
	svc := devex.NewService(db)
	f := devex.Filter{From: end.AddDate(0, 0, -28), To: end}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Templates(context.Background(), f); err != nil {
			b.Fatal(err)
		}
	}
}
