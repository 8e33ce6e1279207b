package catalog

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/paved-dev/paved"
)

// Apps lists Argo CD applications (argocd.Client).
type Apps interface {
	ListApps(ctx context.Context, instance, selector string, projects []string) ([]paved.App, error)
}

// Store keeps the current entities and the change log that every replica
// serves (sqlstore.DB).
type Store interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	// CatalogState returns the head of the change log; the zero State when
	// nothing was stored yet.
	CatalogState(ctx context.Context) (State, error)
	// CatalogEntities returns the stored entities and the state they are at.
	CatalogEntities(ctx context.Context) (State, []Item, error)
	// ApplyCatalogChanges appends changes to the log and applies them to the
	// entities, numbering them after base.Seq, and returns the new head. It
	// returns ErrStale when the head is no longer base.
	ApplyCatalogChanges(ctx context.Context, base State, changes []Change) (State, error)
	// CatalogChanges returns up to limit changes after seq, oldest first.
	CatalogChanges(ctx context.Context, after int64, limit int) ([]Change, error)
	// PruneCatalogChanges forgets the changes up to and including through.
	PruneCatalogChanges(ctx context.Context, through int64) error
}

// LeaseName is the store lease the refreshing replica holds.
const LeaseName = "catalog-refresh"

// RefresherOptions configure a Refresher.
type RefresherOptions struct {
	Options Options
	Apps    Apps
	Infra   InfraLister // nil: no Resource entities
	Store   Store
	Logger  *slog.Logger
	// Interval between two refreshes from Argo CD; default 1m.
	Interval time.Duration
	// SyncInterval is how often a replica that does not refresh looks for
	// changes in the store; default the smaller of Interval and 5s.
	SyncInterval time.Duration
	// Holder names this replica in the lease; default the host name and a
	// random part, as replicas may share a host name.
	Holder string
	// Retention is how many changes the log keeps; older cursors get a
	// reset. Default 50,000.
	Retention int64
	// MaxChanges is the most changes one response folds; a client further
	// behind gets a reset. Default 10,000.
	MaxChanges int
	// Meter records the refreshes (paved.catalog.*); default none.
	Meter metric.Meter
	// Watch follows Argo CD's watch streams while this replica holds the
	// lease; its zero value polls only.
	Watch WatchOptions
}

// Refresher keeps the catalog's snapshot current: the replica holding the
// lease lists Argo CD and the infrastructure, builds the entities and writes
// the difference to the store; the others follow the store. Every replica
// serves its snapshot, which is swapped atomically, so readers never wait for
// a refresh.
type Refresher struct {
	o   RefresherOptions
	log *slog.Logger

	snap atomic.Pointer[Snapshot]

	mu      sync.Mutex
	changed chan struct{} // closed at the next swap
	trigger chan struct{}

	refresh   sync.Mutex // one refresh or sync at a time
	lastInfra []Infra
	lastApps  map[string][]paved.App // by instance, for refreshing one instance
	lastSkips map[string]string
	renamed   map[string]string

	refreshes metric.Float64Histogram
	changes   metric.Int64Counter
	skipped   atomic.Int64

	watch watching
}

// NewRefresher returns a Refresher serving an empty snapshot until the first
// refresh or sync.
func NewRefresher(o RefresherOptions) *Refresher {
	o.Options = o.Options.WithDefaults()
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = min(o.Interval, 5*time.Second)
	}
	if o.Holder == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		host, _ := os.Hostname()
		o.Holder = cmp.Or(host, "paved") + "-" + hex.EncodeToString(b)
	}
	if o.Retention <= 0 {
		o.Retention = 50_000
	}
	if o.MaxChanges <= 0 {
		o.MaxChanges = 10_000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Watch = o.Watch.withDefaults()
	r := &Refresher{o: o, log: o.Logger, changed: make(chan struct{}), trigger: make(chan struct{}, 1), lastSkips: map[string]string{}, renamed: map[string]string{}}
	r.lastApps = map[string][]paved.App{}
	r.watch.unsupported, r.watch.known = map[string]bool{}, map[string]map[string]paved.App{}
	r.snap.Store(NewSnapshot(State{}, nil))
	r.instrument(o.Meter)
	return r
}

