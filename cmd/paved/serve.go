package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/config"
	"github.com/paved-dev/paved/permission"
	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/postgres"
	"github.com/paved-dev/paved/sqlstore/sqlite"
	"github.com/paved-dev/paved/telemetry"
)

// shutdownGrace is how long in-flight requests (an action waiting for a
// rollout) get to finish after SIGTERM.
const shutdownGrace = 25 * time.Second

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("serve")
	path := fs.String("config", "", "configuration file (default $PAVED_CONFIG)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	started := time.Now()
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	logger.Info("paved starting", "version", paved.Version, "config", cfg.Masked())

	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: cfg.Telemetry.ServiceName, Version: paved.Version, Getenv: getenv})
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}()

	if err := privateDataDir(cfg.DataDir); err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	sealer, err := newSealer(cfg)
	if err != nil {
		return fmt.Errorf("infra: %w", err)
	}
	signer, err := backstage.NewSigner(ctx, store, cfg.PluginID, cfg.Auth.TokenTTL.D(), backstage.WithKeySealer(sealer))
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	static := make([]backstage.StaticToken, 0, len(cfg.Auth.StaticTokens)+1)
	for _, t := range cfg.Auth.StaticTokens {
		static = append(static, backstage.StaticToken{Token: t.Token, Subject: t.Subject})
	}
	if local, err := localToken(cfg); err != nil {
		return err
	} else if local != "" {
		static = append(static, backstage.StaticToken{Token: local, Subject: "local-cli"})
	}
	discovery := backstage.NewDiscovery(cfg.Backstage.Discovery, cfg.Backstage.Endpoints)
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{
		PluginID:       cfg.PluginID,
		Discovery:      discovery,
		AllowedPlugins: cfg.Backstage.AllowedPlugins,
		AuthPluginID:   cfg.Backstage.AuthPluginID,
		StaticTokens:   static,
		Leeway:         cfg.Auth.Leeway.D(),
		Logger:         logger,
	})
	if err != nil {
		return err
	}

	argo, err := argocd.New(argoInstances(cfg), argocd.WithTracerProvider(tel.Tracer), argocd.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("argocd: %w", err)
	}

	registry, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{
		PluginID: cfg.PluginID,
		Recorder: store,
		Logger:   logger,
		Meter:    tel.Meter.Meter("github.com/paved-dev/paved/scaffolder"),
		Tracer:   tel.Tracer.Tracer("github.com/paved-dev/paved/scaffolder"),
	})
	if err != nil {
		return err
	}
	guards, err := cfg.Guardrails.Set()
	if err != nil {
		return err
	}
	inf, err := newInfra(ctx, cfg, store, argo, signer, sealer, guards, tel.Meter.Meter("github.com/paved-dev/paved/costs"), logger)
	if err != nil {
		return fmt.Errorf("infra: %w", err)
	}
	defer inf.stop()
	if err := registry.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: argo, MaxWait: cfg.Limits.MaxWait.D(), CallerWait: cfg.Limits.CallerWaits(), GitOps: inf.gitops, Sources: argo, PullRequests: inf.prs, Locks: store, Guardrails: guards, Approvals: inf.appApprovals})...); err != nil {
		return err
	}
	if err := registry.Register(appSetActions(argo, inf.gitops, store, guards, inf.appApprovals)...); err != nil {
		return err
	}
	if err := registry.Register(inf.actions...); err != nil {
		return err
	}

	refresher, stopCatalog := startCatalog(ctx, cfg, store, argo, inf.catalog, tel.Meter.Meter("github.com/paved-dev/paved/catalog"), logger)
	defer stopCatalog()
	pctx, stopPruning := context.WithCancel(ctx)
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		scaffolder.RunAuditRetention(pctx, store, leaseHolder(), cfg.Audit.Retention.D(), cfg.Audit.PruneInterval.D(), logger, time.Now)
	}()
	defer func() { stopPruning(); <-pruned }()
	var entities server.Catalog // stays nil, not a nil *Refresher, when the catalog is off
	if refresher != nil {
		entities = refresher
	}

	adoption, feedback, membership, stopDevex, err := startDevex(ctx, cfg, store, argo, signer, tel.Meter.Meter("github.com/paved-dev/paved/devex"), logger)
	if err != nil {
		return err
	}
	defer stopDevex()

	authorizer, err := newAuthorizer(cfg, discovery, signer, membership, logger)
	if err != nil {
		return err
	}
	integration, err := permission.NewIntegration(registry.Permissions(), inf.permissionResources)
	if err != nil {
		return err
	}

	ready := []server.Check{{Name: "store", Check: store.Ping}}
	ready = append(ready, inf.ready...)
	for _, name := range argo.Instances() {
		ready = append(ready, server.Check{Name: "argocd/" + name, Check: func(ctx context.Context) error { return argo.Ping(ctx, name) }})
	}
	handler := server.New(server.Deps{
		PluginID:       cfg.PluginID,
		Logger:         logger,
		Auth:           verifier,
		Actions:        registry,
		Keys:           signer,
		Invocations:    store,
		Ready:          ready,
		Metrics:        tel.Metrics,
		TracerProvider: tel.Tracer,
		MeterProvider:  tel.Meter,
		MaxBodyBytes:   cfg.Limits.MaxBodyBytes,
		BodyTimeout:    cfg.Limits.BodyTimeout.D(),

		Catalog:           entities,
		CatalogYAMLPublic: cfg.Catalog.PublicYAML,

		DevEx:        adoption,
		DevExReaders: cfg.DevEx.ReaderGroups,
		Membership:   membership,

		Feedback:               feedback,
		FeedbackCommentReaders: cfg.DevEx.Feedback.CommentReaderGroups,

		Infra:     inf.connections,
		Costs:     inf.costs,
		Resources: inf.resources,
		Approvals: inf.approvals,
		Apps:      argo,
		Owners:    entityOwners{backstage.NewCatalogClient(backstage.NewDiscovery(cfg.Backstage.Discovery, cfg.Backstage.Endpoints), signer, nil)},

		Authorizer:  authorizer,
		Permissions: integration,
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	addr := ln.Addr().String()
	logger.Info("paved ready", "addr", addr, "store", store.Engine(), "argocd_instances", len(argo.Instances()),
		"actions", len(registry.IDs()), "startup_ms", time.Since(started).Milliseconds())
	printHowTo(stdout, cfg, addr)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("paved shutting down", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("paved stopped")
	return nil
}

func openStore(ctx context.Context, cfg config.Config) (*sqlstore.DB, error) {
	if cfg.Database.URL != "" {
		db, err := postgres.Open(ctx, cfg.Database.URL)
		if err != nil {
			return nil, fmt.Errorf("postgres store: %w", err)
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, cfg.Database.SQLitePath)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	return db, nil
}

func argoInstances(cfg config.Config) []argocd.InstanceConfig {
	out := make([]argocd.InstanceConfig, 0, len(cfg.ArgoCD.Instances))
	for _, in := range cfg.ArgoCD.Instances {
		out = append(out, argocd.InstanceConfig{
			Name: in.Name, Server: in.Server, UIURL: in.UIURL, Token: in.Token, Username: in.Username, Password: in.Password,
			Insecure: in.Insecure, PlainText: in.PlainText, GRPCWeb: in.GRPCWeb, DefaultProject: in.DefaultProject,
			AppNamespace: in.AppNamespace, Timeout: in.Timeout.D(),
		})
	}
	return out
}

// localToken returns the token of the local CLI, creating it on first start,
// so that `paved actions list` works against `make run` with no set-up. It is
// off when static tokens are configured or localTokenFile is "-".
func localToken(cfg config.Config) (string, error) {
	if len(cfg.Auth.StaticTokens) > 0 || cfg.Auth.LocalTokenFile == "-" || cfg.Auth.LocalTokenFile == "" {
		return "", nil
	}
	path := cfg.Auth.LocalTokenFile
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("local token: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("local token: %w", err)
	}
	return tok, nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func printHowTo(w io.Writer, cfg config.Config, addr string) {
	base := "http://" + addr
	fmt.Fprintf(w, `paved %s is listening on %s
  actions (Backstage): %s/api/%s/.backstage/actions/v1/actions
  health:              %s/healthz   readiness: %s/readyz   metrics: %s/metrics
Try it from another shell:
  go run ./cmd/paved actions list
`, paved.Version, base, base, cfg.PluginID, base, base, base)
	if len(cfg.ArgoCD.Instances) == 0 {
		fmt.Fprintln(w, "No Argo CD instance is configured yet: add one under argocd.instances (see README) to create applications.")
	}
}
