package ttlnotice_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
	"github.com/paved-dev/paved/ttlnotice"
)

const kindYAML = `
name: cache
title: Cache
description: A cache.
driver: fake
owner: group:default/platform
parameters:
  type: object
  properties:
    size: {type: string, enum: [small], default: small}
template: {}
`

// driver stands for a real one; failTeardowns makes that many teardowns fail.
type driver struct {
	mu            sync.Mutex
	failTeardowns int
}

func (d *driver) Check(infra.Kind) error { return nil }
func (d *driver) Provision(context.Context, infra.Kind, infra.Resource) (infra.Outcome, error) {
	return infra.Outcome{}, nil
}
func (d *driver) Deprovision(context.Context, infra.Kind, infra.Resource) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failTeardowns > 0 {
		d.failTeardowns--
		return errors.New("the cloud said no")
	}
	return nil
}

// notifier records what reaches Backstage; fail makes sends fail.
type notifier struct {
	mu   sync.Mutex
	sent []approval.Notification
	fail bool
}

func (n *notifier) Notify(_ context.Context, m approval.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail {
		return errors.New("notifications backend unavailable")
	}
	n.sent = append(n.sent, m)
	return nil
}

func (n *notifier) take() []approval.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.sent
	n.sent = nil
	return out
}

// members: jane is in payments.
type members struct{}

