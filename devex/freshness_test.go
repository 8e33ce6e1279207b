package devex_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/devex/devextest"
)

// TestFreshnessOfAnEmptyStore: no write yet (generation 0), twice.
func TestFreshnessOfAnEmptyStore(t *testing.T) {
	svc := devex.NewService(openStore(t))
	for range 2 {
		if f, err := svc.Freshness(context.Background(), devex.Filter{}); err != nil || f.Services != 0 || f.Laggards == nil {
			t.Fatalf("freshness of an empty store: %+v, %v", f, err)
		}
	}
}

func TestTemplateVersionOf(t *testing.T) {
	if v := devex.TemplateVersionOf(map[string]string{devex.AnnotationTemplateVersion: "1.2.0"}, "abc"); v != "1.2.0" {
		t.Errorf("with the annotation: %q, want 1.2.0", v)
	}
	if v := devex.TemplateVersionOf(map[string]string{"other": "x"}, "abc"); v != "abc" {
		t.Errorf("without the annotation: %q, want the etag abc", v)
	}
}

// TestCompareVersions checks versions and days behind against hand-computed cases.
func TestCompareVersions(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }
	const a, b = "template:default/a", "template:default/b"
	versions := []devex.TemplateVersion{
		// a: v1 (day 0), v2 (day 10), v3 (day 40, current in the catalog since day 41).
		{TemplateRef: a, Version: "v3", FirstSeen: day(40), Current: true, ListedAt: day(41)},
		{TemplateRef: a, Version: "v1", FirstSeen: day(0)},
		{TemplateRef: a, Version: "v2", FirstSeen: day(10)},
		// b: went back to b1 in the catalog (day 30) after b2 (day 20).
		{TemplateRef: b, Version: "b1", FirstSeen: day(0), Current: true, ListedAt: day(30)},
		{TemplateRef: b, Version: "b2", FirstSeen: day(20)},
	}
	services := []devex.ServiceVersion{
		{Service: "s-v1", TemplateRef: a, Owner: "group:default/x", Version: "v1"},
		{Service: "s-v2", TemplateRef: a, Owner: "group:default/y", Version: "v2"},
		{Service: "s-v3", TemplateRef: a, Owner: "group:default/x", Version: "v3"},
		{Service: "s-b2", TemplateRef: b, Owner: "group:default/y", Version: "b2"},
		{Service: "s-b1", TemplateRef: b, Owner: "group:default/y", Version: "b1"},
		{Service: "s-c", TemplateRef: "template:default/c", Version: "c1"}, // no history: current
	}
	type row struct {
		service, current string
		outdated         bool
		versions         int64
		days             float64
	}
	want := []row{ // furthest behind first
		{"s-v1", "v3", true, 2, 40},
		{"s-v2", "v3", true, 1, 30},
		{"s-b2", "b1", true, 1, 0},  // ahead of a rollback: outdated, by at least one
		{"s-v3", "v3", false, 0, 0}, // then by template and service
		{"s-b1", "b1", false, 0, 0},
		{"s-c", "c1", false, 0, 0},
	}
	got := devex.CompareVersions(versions, services)
	if len(got) != len(want) {
		t.Fatalf("got %d services, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if (row{g.Service, g.CurrentVersion, g.Outdated, g.VersionsBehind, g.DaysBehind}) != w {
			t.Errorf("row %d = %+v, want %+v", i, row{g.Service, g.CurrentVersion, g.Outdated, g.VersionsBehind, g.DaysBehind}, w)
		}
	}

	// A run saw v4 after the catalog's last look: the template changed since.
	versions = append(versions, devex.TemplateVersion{TemplateRef: a, Version: "v4", FirstSeen: day(50)})
	got = devex.CompareVersions(versions, services[:1])
	if g := got[0]; g.CurrentVersion != "v4" || g.VersionsBehind != 3 || g.DaysBehind != 50 {
		t.Errorf("after a newer run: %+v, want current v4, 3 versions and 50 days behind", g)
	}
}