// instrument creates the catalog's metrics; instruments that fail to be
// created stay no-ops, as metrics must never stop the catalog.
func (r *Refresher) instrument(m metric.Meter) {
	if m == nil {
		m = noop.NewMeterProvider().Meter("")
	}
	var err error
	if r.refreshes, err = m.Float64Histogram("paved.catalog.refresh.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of catalog refreshes from Argo CD, by result.")); err != nil {
		r.refreshes, _ = noop.NewMeterProvider().Meter("").Float64Histogram("")
	}
	if r.changes, err = m.Int64Counter("paved.catalog.changes", metric.WithUnit("{change}"),
		metric.WithDescription("Entity changes written to the change log, by op.")); err != nil {
		r.changes, _ = noop.NewMeterProvider().Meter("").Int64Counter("")
	}
	_, _ = m.Int64ObservableGauge("paved.catalog.entities", metric.WithUnit("{entity}"),
		metric.WithDescription("Entities in this replica's snapshot."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(r.Snapshot().Len()))
			return nil
		}))
	_, _ = m.Int64ObservableGauge("paved.catalog.skipped", metric.WithUnit("{source}"),
		metric.WithDescription("Applications and resources the last refresh could not turn into entities."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(r.skipped.Load())
			return nil
		}))
	r.instrumentWatch(m)
}

// Snapshot returns the current snapshot; it never blocks.
func (r *Refresher) Snapshot() *Snapshot { return r.snap.Load() }

func (r *Refresher) swap(s *Snapshot) {
	r.snap.Store(s)
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *Refresher) changedCh() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// MinGap is the least time between two refreshes that Trigger causes.
const MinGap = 2 * time.Second

// Trigger asks Run for a refresh soon, sooner than the interval: after paved
// created or deleted an application (watch events cause refreshes of their
// own: see WatchOptions). Calls within MinGap of the last refresh fold into
// one; it never blocks.
func (r *Refresher) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run refreshes (or follows the store) until ctx ends, then gives the lease up.
func (r *Refresher) Run(ctx context.Context) error {
	var last time.Time
	pending := false
	step := func() {
		var err error
		if since := time.Since(last); since >= r.o.Interval || (pending && since >= MinGap) {
			last, pending = time.Now(), false
			_, err = r.Refresh(ctx)
		} else {
			err = r.Sync(ctx)
		}
		if err != nil && ctx.Err() == nil {
			r.log.Warn("catalog refresh failed", "error", err)
		}
	}
	stopWatches := r.runWatches(ctx)
	step()
	t := time.NewTicker(r.o.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stopWatches()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = r.o.Store.ReleaseLease(rctx, LeaseName, r.o.Holder)
			return nil
		case <-r.trigger:
			pending = true
			step()
		case <-t.C:
			step()
		}
	}
}

// Refresh runs one refresh if this replica gets the lease, else follows the
// store; it reports whether it refreshed. Tests and the end-to-end suite call
// it to see a change in Argo CD without waiting for the interval.
func (r *Refresher) Refresh(ctx context.Context) (bool, error) {
	return r.refreshSome(ctx, nil, "poll")
}

// refreshSome lists only the instances in only (nil: every source) and reuses
// the last lists of the others.
func (r *Refresher) refreshSome(ctx context.Context, only map[string]bool, trigger string) (bool, error) {
	ttl := max(3*r.o.Interval, 30*time.Second)
	leader, err := r.o.Store.AcquireLease(ctx, LeaseName, r.o.Holder, ttl)
	if err != nil {
		return false, err
	}
	r.lead(leader)
	if !leader {
		return false, r.Sync(ctx)
	}
	r.refresh.Lock()
	defer r.refresh.Unlock()
	started := time.Now()
	err = r.refreshLocked(ctx, only, trigger)
	result := "ok"
	if err != nil {
		result = "error"
	}
	r.refreshes.Record(ctx, time.Since(started).Seconds(), metric.WithAttributes(attribute.String("result", result),
		attribute.String("trigger", trigger)))
	return true, err
}

