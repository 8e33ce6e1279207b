package scaffolder

import (
	"context"
	"encoding/json"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/paved-dev/paved"
)

// A failed call's devex.action.invocations carries error.type, the error's
// code: the availability objective and its Prometheus rules count only
// paved's own failures (internal, unavailable, timeout) against paved.
func TestInvocationCounterCarriesErrorType(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	r, err := NewRegistry(RegistryOptions{PluginID: "paved", Meter: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(echoAction()); err != nil {
		t.Fatal(err)
	}
	ctx := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/jane"})
	for _, in := range []string{`{"name":"ok"}`, `{"name":"ok"}`, `{}`, `{"name":"boom"}`} {
		_, _ = r.Invoke(ctx, "paved:echo", json.RawMessage(in), nil)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "devex.action.invocations" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				result, _ := dp.Attributes.Value("result")
				errType, _ := dp.Attributes.Value("error.type")
				got[result.AsString()+"/"+errType.AsString()] += dp.Value
			}
		}
	}
	want := map[string]int64{"success/": 2, "failure/invalid": 1, "failure/conflict": 1}
	if len(got) != len(want) {
		t.Errorf("invocations by result/error.type = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("invocations %s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
