package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/sqlstore"
)

// testInvocationConcurrent records from many goroutines at once, with one
// duplicate id among them: every other record is stored exactly once and the
// duplicate alone fails with a conflict, even when they share a transaction.
func testInvocationConcurrent(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	const n = 200
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := 0; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("inv-%03d", i)
			if i == n {
				id = "inv-007" // the duplicate
			}
			_, errs[i] = db.RecordInvocation(ctx, paved.Invocation{ID: id, ActionID: "paved:concurrent", Status: paved.StatusSucceeded})
		}()
	}
	wg.Wait()
	conflicts := 0
	for i, err := range errs {
		switch paved.ErrorCode(err) {
		case "":
		case paved.EConflict:
			conflicts++
		default:
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if conflicts != 1 {
		t.Fatalf("want exactly one conflict, got %d", conflicts)
	}
	list, err := db.ListInvocations(ctx, paved.InvocationFilter{ActionID: "paved:concurrent", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Fatalf("stored %d records, want %d", len(list), n)
	}
}

// testInvocationBadRecordAlone records, concurrently, valid records next to
// ones holding a NUL byte (which PostgreSQL refuses in text): every valid
// record is stored even when it shared a transaction with a refused one, and
// a refused record fails alone.
func testInvocationBadRecordAlone(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv := paved.Invocation{ID: fmt.Sprintf("mix-%03d", i), ActionID: "paved:mixed", Status: paved.StatusFailed, Error: "fine"}
			if i%3 == 0 {
				inv.Error = "bad \x00 text"
			}
			_, errs[i] = db.RecordInvocation(ctx, inv)
		}()
	}
	wg.Wait()
	stored, refused := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			stored++
		case i%3 == 0:
			refused++
		default:
			t.Fatalf("valid record %d failed: %v", i, err)
		}
	}
	list, err := db.ListInvocations(ctx, paved.InvocationFilter{ActionID: "paved:mixed", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != stored || stored+refused != n || stored < n-n/3 {
		t.Fatalf("stored %d (listed %d), refused %d of %d", stored, len(list), refused, n)
	}
}
