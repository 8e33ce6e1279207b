package infra

import (
	"context"
	"time"
)

// Leaser is the store's lease, so that of several replicas one reaps.
type Leaser interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// ReaperLease names the lease of the reaper.
const ReaperLease = "infra-reaper"

// RunReaper tears down expired resources every interval until ctx ends, on
// the one replica that holds the lease; holder names this replica.
func (s *Service) RunReaper(ctx context.Context, leases Leaser, holder string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = leases.ReleaseLease(rctx, ReaperLease, holder)
	}()
	for {
		s.reapOnce(ctx, leases, holder, interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) reapOnce(ctx context.Context, leases Leaser, holder string, interval time.Duration) {
	// The lease outlives one round, so the holder keeps it while it is alive.
	ok, err := leases.AcquireLease(ctx, ReaperLease, holder, 3*interval)
	if err != nil {
		s.o.Logger.WarnContext(ctx, "reaper: taking the lease failed", "error", err)
		return
	}
	if !ok {
		return
	}
	if _, err := s.Reap(ctx); err != nil && ctx.Err() == nil {
		s.o.Logger.WarnContext(ctx, "reaper: listing expired resources failed", "error", err)
	}
}
