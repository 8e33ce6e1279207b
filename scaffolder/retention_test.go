package scaffolder_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// Two replicas on one store: the lease holder prunes what is older than the
// retention, the other does nothing meanwhile; recent invocations stay.
func TestAuditRetentionPrunesOnOneReplica(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 2500 { // more than one batch
		if _, err := store.RecordInvocation(ctx, paved.Invocation{ActionID: "paved:old", Status: paved.StatusSucceeded,
			StartedAt: now.Add(-100*24*time.Hour - time.Duration(i)*time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.RecordInvocation(ctx, paved.Invocation{ID: "recent", ActionID: "paved:new", Status: paved.StatusSucceeded, StartedAt: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	logger := slog.New(slog.DiscardHandler)
	if n := scaffolder.PruneAuditOnce(ctx, store, "replica-a", 90*24*time.Hour, time.Minute, logger, clock); n != 2500 {
		t.Fatalf("replica a pruned %d, want 2500", n)
	}
	if _, err := store.RecordInvocation(ctx, paved.Invocation{ActionID: "paved:old", Status: paved.StatusSucceeded, StartedAt: now.Add(-200 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := scaffolder.PruneAuditOnce(ctx, store, "replica-b", 90*24*time.Hour, time.Minute, logger, clock); n != 0 {
		t.Fatalf("replica b pruned %d while a holds the lease", n)
	}
	left, err := store.ListInvocations(ctx, paved.InvocationFilter{Limit: 1000})
	if err != nil || len(left) != 2 {
		t.Fatalf("left %d invocations, %v; want the recent one and the one b did not prune", len(left), err)
	}
	if n := scaffolder.PruneAuditOnce(ctx, store, "replica-a", 90*24*time.Hour, time.Minute, logger, clock); n != 1 {
		t.Fatalf("replica a's next round pruned %d, want 1", n)
	}
}