func (members) UserGroups(context.Context, string) ([]string, error) { return []string{owner}, nil }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	store  *sqlstore.DB
	svc    *infra.Service
	driver *driver
	notes  *notifier
	clock  *clock
	sender *ttlnotice.Sender
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	d := &driver{}
	k, err := infra.ParseKind([]byte(kindYAML), map[string]infra.Driver{"fake": d})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, infra.KeySize)
	_, _ = rand.Read(key)
	sealer, err := infra.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: db, driver: d, notes: &notifier{}, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	e.svc, err = infra.NewService(infra.Options{
		Kinds: []infra.Kind{k}, Drivers: map[string]infra.Driver{"fake": d}, Store: db, Sealer: sealer,
		Membership: members{}, Leases: db, TTLNotices: true, Now: e.clock.Now, MaxTTL: 30 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.sender = e.newSender(t)
	return e
}

func (e *env) newSender(t *testing.T) *ttlnotice.Sender {
	s, err := ttlnotice.NewSender(ttlnotice.Options{
		Before: 72 * time.Hour, Store: e.store, Notifier: e.notes, Now: e.clock.Now,
		Resource:  func(id string) string { return "https://backstage.example.com/paved/resources/" + id },
		Resources: "https://backstage.example.com/paved",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const owner = "group:default/payments"

func asJane(ctx context.Context) context.Context {
	return paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/jane"})
}

func (e *env) provision(t *testing.T, name string, ttl time.Duration) infra.Resource {
	t.Helper()
	r, _, err := e.svc.Provision(asJane(t.Context()), infra.Request{Kind: "cache", Name: name, Owner: owner, TTL: ttl})
	if err != nil {
		t.Fatalf("Provision %s: %v", name, err)
	}
	return r
}

func (e *env) sweep(t *testing.T) []approval.Notification {
	t.Helper()
	if _, err := e.sender.Sweep(t.Context()); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	return e.notes.take()
}

// The owner hears once per TTL, N before it ends, with the link to the
// resource's page; an extension makes a new notice due; the reaper's
// teardown sends one more.
func TestNoticeOncePerTTLAndWhenTornDown(t *testing.T) {
	e := newEnv(t)
	r := e.provision(t, "orders", 10*24*time.Hour)
	e.provision(t, "forever", 0)

	if got := e.sweep(t); len(got) != 0 {
		t.Fatalf("10 days before the end: %d notices, want none: %+v", len(got), got)
	}
	e.clock.Add(8 * 24 * time.Hour) // 2 days left, within 72h
	got := e.sweep(t)
	if len(got) != 1 {
		t.Fatalf("2 days before the end: %d notices, want 1: %+v", len(got), got)
	}
	n := got[0]
	if len(n.Recipients) != 1 || n.Recipients[0] != owner || n.Topic != ttlnotice.Topic ||
		n.Link != "https://backstage.example.com/paved/resources/"+r.ID ||
		!strings.Contains(n.Title, "orders") || !strings.Contains(n.Description, "in 2d") || !strings.Contains(n.Description, "Extend") {
		t.Errorf("expiring notice = %+v", n)
	}
	e.clock.Add(time.Hour)
	if got := e.sweep(t); len(got) != 0 {
		t.Errorf("a second sweep for the same TTL sent %d: %+v", len(got), got)
	}

	// Extending moves the TTL: a new notice is due when the new end nears.
	if _, err := e.svc.Extend(asJane(t.Context()), r.ID, 5*24*time.Hour); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if got := e.sweep(t); len(got) != 0 {
		t.Errorf("right after extending by 5 days: %d notices: %+v", len(got), got)
	}
	e.clock.Add(4 * 24 * time.Hour)
	if got := e.sweep(t); len(got) != 1 || !strings.HasPrefix(got[0].Title, "Expiring") {
		t.Errorf("near the extended end: %+v, want one expiring notice", got)
	}

	// The reaper tears it down: one torn-down notice, then nothing more.
	e.clock.Add(3 * 24 * time.Hour)
	if n, err := e.svc.Reap(t.Context()); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}
	got = e.sweep(t)
	if len(got) != 1 || !strings.HasPrefix(got[0].Title, "Torn down") || got[0].Recipients[0] != owner || got[0].Link != "https://backstage.example.com/paved" {
		t.Fatalf("after the reap: %+v, want one torn-down notice", got)
	}
	if got := e.sweep(t); len(got) != 0 {
		t.Errorf("a second sweep after the reap sent %+v", got)
	}
}

// A teardown that fails keeps its recorded notice unsent while the resource
// lives; the reap that succeeds later sends it once. An extension after the
// failed reap drops it, so a later deprovisioning does not claim a reap.
func TestTornDownNoticeWaitsForTheTeardown(t *testing.T) {
	e := newEnv(t)
	e.provision(t, "orders", time.Hour)
	a := e.provision(t, "carts", time.Hour)
	e.notes.take()
	e.clock.Add(2 * time.Hour)
	e.driver.failTeardowns = 2
	if _, err := e.svc.Reap(t.Context()); err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if got := e.sweep(t); len(got) != 0 {
		t.Fatalf("after failed teardowns: %+v, want nothing", got)
	}
	// carts is extended by its owner; orders is reaped on the next round.
	if _, err := e.svc.Extend(asJane(t.Context()), a.ID, 24*time.Hour); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if n, err := e.svc.Reap(t.Context()); err != nil || n != 1 {
		t.Fatalf("second Reap = %d, %v; want 1", n, err)
	}
	got := tornDown(e.sweep(t))
	if len(got) != 1 || !strings.Contains(got[0].Title, "orders") {
		t.Fatalf("after the reap: %+v, want one torn-down notice of orders", got)
	}
	if _, err := e.svc.Deprovision(asJane(t.Context()), a.ID); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if got := tornDown(e.sweep(t)); len(got) != 0 {
		t.Errorf("a deprovisioned, extended resource got %+v", got)
	}
}

func tornDown(ns []approval.Notification) []approval.Notification {
	var out []approval.Notification
	for _, n := range ns {
		if strings.HasPrefix(n.Title, "Torn down") {
			out = append(out, n)
		}
	}
	return out
}

// An outage of the notifications backend loses nothing: the notice is sent
// when it is back (after the retry delay), once.
func TestNoticeSurvivesAnOutage(t *testing.T) {
	e := newEnv(t)
	e.provision(t, "orders", time.Hour)
	e.notes.fail = true
	if n, err := e.sender.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("Sweep during the outage = %d, %v", n, err)
	}
	e.notes.fail = false
	if got := e.sweep(t); len(got) != 0 {
		t.Errorf("retried before the retry delay: %+v", got)
	}
	e.clock.Add(6 * time.Minute)
	if got := e.sweep(t); len(got) != 1 {
		t.Errorf("after the outage: %d notices, want 1", len(got))
	}
	if got := e.sweep(t); len(got) != 0 {
		t.Errorf("sent again: %+v", got)
	}
}

// Two replicas sweeping at once send each notice once.
func TestTwoReplicasSendOnce(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		e.provision(t, name, time.Hour)
	}
	other := e.newSender(t)
	var wg sync.WaitGroup
	for _, s := range []*ttlnotice.Sender{e.sender, other} {
		wg.Go(func() {
			if _, err := s.Sweep(t.Context()); err != nil {
				t.Errorf("Sweep: %v", err)
			}
		})
	}
	wg.Wait()
	got := e.notes.take()
	seen := map[string]int{}
	for _, n := range got {
		seen[n.Title]++
	}
	if len(got) != 5 || len(seen) != 5 {
		t.Errorf("two replicas sent %d notices (%v), want 5 distinct", len(got), seen)
	}
}
