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

// The objectives' states as paved's /metrics serves them, parsed with
// Prometheus' own text parser: in the last 5 minutes 3 runs succeeded and 1
// failed; 2 more succeeded an hour before. Against 95 %:
// 5m: 1 bad of 4 = 25 % ÷ 5 % = burn 5; 1h and longer: 1 of 6 = 3.33;
// over the 30 days the budget allowed 0.3 bad runs and 1 happened: 1 − 1/0.3.
func TestSLOExposition(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "paved-test", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	db := openStore(t)
	now := time.Now().UTC()
	const svc = "template:default/service"
	run := func(id, status string, finished time.Time) devex.Run {
		return devex.Run{TaskID: id, TemplateRef: svc, Status: status, CreatedAt: finished.Add(-time.Minute), FinishedAt: finished}
	}
	if _, err := db.UpsertRuns(context.Background(), []devex.Run{
		run("a", devex.TaskCompleted, now.Add(-4*time.Minute)), run("b", devex.TaskCompleted, now.Add(-3*time.Minute)),
		run("c", devex.TaskCompleted, now.Add(-2*time.Minute)), run("d", devex.TaskFailed, now.Add(-time.Minute)),
		run("e", devex.TaskCompleted, now.Add(-50*time.Minute)), run("f", devex.TaskCompleted, now.Add(-55*time.Minute)),
	}); err != nil {
		t.Fatal(err)
	}
	slos := devex.NewSLOs(db, []devex.SLO{
		{Name: "service-runs", SLI: devex.SLIRunSuccess, Template: svc, Objective: 0.95, Window: 30 * 24 * time.Hour},
		{Name: "idle", SLI: devex.SLIAvailability, Objective: 0.999, Window: 30 * 24 * time.Hour},
	}, 0, nil)
	if _, err := devex.NewMetrics(devex.MetricsOptions{Meter: tel.Meter.Meter("github.com/paved-dev/paved/devex"), Store: db, SLOs: slos}); err != nil {
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
	runs := map[string]string{"slo": "service-runs", "sli": "runSuccess", "template": svc}
	withWindow := func(w string) map[string]string {
		return map[string]string{"slo": "service-runs", "sli": "runSuccess", "template": svc, "window": w}
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"devex_slo_objective_ratio", runs, 0.95},
		{"devex_slo_sli_ratio", runs, 0.8333},
		{"devex_slo_error_budget_remaining_ratio", runs, -2.3333},
		{"devex_slo_burn_rate", withWindow("5m"), 5},
		{"devex_slo_burn_rate", withWindow("30m"), 5},
		{"devex_slo_burn_rate", withWindow("1h"), 3.3333},
		{"devex_slo_burn_rate", withWindow("3d"), 3.3333},
		{"devex_slo_burn_rate", map[string]string{"slo": "idle", "window": "1h"}, 0},
		{"devex_slo_error_budget_remaining_ratio", map[string]string{"slo": "idle"}, 1},
	} {
		got, ok := gauge(c.name, c.labels)
		if !ok {
			t.Errorf("no %s%v in /metrics", c.name, c.labels)
			continue
		}
		if math.Abs(got-c.want) > 1e-4 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
		t.Logf("%s%v = %v", c.name, c.labels, got)
	}
	// Without events the indicator is unknown, not 0 or 1.
	if v, ok := gauge("devex_slo_sli_ratio", map[string]string{"slo": "idle"}); ok {
		t.Errorf("devex_slo_sli_ratio of an objective without events = %v, want absent", v)
	}
}
