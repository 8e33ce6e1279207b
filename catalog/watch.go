package catalog

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/paved-dev/paved"
)

// Watcher follows an Argo CD instance's application watch stream
// (argocd.Client). WatchApps returns nil when ctx ends and an error when the
// stream breaks; paved.ErrCannotWatch in its chain means that watching again
// will not help (the instance does not serve the stream, or paved may not use it).
type Watcher interface {
	WatchApps(ctx context.Context, instance, selector string, projects []string, event func(typ string, app paved.App)) error
}

// WatchOptions configure the watch streams that make the refreshing replica
// see a change in Argo CD within seconds rather than at the next interval.
// Polling goes on regardless: it is the safety net for whatever a stream
// misses.
type WatchOptions struct {
	// Watcher is nil to poll only.
	Watcher Watcher
	// PollOnly names the instances whose stream is not followed.
	PollOnly []string
	// Debounce is how long events gather before the one refresh they cause,
	// so that a burst (a sync touches an application many times) costs one
	// listing; default 1s.
	Debounce time.Duration
	// Backoff is the first wait before watching again after a stream broke;
	// it doubles up to MaxBackoff. Defaults 1s and 1m.
	Backoff, MaxBackoff time.Duration
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Debounce <= 0 {
		o.Debounce = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.Backoff <= 0 {
		o.Backoff = min(time.Second, o.MaxBackoff)
	}
	return o
}

// watching is the Refresher's watch state. Streams run only inside Run, and
// only while this replica holds the lease: Refresh learns whether it does
// and calls lead.
type watching struct {
	mu          sync.Mutex
	runCtx      context.Context    // Run's context; nil outside Run
	cancel      context.CancelFunc // ends the current streams; nil when not watching
	unsupported map[string]bool    // instances that refused the stream: polled only from then on
	// known is the last listing of each instance by namespace/name: an
	// event that brings nothing new (Argo CD sends one at every
	// reconciliation) causes no refresh.
	known map[string]map[string]paved.App
	dirty *dirty // of the current streams; nil when not watching

	wg      sync.WaitGroup // every stream and debouncer, of every lease term
	streams atomic.Int64   // instances being watched

	events     metric.Int64Counter
	reconnects metric.Int64Counter
}

func (r *Refresher) instrumentWatch(m metric.Meter) {
	w := &r.watch
	var err error
	if w.events, err = m.Int64Counter("paved.catalog.watch.events", metric.WithUnit("{event}"),
		metric.WithDescription("Application events received from Argo CD watch streams, by instance and type.")); err != nil {
		w.events, _ = noop.NewMeterProvider().Meter("").Int64Counter("")
	}
	if w.reconnects, err = m.Int64Counter("paved.catalog.watch.reconnects", metric.WithUnit("{reconnect}"),
		metric.WithDescription("Argo CD watch streams opened again after they broke, by instance.")); err != nil {
		w.reconnects, _ = noop.NewMeterProvider().Meter("").Int64Counter("")
	}
	_, _ = m.Int64ObservableGauge("paved.catalog.watch.streams", metric.WithUnit("{stream}"),
		metric.WithDescription("Argo CD instances this replica follows through a watch stream."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(w.streams.Load())
			return nil
		}))
}

// Watching returns how many instances this replica follows through a watch
// stream: none unless it runs and holds the lease.
func (r *Refresher) Watching() int { return int(r.watch.streams.Load()) }

// runWatches lets lead start streams under ctx; the function it returns
// stops them and waits until they have ended.
func (r *Refresher) runWatches(ctx context.Context) (stop func()) {
	w := &r.watch
	w.mu.Lock()
	w.runCtx = ctx
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		w.runCtx = nil
		if w.cancel != nil {
			w.cancel()
			w.cancel, w.dirty = nil, nil
		}
		w.mu.Unlock()
		w.wg.Wait()
	}
}

