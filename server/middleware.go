package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/paved-dev/paved"
)

// Authenticator turns an Authorization header into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (paved.Principal, error)
}

// requireAuth lets only authenticated callers through and puts the principal
// and the authorizer that decides for it in the request context.
func requireAuth(a Authenticator, z paved.Authorizer) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			p, err := a.Authenticate(req.Context(), req.Header.Get(echo.HeaderAuthorization))
			if err != nil {
				return err
			}
			trace.SpanFromContext(req.Context()).SetAttributes(
				attribute.String("paved.caller.kind", string(p.Kind)),
				attribute.String("paved.caller.subject", p.Subject))
			c.SetRequest(req.WithContext(paved.WithAuthorizer(paved.WithPrincipal(req.Context(), p), z)))
			return next(c)
		}
	}
}

// telemetry starts a server span per request (continuing the caller's trace),
// records the OTel HTTP server duration, and logs the request. The
// Authorization header is never logged.
func telemetry(tracer trace.Tracer, meter metric.Meter, logger *slog.Logger) echo.MiddlewareFunc {
	duration, _ := meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 300))
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	attrs := &requestAttrs{}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx := prop.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			route := c.Path()
			ctx, span := tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route)))
			defer span.End()
			c.SetRequest(req.WithContext(ctx))
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			elapsed := time.Since(start)
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			duration.Record(ctx, elapsed.Seconds(), attrs.of(req.Method, route, status))
			level := slog.LevelInfo
			if route == "/healthz" || route == "/readyz" || route == "/metrics" {
				level = slog.LevelDebug
			}
			logger.LogAttrs(ctx, level, "request", slog.String("method", req.Method), slog.String("route", route),
				slog.Int("status", status), slog.Int64("duration_ms", elapsed.Milliseconds()))
			return nil
		}
	}
}

// requestAttrs keeps the attribute set of each method, route and status:
// there are few of them (routes are templates, unknown paths share one), and
// building a set sorts and hashes it on every request otherwise.
type requestAttrs struct{ sets sync.Map } // requestKey → metric.MeasurementOption

type requestKey struct {
	method, route string
	status        int
}

func (a *requestAttrs) of(method, route string, status int) metric.MeasurementOption {
	k := requestKey{method, route, status}
	if o, ok := a.sets.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	o := metric.WithAttributeSet(attribute.NewSet(attribute.String("http.request.method", method),
		attribute.String("http.route", route), attribute.Int("http.response.status_code", status)))
	switch method { // a caller picks the method: only the standard ones are kept
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		a.sets.Store(k, o)
	}
	return o
}

// bodyDeadline reads a request body (up to max+1 bytes; the route's body limit
// answers what is over) before any handler runs, within timeout: a client
// that trickles its body gets a 408 instead of holding a connection and a
// goroutine for as long as it likes. The deadline is lifted once the body is
// read, so a handler may wait long for Argo CD; when the body is not read to
// its end it stays, so the server's own discard of the rest is bounded too.
func bodyDeadline(timeout time.Duration, max int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Body == nil || r.Body == http.NoBody || r.ContentLength > max {
				return next(c)
			}
			rc := http.NewResponseController(c.Response())
			if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
				return next(c) // no connection under it (a test's recorder)
			}
			buf, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.Response().Header().Set(echo.HeaderConnection, "close")
				return paved.Errorf(paved.ETooSlow, "the request body was not sent within %s", timeout)
			}
			if err != nil {
				c.Response().Header().Set(echo.HeaderConnection, "close")
				return paved.Errorf(paved.EInvalid, "the request body could not be read")
			}
			if int64(len(buf)) <= max {
				_ = rc.SetReadDeadline(time.Time{})
			}
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
			return next(c)
		}
	}
}
