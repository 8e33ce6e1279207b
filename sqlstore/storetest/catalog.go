package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/paved-dev/paved/catalog"
	"github.com/paved-dev/paved/sqlstore"
)

// testCatalog covers the catalog's entities and change log.
func testCatalog(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()

	st, err := db.CatalogState(ctx)
	if err != nil || st != (catalog.State{}) {
		t.Fatalf("CatalogState on an empty store = %+v, %v; want the zero state", st, err)
	}
	if _, items, err := db.CatalogEntities(ctx); err != nil || len(items) != 0 {
		t.Fatalf("CatalogEntities on an empty store = %d items, %v", len(items), err)
	}
	// The first apply starts the change log, even with no changes.
	st0, err := db.ApplyCatalogChanges(ctx, catalog.State{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st0.Epoch == "" || st0.Seq != 0 {
		t.Fatalf("state after an empty apply = %+v, want a new epoch at seq 0", st0)
	}
	if again, err := db.CatalogState(ctx); err != nil || again != st0 {
		t.Fatalf("CatalogState = %+v, %v; want %+v", again, err, st0)
	}

	// The exact bytes must survive: replicas compute ETags from them.
	body := func(name string) []byte {
		return fmt.Appendf(nil, `{"kind":"Component", "metadata":{"name":%q,"annotations":{"z":"1","a":"2"}}}`, name)
	}
	adds := []catalog.Change{
		{Op: catalog.OpAdded, EntityRef: "component:default/a", LocationKey: "paved:one", Entity: body("a")},
		{Op: catalog.OpAdded, EntityRef: "component:default/b", LocationKey: "paved:one", Entity: body("b")},
		{Op: catalog.OpAdded, EntityRef: "component:default/c", LocationKey: "paved:two", Entity: body("c")},
	}
	st, err = db.ApplyCatalogChanges(ctx, st0, adds)
	if err != nil {
		t.Fatalf("ApplyCatalogChanges (first): %v", err)
	}
	if st.Epoch != st0.Epoch || st.Seq != 3 || st.PrunedSeq != 0 {
		t.Fatalf("state after 3 additions = %+v, want an epoch and seq 3", st)
	}
	got, items, err := db.CatalogEntities(ctx)
	if err != nil || got != st || len(items) != 3 {
		t.Fatalf("CatalogEntities = %+v, %d items, %v; want %+v and 3", got, len(items), err, st)
	}
	for i, it := range items {
		if it.Ref != adds[i].EntityRef || it.LocationKey != adds[i].LocationKey || string(it.Entity) != string(adds[i].Entity) {
			t.Errorf("item %d = %s %s %s, want %s %s %s", i, it.Ref, it.LocationKey, it.Entity, adds[i].EntityRef, adds[i].LocationKey, adds[i].Entity)
		}
	}

	// A writer that started from an older head is refused and changes nothing.
	if _, err := db.ApplyCatalogChanges(ctx, catalog.State{Epoch: st.Epoch, Seq: 1}, adds[:1]); !errors.Is(err, catalog.ErrStale) {
		t.Fatalf("ApplyCatalogChanges from a stale head: err = %v, want ErrStale", err)
	}
	if _, err := db.ApplyCatalogChanges(ctx, catalog.State{}, adds[:1]); !errors.Is(err, catalog.ErrStale) {
		t.Fatalf("ApplyCatalogChanges from the zero state on a started log: err = %v, want ErrStale", err)
	}

	// An update, a removal, and a move to another location key.
	next := []catalog.Change{
		{Op: catalog.OpRemoved, EntityRef: "component:default/a", LocationKey: "paved:one"},
		{Op: catalog.OpUpdated, EntityRef: "component:default/b", LocationKey: "paved:one", Entity: body("b2")},
		{Op: catalog.OpRemoved, EntityRef: "component:default/c", LocationKey: "paved:two"},
		{Op: catalog.OpAdded, EntityRef: "component:default/c", LocationKey: "paved:one", Entity: body("c2")},
		// A removal under a key that does not hold the entity removes nothing.
		{Op: catalog.OpRemoved, EntityRef: "component:default/b", LocationKey: "paved:two"},
	}
	st2, err := db.ApplyCatalogChanges(ctx, st, next)
	if err != nil {
		t.Fatalf("ApplyCatalogChanges (second): %v", err)
	}
	if st2.Epoch != st.Epoch || st2.Seq != 8 {
		t.Fatalf("state after 5 more changes = %+v, want epoch %s seq 8", st2, st.Epoch)
	}
	_, items, err = db.CatalogEntities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"component:default/b": "paved:one " + string(body("b2")), "component:default/c": "paved:one " + string(body("c2"))}
	if len(items) != len(want) {
		t.Fatalf("entities after the changes: %d, want %d: %+v", len(items), len(want), items)
	}
	for _, it := range items {
		if w := want[it.Ref]; w != it.LocationKey+" "+string(it.Entity) {
			t.Errorf("entity %s = %s %s, want %s", it.Ref, it.LocationKey, it.Entity, w)
		}
	}

	changes, err := db.CatalogChanges(ctx, 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 5 {
		t.Fatalf("CatalogChanges after 3 = %d changes, want 5", len(changes))
	}
	for i, c := range changes {
		w := next[i]
		if c.Seq != int64(4+i) || c.Op != w.Op || c.EntityRef != w.EntityRef || c.LocationKey != w.LocationKey || string(c.Entity) != string(w.Entity) {
			t.Errorf("change %d = %d %s %s %s %s, want %d %s %s %s %s", i, c.Seq, c.Op, c.EntityRef, c.LocationKey, c.Entity,
				4+i, w.Op, w.EntityRef, w.LocationKey, w.Entity)
		}
		if c.Op == catalog.OpRemoved && c.Entity != nil {
			t.Errorf("removal %d carries a body: %s", i, c.Entity)
		}
		if c.At.IsZero() {
			t.Errorf("change %d has no time", i)
		}
	}
	if limited, err := db.CatalogChanges(ctx, 0, 2); err != nil || len(limited) != 2 || limited[0].Seq != 1 {
		t.Errorf("CatalogChanges(0, 2) = %d changes, %v; want the first 2", len(limited), err)
	}

	if err := db.PruneCatalogChanges(ctx, 5); err != nil {
		t.Fatalf("PruneCatalogChanges: %v", err)
	}
	st3, err := db.CatalogState(ctx)
	if err != nil || st3.PrunedSeq != 5 || st3.Seq != 8 {
		t.Fatalf("state after pruning = %+v, %v; want pruned 5, seq 8", st3, err)
	}
	if rest, err := db.CatalogChanges(ctx, 0, 100); err != nil || len(rest) != 3 || rest[0].Seq != 6 {
		t.Errorf("changes after pruning = %d, %v; want 3 from seq 6", len(rest), err)
	}
	// Pruning never moves backwards.
	if err := db.PruneCatalogChanges(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if st4, _ := db.CatalogState(ctx); st4.PrunedSeq != 5 {
		t.Errorf("pruned seq went back to %d", st4.PrunedSeq)
	}

	// More changes than one INSERT carries.
	const n = 1234
	many := make([]catalog.Change, n)
	for i := range many {
		ref := fmt.Sprintf("component:default/app-%05d", i)
		many[i] = catalog.Change{Op: catalog.OpAdded, EntityRef: ref, LocationKey: "paved:x", Entity: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	st5, err := db.ApplyCatalogChanges(ctx, st3, many)
	if err != nil {
		t.Fatal(err)
	}
	if st5.Seq != 8+n {
		t.Fatalf("seq = %d, want %d", st5.Seq, 8+n)
	}
	_, items, err = db.CatalogEntities(ctx)
	if err != nil || len(items) != n+2 {
		t.Fatalf("CatalogEntities = %d items, %v; want %d", len(items), err, n+2)
	}
	if string(items[n-1].Entity) != fmt.Sprintf(`{"n":%d}`, n-1) {
		t.Errorf("last added entity = %s", items[n-1].Entity)
	}

	// Two writers from the same head (a lease that expired under a slow
	// refresh): exactly one wins, the other changes nothing.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = db.ApplyCatalogChanges(ctx, st5, []catalog.Change{
				{Op: catalog.OpAdded, EntityRef: fmt.Sprintf("component:default/racer-%d", i), LocationKey: "paved:x", Entity: []byte(`{}`)},
			})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, catalog.ErrStale):
			t.Errorf("a losing writer got %v, want ErrStale", err)
		}
	}
	st6, _, err := db.CatalogEntities(ctx)
	if won != 1 || err != nil || st6.Seq != st5.Seq+1 {
		t.Errorf("%d writers won, head %+v (%v); want one and seq %d", won, st6, err, st5.Seq+1)
	}
}
