package devex_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create the benchmark's database

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/postgres"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// The shape of issue 14 item 5: five years of adoption data for 1,000
// templates and 500 teams, as the collector and its retention leave it: 500
// runs a day (912,500 in all) rolled up per day, template and team, raw runs
// for the last 400 days only; 100 ratings a day; 20,000 services created from
// the templates (a new template version every quarter), 10,000 catalog
// components, 5,000 apps with 200 deployments a day over 400 days.
const (
	scaleDays        = 5 * 365
	scaleRunsPerDay  = 500
	scaleTemplates   = 1000
	scaleTeams       = 500
	scaleUsers       = 5000
	scaleServices    = 20000
	scaleComponents  = 10000
	scaleApps        = 5000
	scaleDeploysADay = 200
	scaleRawDays     = 400
	scaleSeedVersion = "v2" // bump when the shape changes: cached stores are seeded again
	// The four keys' facts of those deployments, seeded on top of the shape
	// under their own cursor (seconds, not a reseed of the 5 years).
	scaleDORAVersion = "v2"
)

var scaleEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func scaleRun(i int) devex.Run {
	day := i / scaleRunsPerDay
	created := scaleEnd.AddDate(0, 0, -day-1).Add(time.Duration(i%scaleRunsPerDay) * 170 * time.Second)
	status := benchStatus(i)
	took := time.Duration(20+i%600) * time.Second
	service := i % scaleServices
	r := devex.Run{
		TaskID: fmt.Sprintf("task-%08d", i), TemplateRef: fmt.Sprintf("template:default/tpl-%04d", service%scaleTemplates),
		Owner: fmt.Sprintf("group:default/team-%03d", service%scaleTeams), UserRef: fmt.Sprintf("user:default/u%05d", i*31%scaleUsers),
		Status: status, CreatedAt: created, HeartbeatAt: created.Add(took), FinishedAt: created.Add(took), TimeSaved: time.Hour,
		TemplateVersion: fmt.Sprintf("q%d", (scaleDays-day)/91),
	}
	if status == devex.TaskCompleted {
		r.EntityRef = fmt.Sprintf("component:default/svc-%05d", service)
	}
	return r
}

// scaleStore returns a store of engine holding the shape, seeded once and
// kept (SQLite in the temp directory, PostgreSQL in its own database of the
// test server): seeding takes minutes and is not what is measured.
func scaleStore(b *testing.B, engine string) *sqlstore.DB {
	ctx := context.Background()
	// PAVED_BENCH_DEVEX_STORE names a store of its own (a suffix), for
	// engineers changing the seed or the schema side by side.
	name := "5y"
	if own := os.Getenv("PAVED_BENCH_DEVEX_STORE"); own != "" {
		if !regexp.MustCompile(`^[a-z0-9_]{1,20}$`).MatchString(own) {
			b.Fatalf("PAVED_BENCH_DEVEX_STORE=%q: want 1 to 20 of a-z, 0-9 and _", own)
		}
		name += "_" + own
	}
	db := openScaleStore(b, engine, name)
	// A store seeded by another version of the shape, or partly (a seed
	// stopped half-way), is seeded afresh: the seed writes around the
	// store's methods and cannot top it up.
	seeded, err := db.GetCursor(ctx, "bench.devex.5y")
	if err != nil {
		b.Fatal(err)
	}
	var apps int
	if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM devex_apps`).Scan(&apps); err != nil {
		b.Fatal(err)
	}
	if seeded != scaleSeedVersion && (seeded != "" || apps > 0) {
		fmt.Fprintf(os.Stderr, "devex bench: the %s store holds the shape %q, not %s: seeding it afresh\n", engine, seeded, scaleSeedVersion)
		db.Close()
		dropScaleStore(b, engine, name)
		db = openScaleStore(b, engine, name)
	}
	b.Cleanup(func() { db.Close() })
	for _, seed := range []struct {
		cursor, version, what string
		seed                  func(context.Context, *sqlstore.DB) error
	}{
		{"bench.devex.5y", scaleSeedVersion, "5 years", seedScale},
		{"bench.devex.5y.dora", scaleDORAVersion, "the four keys", seedScaleDORA},
	} {
		if seeded, err := db.GetCursor(ctx, seed.cursor); err != nil {
			b.Fatal(err)
		} else if seeded == seed.version {
			continue
		}
		start := time.Now()
		if err := seed.seed(ctx, db); err != nil {
			b.Fatal(err)
		}
		if err := db.SetCursor(ctx, seed.cursor, seed.version); err != nil {
			b.Fatal(err)
		}
		if engine == "postgres" {
			// What autovacuum does some minutes later: the seed's big
			// transactions leave dead row versions and no statistics, and the
			// figures would measure those.
			if _, err := db.SQL().ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
				b.Fatal(err)
			}
		}
		fmt.Fprintf(os.Stderr, "devex bench: seeded %s on %s in %v\n", seed.what, engine, time.Since(start).Round(time.Second))
	}
	return db
}

// openScaleStore opens (creating it if need be) the store called name.
func openScaleStore(b *testing.B, engine, name string) *sqlstore.DB {
	ctx := context.Background()
	var db *sqlstore.DB
	var err error
	switch engine {
	case "sqlite":
		dir := filepath.Join(os.TempDir(), "paved-devex-bench-"+name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		db, err = sqlite.Open(ctx, filepath.Join(dir, "paved.db"))
	case "postgres":
		dsn := os.Getenv("PAVED_TEST_DATABASE_URL")
		if dsn == "" {
			b.Skip("PAVED_TEST_DATABASE_URL is not set (make bench sets it)")
		}
		dsn, err = benchDatabase(dsn, "paved_bench_devex_"+name)
		if err == nil {
			db, err = postgres.Open(ctx, dsn)
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// dropScaleStore removes the store called name: its SQLite directory, or its
// PostgreSQL database.
func dropScaleStore(b *testing.B, engine, name string) {
	switch engine {
	case "sqlite":
		if err := os.RemoveAll(filepath.Join(os.TempDir(), "paved-devex-bench-"+name)); err != nil {
			b.Fatal(err)
		}
	case "postgres":
		admin, err := sql.Open("pgx", os.Getenv("PAVED_TEST_DATABASE_URL"))
		if err != nil {
			b.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS paved_bench_devex_` + name + ` WITH (FORCE)`); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDatabase creates database name on the server of dsn unless it exists,
