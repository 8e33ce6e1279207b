package manifests_test

import (
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/infra/manifests"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// TestConcurrentCallsProvisionAndTearDownOnce: identical provisionings at
// once make one resource and one commit, the others answer created false;
// deprovisionings at once run the driver once. cmd/paved's two-replica test
// runs the same over two processes on PostgreSQL.
func TestConcurrentCallsProvisionAndTearDownOnce(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	repo, err := gitops.Open(gitops.Config{URL: url, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	d := manifests.New(manifests.Options{Render: argocd.Manifests{}, Repo: repo, RepoURL: "https://git.example.test/platform/deploy.git", Branch: "main"})
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key := make([]byte, infra.KeySize)
	_, _ = rand.Read(key)
	sealer, err := infra.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := infra.NewService(infra.Options{Kinds: loadKinds(t, d, "s3-bucket-terraform.yaml"),
		Drivers: map[string]infra.Driver{"manifests": d}, Store: store, Sealer: sealer, Leases: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx := asUser(t.Context(), "user:default/jane")
	at := func(n int, f func() string) map[string]int {
		var mu sync.Mutex
		answers := map[string]int{}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				a := f()
				mu.Lock()
				answers[a]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return answers
	}

	req := infra.Request{Kind: "s3-bucket", Name: "assets", Owner: "user:default/jane", Parameters: map[string]any{"region": "eu-west-1"}}
	var id string
	var idMu sync.Mutex
	got := at(8, func() string {
		r, created, err := svc.Provision(ctx, req)
		if err != nil {
			return "error " + err.Error()
		}
		idMu.Lock()
		id = r.ID
		idMu.Unlock()
		if created {
			return "created"
		}
		return "found"
	})
	if got["created"] != 1 || got["found"] != 7 {
		t.Errorf("Provision ×8 at once: %v, want one created and seven found", got)
	}
	if n := gitopstest.Commits(t, dir, "main"); n != 1 {
		t.Errorf("Provision ×8 at once made %d commits, want 1", n)
	}

	got = at(8, func() string {
		_, err := svc.Deprovision(ctx, id)
		return string(paved.ErrorCode(err))
	})
	if got[""] != 1 || got[string(paved.ENotFound)] != 7 {
		t.Errorf("Deprovision ×8 at once: %v, want one done and seven not found", got)
	}
	if n := gitopstest.Commits(t, dir, "main"); n != 2 {
		t.Errorf("after Deprovision ×8 at once: %d commits, want 2", n)
	}
	if list, err := store.InfraProvisionings(t.Context(), id, 100); err != nil || len(list) != 2 {
		t.Errorf("recorded %d provisionings and deprovisionings (%v), want 2", len(list), err)
	}
}
