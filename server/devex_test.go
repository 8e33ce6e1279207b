package server_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/backstage/backstagetest"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/devex/devextest"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// devexFixture is paved's router over a SQLite store seeded with adoption
// events, with the catalog of a fake Backstage for group memberships.
type devexFixture struct {
	fixture
	users *backstagetest.Users
	bs    *devextest.Backstage
	day   time.Time // the first day of the seeded events
	store *sqlstore.DB
	// feedbackLater moves the feedback's clock forward (past an edit window).
	feedbackLater *time.Duration
}

func newDevexServer(t *testing.T) devexFixture {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	users := backstagetest.NewUsers(t)
	bs := devextest.New(t, "catalog-token-0123456789")
	bs.AddUser("user:default/carol", "group:default/platform")
	bs.AddUser("user:default/dave", "group:default/other")
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{
		AllowedPlugins: []string{"scaffolder", "mcp-actions"},
		PluginID:       "paved",
		Discovery:      backstage.NewDiscovery(users.URL+"/api/{{pluginId}}", nil),
		StaticTokens:   []backstage.StaticToken{{Token: testToken, Subject: "test"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	reader := backstage.NewReadClient(backstage.NewDiscovery(bs.Discovery(), nil), backstage.StaticTokenSource(bs.Token), nil)
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	seedDevex(t, store, day)
	later := new(time.Duration)
	h := server.New(server.Deps{
		PluginID: "paved", Auth: verifier, Invocations: store,
		DevEx: devex.NewService(store).WithSLOs(devex.NewSLOs(store, []devex.SLO{
			{Name: "service-runs", SLI: devex.SLIRunSuccess, Template: "template:default/service", Objective: 0.9, Window: 30 * 24 * time.Hour},
			{Name: "availability", SLI: devex.SLIAvailability, Objective: 0.999, Window: 30 * 24 * time.Hour},
		}, 0, nil)), DevExReaders: []string{"group:default/platform"}, Membership: reader,
		Feedback: devex.NewFeedbacks(devex.FeedbackOptions{Store: store, Tasks: reader,
			Now: func() time.Time { return time.Now().Add(*later) }}),
	})
	return devexFixture{fixture: fixture{handler: h}, users: users, bs: bs, day: day, store: store, feedbackLater: later}
}

// seedDevex stores, on day: 3 runs of the service template (2 succeeded in
// 60s and 120s, 1 failed), 1 succeeded website run; 10 days earlier (the
// previous period) 1 succeeded service run; 3 components, 2 from templates;
// one app healthy 5 minutes after its run, deployed on 2 days.
func seedDevex(t *testing.T, store *sqlstore.DB, day time.Time) {
	ctx := context.Background()
	at := day.Add(9 * time.Hour)
	run := func(id, tpl, user, status string, created time.Time, took time.Duration, entity string) devex.Run {
		return devex.Run{TaskID: id, TemplateRef: tpl, Owner: "group:default/team-a", UserRef: user, Status: status,
			CreatedAt: created, HeartbeatAt: created.Add(took), FinishedAt: created.Add(took), TimeSaved: time.Hour, EntityRef: entity}
	}
	const svc, web = "template:default/service", "template:default/website"
	if _, err := store.UpsertRuns(ctx, []devex.Run{
		run("t1", svc, "user:default/jane", devex.TaskCompleted, at, time.Minute, "component:default/shop"),
		run("t2", svc, "user:default/joe", devex.TaskCompleted, at.Add(time.Hour), 2*time.Minute, ""),
		run("t3", svc, "user:default/jane", devex.TaskFailed, at.Add(2*time.Hour), 30*time.Second, ""),
		run("t4", web, "user:default/ann", devex.TaskCompleted, at.Add(3*time.Hour), 10*time.Second, ""),
		run("t0", svc, "user:default/old", devex.TaskCompleted, at.AddDate(0, 0, -30), time.Minute, ""),
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.SyncComponents(ctx, []devex.Component{
		{EntityRef: "component:default/shop", Kind: "Component", Owner: "group:default/team-a", SourceTemplate: svc},
		{EntityRef: "component:default/blog", Kind: "Component", Owner: "group:default/team-a", SourceTemplate: web},
		{EntityRef: "component:default/legacy", Kind: "Component", Owner: "group:default/team-b"},
	}, at.AddDate(0, 0, -1)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.RecordApps(ctx, []devex.AppObservation{{
		Key: "default/argocd/shop", Service: "component:default/shop", Environment: "shop", TemplateRef: svc, TaskID: "t1",
		CreatedAt: at.Add(time.Minute), Healthy: true, ObservedAt: at.Add(5 * time.Minute),
		Deployments: []devex.DeploymentEvent{
			{ID: "0", Succeeded: true, DeployedAt: at.Add(5 * time.Minute)},
			{ID: "1", Succeeded: true, DeployedAt: at.Add(25 * time.Hour)},
		},
	}}); err != nil {
		t.Fatal(err)
	}
}

func TestDevexSummary(t *testing.T) {
	f := newDevexServer(t)
	r := f.do(t, "GET", "/api/paved/devex/v1/summary", testToken, "")
	if r.status != 200 {
		t.Fatalf("summary: %d %s", r.status, r.raw)
	}
	var s struct {
		From, To, PreviousFrom, PreviousTo string
		KPIs                               map[string]devex.KPI
	}
	if err := json.Unmarshal([]byte(r.raw), &s); err != nil {
		t.Fatal(err)
	}
	want := map[string]devex.KPI{
		"runsStarted":                {Value: 4, Previous: 1},
		"runsSucceeded":              {Value: 3, Previous: 1},
		"runsFailed":                 {Value: 1},
		"runsCancelled":              {},
		"successRate":                {Value: 0.75, Previous: 1},
		"activeUsers":                {Value: 3, Previous: 1},
		"timeSavedSeconds":           {Value: 3 * 3600, Previous: 3600},
		"coverage":                   {Value: 0.6667},
		"medianTimeToHealthySeconds": {Value: 300},
		"deployments":                {Value: 2},
	}
	if !reflect.DeepEqual(s.KPIs, want) {
		t.Errorf("kpis = %+v\nwant %+v", s.KPIs, want)
	}
	from, _ := time.Parse(time.RFC3339, s.From)
	to, _ := time.Parse(time.RFC3339, s.To)
	prevFrom, _ := time.Parse(time.RFC3339, s.PreviousFrom)
	if to.Sub(from) != 28*24*time.Hour || from.Sub(prevFrom) != 28*24*time.Hour || s.PreviousTo != s.From {
		t.Errorf("range %s..%s, previous %s..%s: want 28 days and the 28 before", s.From, s.To, s.PreviousFrom, s.PreviousTo)
	}
}

func TestDevexLists(t *testing.T) {
	f := newDevexServer(t)
	day := f.day.Format(time.DateOnly)
	q := "?from=" + day + "&to=" + f.day.AddDate(0, 0, 1).Format(time.DateOnly)
	get := func(path string, v any) {
		t.Helper()
		r := f.do(t, "GET", "/api/paved/devex/v1/"+path, testToken, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.raw)
		}
		if err := json.Unmarshal([]byte(r.raw), v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var tpl struct{ Items []devex.TemplateStats }
	get("templates"+q, &tpl)
	wantTpl := []devex.TemplateStats{
		{TemplateRef: "template:default/service", Runs: 3, Succeeded: 2, Failed: 1, SuccessRate: 0.6667,
			P50DurationSeconds: 60, P95DurationSeconds: 120, UniqueUsers: 2, TimeSavedSeconds: 7200},
		{TemplateRef: "template:default/website", Runs: 1, Succeeded: 1, SuccessRate: 1,
			P50DurationSeconds: 10, P95DurationSeconds: 10, UniqueUsers: 1, TimeSavedSeconds: 3600},
	}
	if !reflect.DeepEqual(tpl.Items, wantTpl) {
		t.Errorf("templates = %+v\nwant %+v", tpl.Items, wantTpl)
	}

	var ts struct {
		Grouping string
		Items    []devex.Point
	}
	get("timeseries?grouping=week&from="+f.day.AddDate(0, 0, -40).Format(time.DateOnly), &ts)
	var started, users int64
	for _, p := range ts.Items {
		started += p.RunsStarted
		users = max(users, p.ActiveUsers)
		if d, _ := time.Parse(time.DateOnly, p.Period); d.Weekday() != time.Monday {
			t.Errorf("week period %s is not a Monday", p.Period)
		}
	}
	if ts.Grouping != "week" || started != 5 || users != 3 || len(ts.Items) < 6 {
		t.Errorf("weekly timeseries: grouping %q, %d runs, max %d users over %d weeks; want week, 5, 3, ≥6", ts.Grouping, started, users, len(ts.Items))
	}

	var cov devex.CoverageReport
	get("coverage?owner=team-a", &cov)
	wantCov := devex.CoverageReport{Overall: devex.CoverageFigures{Components: 2, FromTemplate: 2, Ratio: 1},
		Items: []devex.CoverageFigures{{Owner: "group:default/team-a", Components: 2, FromTemplate: 2, Ratio: 1}}}
	if !reflect.DeepEqual(cov, wantCov) {
		t.Errorf("coverage(team-a) = %+v, want %+v", cov, wantCov)
	}

	var deps struct{ Items []devex.ServiceDeployments }
	get("deployments?from="+day+"&to="+f.day.AddDate(0, 0, 6).Format(time.DateOnly), &deps)
	wantDeps := []devex.ServiceDeployments{{Service: "component:default/shop", Deployments: 2, DeploymentDays: 2, PerWeek: 2, Tier: "weekly"}}
	if !reflect.DeepEqual(deps.Items, wantDeps) {
		t.Errorf("deployments = %+v, want %+v", deps.Items, wantDeps)
	}

	var fn struct{ Stages []devex.Stage }
	get("funnel"+q+"&template=template:default/service", &fn)
	wantFn := []devex.Stage{{Name: "started", Count: 3}, {Name: "succeeded", Count: 2}, {Name: "registered", Count: 1}, {Name: "healthy", Count: 1}}
	if !reflect.DeepEqual(fn.Stages, wantFn) {
		t.Errorf("funnel = %+v, want %+v", fn.Stages, wantFn)
	}
}

func TestDevexCSV(t *testing.T) {
	f := newDevexServer(t)
	r := f.do(t, "GET", "/api/paved/devex/v1/templates?format=csv&from="+f.day.Format(time.DateOnly), testToken, "")
	if r.status != 200 {
		t.Fatalf("csv: %d %s", r.status, r.raw)
	}
	rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.raw)
	}
	want := [][]string{
		{"templateRef", "runs", "succeeded", "failed", "cancelled", "successRate", "p50DurationSeconds", "p95DurationSeconds", "uniqueUsers", "timeSavedSeconds"},
		{"template:default/service", "3", "2", "1", "0", "0.6667", "60", "120", "2", "7200"},
		{"template:default/website", "1", "1", "0", "0", "1", "10", "10", "1", "3600"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("CSV = %q\nwant %q", rows, want)
	}
	for _, path := range []string{"summary", "timeseries", "coverage", "deployments", "funnel"} {
		r := f.do(t, "GET", "/api/paved/devex/v1/"+path+"?format=csv", testToken, "")
		rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
		if r.status != 200 || err != nil || len(rows) < 1 {
			t.Errorf("%s as CSV: %d, %v, %q", path, r.status, err, r.raw)
		}
	}
}

func TestDevexAccessAndValidation(t *testing.T) {
	f := newDevexServer(t)
	const path = "/api/paved/devex/v1/summary"
	tests := []struct {
		name, path, token string
		status            int
		errName           string
	}{
		{"no token", path, "", 401, "AuthenticationError"},
		{"static token", path, testToken, 200, ""},
		{"member by token groups", path, f.users.Mint(t, "user:default/erin", "group:default/platform"), 200, ""},
		{"member by catalog", path, f.users.Mint(t, "user:default/carol"), 200, ""},
		{"not a member", path, f.users.Mint(t, "user:default/dave"), 403, "NotAllowedError"},
		{"unknown to the catalog", path, f.users.Mint(t, "user:default/nobody"), 403, "NotAllowedError"},
		{"bad grouping", path + "?grouping=hour", testToken, 400, "InputError"},
		{"bad from", path + "?from=yesterday", testToken, 400, "InputError"},
		{"from after to", path + "?from=2026-02-01&to=2026-01-01", testToken, 400, "InputError"},
		{"bad format", "/api/paved/devex/v1/templates?format=xml", testToken, 400, "InputError"},
		{"range too long", path + "?from=2000-01-01&to=2026-01-01", testToken, 400, "InputError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, "GET", tt.path, tt.token, "")
			if r.status != tt.status || errorName(r) != tt.errName {
				t.Errorf("GET %s: %d %q, want %d %q (%s)", tt.path, r.status, errorName(r), tt.status, tt.errName, r.raw)
			}
		})
	}
}