// and returns its DSN.
func benchDatabase(dsn, name string) (string, error) {
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	var exists bool
	if err := admin.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
			return "", err
		}
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return dsn + " dbname=" + name, nil
}

// seedScaleFeedbackDay writes the answers of the day'th day before the end.
func seedScaleFeedbackDay(ctx context.Context, db *sqlstore.DB, day int) error {
	d := db.Dialect()
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	fb, err := tx.PrepareContext(ctx, d.Rebind(`INSERT INTO devex_feedback (task_id, user_ref, template_ref, owner, score, comment, day, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return err
	}
	at := scaleEnd.AddDate(0, 0, -day-1).Add(10 * time.Hour)
	for j := range feedbackPerDay {
		n := day*feedbackPerDay + j
		comment := ""
		if n%4 == 0 {
			comment = "the deploy step took long"
		}
		// About a run of its day (for the stage its run stopped at).
		run := fmt.Sprintf("task-%08d", day*scaleRunsPerDay+j*(scaleRunsPerDay/feedbackPerDay))
		if _, err := fb.ExecContext(ctx, run, fmt.Sprintf("user:default/u%05d", n%scaleUsers),
			fmt.Sprintf("template:default/tpl-%04d", n*7%scaleTemplates), fmt.Sprintf("group:default/team-%03d", n*13%scaleTeams),
			1+n*31%5, comment, devex.Day(at), d.Time(at), d.Time(at)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func seedScale(ctx context.Context, db *sqlstore.DB) error {
	// Apps, deployments and answers first, as SQL: the runs' ingest then
	// sets the runs' flags and the answers' stages from them, as the store
	// keeps them (an app's health and an answer come after the run in
	// production; the store moves them either way).
	d := db.Dialect()
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	app, err := tx.PrepareContext(ctx, d.Rebind(`INSERT INTO devex_apps (app_key, service, environment, template_ref, task_id, created_at, first_healthy_at, healthy_after_ms)
		VALUES (?, ?, 'prod', ?, ?, ?, ?, ?)`))
	if err != nil {
		return err
	}
	for i := range scaleApps {
		created := scaleEnd.AddDate(0, 0, -1-i*scaleRawDays/scaleApps)
		after := time.Duration(60+i%900) * time.Second
		if _, err := app.ExecContext(ctx, fmt.Sprintf("default/argocd/app-%05d", i), fmt.Sprintf("component:default/svc-%05d", i*2),
			fmt.Sprintf("template:default/tpl-%04d", i*2%scaleTemplates), fmt.Sprintf("task-%08d", i), d.Time(created), d.Time(created.Add(after)), after.Milliseconds()); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// The answers a day per transaction: each answer's trigger updates its
	// periods' counts, and in one transaction PostgreSQL kept every version
	// of a year's row (36,500 per year, each update walking them: hours).
	for day := range scaleDays {
		if err := seedScaleFeedbackDay(ctx, db, day); err != nil {
			return err
		}
	}
	// The answers were written around the store's methods: their packs
	// are built as migration 0025 builds them.
	if err := db.RebuildFeedbackPacks(ctx); err != nil {
		return err
	}
	// The deployments through the app recorder, a day at a time, so their
	// per-service rollups are those it keeps.
	for day := range scaleRawDays {
		obs := make([]devex.AppObservation, 0, scaleDeploysADay)
		for j := range scaleDeploysADay {
			n := day*scaleDeploysADay + j
			a := n * 7 % scaleApps
			at := scaleEnd.AddDate(0, 0, -day-1).Add(time.Duration(j) * 400 * time.Second)
			obs = append(obs, devex.AppObservation{Key: fmt.Sprintf("default/argocd/app-%05d", a), Service: fmt.Sprintf("component:default/svc-%05d", a*2),
				Environment: "prod", TemplateRef: fmt.Sprintf("template:default/tpl-%04d", a*2%scaleTemplates), TaskID: fmt.Sprintf("task-%08d", a),
				CreatedAt:   scaleEnd.AddDate(0, 0, -1-a*scaleRawDays/scaleApps),
				Deployments: []devex.DeploymentEvent{{ID: fmt.Sprint(n), Revision: fmt.Sprintf("%040x", n), Succeeded: n%25 != 0, DeployedAt: at}}})
		}
		if _, err := db.RecordApps(ctx, obs); err != nil {
			return err
		}
	}
	// Runs, oldest day first as they came, through the store's own ingest:
	// rollups, user bitmaps and service versions as in production.
	batch := make([]devex.Run, 0, benchBatch)
	for day := scaleDays - 1; day >= 0; day-- {
		for j := range scaleRunsPerDay {
			batch = append(batch, scaleRun(day*scaleRunsPerDay+j))
		}
		if len(batch) >= benchBatch || day == 0 {
			if _, err := db.UpsertRuns(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	comps := make([]devex.Component, 0, scaleComponents)
	for i := range scaleComponents {
		c := devex.Component{EntityRef: fmt.Sprintf("component:default/svc-%05d", i*2), Kind: "Component",
			Owner: fmt.Sprintf("group:default/team-%03d", i*2%scaleTeams)}
		if i%10 < 7 {
			c.SourceTemplate = fmt.Sprintf("template:default/tpl-%04d", i*2%scaleTemplates)
		}
		comps = append(comps, c)
	}
	if _, _, err := db.SyncComponents(ctx, comps, scaleEnd.AddDate(0, 0, -scaleRawDays)); err != nil {
		return err
	}
	current := make([]devex.TemplateVersion, 0, scaleTemplates)
	for i := range scaleTemplates {
		current = append(current, devex.TemplateVersion{TemplateRef: fmt.Sprintf("template:default/tpl-%04d", i), Version: fmt.Sprintf("q%d", scaleDays/91)})
	}
	if err := db.SyncTemplateVersions(ctx, current, scaleEnd.Add(-time.Hour)); err != nil {
		return err
	}
	// Retention as the collector applies it: raw runs of the last 400 days.
	_, err = db.DeleteDevexBefore(ctx, scaleEnd.AddDate(0, 0, -scaleRawDays), scaleEnd.AddDate(0, 0, -scaleDays-1))
	return err
}

// seedScaleDORA gives the deployments of seedScale what the watch stream
// records of them: team and template, a commit 5 min to 2 days before the
// sync, Healthy 1 to 15 min after it; one sync in 20 turns the app Degraded,
// an incident restored 5 min to 10 h later (the last day's still open).
func seedScaleDORA(ctx context.Context, db *sqlstore.DB) error {
	d := db.Dialect()
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM devex_incidents`); err != nil {
		return err
	}
	dep, err := tx.PrepareContext(ctx, d.Rebind(`UPDATE devex_deployments SET owner = ?, template_ref = ?, commit_at = ?, healthy_at = ?, failure = ?
		WHERE app_key = ? AND deploy_id = ?`))
	if err != nil {
		return err
	}
	inc, err := tx.PrepareContext(ctx, d.Rebind(`INSERT INTO devex_incidents (app_key, incident_id, deploy_id, revision, service, owner, template_ref, environment, degraded_at, day, restored_at, restore_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'prod', ?, ?, ?, ?)`))
	if err != nil {
		return err
	}
	open := map[string]bool{}
	for day := scaleRawDays - 1; day >= 0; day-- {
		for j := range scaleDeploysADay {
			n := day*scaleDeploysADay + j
			a := n * 7 % scaleApps
			key := fmt.Sprintf("default/argocd/app-%05d", a)
			owner, tpl := fmt.Sprintf("group:default/team-%03d", a*2%scaleTeams), fmt.Sprintf("template:default/tpl-%04d", a*2%scaleTemplates)
			at := scaleEnd.AddDate(0, 0, -day-1).Add(time.Duration(j) * 400 * time.Second)
			var commit, healthy any
			failure := ""
			if n%25 != 0 { // a sync, not a failed operation
				commit = d.Time(at.Add(-time.Duration(5+n%2875) * time.Minute))
				if n%20 == 1 {
					failure = devex.FailureDegraded
				} else {
					healthy = d.Time(at.Add(time.Duration(1+n%15) * time.Minute))
				}
			}
			if _, err := dep.ExecContext(ctx, owner, tpl, commit, healthy, failure, key, fmt.Sprint(n)); err != nil {
				return err
			}
			if failure == "" || open[key] {
				continue
			}
			degraded := at.Add(2 * time.Minute)
			var restored, took any
			if day > 0 {
				ms := time.Duration(5+n%595) * time.Minute
				restored, took = d.Time(degraded.Add(ms)), ms.Milliseconds()
			} else {
				open[key] = true
			}
			if _, err := inc.ExecContext(ctx, key, fmt.Sprintf("%d@%d", n, degraded.Unix()), fmt.Sprint(n), fmt.Sprintf("%040x", n),
				fmt.Sprintf("component:default/svc-%05d", a*2), owner, tpl, d.Time(degraded), devex.Day(degraded), restored, took); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// The rows above were written around the store's methods: their sums
	// per period are rebuilt as migration 0020 builds them.
	return db.RebuildDORAPeriods(ctx)
}

// BenchmarkDevexEndpoints5Years answers every devex endpoint the adoption
// page calls, for the page's default 28 days and for 5 years, over the shape
// above, on SQLite and PostgreSQL, and reports the 95th percentile of each
// (p95-ms; the target is 20 ms) and the median (p50-ms). Answers are
// computed afresh on every call: the objectives' cache is off.
func BenchmarkDevexEndpoints5Years(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db := scaleStore(b, engine)
			began := time.Now()
			slos := devex.NewSLOs(db, []devex.SLO{
				{Name: "runs", SLI: devex.SLIRunSuccess, Objective: 0.95, Window: 30 * 24 * time.Hour},
				{Name: "healthy", SLI: devex.SLITimeToHealthy, Objective: 0.95, Threshold: 10 * time.Minute, Window: 30 * 24 * time.Hour},
				{Name: "actions", SLI: devex.SLIAvailability, Objective: 0.999, Window: 30 * 24 * time.Hour},
			}, time.Nanosecond, func() time.Time { return scaleEnd.Add(time.Since(began)) }) // a moving now: no cached answer
			svc := devex.NewService(db).WithSLOs(slos)
			for _, r := range []struct {
				name     string
				days     int
				grouping string
			}{{"28d", 28, devex.GroupDay}, {"5y", scaleDays, devex.GroupMonth}} {
				f := devex.Filter{From: scaleEnd.AddDate(0, 0, -r.days), To: scaleEnd}
				endpoints := []struct {
					name string
					call func(ctx context.Context) error
				}{
					{"summary", func(ctx context.Context) error { _, err := svc.Summary(ctx, f); return err }},
					{"templates", func(ctx context.Context) error { _, err := svc.Templates(ctx, f); return err }},
					{"timeseries", func(ctx context.Context) error { _, err := svc.Timeseries(ctx, f, r.grouping); return err }},
					{"coverage", func(ctx context.Context) error { _, err := svc.Coverage(ctx, f); return err }},
					{"deployments", func(ctx context.Context) error { _, err := svc.Deployments(ctx, f); return err }},
					{"funnel", func(ctx context.Context) error { _, err := svc.Funnel(ctx, f); return err }},
					{"satisfaction", func(ctx context.Context) error { _, err := svc.Satisfaction(ctx, f, r.grouping); return err }},
					{"comments", func(ctx context.Context) error { _, err := svc.FeedbackComments(ctx, f, 20); return err }},
					{"slos", func(ctx context.Context) error { _, err := svc.SLOs(ctx); return err }},
					{"freshness", func(ctx context.Context) error { _, err := svc.Freshness(ctx, f); return err }},
					{"dora", func(ctx context.Context) error { _, err := svc.DORA(ctx, f, "service"); return err }},
					{"dora-team", func(ctx context.Context) error { _, err := svc.DORA(ctx, f, "team"); return err }},
					{"dora-template", func(ctx context.Context) error { _, err := svc.DORA(ctx, f, "template"); return err }},
					// The four keys without the service's cache: the first
					// call after a write.
					{"dora-uncached", func(ctx context.Context) error { _, err := devex.DORA(ctx, db, f, "service"); return err }},
					{"dora-uncached-team", func(ctx context.Context) error { _, err := devex.DORA(ctx, db, f, "team"); return err }},
					{"dora-uncached-template", func(ctx context.Context) error { _, err := devex.DORA(ctx, db, f, "template"); return err }},
				}
				for _, e := range endpoints {
					b.Run(e.name+"/"+r.name, func(b *testing.B) {
						ctx := context.Background()
						if err := e.call(ctx); err != nil { // warm, as a running paved is
							b.Fatal(err)
						}
						took := make([]time.Duration, 0, b.N)
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							start := time.Now()
							if err := e.call(ctx); err != nil {
								b.Fatal(err)
							}
							took = append(took, time.Since(start))
						}
						slices.Sort(took)
						b.ReportMetric(float64(took[(len(took)*95+99)/100-1].Microseconds())/1000, "p95-ms")
						b.ReportMetric(float64(took[(len(took)-1)/2].Microseconds())/1000, "p50-ms")
					})
				}
			}
		})
	}
}

