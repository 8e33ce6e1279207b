// Package argocd is paved's adapter to Argo CD: named instances, one session
// per instance, and the application operations the scaffolder actions need,
// over argo-cd's own gRPC client. It is the only package that imports argo-cd.
package argocd

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/paved-dev/paved"
)

// InstanceConfig is one Argo CD that paved talks to.
type InstanceConfig struct {
	Name string // instance name used by actions ("default")
	// Server is host:port or https://host[:port] of argocd-server.
	Server string
	// UIURL is the base of links to the Argo CD UI; default derived from Server.
	UIURL string
	// Token is an API token (an account's apiKey); without it paved logs in
	// with Username and Password and keeps the session.
	Token              string
	Username, Password string
	Insecure           bool // skip TLS verification
	PlainText          bool // no TLS (argocd-server --insecure)
	GRPCWeb            bool // gRPC-Web over HTTP/1.1, for proxies that do not pass HTTP/2
	DefaultProject     string
	// AppNamespace is where Applications go when apps-in-any-namespace is in
	// use; "" is the control-plane namespace.
	AppNamespace string
	Timeout      time.Duration // per call; default 30s
}

func (c InstanceConfig) addr() string {
	s := strings.TrimSuffix(c.Server, "/")
	if u, err := url.Parse(s); err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") {
		if u.Port() == "" {
			if u.Scheme == "http" {
				return u.Host + ":80"
			}
			return u.Host + ":443"
		}
		return u.Host
	}
	return s
}

func (c InstanceConfig) uiURL() string {
	if c.UIURL != "" {
		return strings.TrimSuffix(c.UIURL, "/")
	}
	s := strings.TrimSuffix(c.Server, "/")
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return s
	}
	if c.PlainText {
		return "http://" + s
	}
	return "https://" + s
}

// Option configures a Client.
type Option func(*Client)

// WithTracerProvider makes the client record a span per Argo CD call.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Client) { c.tracer = tp.Tracer("github.com/paved-dev/paved/argocd") }
}

// WithLogger sets the logger for logins and connection changes.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) { c.log = l }
}

// Client talks to one or more Argo CD instances. It is safe for concurrent use.
type Client struct {
	instances map[string]*instance
	tracer    trace.Tracer
	log       *slog.Logger
}

// New checks the instances' configuration; it does not connect: the first
// call to an instance logs in and dials, so paved starts while Argo CD is down.
func New(instances []InstanceConfig, opts ...Option) (*Client, error) {
	c := &Client{
		instances: map[string]*instance{},
		tracer:    noop.NewTracerProvider().Tracer(""),
		log:       slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(c)
	}
	var fields []paved.FieldError
	for i, cfg := range instances {
		at := func(f string) string { return fmt.Sprintf("argocd.instances[%d].%s", i, f) }
		switch {
		case cfg.Name == "":
			fields = append(fields, paved.FieldError{Field: at("name"), Message: "is required"})
		case c.instances[cfg.Name] != nil:
			fields = append(fields, paved.FieldError{Field: at("name"), Message: fmt.Sprintf("%q is used twice", cfg.Name)})
		}
		if cfg.Server == "" {
			fields = append(fields, paved.FieldError{Field: at("server"), Message: "is required"})
		}
		if cfg.Token == "" && (cfg.Username == "" || cfg.Password == "") {
			fields = append(fields, paved.FieldError{Field: at("token"), Message: "a token, or a username and password, is required"})
		}
		// The defaults are config's (config.fill); a constructor takes values.
		if cfg.DefaultProject == "" {
			fields = append(fields, paved.FieldError{Field: at("defaultProject"), Message: "is required"})
		}
		if cfg.Timeout <= 0 {
			fields = append(fields, paved.FieldError{Field: at("timeout"), Message: "must be positive"})
		}
		c.instances[cfg.Name] = &instance{
			cfg:     cfg,
			log:     c.log,
			tracer:  c.tracer,
			now:     time.Now,
			dialing: make(chan struct{}, 1),
		}
	}
	if len(fields) > 0 {
		return nil, paved.InvalidFields(fields...)
	}
	return c, nil
}

// Instances returns the configured instance names, sorted.
func (c *Client) Instances() []string {
	names := make([]string, 0, len(c.instances))
	for n := range c.instances {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close closes every connection. Calls after Close fail.
func (c *Client) Close() error {
	for _, in := range c.instances {
		in.close()
	}
	return nil
}

func (c *Client) instance(name string) (*instance, error) {
	in, ok := c.instances[name]
	if !ok {
		return nil, paved.Errorf(paved.EInvalid, "unknown Argo CD instance %q", name)
	}
	return in, nil
}

// Ping asks an instance for its version, which needs no session: a readiness
// check that does not depend on paved's credentials.
func (c *Client) Ping(ctx context.Context, name string) error {
	in, err := c.instance(name)
	if err != nil {
		return err
	}
	ctx, span := in.startSpan(ctx, "version.VersionService/Version")
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, in.cfg.Timeout)
	defer cancel()
	an, err := in.anonConns(ctx)
	if err == nil {
		_, err = an.versions.Version(ctx, &emptypb.Empty{})
		if isConnUnavailable(err) {
			in.dropAnon(an)
			if an, err = in.anonConns(ctx); err == nil {
				_, err = an.versions.Version(ctx, &emptypb.Empty{})
			}
		}
		err = in.mapError(err, "")
	}
	endSpan(span, err)
	return err
}

func (in *instance) startSpan(ctx context.Context, method string) (context.Context, trace.Span) {
	service, name, _ := strings.Cut(method, "/")
	return in.tracer.Start(ctx, "argocd "+method,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("argocd.instance", in.cfg.Name),
			attribute.String("rpc.system", "grpc"),
			attribute.String("rpc.service", service),
			attribute.String("rpc.method", name),
		))
}

func endSpan(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.SetAttributes(attribute.String("paved.error_code", string(paved.ErrorCode(err))))
	span.SetStatus(otelcodes.Error, paved.ErrorMessage(err))
}

// call runs one Argo CD call in a span with the instance's timeout. When
// Argo CD refuses the session (expired early, revoked, server restarted with
// a new key), it logs in again and retries once.
func (in *instance) call(ctx context.Context, method string, f func(context.Context, *authed) error) error {
	ctx, span := in.startSpan(ctx, method)
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, in.cfg.Timeout)
	defer cancel()
	err := in.try(ctx, f, in.usesLogin())
	endSpan(span, err)
	return err
}

func (in *instance) try(ctx context.Context, f func(context.Context, *authed) error, retry bool) error {
	a, err := in.acquire(ctx)
	if err != nil {
		return err
	}
	err = f(ctx, a)
	in.release(a)
	if isConnUnavailable(err) {
		// The connection may be in gRPC's reconnect back-off (up to two
		// minutes) although Argo CD is back: a new connection, dialed now,
		// reaches it at once. When Argo CD is still down the dial fails fast.
		na, derr := in.redial(ctx, a)
		if derr != nil {
			return derr
		}
		a = na
		err = f(ctx, a)
		in.release(a)
	}
	if isUnauthenticated(err) && in.usesLogin() {
		in.invalidate(a)
		if retry {
			in.log.Info("Argo CD refused the session; logging in again", "instance", in.cfg.Name)
			return in.try(ctx, f, false)
		}
	}
	return in.mapError(err, a.token)
}
