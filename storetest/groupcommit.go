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
