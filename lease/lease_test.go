package lease_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/lease"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// stores are the lease tables a lock runs on: the store's (SQLite here; the
// same SQL runs on PostgreSQL, see storetest) and the in-process one.
func stores(t *testing.T) map[string]lease.Store {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return map[string]lease.Store{"sqlite": db, "memory": lease.NewMemory()}
}

// A holder that died (it neither renews nor releases) blocks the next caller
// for one short TTL, not for the long TTL the old locks had.
func TestDeadHoldersLockFrees(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			dead, cancel := context.WithCancel(t.Context())
			_, _, err := lease.Acquire(dead, store, "create:app", lease.Options{TTL: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			cancel() // the holder's work ends without Release: its heartbeat stops, as in a kill
			// Bounded by the test's context: a lock that waits for a long TTL fails here.
			ctx, stop := context.WithTimeout(t.Context(), 20*time.Second)
			defer stop()
			l, _, err := lease.Acquire(ctx, store, "create:app", lease.Options{Wait: time.Minute})
			if err != nil {
				t.Fatalf("the next caller did not get the dead holder's lock: %v", err)
			}
			l.Release()
		})
	}
}

// A live holder keeps its lock past its TTL through the heartbeat, and a
// waiter gets a 503-class error with a retry-after hint when its wait ends,
// never its own context's error.
func TestBusyLockAnswersUnavailable(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			l, wctx, err := lease.Acquire(t.Context(), store, "infra:pg/orders", lease.Options{TTL: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			// Several TTLs pass while the holder works.
			for range 3 {
				if err := l.Fence(t.Context()); err != nil {
					t.Fatalf("Fence of a live holder: %v", err)
				}
				time.Sleep(300 * time.Millisecond)
			}
			_, _, err = lease.Acquire(t.Context(), store, "infra:pg/orders", lease.Options{TTL: 300 * time.Millisecond, Wait: 200 * time.Millisecond, Busy: "orders is busy"})
			if paved.ErrorCode(err) != paved.EUnavailable || paved.RetryAfter(err) <= 0 {
				t.Fatalf("waiting for a live holder: %v (code %s, retry after %v), want unavailable with a retry-after", err, paved.ErrorCode(err), paved.RetryAfter(err))
			}
			if wctx.Err() != nil {
				t.Errorf("the live holder's work context ended: %v", context.Cause(wctx))
			}
			// A caller whose own context ends while waiting gets the same.
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			_, _, err = lease.Acquire(ctx, store, "infra:pg/orders", lease.Options{Wait: time.Minute})
			if paved.ErrorCode(err) != paved.EUnavailable {
				t.Fatalf("a wait cut short by the caller: %v, want unavailable", err)
			}
		})
	}
}

// A holder whose lease was taken over (it stalled past its TTL) is fenced
// off: Fence refuses, and its work context is cancelled with ErrLost.
func TestLostLeaseIsFenced(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			l, wctx, err := lease.Acquire(t.Context(), store, "infra:pg/ledger", lease.Options{TTL: 600 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			// Another caller takes the lease, as after the stall.
			if err := store.ReleaseLease(t.Context(), "infra:pg/ledger", l.Token()); err != nil {
				t.Fatal(err)
			}
			if ok, err := store.AcquireLease(t.Context(), "infra:pg/ledger", "other", time.Minute); !ok || err != nil {
				t.Fatalf("takeover: %v %v", ok, err)
			}
			<-wctx.Done()
			if !errors.Is(context.Cause(wctx), lease.ErrLost) {
				t.Errorf("work context ended with %v, want ErrLost", context.Cause(wctx))
			}
			if err := l.Fence(t.Context()); !errors.Is(err, lease.ErrLost) {
				t.Errorf("Fence after losing the lease = %v, want ErrLost", err)
			}
			// Release does not free the new holder's lease.
			l.Release()
			if ok, _ := store.AcquireLease(t.Context(), "infra:pg/ledger", "third", time.Minute); ok {
				t.Errorf("the stale holder's Release freed the new holder's lease")
			}
		})
	}
}