// TestFreshnessTemplateChangedBetweenRuns: a run, a change of the template,
// another run: one of the two services is outdated, in the answer, the CSV
// table and the gauge; with a paved.dev/template-version annotation and
// without (the catalog's etag).
func TestFreshnessTemplateChangedBetweenRuns(t *testing.T) {
	for _, tc := range []struct{ name, v1, v2 string }{{"annotation", "1.0.0", "1.1.0"}, {"etag", "", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := openStore(t)
			bs := devextest.New(t, bsToken)
			const tpl = "template:default/service"
			t0 := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
			clock := t0
			now := func() time.Time { return clock }
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			svc := devex.NewService(db)
			if _, err := devex.NewMetrics(devex.MetricsOptions{Meter: mp.Meter("devex"), Store: db, Now: now, Freshness: svc}); err != nil {
				t.Fatal(err)
			}
			client := backstage.NewReadClient(backstage.NewDiscovery(bs.Discovery(), nil), backstage.StaticTokenSource(bs.Token), nil)
			c := devex.NewCollector(devex.CollectorOptions{Store: db, Scaffolder: client, Catalog: client, Templates: client, Now: now, CatalogEvery: 1})

			bs.EditTemplate(tpl, tc.v1)
			run := func(id string, at time.Time) {
				bs.AddTask(id, tpl, "user:default/jane", "team-a", "", at)
				bs.Claim(id, at.Add(time.Second))
				bs.Finish(id, "completed", "component:default/"+id, at.Add(time.Minute))
				bs.AddComponent(id, "team-a", tpl)
				clock = at.Add(2 * time.Minute)
				if err := c.CollectOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			run("first", t0)
			bs.EditTemplate(tpl, tc.v2)
			run("second", t0.Add(time.Hour))

			f, err := svc.Freshness(ctx, devex.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if f.Services != 2 || f.Outdated != 1 || f.LaggardsTotal != 1 || len(f.Laggards) != 1 {
				t.Fatalf("freshness = %+v, want 2 services, 1 outdated", f)
			}
			lag := f.Laggards[0]
			if lag.Service != "component:default/first" || lag.VersionsBehind != 1 || lag.Owner != "group:default/team-a" {
				t.Errorf("laggard = %+v, want component:default/first, 1 version behind, of team-a", lag)
			}
			if tc.v1 != "" && (lag.Version != tc.v1 || lag.CurrentVersion != tc.v2) {
				t.Errorf("laggard versions %q → %q, want %q → %q", lag.Version, lag.CurrentVersion, tc.v1, tc.v2)
			}
			if d := lag.DaysBehind; d < 0.04 || d > 0.05 { // the change came an hour (0.0417 days) after the first run
				t.Errorf("days behind = %v, want about 1/24", d)
			}
			if len(f.Templates) != 1 || f.Templates[0].Outdated != 1 || f.Templates[0].Services != 2 ||
				len(f.Teams) != 1 || f.Teams[0].Owner != "group:default/team-a" || f.Teams[0].Outdated != 1 {
				t.Errorf("per template %+v, per team %+v; want 1 of 2 outdated in each", f.Templates, f.Teams)
			}
			if f, err := svc.Freshness(ctx, devex.Filter{Owner: "group:default/team-b"}); err != nil || f.Services != 0 {
				t.Errorf("team-b: %+v, %v; want no service", f, err)
			}

			all, err := svc.FreshnessServices(ctx, devex.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			table := devex.FreshnessTable(all)
			if len(table) != 3 || table[1][0] != "component:default/first" || table[1][5] != "true" || table[2][5] != "false" {
				t.Errorf("CSV table = %q", table)
			}

			var rm metricdata.ResourceMetrics
			if err := reader.Collect(ctx, &rm); err != nil {
				t.Fatal(err)
			}
			gauges := map[string]int64{}
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if g, ok := m.Data.(metricdata.Gauge[int64]); ok {
						for _, p := range g.DataPoints {
							gauges[m.Name+attrs(p.Attributes.ToSlice())] = p.Value
						}
					}
				}
			}
			for name, want := range map[string]int64{
				"devex.golden_path.services{template=" + tpl + "}":        2,
				"devex.golden_path.outdated{template=" + tpl + "}":        1,
				"devex.golden_path.versions_behind{template=" + tpl + "}": 1,
			} {
				if got, ok := gauges[name]; !ok || got != want {
					t.Errorf("%s = %d (present %v), want %d", name, got, ok, want)
				}
			}

			// The answer is cached until a write moves the store's generation:
			// a third service, then the first leaving the catalog, show at once.
			run("third", t0.Add(90*time.Minute))
			if f, err := svc.Freshness(ctx, devex.Filter{}); err != nil || f.Services != 3 || f.Outdated != 1 {
				t.Fatalf("after a third run: %+v, %v; want 3 services, 1 outdated", f, err)
			}
			if _, _, err := db.SyncComponents(ctx, []devex.Component{{EntityRef: "component:default/second", Kind: "Component"},
				{EntityRef: "component:default/third", Kind: "Component"}}, clock.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if f, err := svc.Freshness(ctx, devex.Filter{}); err != nil || f.Services != 2 || f.Outdated != 0 {
				t.Fatalf("after the first left the catalog: %+v, %v; want 2 services, none outdated", f, err)
			}
		})
	}
}
