package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/catalog"
)

var _ catalog.Watcher = (*argocd.Client)(nil)

// watched is a Refresher running with the watch streams on, and what it
// records.
type watched struct {
	*catalog.Refresher
	reader *sdkmetric.ManualReader
	logs   *syncBuffer
}

// runWatched runs a Refresher whose interval is an hour, so that past its
// first refresh only a watch event (or the test) refreshes it.
func runWatched(t *testing.T, client *argocd.Client, store catalog.Store, edit func(*catalog.RefresherOptions), instances ...string) *watched {
	t.Helper()
	var in []catalog.Instance
	for _, n := range instances {
		in = append(in, catalog.Instance{Name: n})
	}
	w := &watched{reader: sdkmetric.NewManualReader(), logs: &syncBuffer{}}
	o := catalog.RefresherOptions{
		Options:      catalog.Options{Instances: in, LocationURL: "http://paved.test/api/paved/catalog/entities.yaml"},
		Apps:         client,
		Store:        store,
		Interval:     time.Hour,
		SyncInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(w.logs, nil)),
		Meter:        sdkmetric.NewMeterProvider(sdkmetric.WithReader(w.reader)).Meter("test"),
		Watch:        catalog.WatchOptions{Watcher: client, Debounce: 10 * time.Millisecond, Backoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond},
	}
	if edit != nil {
		edit(&o)
	}
	w.Refresher = catalog.NewRefresher(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		if n := w.Watching(); n != 0 {
			t.Errorf("%d streams still counted after Run returned", n)
		}
	})
	return w
}

// metrics sums the counters by name, and counts the refreshes by trigger
// ("paved.catalog.refresh.duration/watch").
func (w *watched) metrics(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := w.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					trigger, _ := p.Attributes.Value("trigger")
					got[m.Name+"/"+trigger.AsString()] += int64(p.Count)
				}
			}
		}
	}
	return got
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitUntil polls cond with a generous deadline: the tests wait for what
// must happen, they do not time it.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func has(r *catalog.Refresher, name string) bool {
	_, ok := r.Snapshot().Get("component:default/" + name)
	return ok
}

// nextChanges long-polls the changes feed until it reports something.
func nextChanges(t *testing.T, r *catalog.Refresher, cursor string) catalog.ChangeSet {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		cs, err := r.Changes(context.Background(), cursor, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if cs.Reset || len(cs.Added)+len(cs.Updated)+len(cs.Removed) > 0 {
			return cs
		}
	}
	t.Fatal("the changes feed reported nothing")
	return catalog.ChangeSet{}
}

func TestWatchBringsChangesWithoutPolling(t *testing.T) {
	client, servers := argo(t, "prod")
	createApp(t, client, "prod", "first", nil)
	r := runWatched(t, client, openStore(t, filepath.Join(t.TempDir(), "paved.db")), nil, "prod")
	waitUntil(t, "the first refresh and the stream", func() bool { return has(r.Refresher, "first") && servers["prod"].Watches() == 1 })
	cursor := r.Snapshot().State.Cursor()

	createApp(t, client, "prod", "shop", nil)
	cs := nextChanges(t, r.Refresher, cursor)
	if cs.Reset || len(cs.Added) != 1 || !strings.Contains(string(cs.Added[0].Entity), `"name":"shop"`) {
		t.Fatalf("changes after creating shop: %+v", cs)
	}
	err := client.DeleteApp(context.Background(), paved.DeleteRequest{AppRef: paved.AppRef{Instance: "prod", Name: "shop"}})
	if err != nil {
		t.Fatal(err)
	}
	cs = nextChanges(t, r.Refresher, cs.Cursor)
	if len(cs.Removed) != 1 || cs.Removed[0].EntityRef != "component:default/shop" {
		t.Fatalf("changes after deleting shop: %+v", cs)
	}
	// A refresh is recorded just after its changes are served.
	waitUntil(t, "two refreshes by the watch are recorded", func() bool {
		m := r.metrics(t)
		return m["paved.catalog.refresh.duration/watch"] >= 2 && m["paved.catalog.watch.events"] >= 2
	})
	if m := r.metrics(t); m["paved.catalog.refresh.duration/poll"] != 1 {
		t.Fatalf("only the first refresh should have polled: %v", m)
	}
}

