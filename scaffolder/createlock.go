package scaffolder

import (
	"context"
	"time"

	"github.com/paved-dev/paved/lease"
)

// Locks are the store's leases (sqlstore.DB), used as a lock shared by every
// replica.
type Locks = lease.Store

// createLockWait bounds how long a create waits for another create of the
// same object: it then answers 503 with a Retry-After rather than run into
// Backstage's HTTP limit. A dead holder's lock frees within lease.DefaultTTL.
const createLockWait = 30 * time.Second

// lockCreate serializes the creates of one object across replicas. Argo CD
// answers the create of an existing, identical application as it answers a
// fresh one, so only the lookup before it tells them apart; without the
// lock, concurrent identical calls all look first and all report created.
// The create runs under the returned context, which ends if the lock is lost.
// With no Locks it returns at once.
func lockCreate(ctx context.Context, locks Locks, name string) (unlock func(), wctx context.Context, err error) {
	if locks == nil {
		return func() {}, ctx, nil
	}
	l, wctx, err := lease.Acquire(ctx, locks, name, lease.Options{Wait: createLockWait,
		Busy: "another call is creating the same object (" + name + ")"})
	if err != nil {
		return nil, nil, err
	}
	return l.Release, wctx, nil
}