// lead starts the streams when this replica has just got the lease and
// stops them when it has lost it. It never waits for a stream, as it may run
// on the debouncer that a stream fed.
func (r *Refresher) lead(leader bool) {
	w := &r.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case leader && w.cancel == nil && w.runCtx != nil && r.o.Watch.Watcher != nil:
		var targets []Instance
		for _, in := range r.o.Options.Instances {
			if !slices.Contains(r.o.Watch.PollOnly, in.Name) && !w.unsupported[in.Name] {
				targets = append(targets, in)
			}
		}
		if len(targets) == 0 {
			return
		}
		ctx, cancel := context.WithCancel(w.runCtx)
		w.cancel = cancel
		d := &dirty{names: map[string]bool{}, signal: make(chan struct{}, 1)}
		w.dirty = d
		w.wg.Go(func() { r.debounce(ctx, d) })
		for _, in := range targets {
			w.streams.Add(1)
			w.wg.Go(func() {
				defer w.streams.Add(-1)
				r.follow(ctx, in, d)
			})
		}
	case !leader && w.cancel != nil:
		w.cancel()
		w.cancel, w.dirty = nil, nil
		r.log.Info("catalog: the refresh lease went to another replica; no longer watching Argo CD")
	}
}

// listed remembers an instance's last listing; nil forgets it.
func (w *watching) listed(instance string, apps []paved.App) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if apps == nil {
		delete(w.known, instance)
		return
	}
	byKey := make(map[string]paved.App, len(apps))
	for _, a := range apps {
		byKey[a.Namespace+"/"+a.Name] = a
	}
	w.known[instance] = byKey
}

// listing is called as a refresh starts listing an instance: the events
// received so far are covered by that listing and need no refresh of their
// own, whatever refresh (poll or watch) it is.
func (w *watching) listing(instance string) {
	w.mu.Lock()
	d := w.dirty
	w.mu.Unlock()
	if d != nil {
		d.mu.Lock()
		delete(d.names, instance)
		d.mu.Unlock()
	}
}

// news reports whether an event differs from the instance's last listing.
func (w *watching) news(instance, typ string, app paved.App) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	known, ok := w.known[instance]
	if !ok {
		return true
	}
	old, had := known[app.Namespace+"/"+app.Name]
	if typ == "DELETED" {
		return had
	}
	return !had || !reflect.DeepEqual(old, app)
}

// dirty is the set of instances that changed since the last refresh.
type dirty struct {
	mu     sync.Mutex
	names  map[string]bool
	signal chan struct{}
}

// add never blocks: a stream must keep reading while a refresh runs.
func (d *dirty) add(instance string) {
	d.mu.Lock()
	d.names[instance] = true
	d.mu.Unlock()
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

func (d *dirty) take() map[string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := d.names
	d.names = map[string]bool{}
	return names
}

// debounce refreshes the instances that changed, Debounce after the first
// change: the events that arrive meanwhile ride along.
func (r *Refresher) debounce(ctx context.Context, d *dirty) {
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	waiting := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.signal:
			if !waiting {
				timer.Reset(r.o.Watch.Debounce)
				waiting = true
			}
		case <-timer.C:
			waiting = false
			only := d.take()
			if len(only) == 0 {
				continue
			}
			if _, err := r.refreshSome(ctx, only, "watch"); err != nil && ctx.Err() == nil {
				r.log.Warn("catalog refresh failed", "error", err)
			}
		}
	}
}

// follow keeps a watch stream open on one instance until ctx ends, or until
// the instance refuses the stream for good.
func (r *Refresher) follow(ctx context.Context, in Instance, d *dirty) {
	w := &r.watch
	o := r.o.Watch
	instance := attribute.String("instance", in.Name)
	backoff := o.Backoff
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			// Events went missing while no stream was open (deletions are
			// not replayed): look at the whole instance again.
			d.add(in.Name)
			w.reconnects.Add(ctx, 1, metric.WithAttributes(instance))
		}
		opened := time.Now()
		err := o.Watcher.WatchApps(ctx, in.Name, in.Selector, in.Projects, func(typ string, app paved.App) {
			w.events.Add(ctx, 1, metric.WithAttributes(instance, attribute.String("type", typ)))
			if w.news(in.Name, typ, app) {
				d.add(in.Name)
			}
		})
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, paved.ErrCannotWatch) {
			w.mu.Lock()
			w.unsupported[in.Name] = true
			w.mu.Unlock()
			r.log.Warn("catalog: cannot watch this Argo CD instance; polling it only", "instance", in.Name, "error", err)
			return
		}
		if time.Since(opened) > o.MaxBackoff {
			backoff = o.Backoff // the stream had been fine for a while
		}
		r.log.Warn("catalog: Argo CD watch stream broke; watching again", "instance", in.Name,
			"after", backoff.String(), "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, o.MaxBackoff)
	}
}