func TestWatchBurstCostsFewRefreshes(t *testing.T) {
	client, servers := argo(t, "prod")
	createApp(t, client, "prod", "shop", nil)
	r := runWatched(t, client, openStore(t, filepath.Join(t.TempDir(), "paved.db")),
		func(o *catalog.RefresherOptions) { o.Watch.Debounce = time.Second }, "prod")
	waitUntil(t, "the first refresh and the stream", func() bool { return has(r.Refresher, "shop") && servers["prod"].Watches() == 1 })
	before := r.metrics(t)

	const burst = 50
	for i := range burst {
		createApp(t, client, "prod", "shop", map[string]string{"paved.dev/owner": fmt.Sprintf("team-%d", i)})
	}
	last := fmt.Sprintf("team-%d", burst-1)
	waitUntil(t, "the last change is in the catalog and its refresh recorded", func() bool {
		it, _ := r.Snapshot().Get("component:default/shop")
		m := r.metrics(t)
		return strings.Contains(string(it.Entity), last) &&
			m["paved.catalog.refresh.duration/watch"] > before["paved.catalog.refresh.duration/watch"]
	})
	after := r.metrics(t)
	events := after["paved.catalog.watch.events"] - before["paved.catalog.watch.events"]
	refreshes := after["paved.catalog.refresh.duration/watch"] - before["paved.catalog.refresh.duration/watch"]
	if events < burst {
		t.Fatalf("%d events for %d modifications", events, burst)
	}
	t.Logf("%d modifications: %d events, %d refreshes", burst, events, refreshes)
	if refreshes > burst/10 {
		t.Fatalf("%d events caused %d refreshes, want a few", events, refreshes)
	}
}

func TestWatchUnimplementedFallsBackToPolling(t *testing.T) {
	client, servers := argo(t, "prod", "staging")
	servers["prod"].FailWatch(codes.Unimplemented, -1)
	r := runWatched(t, client, openStore(t, filepath.Join(t.TempDir(), "paved.db")), func(o *catalog.RefresherOptions) {
		o.Interval, o.SyncInterval = 50*time.Millisecond, 10*time.Millisecond
	}, "prod", "staging")
	waitUntil(t, "prod refused its stream and staging has one", func() bool {
		return servers["prod"].Calls(argocdtest.MethodAppWatch) == 1 && servers["staging"].Watches() == 1 && r.Watching() == 1
	})
	createApp(t, client, "prod", "polled", nil)
	waitUntil(t, "polling finds the app", func() bool { return has(r.Refresher, "polled") })
	if n := servers["prod"].Calls(argocdtest.MethodAppWatch); n != 1 {
		t.Fatalf("prod was asked for a stream %d times, want once", n)
	}
	if m := r.metrics(t); m["paved.catalog.watch.reconnects"] != 0 {
		t.Fatalf("reconnects: %v", m)
	}
	if n := strings.Count(r.logs.String(), "cannot watch this Argo CD instance"); n != 1 {
		t.Fatalf("logged the refusal %d times, want once:\n%s", n, r.logs)
	}
}

