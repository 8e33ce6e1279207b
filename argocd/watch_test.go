package argocd

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd/argocdtest"
)

type watchEvent struct {
	typ string
	app paved.App
}

// startWatch runs WatchApps until the test ends; the events and the error it
// returns arrive on the channels.
func startWatch(t *testing.T, c *Client, selector string) (<-chan watchEvent, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan watchEvent, 100)
	done := make(chan error, 1)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		done <- c.WatchApps(ctx, "default", selector, nil, func(typ string, app paved.App) { events <- watchEvent{typ, app} })
	}()
	t.Cleanup(func() {
		cancel()
		<-ended
	})
	return events, done
}

func nextEvent(t *testing.T, events <-chan watchEvent) watchEvent {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
		return watchEvent{}
	}
}

func wantEvent(t *testing.T, events <-chan watchEvent, typ, name string) paved.App {
	t.Helper()
	ev := nextEvent(t, events)
	if ev.typ != typ || ev.app.Name != name {
		t.Fatalf("event %s %s, want %s %s", ev.typ, ev.app.Name, typ, name)
	}
	return ev.app
}

func waitWatches(t *testing.T, srv *argocdtest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Watches() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d watch streams open, want %d", srv.Watches(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchApps(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, appRequest("shop")); err != nil {
		t.Fatal(err)
	}
	events, done := startWatch(t, c, "")
	if app := wantEvent(t, events, EventAdded, "shop"); app.URL != "https://argocd.example/applications/shop" {
		t.Fatalf("an event's app is not mapped like a listed one: %+v", app)
	}
	waitWatches(t, srv, 1)

	if _, err := c.CreateApp(ctx, appRequest("web")); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, events, EventAdded, "web")
	req := appRequest("shop")
	req.Labels["team"] = "payments"
	req.Upsert = true
	if _, err := c.CreateApp(ctx, req); err != nil {
		t.Fatal(err)
	}
	if app := wantEvent(t, events, EventModified, "shop"); app.Labels["team"] != "payments" {
		t.Fatalf("modified app without its new label: %+v", app.Labels)
	}
	if err := c.DeleteApp(ctx, paved.DeleteRequest{AppRef: paved.AppRef{Instance: "default", Name: "web"}}); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, events, EventDeleted, "web")
	select {
	case err := <-done:
		t.Fatalf("watch ended: %v", err)
	default:
	}
}

func TestWatchAppsSelector(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	events, _ := startWatch(t, c, "team=payments")
	waitWatches(t, srv, 1)
	if _, err := c.CreateApp(context.Background(), appRequest("other")); err != nil {
		t.Fatal(err)
	}
	req := appRequest("shop")
	req.Labels["team"] = "payments"
	if _, err := c.CreateApp(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	// Events arrive in order: had "other" been sent, it would come first.
	wantEvent(t, events, EventAdded, "shop")
}

func TestWatchAppsErrors(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	for _, tc := range []struct {
		code  codes.Code
		want  paved.Code
		final bool // paved.ErrCannotWatch: watching again will not help
	}{
		{codes.Unimplemented, paved.EInvalid, true},
		{codes.Unknown, paved.EInvalid, true},
		{codes.PermissionDenied, paved.EForbidden, true},
		{codes.Unavailable, paved.EUnavailable, false},
	} {
		srv.FailWatch(tc.code, 1)
		err := c.WatchApps(context.Background(), "default", "", nil, func(string, paved.App) {})
		if paved.ErrorCode(err) != tc.want {
			t.Errorf("%v: got %v (%v), want %s", tc.code, paved.ErrorCode(err), err, tc.want)
		}
		if errors.Is(err, paved.ErrCannotWatch) != tc.final {
			t.Errorf("%v: ErrCannotWatch in the chain is %v, want %v", tc.code, !tc.final, tc.final)
		}
	}
	if err := c.WatchApps(context.Background(), "nope", "", nil, func(string, paved.App) {}); paved.ErrorCode(err) != paved.EInvalid || !errors.Is(err, paved.ErrCannotWatch) {
		t.Errorf("unknown instance: %v", err)
	}
}

func TestWatchAppsBrokenStream(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	_, done := startWatch(t, c, "")
	waitWatches(t, srv, 1)
	srv.BreakWatches()
	select {
	case err := <-done:
		wantError(t, err, paved.EUnavailable, "unavailable")
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not end with the stream")
	}
}

func TestWatchAppsLogsInAgain(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	if _, err := c.CreateApp(context.Background(), appRequest("shop")); err != nil {
		t.Fatal(err)
	}
	srv.RevokeTokens()
	events, _ := startWatch(t, c, "")
	wantEvent(t, events, EventAdded, "shop")
	if n := srv.Calls(argocdtest.MethodLogin); n != 2 {
		t.Fatalf("%d logins, want 2", n)
	}
	if n := srv.Calls(argocdtest.MethodAppWatch); n != 2 {
		t.Fatalf("%d watch calls, want 2 (refused, then with the new session)", n)
	}
}
