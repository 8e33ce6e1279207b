package manifests_test

import (
	"context"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/gitops/gitopstest"
	"github.com/paved-dev/paved/infra"
)

// A kill after the commit landed and before the record said ready: the
// retry of the same request adopts the commit (same resource id, same
// files: no second commit), and a deprovisioning of the stuck record works.
func TestKilledAfterCommit(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	e := newEnv(t, url, dir, nil)
	ctx, cancel := context.WithTimeout(asUser(t.Context(), "user:default/jane"), 30*time.Second)
	defer cancel()
	req := infra.Request{Kind: "s3-bucket", Name: "assets", Parameters: map[string]any{"region": "us-east-1"}}
	r, _, err := e.svc.Provision(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	commits := gitopstest.Commits(t, dir, "main")
	r.Status = infra.StatusProvisioning
	if err := e.store.UpdateInfraResource(t.Context(), r); err != nil {
		t.Fatal(err)
	}

	again, created, err := e.svc.Provision(ctx, req)
	if err != nil {
		t.Fatalf("retry after the kill: %v", err)
	}
	if !created || again.ID != r.ID || again.Status != infra.StatusReady {
		t.Errorf("retry = %s created=%v %s, want %s finished", again.ID, created, again.Status, r.ID)
	}
	if n := gitopstest.Commits(t, dir, "main"); n != commits {
		t.Errorf("the retry made %d more commits, want none", n-commits)
	}

	// The same kill, then a deprovisioning instead of a retry.
	again.Status = infra.StatusProvisioning
	if err := e.store.UpdateInfraResource(t.Context(), again); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Deprovision(ctx, r.ID); err != nil {
		t.Fatalf("Deprovision of the stuck record: %v", err)
	}
	if _, err := e.store.GetInfraResource(t.Context(), r.ID); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("record after deprovisioning: %v", err)
	}
	if n := gitopstest.Commits(t, dir, "main"); n != commits+1 {
		t.Errorf("commits after deprovisioning = %d, want %d (one removal)", n, commits+1)
	}
}
