package devex_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/devex/devextest"
	"github.com/paved-dev/paved/e2e/loopback"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

const bsToken = "backstage-static-token-0123456789"

func openStore(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// replica is one paved process: its own meter and collector over the
// shared store and the (fake) Backstage.
type replica struct {
	collector *devex.Collector
	reader    *sdkmetric.ManualReader
	metrics   *devex.Metrics
}

func newReplica(t testing.TB, db *sqlstore.DB, bs *devextest.Backstage, now func() time.Time, pageSize int) *replica {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	m, err := devex.NewMetrics(devex.MetricsOptions{Meter: mp.Meter("devex"), Store: db, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	client := backstage.NewReadClient(backstage.NewDiscovery(bs.Discovery(), nil), backstage.StaticTokenSource(bs.Token), nil)
	c := devex.NewCollector(devex.CollectorOptions{Store: db, Scaffolder: client, Catalog: client, Recorder: m,
		PageSize: pageSize, Now: now, Holder: fmt.Sprintf("replica-%p", reader)})
	return &replica{collector: c, reader: reader, metrics: m}
}

// sums returns the data points of every Int64 sum, as "name{attr=value,…}" → value,
// and the count of every histogram.
func (r *replica) collect(t testing.TB) (sums map[string]int64, hist map[string]uint64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	sums, hist = map[string]int64{}, map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sums[m.Name+attrs(p.Attributes.ToSlice())] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					hist[m.Name+attrs(p.Attributes.ToSlice())] += p.Count
				}
			}
		}
	}
	return sums, hist
}

func attrs(kvs []attribute.KeyValue) string {
	s := ""
	for _, kv := range kvs {
		s += "," + string(kv.Key) + "=" + kv.Value.Emit()
	}
	if s == "" {
		return ""
	}
	return "{" + s[1:] + "}"
}

