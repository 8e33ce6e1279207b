package devex

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/paved-dev/paved"
)

// AppWatcher follows Argo CD's application watch stream and reads revision
// metadata (argocd.Client). WatchApps returns nil when ctx ends and an error
// when the stream breaks; paved.ErrCannotWatch in its chain means watching
// again will not help.
type AppWatcher interface {
	Instances() []string
	WatchApps(ctx context.Context, instance, selector string, projects []string, event func(typ string, app paved.App)) error
	CommitTime(ctx context.Context, ref paved.AppRef, revision string) (time.Time, error)
}

// KeysStore is what the four keys' follower writes.
type KeysStore interface {
	RecordAppFacts(ctx context.Context, f AppFacts) (DORAChange, error)
	SetCommitTime(ctx context.Context, c ChangeRef, at time.Time) error
}

// KeysFollowerOptions configure a KeysFollower.
type KeysFollowerOptions struct {
	Watcher AppWatcher
	Store   KeysStore
	Logger  *slog.Logger
	Now     func() time.Time
	// Backoff is the first wait before watching again after a stream broke;
	// it doubles up to MaxBackoff. Defaults 1s and 1m.
	Backoff, MaxBackoff time.Duration
	// Lead reports whether this replica should follow the streams (the
	// collector's lease: Collector.Leading); nil follows always. It is asked
	// every LeadCheck (default 5s).
	Lead      func() bool
	LeadCheck time.Duration
	// CommitRetry is how long a revision whose commit time Argo CD could not
	// give waits before it is asked again (default 1m).
	CommitRetry time.Duration
}

// KeysFollower records the four keys' changes and incidents from the
// watch streams of every Argo CD instance, as they happen: a Degraded or
// Healthy application is seen within one event, not at the next poll.
// Every replica may follow: the store applies each fact once.
type KeysFollower struct {
	o KeysFollowerOptions

	mu     sync.Mutex
	last   map[string]string    // app key → fingerprint of its last state applied
	synced map[string]string    // app key → id of the latest sync its last look showed
	tried  map[string]time.Time // change → last failed commit-time lookup
}

// NewKeysFollower returns a KeysFollower with o's defaults filled in.
func NewKeysFollower(o KeysFollowerOptions) *KeysFollower {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.Backoff <= 0 {
		o.Backoff = min(time.Second, o.MaxBackoff)
	}
	if o.LeadCheck <= 0 {
		o.LeadCheck = 5 * time.Second
	}
	if o.CommitRetry <= 0 {
		o.CommitRetry = time.Minute
	}
	return &KeysFollower{o: o, last: map[string]string{}, synced: map[string]string{}, tried: map[string]time.Time{}}
}

// Run follows every instance while this replica leads, until ctx ends.
// Replicas handing the lead over may both follow for a moment: the store
// applies what both see once.
func (k *KeysFollower) Run(ctx context.Context) {
	tick := time.NewTicker(k.o.LeadCheck)
	defer tick.Stop()
	var wg sync.WaitGroup
	var stop context.CancelFunc
	for {
		lead := k.o.Lead == nil || k.o.Lead()
		switch {
		case lead && stop == nil:
			var sctx context.Context
			sctx, stop = context.WithCancel(ctx)
			for _, in := range k.o.Watcher.Instances() {
				wg.Go(func() { k.follow(sctx, in) })
			}
		case !lead && stop != nil:
			stop()
			wg.Wait()
			stop = nil
		}
		select {
		case <-ctx.Done():
			if stop != nil {
				stop()
			}
			wg.Wait()
			return
		case <-tick.C:
		}
	}
}

func (k *KeysFollower) follow(ctx context.Context, instance string) {
	backoff := k.o.Backoff
	for {
		opened := time.Now()
		err := k.o.Watcher.WatchApps(ctx, instance, managedBySelector, nil, func(typ string, app paved.App) {
			if typ != "DELETED" {
				k.Observe(ctx, app)
			}
		})
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, paved.ErrCannotWatch) {
			k.o.Logger.Warn("devex: cannot watch this Argo CD instance; no lead time, failures or restores from it", "instance", instance, "error", err)
			return
		}
		if time.Since(opened) > k.o.MaxBackoff {
			backoff = k.o.Backoff
		}
		k.o.Logger.Warn("devex: Argo CD watch stream broke; watching again", "instance", instance, "after", backoff.String(), "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, k.o.MaxBackoff)
	}
}

