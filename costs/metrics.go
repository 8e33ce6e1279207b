package costs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/paved-dev/paved/infra"
)

// gaugeTTL is how long the gauge's values from the store are reused, so that
// frequent scrapes do not each query the store.
const gaugeTTL = 15 * time.Second

// RegisterGauge adds paved.infra.cost.monthly to meter: the running monthly
// cost of the resources alive now, by owner team, kind and currency (never a
// user). Every replica reports the same values (from the store): take the max.
func RegisterGauge(meter metric.Meter, store Store, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g, err := meter.Float64ObservableGauge("paved.infra.cost.monthly", metric.WithUnit("{currency}"),
		metric.WithDescription("Monthly cost of the infrastructure alive now (resources × their kind's price), by owner team, kind and currency."))
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var at time.Time
	var last map[[3]string]float64
	_, err = meter.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		mu.Lock()
		defer mu.Unlock()
		if at.IsZero() || time.Since(at) > gaugeTTL {
			open, err := store.OpenCosts(ctx)
			if err != nil {
				logger.Warn("costs: the gauge from the store", "error", err) // keep the last values
			} else {
				last = map[[3]string]float64{}
				for _, e := range open {
					last[[3]string{e.Team, e.Kind, e.Currency}] += e.Monthly
				}
				at = time.Now()
			}
		}
		for k, v := range last {
			obs.ObserveFloat64(g, infra.RoundMoney(v), metric.WithAttributes(
				attribute.String("team", k[0]), attribute.String("kind", k[1]), attribute.String("currency", k[2])))
		}
		return nil
	}, g)
	return err
}

// Reconciler mends the ledger after a replica died between a resource's
// change and its ledger entry: alive resources without an entry get one,
// entries of resources that are gone are closed. It is idempotent, so every
// replica may run it.
type Reconciler struct {
	Store interface {
		Store
		ReconcileCosts(ctx context.Context, at time.Time) (int64, error)
		ListInfraResources(ctx context.Context) ([]infra.Resource, error)
	}
	Infra interface {
		Cost(r infra.Resource) (infra.Cost, bool)
		Team(ctx context.Context, owner string) (string, error)
	}
	Logger *slog.Logger
}

// Once runs one reconciliation.
func (rc Reconciler) Once(ctx context.Context) error {
	open, err := rc.Store.OpenCosts(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, e := range open {
		have[e.ResourceID] = true
	}
	resources, err := rc.Store.ListInfraResources(ctx)
	if err != nil {
		return err
	}
	for _, r := range resources {
		if have[r.ID] || r.Status != infra.StatusReady {
			continue
		}
		c, ok := rc.Infra.Cost(r)
		if !ok {
			continue
		}
		team, err := rc.Infra.Team(ctx, r.Owner)
		if err != nil {
			return err
		}
		// OpenCost leaves an entry that exists (closed, or opened meanwhile) alone.
		if err := rc.Store.OpenCost(ctx, Entry{ResourceID: r.ID, Kind: r.Kind, Name: r.Name, Team: team,
			Monthly: c.Monthly, Currency: c.Currency, StartedAt: r.CreatedAt}); err != nil {
			return err
		}
	}
	_, err = rc.Store.ReconcileCosts(ctx, time.Now().UTC())
	return err
}

// Run reconciles every interval until ctx ends.
func (rc Reconciler) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := rc.Once(ctx); err != nil && ctx.Err() == nil && rc.Logger != nil {
			rc.Logger.Warn("costs: reconciling the ledger", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
