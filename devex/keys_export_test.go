package devex_test

import (
	"context"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/telemetry"
)

// The four keys' gauges as paved's /metrics serves them, parsed with
// Prometheus' own text parser, over a history stored as the watch stream
// stores it. Over the last 30 days:
//
//   - shop (team-a, template service): syncs 10, 5 and 2 days ago and a
//     failed sync operation yesterday; a sync 40 days ago is outside.
//     Deployments 3 in 30 days = 0.1/d (high). Lead times 30m+10m = 40m and
//     2h+20m = 140m: median 90m = 5400 s (high). The sync of 2 days ago
//     turned Degraded and the operation failed: 2 of 4 changes = 0.5 (low).
//     The incident lasted 30 m = 1800 s (elite).
//   - blog (team-b, template website): one sync 3 days ago, committed 1h
//     before it was Healthy: lead 3600 s (high), no failure (0, elite), no
//     incident: no time to restore.
func TestKeysExposition(t *testing.T) {
	ctx := context.Background()
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "paved-test", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	db := openStore(t)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	const (
		service = "template:default/service"
		website = "template:default/website"
		teamA   = "group:default/team-a"
		teamB   = "group:default/team-b"
	)
	shop := devex.AppState{Key: "in-cluster/argocd/shop", Service: "component:default/shop", Owner: teamA, TemplateRef: service, Environment: "prod"}
	blog := devex.AppState{Key: "in-cluster/argocd/blog", Service: "component:default/blog", Owner: teamB, TemplateRef: website, Environment: "prod"}
	record := func(f devex.AppFacts) {
		t.Helper()
		if _, err := db.RecordAppFacts(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// deployed records a sync committed commit before and Healthy healthy after it.
	deployed := func(app devex.AppState, id, rev string, at time.Time, commit, healthy time.Duration) {
		t.Helper()
		record(devex.AppFacts{State: app, Changes: []devex.DeploymentEvent{{ID: id, Revision: rev, Succeeded: true, DeployedAt: at}}})
		if err := db.SetCommitTime(ctx, devex.ChangeRef{AppKey: app.Key, DeployID: id, Revision: rev}, at.Add(-commit)); err != nil {
			t.Fatal(err)
		}
		if healthy >= 0 {
			h := at.Add(healthy)
			record(devex.AppFacts{State: app, Healthy: &devex.HealthyChange{DeployID: id, At: h, AtFirstSight: h}})
		}
	}
	day := 24 * time.Hour
	deployed(shop, "0", "r0", now.Add(-40*day), time.Hour, time.Minute)
	deployed(shop, "1", "r1", now.Add(-10*day), 30*time.Minute, 10*time.Minute)
	deployed(shop, "2", "r2", now.Add(-5*day), 2*time.Hour, 20*time.Minute)
	broken := now.Add(-2 * day)
	deployed(shop, "3", "r3", broken, time.Hour, -1)
	record(devex.AppFacts{State: shop, Failures: []devex.ChangeFailure{{DeployID: "3", Reason: devex.FailureDegraded}},
		Degraded: &devex.Incident{ID: "3@" + broken.Add(5*time.Minute).Format(time.RFC3339), DeployID: "3", Revision: "r3", DegradedAt: broken.Add(5 * time.Minute)}})
	record(devex.AppFacts{State: shop, RestoredAt: broken.Add(35 * time.Minute)})
	record(devex.AppFacts{State: shop, Changes: []devex.DeploymentEvent{{ID: devex.FailedChangeID("r4"), Revision: "r4", DeployedAt: now.Add(-day)}}})
	deployed(blog, "1", "b1", now.Add(-3*day), time.Hour, 0)

	if _, err := devex.NewMetrics(devex.MetricsOptions{Meter: tel.Meter.Meter("github.com/paved-dev/paved/devex"), Store: db, Keys: db,
		Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	families, err := parseExposition(rec.Body.String())
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	gauge := func(name string, labels map[string]string) (float64, bool) {
		f, ok := families[name]
		if !ok {
			return 0, false
		}
		if f.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s is a %v, want a gauge", name, f.GetType())
		}
		m := sampleWith(f, labels)
		return m.GetGauge().GetValue(), m != nil
	}
	const (
		frequency = "devex_dora_deployment_frequency_per_day"
		lead      = "devex_dora_lead_time_seconds"
		failure   = "devex_dora_change_failure_rate_ratio"
		restore   = "devex_dora_time_to_restore_seconds"
	)
	by := func(key, group, tier string) map[string]string { return map[string]string{key: group, "tier": tier} }
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{frequency, by("template", service, devex.TierHigh), 0.1},
		{frequency, by("team", teamA, devex.TierHigh), 0.1},
		{lead, by("template", service, devex.TierHigh), 5400},
		{lead, by("team", teamA, devex.TierHigh), 5400},
		{failure, by("template", service, devex.TierLow), 0.5},
		{failure, by("team", teamA, devex.TierLow), 0.5},
		{restore, by("template", service, devex.TierElite), 1800},
		{restore, by("team", teamA, devex.TierElite), 1800},
		{frequency, by("template", website, devex.TierHigh), 0.0333},
		{frequency, by("team", teamB, devex.TierHigh), 0.0333},
		{lead, by("template", website, devex.TierHigh), 3600},
		{failure, by("team", teamB, devex.TierElite), 0},
	} {
		got, ok := gauge(c.name, c.labels)
		if !ok {
			t.Errorf("no %s%v in /metrics:\n%s", c.name, c.labels, rec.Body.String())
			continue
		}
		if math.Abs(got-c.want) > 1e-4 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
		t.Logf("%s%v = %v", c.name, c.labels, got)
	}
	// Without an incident the time to restore is unknown, not 0.
	for _, labels := range []map[string]string{{"template": website}, {"team": teamB}} {
		if v, ok := gauge(restore, labels); ok {
			t.Errorf("%s%v of a group without incidents = %v, want absent", restore, labels, v)
		}
	}
	// One sample per group and key: nothing overall, no service attribute.
	if f := families[frequency]; f == nil || len(f.Metric) != 4 {
		t.Errorf("%s has %d samples, want 4 (2 templates, 2 teams)", frequency, len(f.GetMetric()))
	}
}
