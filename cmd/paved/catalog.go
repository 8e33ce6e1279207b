package main

import (
	"context"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/paved-dev/paved/catalog"
	"github.com/paved-dev/paved/config"
)

// catalogArgo is what the catalog reads from Argo CD (argocd.Client): lists,
// and the watch streams that make a change show within seconds.
type catalogArgo interface {
	catalog.Apps
	catalog.Watcher
}

// startCatalog starts the catalog's refresher in the background and returns
// it (nil when the catalog is disabled) with a function that stops it and
// waits until it has given its lease up.
func startCatalog(ctx context.Context, cfg config.Config, store catalog.Store, apps catalogArgo, infra catalog.InfraLister,
	meter metric.Meter, logger *slog.Logger) (*catalog.Refresher, func()) {
	if cfg.Catalog.Disabled {
		return nil, func() {}
	}
	c := cfg.Catalog
	opts := catalog.Options{
		Namespace:        c.Namespace,
		DefaultType:      c.DefaultType,
		DefaultLifecycle: c.DefaultLifecycle,
		DefaultOwner:     c.DefaultOwner,
		TypeKeys:         c.TypeKeys,
		LifecycleKeys:    c.LifecycleKeys,
		OwnerKeys:        c.OwnerKeys,
		SystemKeys:       c.SystemKeys,
		ProjectOwners:    c.ProjectOwners,
		LocationURL:      cfg.BaseURL + "/api/" + cfg.PluginID + "/catalog/entities.yaml",
	}
	watch := catalog.WatchOptions{Watcher: apps, Debounce: c.WatchDebounce.D()}
	narrowed := map[string]config.CatalogInstance{}
	for _, in := range c.Instances {
		narrowed[in.Name] = in
	}
	for _, in := range cfg.ArgoCD.Instances {
		n := narrowed[in.Name]
		if n.Skip {
			continue
		}
		if !n.Watches() {
			watch.PollOnly = append(watch.PollOnly, in.Name)
		}
		opts.Instances = append(opts.Instances, catalog.Instance{
			Name: in.Name, Selector: n.Selector, Projects: n.Projects, Namespace: n.Namespace, DefaultOwner: n.DefaultOwner,
		})
	}
	r := catalog.NewRefresher(catalog.RefresherOptions{
		Options:   opts,
		Apps:      apps,
		Infra:     infra,
		Store:     store,
		Logger:    logger.With("component", "catalog"),
		Interval:  c.Interval.D(),
		Retention: c.Retention,
		Meter:     meter,
		Watch:     watch,
	})
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(ctx) })
	return r, func() { cancel(); wg.Wait() }
}
