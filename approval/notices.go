package approval

import (
	"context"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

// notices is n, about request r, as the outbox records it; none without a
// notifier.
func (s *Service) notices(r Request, n Notification) []Notice {
	if s.o.Notifier == nil {
		return nil
	}
	n.Topic = Topic
	return []Notice{{ID: infra.NewID(), RequestID: r.ID, Notification: n, CreatedAt: s.o.Now().UTC()}}
}

// noticeRetry is how long a claimed notice waits before a sweep (on any
// replica) tries it again: after a failed send, or a kill.
const noticeRetry = 2 * time.Minute

// deliver sends recorded notices at once; what it cannot send (the
// notifications backend down, a kill) the sweep sends later.
func (s *Service) deliver(ctx context.Context, notices []Notice) {
	for _, n := range notices {
		s.send(context.WithoutCancel(ctx), n)
	}
}

// send claims n, sends it and marks it done, logging a failure; false when
// it did not send it (another sender's claim won, or sending failed).
func (s *Service) send(ctx context.Context, n Notice) bool {
	now := s.o.Now().UTC()
	ok, err := s.o.Store.ClaimApprovalNotice(ctx, n.ID, now, now.Add(-noticeRetry))
	if err == nil && ok {
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = s.o.Notifier.Notify(nctx, n.Notification)
		cancel()
		if err == nil {
			err = s.o.Store.FinishApprovalNotice(ctx, n.ID, s.o.Now().UTC())
		}
	}
	if err != nil {
		s.o.Logger.WarnContext(ctx, "sending a notification failed; will retry", "approval", n.RequestID, "title", n.Notification.Title,
			"attempts", n.Attempts+1, "error", paved.ErrorMessage(err))
		return false
	}
	return ok
}

// keepNotices is how long sent notices are kept.
const keepNotices = 30 * 24 * time.Hour

// SendDue sends the notices not sent yet (their sender died, or the
// notifications backend failed); it returns how many it sent.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	if s.o.Notifier == nil {
		return 0, nil
	}
	now := s.o.Now().UTC()
	due, err := s.o.Store.DueApprovalNotices(ctx, now.Add(-noticeRetry), 50)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, n := range due {
		if s.send(ctx, n) {
			sent++
		}
	}
	if _, err := s.o.Store.PruneApprovalNotices(ctx, now.Add(-keepNotices)); err != nil {
		s.o.Logger.WarnContext(ctx, "pruning sent notifications failed", "error", paved.ErrorMessage(err))
	}
	return sent, nil
}
