package costs_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/costs"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/postgres"
	"github.com/paved-dev/paved/sqlstore/sqlite"
	"github.com/paved-dev/paved/telemetry"
)

// slowDriver provisions nothing but takes a moment, so that concurrent
// requests overlap.
type slowDriver struct{}

func (slowDriver) Check(infra.Kind) error { return nil }
func (slowDriver) Provision(context.Context, infra.Kind, infra.Resource) (infra.Outcome, error) {
	time.Sleep(20 * time.Millisecond)
	return infra.Outcome{}, nil
}
func (slowDriver) Deprovision(context.Context, infra.Kind, infra.Resource) error { return nil }

const dbKind = `
name: db
title: Database
owner: group:default/platform
driver: slow
parameters: {type: object, properties: {size: {type: string, enum: [small, large], default: small}}}
price: {currency: USD, options: {size: {small: 30, large: 480}}}
`

type groups map[string][]string

func (g groups) UserGroups(_ context.Context, user string) ([]string, error) {
	if gs, ok := g[user]; ok {
		return gs, nil
	}
	return nil, paved.Errorf(paved.ENotFound, "no such user")
}

type fixture struct {
	store *sqlstore.DB
	svc   *infra.Service
}

func newFixture(t *testing.T, b costs.Budgets) fixture {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return newReplica(t, store, b)
}

// newReplica is one paved's infra service with a cost ledger over store.
func newReplica(t *testing.T, store *sqlstore.DB, b costs.Budgets) fixture {
	t.Helper()
	drivers := map[string]infra.Driver{"slow": slowDriver{}}
	k, err := infra.ParseKind([]byte(dbKind), drivers)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, infra.KeySize)
	_, _ = rand.Read(key)
	sealer, _ := infra.NewSealer(key)
	svc, err := infra.NewService(infra.Options{Kinds: []infra.Kind{k}, Drivers: drivers, Store: store, Sealer: sealer,
		Leases: store, Costs: &costs.Ledger{Store: store, Budgets: b},
		Membership: groups{"user:default/jane": {"group:default/shop", "group:default/payments"}}})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{store: store, svc: svc}
}

func as(user string) context.Context {
	return paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: user})
}

func TestBudgetRefusesWhatWouldExceedIt(t *testing.T) {
	f := newFixture(t, costs.Budgets{Currency: "USD", Default: 100, Teams: map[string]float64{"group:default/payments": 500}, OverBudget: costs.OverBudgetRefuse})
	ctx := as("user:default/jane")
	big, _, err := f.svc.Provision(ctx, infra.Request{Kind: "db", Name: "orders", Owner: "group:default/payments", Parameters: map[string]any{"size": "large"}})
	if err != nil {
		t.Fatalf("480 of a 500 budget: %v", err)
	}
	// The same request again is no new spend.
	if _, created, err := f.svc.Provision(ctx, infra.Request{Kind: "db", Name: "orders", Owner: "group:default/payments", Parameters: map[string]any{"size": "large"}}); err != nil || created {
		t.Fatalf("the same request again: created %v, %v", created, err)
	}
	_, _, err = f.svc.Provision(ctx, infra.Request{Kind: "db", Name: "carts", Owner: "group:default/payments", Parameters: map[string]any{"size": "small"}})
	if paved.ErrorCode(err) != paved.EForbidden {
		t.Fatalf("480 + 30 of a 500 budget: %v, want 403", err)
	}
	want := "the monthly budget of group:default/payments (500 USD) would be exceeded: 480 USD/month in use + 30 USD/month requested"
	if paved.ErrorMessage(err) != want {
		t.Errorf("refusal = %q\nwant      %q", paved.ErrorMessage(err), want)
	}
	if _, err := f.store.FindInfraResource(t.Context(), "db", "carts"); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("a refused request left a record: %v", err)
	}
	// A user's resource counts against the first of the user's groups;
	// the default budget (100) applies to it.
	if _, _, err := f.svc.Provision(ctx, infra.Request{Kind: "db", Name: "mine", Parameters: map[string]any{"size": "large"}}); paved.ErrorCode(err) != paved.EForbidden ||
		!strings.Contains(err.Error(), "group:default/payments (500 USD)") {
		t.Errorf("jane's own large db: %v, want a 403 naming payments' budget", err)
	}
	// Tearing down frees the budget.
	if _, err := f.svc.Deprovision(ctx, big.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Provision(ctx, infra.Request{Kind: "db", Name: "carts", Owner: "group:default/payments", Parameters: map[string]any{"size": "small"}}); err != nil {
		t.Fatalf("after the teardown: %v", err)
	}
	open, _ := f.store.OpenCosts(t.Context())
	if len(open) != 1 || open[0].Name != "carts" || open[0].Monthly != 30 {
		t.Errorf("open ledger = %+v, want carts at 30", open)
	}
}

func TestBudgetHoldsUnderConcurrentRequests(t *testing.T) {
	f := newFixture(t, costs.Budgets{Currency: "USD", Teams: map[string]float64{"group:default/payments": 500}})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = f.svc.Provision(as("user:default/jane"), infra.Request{Kind: "db", Name: "db-" + string(rune('a'+i)),
				Owner: "group:default/payments", Parameters: map[string]any{"size": "large"}})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch paved.ErrorCode(err) {
		case "":
			ok++
		case paved.EForbidden:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of 4 large databases fit a budget of one: %v", ok, errs)
	}
}

