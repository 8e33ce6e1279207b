//go:build e2e

package catalog_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/catalog"
	"github.com/paved-dev/paved/e2e/stack"
)

// TestWatchRealArgoCD follows a real argocd-server's watch stream: with an
// hour between polls, an application created and then deleted in Argo CD
// reaches the catalog through the stream alone. Run with -tags e2e.
func TestWatchRealArgoCD(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	st := stack.StartForTest(ctx, t, "argocd-server")
	client, err := argocd.New([]argocd.InstanceConfig{{Name: "stack", Server: st.ArgoCDAddr, PlainText: true,
		Token: st.PavedToken, DefaultProject: "default", Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	r := runWatched(t, client, openStore(t, filepath.Join(t.TempDir(), "paved.db")), func(o *catalog.RefresherOptions) {
		o.Watch.Debounce = 200 * time.Millisecond
	}, "stack")
	waitLong(t, "the first refresh and a watch", func() bool { return r.Snapshot().State.Epoch != "" && r.Watching() == 1 })

	_, err = client.CreateApp(ctx, paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "stack", Name: "watched"},
		Sources:     []paved.AppSource{{RepoURL: st.GitURL("plain"), Path: ".", TargetRevision: "main"}},
		Destination: paved.AppDestination{Server: "https://kubernetes.default.svc", Namespace: "watched"},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitLong(t, "the new app is in the catalog", func() bool { return has(r.Refresher, "watched") })
	if err := client.DeleteApp(ctx, paved.DeleteRequest{AppRef: paved.AppRef{Instance: "stack", Name: "watched"}}); err != nil {
		t.Fatal(err)
	}
	waitLong(t, "the deleted app left the catalog", func() bool { return !has(r.Refresher, "watched") })
	m := r.metrics(t)
	if m["paved.catalog.refresh.duration/poll"] != 1 || m["paved.catalog.watch.events"] < 2 || m["paved.catalog.watch.reconnects"] != 0 {
		t.Fatalf("want one poll, the rest by the stream: %v\n%s", m, r.logs)
	}
	t.Logf("metrics: %v", m)
}

func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