// StateOf reads an application as the four keys see it, observed at now.
func StateOf(a paved.App, now time.Time) AppState {
	o := Observe(a, now)
	s := AppState{
		Key: o.Key, Instance: a.Instance, Namespace: a.Namespace, Name: a.Name, Project: a.Project,
		Service: o.Service, TemplateRef: o.TemplateRef, Environment: o.Environment,
		Owner:  GroupRef(a.Annotations[paved.AnnotationOwner]),
		Health: a.HealthStatus, HealthSince: a.HealthSince, ReconciledAt: a.ReconciledAt,
		Synced: a.SyncStatus == "Synced", Revision: a.Revision, OperationPhase: a.OperationPhase,
		ObservedAt: now,
	}
	for _, d := range o.Deployments {
		if d.Succeeded {
			s.History = append(s.History, d)
		}
	}
	return s
}

// Observe applies one event's application to the store, and asks Argo CD
// for the commit time of changes the store lacks it for. Errors are logged:
// the next event of the app (Argo CD sends one at every reconciliation)
// applies its state again.
func (k *KeysFollower) Observe(ctx context.Context, a paved.App) {
	s := StateOf(a, k.o.Now())
	latest := ""
	if n := len(s.History); n > 0 {
		latest = s.History[n-1].ID
	}
	k.mu.Lock()
	prev, looked := k.synced[s.Key]
	s.SeenSynced = looked && prev == latest && latest != ""
	k.synced[s.Key] = latest
	k.mu.Unlock()
	f := Facts(s)
	print := fingerprint(f)
	k.mu.Lock()
	same := k.last[s.Key] == print
	k.mu.Unlock()
	if same {
		return
	}
	ch, err := k.o.Store.RecordAppFacts(ctx, f)
	if err != nil {
		if ctx.Err() == nil {
			k.o.Logger.Warn("devex: recording an application's changes failed", "app", s.Key, "error", err)
		}
		return
	}
	done := true
	for _, c := range ch.NeedCommit {
		if !k.commitTime(ctx, s, c) {
			done = false
		}
	}
	k.mu.Lock()
	if done {
		k.last[s.Key] = print
	} else {
		delete(k.last, s.Key)
	}
	k.mu.Unlock()
}

func (k *KeysFollower) commitTime(ctx context.Context, s AppState, c ChangeRef) bool {
	id := c.AppKey + "\x00" + c.DeployID
	now := time.Now()
	k.mu.Lock()
	last, tried := k.tried[id]
	k.mu.Unlock()
	if tried && now.Sub(last) < k.o.CommitRetry {
		return false
	}
	at, err := k.o.Watcher.CommitTime(ctx, paved.AppRef{Instance: s.Instance, Name: s.Name, Namespace: s.Namespace, Project: s.Project}, c.Revision)
	if err == nil {
		err = k.o.Store.SetCommitTime(ctx, c, at)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			k.o.Logger.Warn("devex: no commit time for a change; its lead time waits", "app", s.Key, "revision", c.Revision, "error", err)
		}
		k.tried[id] = now
		return false
	}
	delete(k.tried, id)
	return true
}

// fingerprint is what of the facts the store reads: events that differ
// only in what it ignores (a new reconciliation of an unchanged app) are
// not applied again.
func fingerprint(f AppFacts) string {
	s := f.State
	p := s.Service + "|" + s.Owner + "|" + s.TemplateRef + "|" + s.Health + "|" + s.HealthSince.String() + "|" + s.Revision + "|" + s.OperationPhase
	for _, c := range f.Changes {
		p += "|" + c.ID
	}
	for _, x := range f.Failures {
		p += "|" + x.DeployID + ":" + x.Reason
	}
	if f.Healthy != nil {
		p += "|healthy:" + f.Healthy.DeployID
	}
	if f.Degraded != nil {
		p += "|degraded:" + f.Degraded.ID
	}
	return p
}
