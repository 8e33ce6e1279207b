package devex_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/devex"
)

// TestKeysFollower follows the watch stream of the in-process Argo CD API
// server with paved's Argo CD client: an app synced to a revision committed
// an hour before, Healthy a second after the sync, then Degraded 5 s after
// it and Healthy again a minute later. The store holds one change with a
// lead time of 1h + 1s, failed, and one incident restored in 60 s.
func TestKeysFollower(t *testing.T) {
	ctx := context.Background()
	srv, err := argocdtest.NewServer(argocdtest.Options{Username: "admin", Password: "s3cret-password"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	client, err := argocd.New([]argocd.InstanceConfig{{Name: "default", Server: srv.Addr(), Username: "admin", Password: "s3cret-password",
		PlainText: true, Timeout: 10 * time.Second, DefaultProject: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if _, err := client.CreateApp(ctx, paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "default", Name: "shop"},
		Sources:     []paved.AppSource{{RepoURL: "https://git.example/platform/apps.git", Path: "apps/shop", TargetRevision: "main"}},
		Destination: paved.AppDestination{Server: paved.InClusterServer, Namespace: "shop"},
		Automated:   &paved.AutoSync{},
		Labels:      map[string]string{paved.LabelManagedBy: paved.ManagedByPaved},
		Annotations: map[string]string{paved.AnnotationEntityRef: "component:default/shop", paved.AnnotationOwner: "group:default/team-a",
			paved.AnnotationTemplate: "template:default/service"},
	}); err != nil {
		t.Fatal(err)
	}
	app, ok := srv.App("", "shop")
	if !ok || len(app.Status.History) != 1 {
		t.Fatalf("the automated app did not sync: %+v", app)
	}
	deployed := app.Status.History[0].DeployedAt.Time
	srv.SetCommitDate(app.Status.History[0].Revision, deployed.Add(-time.Hour))
	srv.SetHealth("", "shop", "Healthy", deployed.Add(time.Second))

	db := openStore(t)
	follower := devex.NewKeysFollower(devex.KeysFollowerOptions{Watcher: client, Store: db, LeadCheck: 10 * time.Millisecond})
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		follower.Run(fctx)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
	day := deployed.UTC().Truncate(24 * time.Hour)
	keys := func() devex.KeysRow {
		t.Helper()
		_, overall, err := db.FourKeys(ctx, devex.Filter{From: day, To: day.AddDate(0, 0, 2)}, "service")
		if err != nil {
			t.Fatal(err)
		}
		return overall
	}
	waitFor := func(what string, ok func(devex.KeysRow) bool) devex.KeysRow {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			k := keys()
			if ok(k) {
				return k
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the store holds %+v", what, k)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	k := waitFor("the sync's lead time", func(k devex.KeysRow) bool { return len(k.LeadTimesMS) == 1 })
	wantMS := func(name string, got int64, want time.Duration) {
		t.Helper()
		t.Logf("%s: %v (truth %v)", name, time.Duration(got)*time.Millisecond, want)
		if math.Abs(float64(got-want.Milliseconds())) > 1000 { // Argo CD's times are whole seconds
			t.Errorf("%s = %v, want %v ± 1s", name, time.Duration(got)*time.Millisecond, want)
		}
	}
	wantMS("lead time", k.LeadTimesMS[0], time.Hour+time.Second)
	if k.Deployments != 1 || k.Changes != 1 || k.FailedChanges != 0 {
		t.Errorf("after the sync: %+v, want one change, deployed, not failed", k)
	}

	srv.SetHealth("", "shop", "Degraded", deployed.Add(5*time.Second))
	k = waitFor("the failed change and its incident", func(k devex.KeysRow) bool { return k.FailedChanges == 1 && k.OpenIncidents == 1 })
	srv.SetHealth("", "shop", "Healthy", deployed.Add(65*time.Second))
	k = waitFor("the restore", func(k devex.KeysRow) bool { return len(k.RestoresMS) == 1 })
	wantMS("time to restore", k.RestoresMS[0], time.Minute)
	if k.Changes != 1 || k.FailedChanges != 1 || k.OpenIncidents != 0 || len(k.LeadTimesMS) != 1 {
		t.Errorf("after the restore: %+v, want one failed change, its incident closed", k)
	}
	if n := srv.Calls(argocdtest.MethodAppRevisionMetadata); n != 1 {
		t.Errorf("revision metadata asked %d times, want once", n)
	}
}
