package prometheus

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"
)

// ruleSeries are two hours of paved's counters at steady rates, per minute:
// template a's runs 9 succeeded, 1 failed, 5 cancelled (not counted); template
// b's 4 succeeded and never one failed (no failure series at all); a's apps 19
// of 20 healthy within 600 s; action calls 98 succeeded, 1 failed on paved's
// side (internal), 1 refused as invalid (the caller's: good).
const ruleSeries = `
load 1m
  devex_template_run_completed_total{job="paved", template="a", result="success"} 0+9x120
  devex_template_run_completed_total{job="paved", template="a", result="failure"} 0+1x120
  devex_template_run_completed_total{job="paved", template="a", result="cancelled"} 0+5x120
  devex_template_run_completed_total{job="paved", template="b", result="success"} 0+4x120
  devex_app_time_to_healthy_seconds_bucket{job="paved", template="a", le="300"} 0+10x120
  devex_app_time_to_healthy_seconds_bucket{job="paved", template="a", le="600"} 0+19x120
  devex_app_time_to_healthy_seconds_bucket{job="paved", template="a", le="+Inf"} 0+20x120
  devex_app_time_to_healthy_seconds_count{job="paved", template="a"} 0+20x120
  devex_action_invocations_total{job="paved", action="paved:create-argocd-app", result="success"} 0+98x120
  devex_action_invocations_total{job="paved", action="paved:create-argocd-app", result="failure", error_type="internal"} 0+1x120
  devex_action_invocations_total{job="paved", action="paved:create-argocd-app", result="failure", error_type="invalid"} 0+1x120
`

// TestRecordingRulesCompute evaluates every recording rule of
// paved-slo-rules.yaml with Prometheus' own PromQL engine over ruleSeries and
// compares it with the error ratios computed by hand (those paved's gauges
// compute from its store): a template without failures records 0, not
// nothing, so its burn rate alerts can resolve.
func TestRecordingRulesCompute(t *testing.T) {
	content, err := os.ReadFile("paved-slo-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	groups := parseRules(t, "paved-slo-rules.yaml", content)
	want := map[string]map[string]float64{ // sli → series (template, or job) → error ratio
		"run_errors":             {"a": 0.1, "b": 0},
		"time_to_healthy_errors": {"a": 0.05},
		"action_errors":          {"paved": 0.01},
	}
	storage := promqltest.LoadedStorage(t, ruleSeries)
	t.Cleanup(func() { storage.Close() })
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	at := time.Unix(0, 0).Add(120 * time.Minute)
	checked := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			var sli, window string
			for s := range want {
				for _, w := range windows {
					if r.Record == "paved:"+s+":ratio_rate"+w {
						sli, window = s, w
					}
				}
			}
			if sli == "" {
				continue
			}
			q, err := engine.NewInstantQuery(context.Background(), storage, nil, r.Expr, at)
			if err != nil {
				t.Fatalf("%s: %v", r.Record, err)
			}
			res := q.Exec(context.Background())
			if res.Err != nil {
				t.Fatalf("%s: %v", r.Record, res.Err)
			}
			vec, _ := res.Vector()
			got := map[string]float64{}
			for _, s := range vec {
				key := s.Metric.Get("template")
				if key == "" {
					key = s.Metric.Get("job")
				}
				got[key] = s.F
			}
			for key, w := range want[sli] {
				if v, ok := got[key]; !ok || math.Abs(v-w) > 1e-9 {
					t.Errorf("%s over %s for %s = %v (recorded %t), want %v", r.Record, window, key, v, ok, w)
				}
			}
			if len(got) != len(want[sli]) {
				t.Errorf("%s records %v, want only %v", r.Record, got, want[sli])
			}
			q.Close()
			checked++
		}
	}
	if checked != len(want)*len(windows) {
		t.Errorf("%d recording rules evaluated, want %d", checked, len(want)*len(windows))
	}
}