func TestCollectorFollowsTasksThroughTheirLife(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	bs := devextest.New(t, bsToken)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	now := func() time.Time { return t0.Add(time.Hour) }
	const svc = "template:default/service"
	bs.AddTask("ok", svc, "user:default/jane", "team-a", "PT2H", t0)
	bs.Claim("ok", t0.Add(time.Second))
	bs.AddTask("bad", svc, "user:default/joe", "group:default/team-a", "PT2H", t0.Add(time.Minute))
	bs.Claim("bad", t0.Add(time.Minute+time.Second))
	bs.AddTask("waiting", "template:default/website", "", "", "", t0.Add(2*time.Minute))
	bs.AddComponent("shop", "team-a", svc)
	bs.AddComponent("legacy", "team-b", "")
	bs.AddComponent("blog", "team-a", "")

	r := newReplica(t, db, bs, now, 2)
	if err := r.collector.CollectOnce(ctx); err != nil {
		t.Fatal(err)
	}
	sums, _ := r.collect(t)
	if got := sums["devex.template.run.started{template="+svc+"}"]; got != 2 {
		t.Errorf("started(service) = %d, want 2 (%v)", got, sums)
	}
	if got := sums["devex.template.run.active{template="+svc+"}"]; got != 2 {
		t.Errorf("active(service) = %d, want 2", got)
	}

	// The runs finish; the next collection reads their end from the events.
	bs.Finish("ok", "completed", "component:default/shop", t0.Add(90*time.Second))
	bs.Finish("bad", "failed", "", t0.Add(3*time.Minute))
	for range 3 { // collecting again and again counts nothing twice
		if err := r.collector.CollectOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ok, err := db.GetRun(ctx, "ok")
	if err != nil {
		t.Fatal(err)
	}
	if ok.Status != devex.TaskCompleted || ok.Duration() != 90*time.Second || ok.TimeSaved != 2*time.Hour ||
		ok.Owner != "group:default/team-a" || ok.UserRef != "user:default/jane" || ok.EntityRef != "component:default/shop" {
		t.Errorf("run ok = %+v (duration %v)", ok, ok.Duration())
	}
	bad, err := db.GetRun(ctx, "bad")
	if err != nil || bad.Status != devex.TaskFailed || bad.Duration() != 2*time.Minute {
		t.Errorf("run bad = %+v, %v (duration %v); want failed after 2m", bad, err, bad.Duration())
	}
	sums, hist := r.collect(t)
	want := map[string]int64{
		"devex.template.run.started{template=" + svc + "}":                  2,
		"devex.template.run.started{template=template:default/website}":     1,
		"devex.template.run.completed{result=success,template=" + svc + "}": 1,
		"devex.template.run.completed{result=failure,template=" + svc + "}": 1,
		"devex.template.time_saved{template=" + svc + "}":                   7200,
		"devex.template.run.active{template=template:default/website}":      1,
	}
	for k, v := range want {
		if sums[k] != v {
			t.Errorf("%s = %d, want %d", k, sums[k], v)
		}
	}
	if hist["devex.template.run.duration{result=success,template="+svc+"}"] != 1 {
		t.Errorf("duration histogram: %v, want one success", hist)
	}
	// The first catalog snapshot is the catalog as it was, not new entities.
	if n := sums["devex.catalog.entity.created{kind=Component,origin=template}"]; n != 0 {
		t.Errorf("entities created on the first snapshot = %d, want 0", n)
	}
	from := t0.Truncate(24 * time.Hour)
	tot, err := db.RunTotals(ctx, devex.Filter{From: from, To: from.AddDate(0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if tot.Started != 3 || tot.Succeeded != 1 || tot.Failed != 1 || tot.TimeSavedSeconds != 7200 || tot.DurationMS != 210_000 {
		t.Errorf("totals = %+v", tot)
	}
	cov, err := db.Coverage(ctx, now(), "group:default/team-a")
	if err != nil || len(cov) != 1 || cov[0].Components != 2 || cov[0].FromTemplate != 1 {
		t.Errorf("coverage(team-a) = %+v, %v; want 1 of 2", cov, err)
	}
}

// TestCollectorRestartMidCollection stops Backstage in the middle of a
// paged listing, then starts a new replica on the same store: every task is
// stored once, and the two replicas' counters add up to each task once.
func TestCollectorRestartMidCollection(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	bs := devextest.New(t, bsToken)
	t0 := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	now := func() time.Time { return t0.Add(2 * time.Hour) }
	const n = 23
	for i := range n {
		id := fmt.Sprintf("task-%02d", i)
		created := t0.Add(time.Duration(i) * time.Minute)
		bs.AddTask(id, "template:default/service", fmt.Sprintf("user:default/u%d", i%4), "team-a", "PT30M", created)
		bs.Claim(id, created.Add(time.Second))
		if i%3 != 0 {
			bs.Finish(id, "completed", "", created.Add(20*time.Second))
		}
	}
	first := newReplica(t, db, bs, now, 5)
	bs.FailAfter(6) // a page or two, some task events, then Backstage is gone
	if _, err := first.collector.CollectTasks(ctx); err == nil {
		t.Fatal("collection succeeded although Backstage went away")
	}
	if cur, _ := db.GetCursor(ctx, devex.TaskCursor); cur != "" {
		t.Errorf("the cursor moved (%q) although the listing did not finish", cur)
	}
	bs.FailAfter(-1)
	// More tasks arrive while paved restarts; some running ones finish.
	for i := n; i < n+4; i++ {
		created := t0.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprintf("task-%02d", i)
		bs.AddTask(id, "template:default/service", "user:default/late", "team-a", "PT30M", created)
		bs.Claim(id, created.Add(time.Second))
		bs.Finish(id, "failed", "", created.Add(5*time.Second))
	}
	bs.Finish("task-00", "cancelled", "", t0.Add(time.Hour))

	second := newReplica(t, db, bs, now, 5)
	for range 2 {
		if _, err := second.collector.CollectTasks(ctx); err != nil {
			t.Fatal(err)
		}
	}
	from := t0.Truncate(24 * time.Hour)
	tot, err := db.RunTotals(ctx, devex.Filter{From: from, To: from.AddDate(0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	wantSucceeded := int64(0)
	for i := range n {
		if i%3 != 0 {
			wantSucceeded++
		}
	}
	want := devex.Totals{Started: n + 4, Succeeded: wantSucceeded, Failed: 4, Cancelled: 1,
		DurationMS: wantSucceeded*20_000 + 4*5_000 + 3600_000, TimeSavedSeconds: wantSucceeded * 1800}
	if tot != want {
		t.Errorf("totals after the restart = %+v\nwant %+v", tot, want)
	}
	s1, h1 := first.collect(t)
	s2, h2 := second.collect(t)
	const tpl = "{template=template:default/service}"
	if got := s1["devex.template.run.started"+tpl] + s2["devex.template.run.started"+tpl]; got != n+4 {
		t.Errorf("started counted %d times over both replicas, want %d", got, n+4)
	}
	ok := "devex.template.run.completed{result=success,template=template:default/service}"
	if got := s1[ok] + s2[ok]; got != wantSucceeded {
		t.Errorf("successes counted %d, want %d", got, wantSucceeded)
	}
	dur := "devex.template.run.duration{result=success,template=template:default/service}"
	if got := h1[dur] + h2[dur]; got != uint64(wantSucceeded) {
		t.Errorf("success durations recorded %d, want %d", got, wantSucceeded)
	}
	// With the cursor in place, a collection reads one page, not the whole history.
	before := bs.TaskListRequests()
	if _, err := second.collector.CollectTasks(ctx); err != nil {
		t.Fatal(err)
	}
	if got := bs.TaskListRequests() - before; got != 1 {
		t.Errorf("an incremental collection listed %d pages, want 1", got)
	}
}

func TestCollectorLease(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openStore(t)
	bs := devextest.New(t, bsToken)
	bs.AddTask("a", "template:default/service", "user:default/jane", "", "", time.Now().Add(-time.Minute))
	// Another replica holds the lease: this one must not collect.
	if ok, err := db.AcquireLease(ctx, devex.LeaseName, "other", time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	r := newReplica(t, db, bs, time.Now, 10)
	done := make(chan error, 1)
	go func() { done <- r.collector.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if bs.TaskListRequests() != 0 {
		t.Errorf("a replica without the lease listed tasks %d times", bs.TaskListRequests())
	}
}

// TestCollectorWaitsForBackstage: paved started before Backstage (a dev
// stack) waits for it, at info level, and collects as soon as it answers
// instead of an interval later, and without a warning.
func TestCollectorWaitsForBackstage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openStore(t)
	bs := devextest.New(t, bsToken)
	bs.AddTask("a", "template:default/service", "user:default/jane", "", "", time.Now().Add(-time.Minute))
	// Backstage's address, not listening yet: below the ephemeral range,
	// where no outgoing connection takes it before the test listens on it.
	l, err := loopback.Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client := backstage.NewReadClient(backstage.NewDiscovery("http://"+addr+"/api/{{pluginId}}", nil), backstage.StaticTokenSource(bs.Token), nil)
	c := devex.NewCollector(devex.CollectorOptions{Store: db, Scaffolder: client, Catalog: client, Interval: time.Hour, Logger: logger, Holder: "waiter"})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	logged := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	waitUntil(t, "an info line while Backstage is down", func() bool { return strings.Contains(logged(), "waiting for Backstage") })
	target, _ := url.Parse(bs.URL)
	up, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target)}
	go srv.Serve(up)
	t.Cleanup(func() { srv.Close() })
	// Collected once Backstage answers: the interval is an hour away.
	waitUntil(t, "a collection once Backstage answers", func() bool { return bs.TaskListRequests() > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if text := logged(); strings.Count(text, "waiting for Backstage") != 1 || strings.Contains(text, "level=WARN") {
		t.Errorf("want one info line while waiting and no warning:\n%s", text)
	}
}

// waitUntil polls cond every 10 ms; a minute without it fails the test (the
// collector's interval here is an hour).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
