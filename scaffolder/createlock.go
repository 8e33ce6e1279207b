package scaffolder

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"
)

// Locks are the store's leases (sqlstore.DB), used as a lock shared by every
// replica.
type Locks interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// createLockTTL frees the lock of a replica that died while creating; a live
// create (a project, a lookup, a create) takes seconds.
const createLockTTL = time.Minute

// createLockPoll is the mean wait between two attempts at a held lock.
const createLockPoll = 25 * time.Millisecond

// lockCreate serializes the creates of one object across replicas. Argo CD
// answers the create of an existing, identical application as it answers a
// fresh one, so only the lookup before it tells them apart; without the
// lock, concurrent identical calls all look first and all report created.
// With no Locks it returns at once.
func lockCreate(ctx context.Context, locks Locks, name string) (unlock func(), err error) {
	if locks == nil {
		return func() {}, nil
	}
	holder := rand.Text()
	for {
		ok, err := locks.AcquireLease(ctx, name, holder, createLockTTL)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if ok {
			return func() {
				// Released even when the caller hung up, so the next one need not wait for the ttl.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = locks.ReleaseLease(rctx, name, holder)
			}, nil
		}
		// Jitter keeps waiters from retrying in step.
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(createLockPoll)))
		t := time.NewTimer(createLockPoll/2 + time.Duration(j.Int64()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
