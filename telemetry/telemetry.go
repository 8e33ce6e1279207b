// Package telemetry sets up paved's OpenTelemetry providers: one
// MeterProvider with two readers (Prometheus text on /metrics, OTLP push when
// OTEL_EXPORTER_OTLP_ENDPOINT is set) and a TracerProvider that exports over
// OTLP when configured. The providers are passed to every component; nothing
// here is a package global.
package telemetry

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Options configure the providers.
type Options struct {
	ServiceName string
	Version     string
	Getenv      func(string) string
	// ExportInterval is the OTLP metric push interval (default 30s, or
	// OTEL_METRIC_EXPORT_INTERVAL as the SDK reads it).
	ExportInterval time.Duration
}

// Providers are the providers paved's components use.
type Providers struct {
	Meter      *sdkmetric.MeterProvider
	Tracer     *sdktrace.TracerProvider
	Propagator propagation.TextMapPropagator
	// Metrics serves the Prometheus text exposition.
	Metrics http.Handler
	// OTLP tells whether OTLP push is enabled.
	OTLP bool
}

// Setup builds the providers from the standard OTEL_* environment.
func Setup(ctx context.Context, o Options) (*Providers, error) {
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(o.ServiceName), semconv.ServiceVersion(o.Version)),
		resource.WithFromEnv(), // last, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	promExporter, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
	)
	if err != nil {
		return nil, err
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(promExporter)}
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	otlp := o.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || o.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != "" || o.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	if otlp {
		// The exporters read OTEL_EXPORTER_OTLP_* themselves (endpoint, headers, TLS).
		if o.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || o.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != "" {
			mexp, err := otlpmetrichttp.New(ctx)
			if err != nil {
				return nil, err
			}
			ropts := []sdkmetric.PeriodicReaderOption{}
			if o.ExportInterval > 0 {
				ropts = append(ropts, sdkmetric.WithInterval(o.ExportInterval))
			}
			mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, ropts...)))
		}
		if o.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || o.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
			texp, err := otlptracehttp.New(ctx)
			if err != nil {
				return nil, err
			}
			topts = append(topts, sdktrace.WithBatcher(texp))
		}
	}
	return &Providers{
		Meter:      sdkmetric.NewMeterProvider(mopts...),
		Tracer:     sdktrace.NewTracerProvider(topts...),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Metrics:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		OTLP:       otlp,
	}, nil
}

// Shutdown flushes and stops both providers.
func (p *Providers) Shutdown(ctx context.Context) error {
	return errors.Join(p.Meter.Shutdown(ctx), p.Tracer.Shutdown(ctx))
}
