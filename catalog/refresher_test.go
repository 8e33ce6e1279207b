package catalog_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/catalog"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

const argoToken = "argocd-api-token-for-tests"

// argo starts one in-process Argo CD API server per instance name and
// returns the real client over all of them.
func argo(t *testing.T, names ...string) (*argocd.Client, map[string]*argocdtest.Server) {
	t.Helper()
	servers := map[string]*argocdtest.Server{}
	var cfgs []argocd.InstanceConfig
	for _, n := range names {
		s, err := argocdtest.NewServer(argocdtest.Options{APITokens: []string{argoToken}})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(s.Close)
		servers[n] = s
		cfgs = append(cfgs, argocd.InstanceConfig{Name: n, Server: s.Addr(), UIURL: "https://" + n + ".argocd.test",
			Token: argoToken, PlainText: true, DefaultProject: "default", Timeout: 5 * time.Second})
	}
	c, err := argocd.New(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, servers
}

func createApp(t *testing.T, c *argocd.Client, instance, name string, labels map[string]string) {
	t.Helper()
	_, err := c.CreateApp(context.Background(), paved.AppRequest{
		AppRef:      paved.AppRef{Instance: instance, Name: name},
		Sources:     []paved.AppSource{{RepoURL: "https://git.test/apps.git", Path: name}},
		Destination: paved.AppDestination{Server: argocdtest.InClusterServer, Namespace: name},
		Labels:      labels,
		Upsert:      true,
	})
	if err != nil {
		t.Fatalf("create %s on %s: %v", name, instance, err)
	}
}

func openStore(t testing.TB, path string) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newRefresher(t *testing.T, apps catalog.Apps, store catalog.Store, instances ...string) *catalog.Refresher {
	t.Helper()
	var in []catalog.Instance
	for _, n := range instances {
		in = append(in, catalog.Instance{Name: n})
	}
	return catalog.NewRefresher(catalog.RefresherOptions{
		Options:      catalog.Options{Instances: in, LocationURL: "http://paved.test/api/paved/catalog/entities.yaml"},
		Apps:         apps,
		Store:        store,
		Interval:     time.Minute,
		SyncInterval: 20 * time.Millisecond,
	})
}

func mustRefresh(t *testing.T, r *catalog.Refresher, wantLeader bool) {
	t.Helper()
	leader, err := r.Refresh(context.Background())
	if err != nil || leader != wantLeader {
		t.Fatalf("Refresh = %v, %v; want leader %v", leader, err, wantLeader)
	}
}

func names(s *catalog.Snapshot) string {
	var out []string
	for _, it := range s.Items() {
		out = append(out, strings.TrimPrefix(it.Ref, "component:default/"))
	}
	return strings.Join(out, ",")
}

func TestRefresherDuplicatesAcrossInstances(t *testing.T) {
	client, _ := argo(t, "prod", "staging")
	createApp(t, client, "prod", "shop", nil)
	createApp(t, client, "staging", "shop", nil)
	createApp(t, client, "staging", "admin", nil)
	r := newRefresher(t, client, openStore(t, filepath.Join(t.TempDir(), "paved.db")), "prod", "staging")
	mustRefresh(t, r, true)
	snap := r.Snapshot()
	if snap.Len() != 3 {
		t.Fatalf("entities: %s, want 3", names(snap))
	}
	it, ok := snap.Get("component:default/shop")
	if !ok || it.LocationKey != "paved:prod" {
		t.Fatalf("shop should be prod's app: %+v", it)
	}
	var stagingShop string
	for _, it := range snap.Items() {
		if it.LocationKey == "paved:staging" && strings.HasPrefix(it.Ref, "component:default/shop-") {
			stagingShop = it.Ref
		}
	}
	if stagingShop == "" {
		t.Fatalf("staging's shop has no suffixed entity: %s", names(snap))
	}
}

func TestRefresherReplicasShareTheStore(t *testing.T) {
	client, _ := argo(t, "prod")
	createApp(t, client, "prod", "a", nil)
	createApp(t, client, "prod", "b", nil)
	path := filepath.Join(t.TempDir(), "paved.db")
	leader := newRefresher(t, client, openStore(t, path), "prod")
	follower := newRefresher(t, client, openStore(t, path), "prod")

	mustRefresh(t, leader, true)
	mustRefresh(t, follower, false) // the lease is taken: the follower reads the store
	if l, f := leader.Snapshot(), follower.Snapshot(); l.ETag != f.ETag || l.State != f.State || names(f) != "a,b" {
		t.Fatalf("follower %s %+v %s, leader %s %+v", names(f), f.State, f.ETag, names(l), l.State)
	}

	// A change reaches the follower through the change log.
	createApp(t, client, "prod", "c", nil)
	createApp(t, client, "prod", "a", map[string]string{"paved.dev/owner": "team-a"})
	mustRefresh(t, leader, true)
	if err := follower.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l, f := leader.Snapshot(), follower.Snapshot(); l.ETag != f.ETag || names(f) != "a,b,c" {
		t.Fatalf("after sync: follower %s %s, leader %s %s", names(f), f.ETag, names(l), l.ETag)
	}
	// Either replica serves the same changes from the same cursor.
	first := catalog.State{Epoch: leader.Snapshot().State.Epoch, Seq: 2}.Cursor()
	for _, r := range []*catalog.Refresher{leader, follower} {
		cs, err := r.Changes(context.Background(), first, 0)
		if err != nil || len(cs.Added) != 1 || len(cs.Updated) != 1 || cs.Reset {
			t.Fatalf("changes = %+v, %v; want c added and a updated", cs, err)
		}
	}
}

func TestRefresherKeepsEntitiesWhenArgoCDFails(t *testing.T) {
	client, servers := argo(t, "prod", "staging")
	createApp(t, client, "prod", "shop", nil)
	createApp(t, client, "staging", "web", nil)
	r := newRefresher(t, client, openStore(t, filepath.Join(t.TempDir(), "paved.db")), "prod", "staging")
	mustRefresh(t, r, true)
	before := r.Snapshot()

	servers["prod"].FailUnavailable(1000)
	createApp(t, client, "staging", "api", nil)
	mustRefresh(t, r, true)
	after := r.Snapshot()
	if names(after) != "api,shop,web" {
		t.Fatalf("with prod down the catalog holds %s, want prod's shop kept and staging's api added", names(after))
	}
	cs, err := r.Changes(context.Background(), before.State.Cursor(), 0)
	if err != nil || len(cs.Removed) != 0 || len(cs.Added) != 1 {
		t.Fatalf("changes while prod is down = %+v, %v; want only api added", cs, err)
	}
	servers["prod"].FailUnavailable(0)
}

type memInfra struct {
	mu   sync.Mutex
	list []catalog.Infra
	err  error
}

func (m *memInfra) ListInfra(context.Context) ([]catalog.Infra, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.list, m.err
}

func TestRefresherInfra(t *testing.T) {
	client, _ := argo(t, "prod")
	createApp(t, client, "prod", "shop", nil)
	infra := &memInfra{list: []catalog.Infra{{ID: "r1", Name: "shop-db", Type: "database", Owner: "group:default/dba",
		App: paved.AppRef{Instance: "prod", Name: "shop"}}}}
	r := catalog.NewRefresher(catalog.RefresherOptions{
		Options: catalog.Options{Instances: []catalog.Instance{{Name: "prod"}}, LocationURL: "http://paved.test/x.yaml"},
		Apps:    client, Infra: infra, Store: openStore(t, filepath.Join(t.TempDir(), "paved.db")),
	})
	mustRefresh(t, r, true)
	shop, ok := r.Snapshot().Get("component:default/shop")
	db, ok2 := r.Snapshot().Get("resource:default/shop-db")
	if !ok || !ok2 || !strings.Contains(string(shop.Entity), `"dependsOn":["resource:default/shop-db"]`) ||
		!strings.Contains(string(db.Entity), `"dependencyOf":["component:default/shop"]`) {
		t.Fatalf("shop = %s\nshop-db = %s", shop.Entity, db.Entity)
	}
	// A failing lister keeps the last list, relations included.
	infra.mu.Lock()
	infra.err = errors.New("store down")
	infra.list = nil
	infra.mu.Unlock()
	etag := r.Snapshot().ETag
	mustRefresh(t, r, true)
	if r.Snapshot().ETag != etag {
		t.Fatalf("a failing infra lister changed the catalog: %s", names(r.Snapshot()))
	}
}

func TestRefresherResetsOldCursors(t *testing.T) {
	client, _ := argo(t, "prod")
	store := openStore(t, filepath.Join(t.TempDir(), "paved.db"))
	r := catalog.NewRefresher(catalog.RefresherOptions{
		Options: catalog.Options{Instances: []catalog.Instance{{Name: "prod"}}},
		Apps:    client, Store: store, Retention: 2, MaxChanges: 3,
	})
	createApp(t, client, "prod", "a", nil)
	mustRefresh(t, r, true)
	old := r.Snapshot().State.Cursor()
	for _, n := range []string{"b", "c", "d", "e"} {
		createApp(t, client, "prod", n, nil)
		mustRefresh(t, r, true)
	}
	cs, err := r.Changes(context.Background(), old, 0)
	if err != nil || !cs.Reset || cs.Cursor != r.Snapshot().State.Cursor() {
		t.Fatalf("a pruned cursor gave %+v, %v; want a reset at the head", cs, err)
	}
	// A replica that starts late reloads everything rather than replaying.
	late := newRefresher(t, client, store, "prod")
	if err := late.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if names(late.Snapshot()) != "a,b,c,d,e" || late.Snapshot().ETag != r.Snapshot().ETag {
		t.Fatalf("late replica holds %s", names(late.Snapshot()))
	}
}

func TestRefresherRunAndRelease(t *testing.T) {
	client, _ := argo(t, "prod")
	createApp(t, client, "prod", "shop", nil)
	store := openStore(t, filepath.Join(t.TempDir(), "paved.db"))
	r := newRefresher(t, client, store, "prod")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// Wait for the first refresh through the change feed's long poll.
	cs, err := r.Changes(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for r.Snapshot().Len() == 0 {
		cs, err = r.Changes(context.Background(), cs.Cursor, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Added) == 0 && r.Snapshot().Len() == 0 && !cs.Reset {
			t.Fatal("Run did not refresh within the long poll")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	// The lease was given up: another replica takes it at once.
	ok, err := store.AcquireLease(context.Background(), catalog.LeaseName, "other", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease after Run stopped: %v, %v", ok, err)
	}
}

func TestRefresherMetrics(t *testing.T) {
	client, _ := argo(t, "prod")
	createApp(t, client, "prod", "a", nil)
	createApp(t, client, "prod", "b", nil)
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	r := catalog.NewRefresher(catalog.RefresherOptions{
		Options: catalog.Options{Instances: []catalog.Instance{{Name: "prod"}}},
		Apps:    client, Store: openStore(t, filepath.Join(t.TempDir(), "paved.db")),
		Meter: provider.Meter("test"),
	})
	mustRefresh(t, r, true)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				got[m.Name] = d.DataPoints[0].Value
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					op, _ := p.Attributes.Value("op")
					got[m.Name+"/"+op.AsString()] += p.Value
				}
			case metricdata.Histogram[float64]:
				got[m.Name] = int64(d.DataPoints[0].Count)
			}
		}
	}
	want := map[string]int64{"paved.catalog.entities": 2, "paved.catalog.changes/added": 2, "paved.catalog.refresh.duration": 1, "paved.catalog.skipped": 0}
	for k, v := range want {
		if n, ok := got[k]; !ok || n != v {
			t.Errorf("%s = %d (present %v), want %d; all: %v", k, n, ok, v, got)
		}
	}
}

func TestRefresherTrigger(t *testing.T) {
	client, _ := argo(t, "prod")
	createApp(t, client, "prod", "first", nil)
	r := catalog.NewRefresher(catalog.RefresherOptions{
		Options: catalog.Options{Instances: []catalog.Instance{{Name: "prod"}}},
		Apps:    client, Store: openStore(t, filepath.Join(t.TempDir(), "paved.db")),
		Interval: time.Hour, SyncInterval: 50 * time.Millisecond, // only a trigger can refresh again
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor := func(name string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, ok := r.Snapshot().Get("component:default/" + name); ok {
				return
			}
		}
		t.Fatalf("%s never appeared; catalog holds %s", name, names(r.Snapshot()))
	}
	waitFor("first")
	createApp(t, client, "prod", "second", nil)
	r.Trigger()
	r.Trigger() // folds into the same refresh
	waitFor("second")
}