// BenchmarkDevexDORACard5Years is the Component card's four keys over the
// shape above: the answer per service narrowed to one service, as
// devex/v1/dora?service= answers it, against the whole answer per service the
// card fetched before. It reports both answers' JSON sizes (whole-bytes,
// card-bytes) and the narrowed call's median (p50-ms, the cached four keys
// and the filter).
func BenchmarkDevexDORACard5Years(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db := scaleStore(b, engine)
			svc := devex.NewService(db)
			f := devex.Filter{From: scaleEnd.AddDate(0, 0, -28), To: scaleEnd}
			ctx := context.Background()
			whole, err := svc.DORA(ctx, f, "service")
			if err != nil || len(whole.Items) == 0 {
				b.Fatalf("the four keys per service: %d rows, %v", len(whole.Items), err)
			}
			service := strings.ToUpper(whole.Items[len(whole.Items)/2].Group) // any case: as Backstage compares refs
			var card devex.DORAReport
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				rep, err := svc.DORA(ctx, f, "service")
				if err != nil {
					b.Fatal(err)
				}
				card = rep.OfService(service)
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			if len(card.Items) != 1 {
				b.Fatalf("the card of %s: %d rows, want 1", service, len(card.Items))
			}
			wholeJSON, err := json.Marshal(whole)
			if err != nil {
				b.Fatal(err)
			}
			cardJSON, err := json.Marshal(card)
			if err != nil {
				b.Fatal(err)
			}
			slices.Sort(took)
			b.ReportMetric(float64(len(wholeJSON)), "whole-bytes")
			b.ReportMetric(float64(len(cardJSON)), "card-bytes")
			b.ReportMetric(float64(took[(len(took)-1)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
