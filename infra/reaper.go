package infra

import (
	"context"
	"time"

	"github.com/paved-dev/paved"
)

// Leaser is the store's lease, so that of several replicas one reaps.
type Leaser interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// ReaperLease names the lease of the reaper.
const ReaperLease = "infra-reaper"

// RunReaper tears down expired resources, and recovers what dead calls left
// unfinished, at start and then every interval until ctx ends, on the one
// replica that holds the lease; holder names this replica.
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
	if _, err := s.Recover(ctx); err != nil && ctx.Err() == nil {
		s.o.Logger.WarnContext(ctx, "reaper: listing unfinished resources failed", "error", err)
	}
	if _, err := s.Reap(ctx); err != nil && ctx.Err() == nil {
		s.o.Logger.WarnContext(ctx, "reaper: listing expired resources failed", "error", err)
	}
}

// recoverAfter is how long a resource must have been left in a non-final
// state before the sweep looks at it; its lock says whether its call is
// alive, this only keeps the sweep off work that is under way.
const recoverAfter = 10 * time.Second

// Recover finishes what dead calls left: a resource still provisioning or
// deprovisioning whose lock nobody holds is torn down (a provisioning that
// was never answered is undone; the caller's retry provisions it again). It
// returns how many it recovered.
func (s *Service) Recover(ctx context.Context) (int, error) {
	stuck, err := s.o.Store.UnfinishedInfraResources(ctx, s.o.Now().UTC().Add(-recoverAfter), 50)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range stuck {
		ok, err := s.recoverOne(ctx, r)
		if err != nil {
			s.o.Logger.WarnContext(ctx, "recovering an unfinished resource failed; will retry", "resource", r.ID, "kind", r.Kind, "name", r.Name, "status", r.Status, "error", paved.ErrorMessage(err))
			continue
		}
		if ok {
			s.o.Logger.InfoContext(ctx, "recovered an unfinished resource", "resource", r.ID, "kind", r.Kind, "name", r.Name, "status", r.Status)
			n++
		}
	}
	return n, nil
}

func (s *Service) recoverOne(ctx context.Context, r Resource) (bool, error) {
	l, wctx, err := s.lock(ctx, r.Kind, r.Name, time.Millisecond)
	if paved.ErrorCode(err) == paved.EUnavailable {
		return false, nil // its call is alive
	}
	if err != nil {
		return false, err
	}
	defer l.Release()
	r, err = s.o.Store.GetInfraResource(wctx, r.ID)
	if paved.ErrorCode(err) == paved.ENotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if r.Status == StatusReady {
		return false, nil
	}
	return true, s.teardown(wctx, l, r, OpDeprovision, "paved:recovery")
}
