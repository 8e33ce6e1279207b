package infra

import (
	"context"
	"time"

	"github.com/paved-dev/paved"
)

// Reap tears down the resources whose ttl has run out and returns how many.
func (s *Service) Reap(ctx context.Context) (int, error) {
	expired, err := s.o.Store.ExpiredInfraResources(ctx, s.o.Now().UTC(), 50)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range expired {
		if r.Status != StatusReady {
			continue
		}
		reaped, err := s.reap(ctx, r)
		if err != nil {
			s.o.Logger.WarnContext(ctx, "reaping an expired resource failed; will retry", "resource", r.ID, "kind", r.Kind, "name", r.Name, "error", paved.ErrorMessage(err))
			continue
		}
		if reaped {
			s.o.Logger.InfoContext(ctx, "reaped an expired resource", "resource", r.ID, "kind", r.Kind, "name", r.Name)
			n++
		}
	}
	return n, nil
}

// reap tears an expired resource down, unless a deprovisioning (on any
// replica) took it first.
func (s *Service) reap(ctx context.Context, r Resource) (bool, error) {
	l, wctx, err := s.lock(ctx, r.Kind, r.Name, time.Second)
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
	if r.Status != StatusReady || r.ExpiresAt.IsZero() || r.ExpiresAt.After(s.o.Now()) {
		return false, nil
	}
	return true, s.teardown(wctx, l, r, OpReap, "paved:reaper")
}