func (r *Refresher) refreshLocked(ctx context.Context, only map[string]bool, trigger string) error {
	if err := r.syncLocked(ctx); err != nil {
		return err
	}
	started := time.Now()
	cur := r.Snapshot()
	items := r.build(ctx, cur, only)
	next := NewSnapshot(cur.State, items)
	changes := Diff(cur, next)
	if len(changes) == 0 && cur.State.Epoch != "" {
		return nil
	}
	st, err := r.o.Store.ApplyCatalogChanges(ctx, cur.State, changes)
	if errors.Is(err, ErrStale) {
		// Another replica held the lease a moment ago and wrote; follow it
		// now and refresh on the next tick.
		return r.syncLocked(ctx)
	}
	if err != nil {
		return err
	}
	next.State = st
	r.swap(next)
	byOp := map[Op]int64{}
	for _, c := range changes {
		byOp[c.Op]++
	}
	for op, n := range byOp {
		r.changes.Add(ctx, n, metric.WithAttributes(attribute.String("op", string(op))))
	}
	r.log.Info("catalog refreshed", "entities", next.Len(), "changes", len(changes),
		"cursor", st.Cursor(), "trigger", trigger, "duration_ms", time.Since(started).Milliseconds())
	if st.Seq-st.PrunedSeq > r.o.Retention+r.o.Retention/10 {
		if err := r.o.Store.PruneCatalogChanges(ctx, st.Seq-r.o.Retention); err != nil {
			r.log.Warn("catalog: pruning the change log failed", "error", err)
		}
	}
	return nil
}

// build lists every source and builds the entities. An instance (or the
// infrastructure) that cannot be listed keeps its entities of cur, so that an
// Argo CD outage never empties the catalog. With only, the other instances
// and the infrastructure are not listed: their last lists are used, or, when
// there is none, their entities of cur are kept.
func (r *Refresher) build(ctx context.Context, cur *Snapshot, only map[string]bool) []Item {
	var apps []InstanceApps
	failed := map[string]bool{}
	for _, in := range r.o.Options.Instances {
		if only != nil && !only[in.Name] {
			if list, ok := r.lastApps[in.Name]; ok {
				apps = append(apps, InstanceApps{Instance: in.Name, Apps: list})
			} else {
				failed[LocationKey(in.Name)] = true
			}
			continue
		}
		r.watch.listing(in.Name)
		list, err := r.o.Apps.ListApps(ctx, in.Name, in.Selector, in.Projects)
		if err != nil {
			r.log.Warn("catalog: listing Argo CD applications failed; keeping the entities of the last refresh",
				"instance", in.Name, "error", err)
			failed[LocationKey(in.Name)] = true
			delete(r.lastApps, in.Name)
			r.watch.listed(in.Name, nil)
			continue
		}
		r.lastApps[in.Name] = list
		r.watch.listed(in.Name, list)
		apps = append(apps, InstanceApps{Instance: in.Name, Apps: list})
	}
	var infra []Infra
	switch {
	case r.o.Infra == nil:
	case only != nil && r.lastInfra != nil:
		infra = r.lastInfra
	case only != nil:
		failed[LocationKeyInfra] = true
	default:
		list, err := r.o.Infra.ListInfra(ctx)
		switch {
		case err == nil:
			infra, r.lastInfra = list, list
		case r.lastInfra != nil:
			r.log.Warn("catalog: listing infrastructure failed; using the last list", "error", err)
			infra = r.lastInfra
		default:
			r.log.Warn("catalog: listing infrastructure failed; keeping the entities of the last refresh", "error", err)
			failed[LocationKeyInfra] = true
		}
	}
	var carried []Item
	taken := map[string]bool{}
	for _, it := range cur.Items() {
		if failed[it.LocationKey] {
			carried = append(carried, it)
			taken[it.Ref] = true
		}
	}
	built := Build(r.o.Options, apps, infra, taken)
	r.logNews(built)
	return append(built.Items, carried...)
}

