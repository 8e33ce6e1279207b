package infra

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"
)

// teardownLockTTL frees the lock of a replica that died while tearing a
// resource down; a driver's teardown (a commit, a DROP DATABASE) takes seconds.
const teardownLockTTL = 5 * time.Minute

// teardownLockPoll is the mean wait between two attempts at a held lock.
const teardownLockPoll = 50 * time.Millisecond

// lockTeardown serializes the teardowns of one resource (deprovisionings and
// reaps) across replicas, through the store's leases: the caller reads the
// resource again once it holds the lock, so a teardown that went before is
// seen and the driver runs once. Without Options.Leases it returns at once.
func (s *Service) lockTeardown(ctx context.Context, id string) (unlock func(), err error) {
	if s.o.Leases == nil {
		return func() {}, nil
	}
	name, holder := "infra-teardown:"+id, rand.Text()
	for {
		ok, err := s.o.Leases.AcquireLease(ctx, name, holder, teardownLockTTL)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if ok {
			return func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = s.o.Leases.ReleaseLease(rctx, name, holder)
			}, nil
		}
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(teardownLockPoll)))
		if err := sleepCtx(ctx, teardownLockPoll/2+time.Duration(j.Int64())); err != nil {
			return nil, err
		}
	}
}
