package approval

import (
	"context"
	"fmt"
	"time"

	"github.com/paved-dev/paved"
)

// Expire closes the pending requests whose time ran out and notifies their
// requesters; it returns how many. Safe on every replica at once: each
// request expires by one conditional change.
func (s *Service) Expire(ctx context.Context) (int, error) {
	due, err := s.o.Store.ExpiredApprovals(ctx, s.o.Now().UTC(), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range due {
		c := Change{ID: r.ID, From: StatePending, To: StateExpired, Actor: "paved:expiry", At: s.o.Now(), Notices: s.notices(r, Notification{
			Recipients:  []string{r.Requester},
			Title:       fmt.Sprintf("Expired: %s %s", r.Kind, r.Name),
			Description: fmt.Sprintf("Nobody of %s decided on your request for %s %q in time; nothing was provisioned. Ask again if you still need it.", r.Approvers, r.Kind, r.Name),
			Link:        s.o.Links.Request(r.ID),
			Severity:    "normal",
		})}
		ok, err := s.o.Store.ChangeApproval(ctx, c)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		n++
		s.o.Logger.InfoContext(ctx, "request expired without a decision", "approval", r.ID, "kind", r.Kind, "name", r.Name)
		s.deliver(ctx, c.Notices)
	}
	return n, nil
}

// stallAfter is how long an approved request may go unchanged before the
// sweep takes it over from a provisioner that died.
const stallAfter = time.Minute

// DefaultMaxAttempts bounds the provisionings of an approved request that
// fail on a transient error (Argo CD or a driver unreachable): retried after
// 1, 2, 4 … minutes (at most an hour apart), about 2 hours in all, then the
// request fails with the reason.
const DefaultMaxAttempts = 8

// retryDelay is the wait before the attempt after the n-th failed one.
func retryDelay(n int) time.Duration {
	if n > 6 {
		return time.Hour
	}
	return stallAfter << (n - 1)
}

// Resume finishes the approved requests whose provisioner died; it returns
// how many this call carried to a final state (not those another replica
// finished meanwhile).
func (s *Service) Resume(ctx context.Context) (int, error) {
	now := s.o.Now().UTC()
	stalled, err := s.o.Store.StalledApprovals(ctx, now.Add(-stallAfter), now, 20)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range stalled {
		_, finished, err := s.provision(ctx, r)
		if err != nil {
			s.o.Logger.WarnContext(ctx, "resuming an approved request failed; will retry", "approval", r.ID, "error", paved.ErrorMessage(err))
			continue
		}
		if finished {
			n++
		}
	}
	return n, nil
}

// Run expires and resumes requests, and sends the notifications not sent
// yet, every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Expire(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.WarnContext(ctx, "expiring approval requests", "error", paved.ErrorMessage(err))
		}
		if _, err := s.Resume(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.WarnContext(ctx, "resuming approved requests", "error", paved.ErrorMessage(err))
		}
		if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.WarnContext(ctx, "sending approval notifications", "error", paved.ErrorMessage(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
