package manifests_test

import (
	"context"
	"slices"
	"strings"
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

// Review mode: a kill after the review branch was pushed and before the
// record said ready. The retry of the same request pushes to the branch the
// dead attempt opened (named after the resource id) and opens no second one;
// a deprovisioning of the stuck record, which never learnt its branch,
// removes it; a deprovisioning retried after a kill reuses its own branch.
func TestKilledAfterReviewPush(t *testing.T) {
	e := newReviewEnv(t)
	ctx, cancel := context.WithTimeout(asUser(t.Context(), "user:default/jane"), 30*time.Second)
	defer cancel()
	branches := func() []string {
		t.Helper()
		b, err := e.repo.Branches(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(b)
		return b
	}
	req := infra.Request{Kind: "s3-bucket", Name: "assets", Parameters: map[string]any{"region": "us-east-1"}}
	r, _, err := e.svc.Provision(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := branches()
	if len(want) != 2 || want[1] != r.Branch {
		t.Fatalf("branches after provisioning = %v, want main and %s", want, r.Branch)
	}
	commits := gitopstest.Commits(t, e.dir, r.Branch)

	// The record as the dead attempt left it: provisioning, no branch yet.
	stuck := r
	stuck.Status, stuck.Branch, stuck.Commit, stuck.CompareURL = infra.StatusProvisioning, "", "", ""
	if err := e.store.UpdateInfraResource(t.Context(), stuck); err != nil {
		t.Fatal(err)
	}
	again, _, err := e.svc.Provision(ctx, req)
	if err != nil {
		t.Fatalf("retry after the kill: %v", err)
	}
	if again.ID != r.ID || again.Status != infra.StatusReady || again.Branch != r.Branch || again.Commit != r.Commit {
		t.Errorf("retry = %s %s branch %s commit %s, want %s ready on %s at %s", again.ID, again.Status, again.Branch, again.Commit, r.ID, r.Branch, r.Commit)
	}
	if got := branches(); !slices.Equal(got, want) {
		t.Errorf("branches after the retry = %v, want %v (no second review)", got, want)
	}
	if n := gitopstest.Commits(t, e.dir, r.Branch); n != commits {
		t.Errorf("the retry made %d more commits on the review branch, want none", n-commits)
	}

	if err := e.store.UpdateInfraResource(t.Context(), stuck); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Deprovision(ctx, r.ID); err != nil {
		t.Fatalf("Deprovision of the stuck record: %v", err)
	}
	if got := branches(); !slices.Equal(got, []string{"main"}) {
		t.Errorf("branches after deprovisioning the stuck record = %v, want [main]", got)
	}

	// A merged resource: its removal goes for review too, and the same
	// removal again (a deprovisioning killed after its push) reuses it.
	r, _, err = e.svc.Provision(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	gitopstest.Git(t, e.dir, "update-ref", "refs/heads/main", "refs/heads/"+r.Branch)
	for i := range 2 {
		if err := e.driver.Deprovision(ctx, e.kind, r); err != nil {
			t.Fatalf("Deprovision %d: %v", i+1, err)
		}
		got := branches()
		if len(got) != 2 || !strings.HasPrefix(got[1], "paved/deprovision-assets-") {
			t.Fatalf("branches after deprovisioning %d = %v, want main and one paved/deprovision-assets-…", i+1, got)
		}
		if n := gitopstest.Commits(t, e.dir, got[1]) - gitopstest.Commits(t, e.dir, "main"); n != 1 {
			t.Errorf("deprovisioning %d: the review branch is %d commits ahead of main, want 1", i+1, n)
		}
	}
}