func TestWatchReconnectsAfterABrokenStream(t *testing.T) {
	client, servers := argo(t, "prod")
	prod := servers["prod"]
	createApp(t, client, "prod", "doomed", nil)
	r := runWatched(t, client, openStore(t, filepath.Join(t.TempDir(), "paved.db")), nil, "prod")
	settle(t, r, client, prod)

	// The stream breaks and stays down while the app goes: no stream can
	// report the deletion, and the new stream lists only the anchor, which
	// brings nothing new.
	prod.FailWatch(codes.Unavailable, -1)
	prod.BreakWatches()
	err := client.DeleteApp(context.Background(), paved.DeleteRequest{AppRef: paved.AppRef{Instance: "prod", Name: "doomed"}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "two failed attempts", func() bool { return prod.Calls(argocdtest.MethodAppWatch) >= 3 })
	prod.FailWatch(codes.OK, 0)
	waitUntil(t, "a stream again", func() bool { return prod.Watches() == 1 })
	waitUntil(t, "the deletion is in the catalog", func() bool { return !has(r.Refresher, "doomed") })
	if m := r.metrics(t); m["paved.catalog.watch.reconnects"] < 3 {
		t.Fatalf("reconnects: %v", m)
	}
	createApp(t, client, "prod", "reborn", nil)
	waitUntil(t, "the new stream reports a creation", func() bool { return has(r.Refresher, "reborn") })
}

func TestWatchOnlyOnTheLeaseHolder(t *testing.T) {
	client, servers := argo(t, "prod")
	prod := servers["prod"]
	createApp(t, client, "prod", "shop", nil)
	path := filepath.Join(t.TempDir(), "paved.db")
	leader := runWatched(t, client, openStore(t, path), func(o *catalog.RefresherOptions) { o.Holder = "leader" }, "prod")
	waitUntil(t, "the leader watches", func() bool { return has(leader.Refresher, "shop") && leader.Watching() == 1 })
	follower := runWatched(t, client, openStore(t, path), func(o *catalog.RefresherOptions) { o.Holder = "follower" }, "prod")
	// The follower's first step asks for the lease, is refused, then reads
	// the store: once it holds the leader's entities it knows it follows.
	waitUntil(t, "the follower reads the store", func() bool { return follower.Snapshot().ETag == leader.Snapshot().ETag })
	if n := follower.Watching(); n != 0 {
		t.Fatalf("the follower watches %d instances", n)
	}
	if n := prod.Watches(); n != 1 {
		t.Fatalf("Argo CD serves %d streams, want the leader's only", n)
	}

	// The lease changes hands: the follower takes it, the leader learns at
	// its next refresh (caused by its stream) and stops watching.
	store := openStore(t, path)
	if err := store.ReleaseLease(context.Background(), catalog.LeaseName, "leader"); err != nil {
		t.Fatal(err)
	}
	mustRefresh(t, follower.Refresher, true)
	createApp(t, client, "prod", "web", nil)
	waitUntil(t, "the watch moved to the new lease holder", func() bool {
		return leader.Watching() == 0 && follower.Watching() == 1 && prod.Watches() == 1
	})
	waitUntil(t, "the new holder's stream works", func() bool { return has(follower.Refresher, "web") && has(leader.Refresher, "web") })
}

func TestWatchRefreshesOnlyTheInstanceThatChanged(t *testing.T) {
	client, servers := argo(t, "prod", "staging")
	createApp(t, client, "prod", "shop", nil)
	createApp(t, client, "staging", "web", nil)
	r := runWatched(t, client, openStore(t, filepath.Join(t.TempDir(), "paved.db")),
		func(o *catalog.RefresherOptions) { o.Watch.PollOnly = []string{"staging"} }, "prod", "staging")
	waitUntil(t, "the first refresh and prod's stream", func() bool { return has(r.Refresher, "web") && servers["prod"].Watches() == 1 })
	if n := servers["staging"].Watches(); n != 0 || r.Watching() != 1 {
		t.Fatalf("staging is poll-only, yet %d streams are open there (watching %d)", n, r.Watching())
	}
	lists := servers["staging"].Calls(argocdtest.MethodAppList)
	createApp(t, client, "prod", "api", nil)
	waitUntil(t, "prod's new app is in the catalog", func() bool { return has(r.Refresher, "api") })
	if n := servers["staging"].Calls(argocdtest.MethodAppList); n != lists {
		t.Fatalf("a change on prod listed staging again (%d lists, was %d)", n, lists)
	}
	if names(r.Snapshot()) != "api,shop,web" {
		t.Fatalf("catalog after a refresh of prod only: %s", names(r.Snapshot()))
	}
}

// settle waits until the stream is open and nothing it sent is waiting for a
// refresh: an app created now shows only through the stream, and the
// refresh that brings it takes every pending change with it.
func settle(t *testing.T, r *watched, client *argocd.Client, srv *argocdtest.Server) {
	t.Helper()
	waitUntil(t, "the first refresh and the stream", func() bool { return r.Snapshot().State.Epoch != "" && srv.Watches() == 1 })
	createApp(t, client, "prod", "anchor", nil)
	waitUntil(t, "the anchor is in the catalog", func() bool { return has(r.Refresher, "anchor") })
	// A refresh is recorded before it lets go of the refresh lock, which
	// Sync takes: past it, the anchor's refresh is counted.
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWatchIgnoresEventsThatChangeNothing(t *testing.T) {
	client, servers := argo(t, "prod")
	createApp(t, client, "prod", "shop", nil)
	// Debounced by a millisecond, each event that were not ignored would
	// cause a refresh of its own.
	r := runWatched(t, client, openStore(t, filepath.Join(t.TempDir(), "paved.db")),
		func(o *catalog.RefresherOptions) { o.Watch.Debounce = time.Millisecond }, "prod")
	settle(t, r, client, servers["prod"])
	before := r.metrics(t)

	// A hard refresh only moves the app's reconciledAt, which the catalog
	// does not use: Argo CD sends such an event at every reconciliation.
	const noise = 20
	for i := range noise {
		if _, err := client.GetApp(context.Background(), paved.AppRef{Instance: "prod", Name: "shop"}, true); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the stream delivered the event", func() bool {
			return r.metrics(t)["paved.catalog.watch.events"]-before["paved.catalog.watch.events"] > int64(i)
		})
	}
	createApp(t, client, "prod", "marker", nil)
	waitUntil(t, "the marker is in the catalog", func() bool { return has(r.Refresher, "marker") })
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The marker's refresh, and at most one for an event of settle or of
	// the marker that came while a listing ran.
	if n := r.metrics(t)["paved.catalog.refresh.duration/watch"] - before["paved.catalog.refresh.duration/watch"]; n < 1 || n > 3 {
		t.Fatalf("%d refreshes after %d events that change nothing, want the marker's (and one more at most)\n%s", n, noise, r.logs)
	}
}
