package devex

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// KeysWindow is the window of the four keys' gauges.
const KeysWindow = 30 * 24 * time.Hour

// registerKeysGauges exports the four keys over the last KeysWindow, per
// template (attribute template) and per team (attribute team), each with
// its DORA tier (attribute tier). Values are read from the store at most
// every ttl.
func registerKeysGauges(mt metric.Meter, store DORAStore, ttl time.Duration, now func() time.Time, logger *slog.Logger) error {
	var errs []error
	gauge := func(name, unit, desc string) metric.Float64ObservableGauge {
		g, err := mt.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	frequency := gauge("devex.dora.deployment_frequency", "{deployment}/d", "Successful syncs per day over the last 30 days (DORA deployment frequency).")
	lead := gauge("devex.dora.lead_time", "s", "Median time from the commit of a synced revision to the application Healthy on it, over the last 30 days.")
	failure := gauge("devex.dora.change_failure_rate", "1", "Share of the last 30 days' changes (syncs and failed sync operations) that failed: Degraded, failed operation or rolled back.")
	restore := gauge("devex.dora.time_to_restore", "s", "Median time from an application turning Degraded to Healthy again, of the incidents of the last 30 days.")
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var mu sync.Mutex
	var cachedAt time.Time
	var cached [2][]FourKeys
	read := func(ctx context.Context) [2][]FourKeys {
		mu.Lock()
		defer mu.Unlock()
		at := now()
		if !cachedAt.IsZero() && at.Sub(cachedAt) < ttl {
			return cached
		}
		from, to := DayRange(at.Add(-KeysWindow), at)
		f := Filter{From: from.AddDate(0, 0, 1), To: to}
		var out [2][]FourKeys
		for i, by := range []string{"template", "team"} {
			rep, err := DORA(ctx, store, f, by)
			if err != nil {
				logger.Warn("devex: four keys gauges from the store", "error", err)
				return cached
			}
			out[i] = rep.Items
		}
		cached, cachedAt = out, at
		return out
	}
	_, err := mt.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		for i, items := range read(ctx) {
			key := []string{"template", "team"}[i]
			for _, k := range items {
				if k.Group == "" {
					continue
				}
				g := attribute.String(key, k.Group)
				obs.ObserveFloat64(frequency, k.DeploymentsPerDay, metric.WithAttributes(g, attribute.String("tier", k.DeploymentFrequencyTier)))
				if k.LeadTimeSamples > 0 {
					obs.ObserveFloat64(lead, k.LeadTimeSeconds, metric.WithAttributes(g, attribute.String("tier", k.LeadTimeTier)))
				}
				if k.Changes > 0 {
					obs.ObserveFloat64(failure, k.ChangeFailureRate, metric.WithAttributes(g, attribute.String("tier", k.ChangeFailureTier)))
				}
				if k.Restored > 0 {
					obs.ObserveFloat64(restore, k.TimeToRestoreSeconds, metric.WithAttributes(g, attribute.String("tier", k.TimeToRestoreTier)))
				}
			}
		}
		return nil
	}, frequency, lead, failure, restore)
	return err
}