// logNews logs each skip and rename once, not at every refresh.
func (r *Refresher) logNews(b Built) {
	skips := make(map[string]string, len(b.Skips))
	for _, s := range b.Skips {
		key := s.Source + "\x00" + s.Reason
		skips[key] = s.Reason
		if _, seen := r.lastSkips[key]; !seen {
			r.log.Warn("catalog: skipped", "source", s.Source, "reason", s.Reason)
		}
	}
	r.lastSkips = skips
	r.skipped.Store(int64(len(b.Skips)))
	for src, ref := range b.Renamed {
		if r.renamed[src] != ref {
			r.log.Info("catalog: entity name differs from the source's name", "source", src, "entity", ref)
		}
	}
	r.renamed = b.Renamed
}

// Sync brings the snapshot up to the store's head, by applying the new
// changes or, when too far behind, by reloading every entity.
func (r *Refresher) Sync(ctx context.Context) error {
	r.refresh.Lock()
	defer r.refresh.Unlock()
	return r.syncLocked(ctx)
}

func (r *Refresher) syncLocked(ctx context.Context) error {
	cur := r.Snapshot()
	head, err := r.o.Store.CatalogState(ctx)
	if err != nil {
		return err
	}
	if head == cur.State || head.Epoch == "" {
		return nil
	}
	if head.Epoch == cur.State.Epoch && cur.State.Seq >= head.PrunedSeq && head.Seq-cur.State.Seq <= int64(r.o.MaxChanges) {
		changes, err := r.o.Store.CatalogChanges(ctx, cur.State.Seq, r.o.MaxChanges+1)
		if err != nil {
			return err
		}
		if len(changes) > 0 && len(changes) <= r.o.MaxChanges {
			st := head
			st.Seq = changes[len(changes)-1].Seq
			r.swap(NewSnapshot(st, cur.Apply(changes)))
			return nil
		}
	}
	st, items, err := r.o.Store.CatalogEntities(ctx)
	if err != nil {
		return err
	}
	r.swap(NewSnapshot(st, items))
	return nil
}

// MaxWait bounds a long poll of the changes endpoint.
const MaxWait = 5 * time.Minute

// Changes returns what changed since cursor. An empty, unknown or too old
// cursor gets a reset with the cursor of this replica's snapshot. With wait,
// it waits up to that long for a first change.
func (r *Refresher) Changes(ctx context.Context, cursor string, wait time.Duration) (ChangeSet, error) {
	if cursor == "" {
		return r.reset(), nil
	}
	epoch, seq, err := parseCursor(cursor)
	if err != nil {
		return ChangeSet{}, err
	}
	wait = min(wait, MaxWait)
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		changed := r.changedCh()
		head, err := r.o.Store.CatalogState(ctx)
		if err != nil {
			return ChangeSet{}, err
		}
		if head.Epoch != epoch || seq > head.Seq || seq < head.PrunedSeq {
			return r.reset(), nil
		}
		if seq < head.Seq {
			rows, err := r.o.Store.CatalogChanges(ctx, seq, r.o.MaxChanges+1)
			if err != nil {
				return ChangeSet{}, err
			}
			if len(rows) > r.o.MaxChanges {
				return r.reset(), nil
			}
			if len(rows) > 0 {
				cs := coalesce(rows)
				cs.Cursor = State{Epoch: epoch, Seq: rows[len(rows)-1].Seq}.Cursor()
				return cs, nil
			}
		}
		if deadline == nil {
			return ChangeSet{Cursor: cursor, Added: []Provided{}, Updated: []Provided{}, Removed: []Removed{}}, nil
		}
		// Another replica may refresh: look at the store again now and then
		// even when this one's snapshot does not move.
		poll := time.NewTimer(r.o.SyncInterval)
		select {
		case <-ctx.Done():
			// The client left; nothing changed as far as it knows.
			poll.Stop()
			return ChangeSet{Cursor: cursor, Added: []Provided{}, Updated: []Provided{}, Removed: []Removed{}}, nil
		case <-deadline:
			poll.Stop()
			deadline = nil
		case <-changed:
			poll.Stop()
		case <-poll.C:
		}
	}
}

func (r *Refresher) reset() ChangeSet {
	return ChangeSet{Cursor: r.Snapshot().State.Cursor(), Added: []Provided{}, Updated: []Provided{}, Removed: []Removed{}, Reset: true}
}
