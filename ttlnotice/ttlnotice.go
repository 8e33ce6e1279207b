// Package ttlnotice tells the owners of infrastructure resources about their
// TTL through Backstage's notifications: a notice some time before the TTL
// ends, with the link to the resource's page (where Extend is), and one more
// when the reaper tore the resource down.
//
// Notices are an outbox in the store: recorded first (the torn-down one by
// the reaper, before it tears down), then claimed by one sender with a
// conditional update, sent, and marked done. Every replica may sweep at once;
// one sends each notice. A kill between the send and the mark sends that one
// notice again once its claim is stale; a kill anywhere else sends it once.
package ttlnotice

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/infra"
)

// Store keeps the notices (and reads the resources they are about).
type Store interface {
	ExpiringInfraResources(ctx context.Context, now, before time.Time, limit int) ([]infra.Resource, error)
	RecordInfraNotice(ctx context.Context, n infra.Notice) (bool, error)
	DueInfraNotices(ctx context.Context, claimedBefore time.Time, limit int) ([]infra.Notice, error)
	ClaimInfraNotice(ctx context.Context, id string, at, claimedBefore time.Time) (bool, error)
	FinishInfraNotice(ctx context.Context, id string, at time.Time) error
	PruneInfraNotices(ctx context.Context, before time.Time) (int, error)
	GetInfraResource(ctx context.Context, id string) (infra.Resource, error)
}

// Topic of the TTL notifications (Backstage groups notifications by topic).
const Topic = "paved-infra-ttl"

// Options configure the sender.
type Options struct {
	// Before is how long before a TTL ends its owner is told.
	Before   time.Duration
	Store    Store
	Notifier approval.Notifier
	// Resource returns the page of a resource in Backstage; Resources the
	// page listing them (where a torn-down resource's notice leads).
	Resource  func(id string) string
	Resources string
	Logger    *slog.Logger
	Now       func() time.Time
}

// Sender records and sends TTL notices.
type Sender struct {
	o Options
}

// NewSender returns a sender of TTL notices.
func NewSender(o Options) (*Sender, error) {
	if o.Store == nil || o.Notifier == nil || o.Before <= 0 {
		return nil, fmt.Errorf("ttlnotice: the sender needs a store, a notifier and a positive notice time")
	}
	if o.Resource == nil {
		o.Resource = func(string) string { return "" }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sender{o: o}, nil
}

const (
	// retryAfter is how long a claimed notice waits before another sweep
	// (on any replica) tries it again: after a failed send, or a kill.
	retryAfter = 5 * time.Minute
	// keepDone is how long done notices of gone resources are kept.
	keepDone = 30 * 24 * time.Hour
	batch    = 50
)

// Sweep records the expiring notices now due, then sends every due notice;
// it returns how many it sent.
func (s *Sender) Sweep(ctx context.Context) (int, error) {
	now := s.o.Now().UTC()
	expiring, err := s.o.Store.ExpiringInfraResources(ctx, now, now.Add(s.o.Before), batch)
	if err != nil {
		return 0, err
	}
	for _, r := range expiring {
		if _, err := s.o.Store.RecordInfraNotice(ctx, infra.Notice{
			ID: infra.NewID(), ResourceID: r.ID, Kind: r.Kind, Name: r.Name, Owner: r.Owner,
			Notice: infra.NoticeExpiring, ExpiresAt: r.ExpiresAt, CreatedAt: now,
		}); err != nil {
			return 0, err
		}
	}
	due, err := s.o.Store.DueInfraNotices(ctx, now.Add(-retryAfter), batch)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, n := range due {
		ok, err := s.send(ctx, n)
		if err != nil {
			s.o.Logger.WarnContext(ctx, "sending a TTL notice failed; will retry", "resource", n.ResourceID, "kind", n.Kind, "name", n.Name,
				"notice", n.Notice, "attempts", n.Attempts+1, "error", paved.ErrorMessage(err))
			continue
		}
		if ok {
			sent++
		}
	}
	if _, err := s.o.Store.PruneInfraNotices(ctx, now.Add(-keepDone)); err != nil {
		s.o.Logger.WarnContext(ctx, "pruning sent TTL notices failed", "error", paved.ErrorMessage(err))
	}
	return sent, nil
}

// send claims n and sends it; false: another sender has it, or it is no
// longer worth sending (the resource is gone or its TTL moved or ended).
func (s *Sender) send(ctx context.Context, n infra.Notice) (bool, error) {
	now := s.o.Now().UTC()
	ok, err := s.o.Store.ClaimInfraNotice(ctx, n.ID, now, now.Add(-retryAfter))
	if err != nil || !ok {
		return false, err
	}
	msg, current, err := s.message(ctx, n)
	if err != nil {
		return false, err
	}
	if current {
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = s.o.Notifier.Notify(nctx, msg)
		cancel()
		if err != nil {
			return false, err
		}
		s.o.Logger.InfoContext(ctx, "sent a TTL notice", "resource", n.ResourceID, "kind", n.Kind, "name", n.Name, "notice", n.Notice, "owner", n.Owner)
	}
	return current, s.o.Store.FinishInfraNotice(context.WithoutCancel(ctx), n.ID, s.o.Now().UTC())
}

func (s *Sender) message(ctx context.Context, n infra.Notice) (approval.Notification, bool, error) {
	ends := n.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")
	if n.Notice == infra.NoticeTornDown {
		return approval.Notification{
			Recipients:  []string{n.Owner},
			Title:       fmt.Sprintf("Torn down: %s %s", n.Kind, n.Name),
			Description: fmt.Sprintf("The TTL of %s %q (owner %s) ended on %s; it has been torn down, and what it held is gone.", n.Kind, n.Name, n.Owner, ends),
			Link:        s.o.Resources,
			Severity:    "normal",
			Topic:       Topic,
		}, true, nil
	}
	r, err := s.o.Store.GetInfraResource(ctx, n.ResourceID)
	if paved.ErrorCode(err) == paved.ENotFound {
		return approval.Notification{}, false, nil
	}
	if err != nil {
		return approval.Notification{}, false, err
	}
	if r.Status != infra.StatusReady || !r.ExpiresAt.Equal(n.ExpiresAt) || !r.ExpiresAt.After(s.o.Now()) {
		return approval.Notification{}, false, nil
	}
	left := roughly(r.ExpiresAt.Sub(s.o.Now()))
	return approval.Notification{
		Recipients: []string{n.Owner},
		Title:      fmt.Sprintf("Expiring: %s %s", n.Kind, n.Name),
		Description: fmt.Sprintf("The TTL of %s %q (owner %s) ends on %s (in %s); paved then tears it down. Extend it on its page if you still need it.",
			n.Kind, n.Name, n.Owner, ends, left),
		Link:     s.o.Resource(n.ResourceID),
		Severity: "high",
		Topic:    Topic,
	}, true, nil
}

// Run sweeps every interval until ctx ends.
func (s *Sender) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.WarnContext(ctx, "sweeping TTL notices", "error", paved.ErrorMessage(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// roughly writes d as a person would: 3d, 5h, 20m.
func roughly(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int((d+12*time.Hour)/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int((d+30*time.Minute)/time.Hour))
	default:
		return fmt.Sprintf("%dm", max(1, int((d+30*time.Second)/time.Minute)))
	}
}