// Two replicas on one PostgreSQL database: of large databases asked for
// through both at once, the budget admits exactly one.
func TestBudgetAcrossReplicasOnPostgres(t *testing.T) {
	dsn := os.Getenv("PAVED_TEST_DATABASE_URL")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PAVED_TEST_DATABASE_URL is not set; CI must run the PostgreSQL tests")
		}
		t.Skip("PAVED_TEST_DATABASE_URL is not set")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "paved_costs_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	budgets := costs.Budgets{Currency: "USD", Teams: map[string]float64{"group:default/payments": 500}}
	var replicas []fixture
	for range 2 {
		store, err := postgres.Open(t.Context(), u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		replicas = append(replicas, newReplica(t, store, budgets))
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = replicas[i%2].svc.Provision(as("user:default/jane"), infra.Request{Kind: "db", Name: "pg-" + string(rune('a'+i)),
				Owner: "group:default/payments", Parameters: map[string]any{"size": "large"}})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch paved.ErrorCode(err) {
		case "":
			ok++
		case paved.EForbidden:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	open, _ := replicas[0].store.OpenCosts(t.Context())
	if ok != 1 || len(open) != 1 {
		t.Errorf("%d of 6 large databases admitted, %d in the ledger; the budget fits one: %v", ok, len(open), errs)
	}
}

func TestReportProratesAndTheGaugeAgrees(t *testing.T) {
	f := newFixture(t, costs.Budgets{Currency: "USD", Teams: map[string]float64{"group:default/payments": 1000}})
	ctx := t.Context()
	day := 24 * time.Hour
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	entries := []costs.Entry{
		{ResourceID: "a", Kind: "db", Name: "a", Team: "group:default/payments", Monthly: 480, Currency: "USD", StartedAt: start},
		{ResourceID: "b", Kind: "db", Name: "b", Team: "group:default/payments", Monthly: 30, Currency: "USD", StartedAt: start.Add(5 * day)},
		{ResourceID: "c", Kind: "bucket", Name: "c", Team: "group:default/shop", Monthly: 73, Currency: "USD", StartedAt: start},
	}
	for _, e := range entries {
		if err := f.store.OpenCost(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.CloseCost(ctx, "c", start.Add(73*time.Hour)); err != nil { // a tenth of a month
		t.Fatal(err)
	}
	now := start.Add(10 * day)
	rp := &costs.Reporter{Store: f.store, Budgets: costs.Budgets{Currency: "USD", Teams: map[string]float64{"group:default/payments": 1000}}, Now: func() time.Time { return now }}
	rep, err := rp.Report(ctx, start, start.Add(30*day), devex.GroupDay, "")
	if err != nil {
		t.Fatal(err)
	}
	// payments: 480 for 240 h + 30 for 120 h; shop: 73 for 73 h.
	wantPayments := 480*240.0/730 + 30*120.0/730
	if rep.Total.Monthly != 510 || rep.Total.Resources != 2 || rep.Total.Spend != infra.RoundMoney(wantPayments+7.3) {
		t.Errorf("total = %+v, want monthly 510, 2 resources, spend %.2f", rep.Total, wantPayments+7.3)
	}
	if len(rep.Teams) != 2 || rep.Teams[0].Team != "group:default/payments" || rep.Teams[0].Budget == nil || *rep.Teams[0].Budget != 1000 ||
		rep.Teams[0].Spend != infra.RoundMoney(wantPayments) || rep.Teams[1].Monthly != 0 || rep.Teams[1].Spend != 7.3 || rep.Teams[1].Budget != nil {
		t.Errorf("teams = %+v", rep.Teams)
	}
	if len(rep.Trend) != 30 || rep.Trend[0].Spend != infra.RoundMoney((480+73)*24/730.0) || rep.Trend[20].Spend != 0 {
		t.Errorf("trend = %+v", rep.Trend)
	}
	var sum float64
	for _, p := range rep.Trend {
		sum += p.Spend
	}
	if d := sum - rep.Total.Spend; d > 0.05 || d < -0.05 {
		t.Errorf("the trend sums to %.2f, the total is %.2f", sum, rep.Total.Spend)
	}
	shop, err := rp.Report(ctx, start, start.Add(30*day), devex.GroupMonth, "group:default/shop")
	if err != nil || len(shop.Teams) != 1 || len(shop.Trend) != 1 || shop.Trend[0].Spend != 7.3 {
		t.Errorf("shop only = %+v, %v", shop, err)
	}

	// The gauge on /metrics, as Prometheus reads it, agrees with the report.
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "paved-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	if err := costs.RegisterGauge(tel.Meter.Meter("test"), f.store, nil); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	fam := families["paved_infra_cost_monthly"]
	if fam == nil || fam.GetType() != dto.MetricType_GAUGE || len(fam.Metric) != 1 {
		t.Fatalf("paved_infra_cost_monthly = %v", fam)
	}
	labels := map[string]string{}
	for _, l := range fam.Metric[0].Label {
		labels[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"team": "group:default/payments", "kind": "db", "currency": "USD"}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, labels[k], v, labels)
		}
	}
	if got := fam.Metric[0].Gauge.GetValue(); got != rep.Kinds[0].Monthly || got != 510 {
		t.Errorf("gauge = %v, report = %v", got, rep.Kinds[0].Monthly)
	}
}
