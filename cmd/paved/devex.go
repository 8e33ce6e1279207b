package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/config"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// devexArgo is what devex reads of Argo CD (argocd.Client): listings for
// the collector, the watch streams and revision metadata for the four keys.
type devexArgo interface {
	devex.Apps
	devex.AppWatcher
}

// startDevex builds the adoption metrics: the instruments on paved's meter,
// the query service, and, unless disabled, the collector, which runs until
// the returned stop is called. Backstage is read with paved's own plugin
// tokens, or the configured static token.
func startDevex(ctx context.Context, cfg config.Config, store *sqlstore.DB, apps devexArgo, signer *backstage.Signer,
	meter metric.Meter, logger *slog.Logger) (*devex.Service, *devex.Feedbacks, *backstage.ReadClient, func(), error) {
	var tokens backstage.TokenSource = signer
	if cfg.DevEx.BackstageToken != "" {
		tokens = backstage.StaticTokenSource(cfg.DevEx.BackstageToken)
	}
	reader := backstage.NewReadClient(backstage.NewDiscovery(cfg.Backstage.Discovery, cfg.Backstage.Endpoints), tokens, nil)
	logger = logger.With("component", "devex")
	slos := devex.NewSLOs(store, sloConfig(cfg.DevEx.SLOs), 0, nil)
	svc := devex.NewService(store).WithSLOs(slos)
	metrics, err := devex.NewMetrics(devex.MetricsOptions{Meter: meter, Store: store, StuckAfter: cfg.DevEx.StuckAfter.D(), Logger: logger,
		SLOs: slos, Freshness: svc, Keys: store})
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("devex metrics: %w", err)
	}
	feedback := devex.NewFeedbacks(devex.FeedbackOptions{Store: store, Tasks: reader, EditWindow: cfg.DevEx.Feedback.EditWindow.D()})
	if cfg.DevEx.Disabled {
		return svc, feedback, reader, func() {}, nil
	}
	collector := devex.NewCollector(devex.CollectorOptions{
		Store: store, Scaffolder: reader, Catalog: reader, Templates: reader, Apps: apps, Recorder: metrics,
		Holder:   leaseHolder(),
		Interval: cfg.DevEx.Interval.D(), CatalogEvery: cfg.DevEx.CatalogEvery,
		RawRetention: cfg.DevEx.RawRetention.D(), RollupRetention: cfg.DevEx.RollupRetention.D(),
		Logger: logger,
	})
	// The collecting replica follows the watch streams for the four keys; as
	// the lease moves, the store applies what two replicas both saw once.
	keys := devex.NewKeysFollower(devex.KeysFollowerOptions{Watcher: apps, Store: store, Logger: logger, Lead: collector.Leading})
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = collector.Run(ctx) })
	wg.Go(func() { keys.Run(ctx) })
	return svc, feedback, reader, func() { cancel(); wg.Wait() }, nil
}

// sloConfig turns the configured objectives into the domain's.
func sloConfig(in []config.SLO) []devex.SLO {
	out := make([]devex.SLO, 0, len(in))
	for _, s := range in {
		// GroupRef normalizes any entity ref ("template:service"), keeping its kind.
		out = append(out, devex.SLO{Name: s.Name, SLI: s.SLI, Template: devex.GroupRef(s.Template), Objective: s.Objective,
			Threshold: s.Threshold.D(), Window: s.Window.D()})
	}
	return out
}
