package devex_test

import (
	"compress/gzip"
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/devex/devextest"
	"github.com/paved-dev/paved/telemetry"
)

// exported runs a collection against the fake Backstage with the metrics on
// the providers telemetry.Setup builds: two runs of the service template
// (one succeeded in 90s saving 2h, one failed after 2m), one still open, and
// three components of which one came from a template.
func exported(t *testing.T, tel *telemetry.Providers) {
	t.Helper()
	ctx := context.Background()
	db := openStore(t)
	bs := devextest.New(t, bsToken)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	const svc = "template:default/service"
	bs.AddTask("ok", svc, "user:default/jane", "team-a", "PT2H", t0)
	bs.Claim("ok", t0.Add(time.Second))
	bs.Finish("ok", "completed", "", t0.Add(90*time.Second))
	bs.AddTask("bad", svc, "user:default/joe", "team-a", "PT2H", t0.Add(time.Minute))
	bs.Claim("bad", t0.Add(time.Minute))
	bs.Finish("bad", "failed", "", t0.Add(3*time.Minute))
	bs.AddTask("open", svc, "user:default/jane", "team-a", "PT2H", t0.Add(2*time.Minute))
	bs.AddComponent("shop", "team-a", svc)
	bs.AddComponent("blog", "team-a", "")
	bs.AddComponent("legacy", "team-b", "")

	m, err := devex.NewMetrics(devex.MetricsOptions{Meter: tel.Meter.Meter("github.com/paved-dev/paved/devex"), Store: db})
	if err != nil {
		t.Fatal(err)
	}
	client := backstage.NewReadClient(backstage.NewDiscovery(bs.Discovery(), nil), backstage.StaticTokenSource(bs.Token), nil)
	c := devex.NewCollector(devex.CollectorOptions{Store: db, Scaffolder: client, Catalog: client, Recorder: m})
	if err := c.CollectOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// Developers rate their runs: 5 and 2 for the service template.
	fb := devex.NewFeedbacks(devex.FeedbackOptions{Store: db})
	for _, a := range []struct {
		task, user string
		score      int
	}{{"ok", "user:default/jane", 5}, {"bad", "user:default/joe", 2}} {
		if _, _, err := fb.Put(ctx, a.task, a.user, devex.FeedbackInput{Score: &a.score}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPrometheusExposition(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "paved-test", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	exported(t, tel)

	rec := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	if strings.Contains(text, "user:default/") {
		t.Errorf("a user id is in the exposition:\n%s", text)
	}
	families, err := parseExposition(text)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, text)
	}
	value := func(name string, typ dto.MetricType, labels map[string]string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Errorf("no metric %s", name)
			return math.NaN()
		}
		if f.GetType() != typ {
			t.Errorf("%s is a %v, want %v", name, f.GetType(), typ)
		}
		if m := sampleWith(f, labels); m != nil {
			switch typ {
			case dto.MetricType_COUNTER:
				return m.Counter.GetValue()
			case dto.MetricType_GAUGE:
				return m.Gauge.GetValue()
			}
		}
		t.Errorf("no %s with labels %v", name, labels)
		return math.NaN()
	}
	svc := map[string]string{"template": "template:default/service"}
	checks := []struct {
		name   string
		typ    dto.MetricType
		labels map[string]string
		want   float64
	}{
		{"devex_template_run_started_total", dto.MetricType_COUNTER, svc, 3},
		{"devex_template_run_completed_total", dto.MetricType_COUNTER, map[string]string{"template": "template:default/service", "result": "success"}, 1},
		{"devex_template_run_completed_total", dto.MetricType_COUNTER, map[string]string{"template": "template:default/service", "result": "failure"}, 1},
		{"devex_template_time_saved_seconds_total", dto.MetricType_COUNTER, svc, 7200},
		{"devex_template_run_active", dto.MetricType_GAUGE, svc, 1},
		{"devex_template_run_stuck", dto.MetricType_GAUGE, svc, 1}, // open for an hour, never claimed
		{"devex_golden_path_coverage_ratio", dto.MetricType_GAUGE, map[string]string{"owner": "group:default/team-a"}, 0.5},
		{"devex_golden_path_coverage_ratio", dto.MetricType_GAUGE, nil, 1.0 / 3},
		{"devex_portal_user_active", dto.MetricType_GAUGE, map[string]string{"window": "28d"}, 2},
		{"devex_feedback_score", dto.MetricType_GAUGE, svc, 3.5},
		{"devex_feedback_responses", dto.MetricType_GAUGE, svc, 2},
	}
	for _, c := range checks {
		if got := value(c.name, c.typ, c.labels); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	h, ok := families["devex_template_run_duration_seconds"]
	if !ok || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("no histogram devex_template_run_duration_seconds:\n%s", text)
	}
	var success *dto.Histogram
	for _, m := range h.Metric {
		for _, l := range m.Label {
			if l.GetName() == "result" && l.GetValue() == "success" {
				success = m.Histogram
			}
		}
	}
	if success == nil || success.GetSampleCount() != 1 || success.GetSampleSum() != 90 {
		t.Fatalf("success durations: %v, want one sample of 90s", success)
	}
	var bounds []float64
	for _, b := range success.Bucket {
		if !math.IsInf(b.GetUpperBound(), +1) {
			bounds = append(bounds, b.GetUpperBound())
		}
		want := uint64(0)
		if b.GetUpperBound() >= 90 {
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if !reflect.DeepEqual(bounds, devex.DurationBuckets) {
		t.Errorf("buckets %v, want %v", bounds, devex.DurationBuckets)
	}
}

// otlpReceiver is an OTLP/HTTP metrics endpoint that decodes what it gets
// with the OTLP protobuf definitions.
type otlpReceiver struct {
	mu       sync.Mutex
	requests []*colmetrics.ExportMetricsServiceRequest
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/metrics" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/metrics of application/x-protobuf", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := &colmetrics.ExportMetricsServiceRequest{}
	if err := proto.Unmarshal(raw, req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.requests = append(o.requests, req)
	o.mu.Unlock()
	out, _ := proto.Marshal(&colmetrics.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func TestOTLPExport(t *testing.T) {
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "paved-test", Getenv: os.Getenv, ExportInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !tel.OTLP {
		t.Fatal("OTLP export is not enabled although OTEL_EXPORTER_OTLP_ENDPOINT is set")
	}
	exported(t, tel)
	if err := tel.Meter.ForceFlush(context.Background()); err != nil {
		t.Fatalf("flush to the OTLP receiver: %v", err)
	}
	tel.Shutdown(context.Background())

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.requests) == 0 {
		t.Fatal("the receiver got no export")
	}
	got := map[string]*metricspb.Metric{}
	service := ""
	for _, req := range rcv.requests {
		for _, rm := range req.ResourceMetrics {
			for _, a := range rm.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					got[m.Name] = m
				}
			}
		}
	}
	if service != "paved-test" {
		t.Errorf("service.name = %q, want paved-test", service)
	}
	units := map[string]string{
		"devex.template.run.started": "{run}", "devex.template.run.completed": "{run}", "devex.template.run.duration": "s",
		"devex.template.time_saved": "s", "devex.template.run.active": "{run}", "devex.golden_path.coverage": "1",
		"devex.portal.user.active": "{user}",
	}
	for name, unit := range units {
		m, ok := got[name]
		if !ok {
			t.Errorf("metric %s not exported", name)
			continue
		}
		if m.Unit != unit {
			t.Errorf("%s: unit %q, want %q", name, m.Unit, unit)
		}
	}
	if s := got["devex.template.run.started"].GetSum(); s == nil || !s.IsMonotonic || len(s.DataPoints) != 1 || s.DataPoints[0].GetAsInt() != 3 {
		t.Errorf("devex.template.run.started = %v, want a monotonic sum of 3", s)
	}
	h := got["devex.template.run.duration"].GetHistogram()
	if h == nil {
		t.Fatal("devex.template.run.duration is not a histogram")
	}
	var count uint64
	for _, p := range h.DataPoints {
		count += p.Count
		if !reflect.DeepEqual(p.ExplicitBounds, devex.DurationBuckets) {
			t.Errorf("bounds %v, want %v", p.ExplicitBounds, devex.DurationBuckets)
		}
		for _, a := range p.Attributes {
			if strings.HasPrefix(a.GetValue().GetStringValue(), "user:") {
				t.Errorf("a user id is an attribute: %v", a)
			}
		}
	}
	if count != 2 {
		t.Errorf("duration histogram count %d, want 2", count)
	}
}

// parseExposition parses a /metrics body with Prometheus' own text parser.
func parseExposition(text string) (map[string]*dto.MetricFamily, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(strings.NewReader(text))
}

// sampleWith is the first sample of f carrying labels; with no labels, the
// first sample without any.
func sampleWith(f *dto.MetricFamily, labels map[string]string) *dto.Metric {
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		if len(labels) == 0 && len(got) > 0 {
			continue
		}
		return m
	}
	return nil
}
