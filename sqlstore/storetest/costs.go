package storetest

import (
	"testing"
	"time"

	"github.com/paved-dev/paved/costs"
	"github.com/paved-dev/paved/sqlstore"
)

func init() {
	infraTests = append(infraTests, struct {
		name string
		test func(t *testing.T, db *sqlstore.DB)
	}{"CostLedger", testCostLedger})
}

func testCostLedger(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	day := 24 * time.Hour
	open := func(id, team string, monthly float64, start time.Time) {
		t.Helper()
		if err := db.OpenCost(ctx, costs.Entry{ResourceID: id, Kind: "postgresql", Name: id, Team: team, Monthly: monthly, Currency: "USD", StartedAt: start}); err != nil {
			t.Fatalf("OpenCost %s: %v", id, err)
		}
	}
	// res-1 is a stored resource; the others exist only in the ledger.
	if err := db.CreateInfraResource(ctx, infraResource("res-1", "orders")); err != nil {
		t.Fatal(err)
	}
	open("res-1", "group:default/payments", 480, base)
	open("res-1", "group:default/other", 1, base.Add(day)) // the same resource again: left as it is
	open("gone", "group:default/payments", 30, base)
	open("failed", "group:default/shop", 120, base)
	if err := db.DiscardCost(ctx, "failed"); err != nil {
		t.Fatal(err)
	}
	got, err := db.OpenCosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Team != "group:default/payments" || got[0].Monthly+got[1].Monthly != 510 {
		t.Fatalf("OpenCosts = %+v, want res-1 (480) and gone (30) of payments", got)
	}
	for _, e := range got {
		if e.ResourceID == "res-1" && (!e.StartedAt.Equal(base.Truncate(time.Microsecond)) || !e.EndedAt.IsZero()) {
			t.Errorf("res-1 = %+v", e)
		}
	}
	// Reconciling closes the entry whose resource is not stored, once.
	at := base.Add(10 * day)
	if n, err := db.ReconcileCosts(ctx, at); err != nil || n != 1 {
		t.Fatalf("ReconcileCosts = %d, %v; want 1", n, err)
	}
	if n, err := db.ReconcileCosts(ctx, at.Add(day)); err != nil || n != 0 {
		t.Fatalf("ReconcileCosts again = %d, %v; want 0", n, err)
	}
	if err := db.CloseCost(ctx, "res-1", base.Add(20*day)); err != nil {
		t.Fatal(err)
	}
	if err := db.CloseCost(ctx, "res-1", base.Add(30*day)); err != nil { // closed once
		t.Fatal(err)
	}
	if got, _ := db.OpenCosts(ctx); len(got) != 0 {
		t.Errorf("OpenCosts after closing = %+v", got)
	}
	// Entries alive in [from, to): gone ended on day 10, res-1 on day 20.
	in, err := db.CostEntries(ctx, base.Add(15*day), base.Add(40*day))
	if err != nil || len(in) != 1 || in[0].ResourceID != "res-1" || !in[0].EndedAt.Equal(base.Add(20*day).Truncate(time.Microsecond)) {
		t.Fatalf("CostEntries(day 15..40) = %+v, %v", in, err)
	}
	in, _ = db.CostEntries(ctx, base.Add(-day), base.Add(40*day))
	if len(in) != 2 {
		t.Errorf("CostEntries(all) = %d entries, want 2", len(in))
	}
	if in, _ := db.CostEntries(ctx, base.Add(20*day), base.Add(40*day)); len(in) != 0 {
		t.Errorf("an entry ended at the range's start is in it: %+v", in)
	}
}
