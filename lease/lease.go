// Package lease provides locks shared by paved's replicas, built on the
// store's leases. A lock is a short lease renewed by a heartbeat while its
// holder works: a holder that dies (kill -9, a lost machine) stops renewing,
// and the next caller takes the lock a few seconds later instead of after a
// long TTL. Each acquisition has its own holder id, its fencing token: a
// holder that lost its lease (a stalled process whose lease expired and was
// taken) can no longer renew it, its work context is cancelled, and Fence
// refuses before it commits.
//
// A wait for a held lock is bounded: it ends in an EUnavailable error with a
// retry-after hint, never in the caller's own timeout (a 500 or a hang up to
// Backstage's HTTP limit).
package lease

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/paved-dev/paved"
)

// Store is the store's lease table (sqlstore.DB): AcquireLease takes or
// renews the lease for holder until ttl from now, by the database's clock.
type Store interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Defaults: a dead holder's lock is free within TTL; a live one renews every
// TTL/3, so two missed renewals (a slow database) do not lose it.
const (
	DefaultTTL  = 6 * time.Second
	DefaultWait = 30 * time.Second
	defaultPoll = 50 * time.Millisecond
)

// Options tune one lock.
type Options struct {
	// TTL is how long the lease lasts without renewal (default DefaultTTL).
	TTL time.Duration
	// Wait bounds how long Acquire waits for a held lock (default
	// DefaultWait); then it returns an EUnavailable error.
	Wait time.Duration
	// Busy is the message of that error (default: "<name> is busy").
	Busy string
}

// Lock is one held lease.
type Lock struct {
	store  Store
	name   string
	holder string
	ttl    time.Duration
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu   sync.Mutex
	lost error
}

// ErrLost is the cause of a lock's context when its lease was lost.
var ErrLost = paved.Errorf(paved.EUnavailable, "the lock was lost (its lease expired and another caller took it); nothing more was committed, try again")

// Acquire takes the lock name, waiting at most o.Wait while another holds
// it. It returns the lock and a context derived from ctx that is cancelled
// when the lease is lost; the caller does its work under that context and
// calls Release when done.
func Acquire(ctx context.Context, store Store, name string, o Options) (*Lock, context.Context, error) {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	holder := rand.Text()
	deadline := time.Now().Add(o.Wait)
	for {
		ok, err := store.AcquireLease(ctx, name, holder, o.TTL)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, busy(name, o, ctx.Err())
			}
			return nil, nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if ok {
			break
		}
		if !time.Now().Before(deadline) {
			return nil, nil, busy(name, o, nil)
		}
		// Jitter keeps waiters from retrying in step.
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(defaultPoll)))
		t := time.NewTimer(defaultPoll/2 + time.Duration(j.Int64()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, busy(name, o, ctx.Err())
		case <-t.C:
		}
	}
	wctx, cancel := context.WithCancelCause(ctx)
	l := &Lock{store: store, name: name, holder: holder, ttl: o.TTL, cancel: cancel, done: make(chan struct{})}
	go l.heartbeat(wctx)
	return l, wctx, nil
}

func busy(name string, o Options, cause error) error {
	msg := o.Busy
	if msg == "" {
		msg = name + " is busy"
	}
	e := paved.Wrap(paved.EUnavailable, cause, "%s; try again shortly", msg)
	e.RetryAfter = o.TTL
	return e
}

// heartbeat renews the lease every ttl/3 until the work context ends; a
// renewal that finds the lease taken (or that cannot reach the store for a
// whole ttl) cancels the work.
func (l *Lock) heartbeat(ctx context.Context) {
	defer close(l.done)
	every := l.ttl / 3
	t := time.NewTicker(every)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), every)
		ok, err := l.store.AcquireLease(rctx, l.name, l.holder, l.ttl)
		cancel()
		switch {
		case err == nil && ok:
			lastOK = time.Now()
			continue
		case err == nil && !ok:
			l.lose(ErrLost)
			return
		case time.Since(lastOK) >= l.ttl:
			l.lose(ErrLost)
			return
		}
	}
}

func (l *Lock) lose(err error) {
	l.mu.Lock()
	l.lost = err
	l.mu.Unlock()
	l.cancel(err)
}

// Token is the lock's fencing token: the holder id of this acquisition,
// which no other acquisition shares.
func (l *Lock) Token() string { return l.holder }

// Fence checks, just before a commit, that this lock still holds its lease,
// and renews it: the commit then happens within a fresh TTL that no other
// caller can take. A holder that lost the lease gets ErrLost and must not
// commit.
func (l *Lock) Fence(ctx context.Context) error {
	l.mu.Lock()
	lost := l.lost
	l.mu.Unlock()
	if lost != nil {
		return lost
	}
	ok, err := l.store.AcquireLease(context.WithoutCancel(ctx), l.name, l.holder, l.ttl)
	if err != nil {
		return fmt.Errorf("lock %s: %w", l.name, err)
	}
	if !ok {
		l.lose(ErrLost)
		return ErrLost
	}
	return nil
}

// Release stops the heartbeat and gives the lease up, even when the
// caller's context has ended, so the next caller need not wait.
func (l *Lock) Release() {
	l.cancel(context.Canceled)
	<-l.done
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.store.ReleaseLease(rctx, l.name, l.holder)
}
