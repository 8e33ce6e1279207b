package scaffolder

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/forge"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
)

// recordedPRs stands for a forge: one pull request per branch.
type recordedPRs struct {
	specs []forge.Spec
	state string
	reads int // PullRequest calls
}

func (r *recordedPRs) PullRequest(_ context.Context, number int) (paved.PullRequest, error) {
	r.reads++
	if number != 7 {
		return paved.PullRequest{}, paved.Errorf(paved.ENotFound, "no pull request #%d", number)
	}
	state := r.state
	if state == "" {
		state = paved.PullRequestOpen
	}
	return paved.PullRequest{Number: 7, URL: "https://forge.example.test/platform/deploy/pulls/7", State: state}, nil
}

func (r *recordedPRs) EnsurePullRequest(_ context.Context, s forge.Spec) (paved.PullRequest, bool, error) {
	r.specs = append(r.specs, s)
	if r.state == paved.PullRequestClosed {
		return paved.PullRequest{}, false, paved.Errorf(paved.EConflict, "pull request #7 was closed without merging")
	}
	return paved.PullRequest{Number: 7, URL: "https://forge.example.test/platform/deploy/pulls/7", State: paved.PullRequestOpen, Branch: s.Branch, Base: s.Base}, len(r.specs) == 1, nil
}

func TestGitOpsReviewOpensAPullRequest(t *testing.T) {
	url, bare := gitopstest.Serve(t)
	repo, err := gitops.Open(gitops.Config{URL: url, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Apply(t.Context(), gitops.Change{Message: "init", Write: map[string][]byte{"README.md": []byte("x\n")}}); err != nil {
		t.Fatal(err)
	}
	prs := &recordedPRs{}
	var create Action
	for _, a := range AppActions(AppActionsOptions{Apps: &scriptedApps{states: []paved.App{{}}},
		GitOps: gitops.Writer{Repo: repo, Render: argocd.Manifests{}, Review: true, StableBranch: true}, PullRequests: prs}) {
		if a.Name == "create-argocd-app" {
			create = a
		}
	}
	in := map[string]any{"mode": "gitops", "name": "shop", "source": map[string]any{"repoURL": "https://git.example.test/shop.git", "path": "deploy"},
		"destination": map[string]any{"namespace": "shop"}}
	run := func() (map[string]any, error) {
		raw, _ := json.Marshal(in)
		return create.Handler(t.Context(), Input{Raw: raw})
	}
	out, err := run()
	if err != nil {
		t.Fatal(err)
	}
	if out["pullRequestUrl"] != "https://forge.example.test/platform/deploy/pulls/7" || out["url"] != out["pullRequestUrl"] || out["pullRequestNumber"] != 7 ||
		out["pullRequestState"] != "open" || out["branch"] != "paved/apps/shop" || out["created"] != true {
		t.Fatalf("output = %v", out)
	}
	for k, v := range out {
		if v == "" {
			t.Errorf("output %s is \"\": %v", k, out)
		}
	}
	if out["destinationNamespace"] != "shop" {
		t.Errorf("output destinationNamespace = %v, want shop (the request's destination)", out["destinationNamespace"])
	}
	s := prs.specs[0]
	if s.Branch != "paved/apps/shop" || s.Base != "main" || !strings.Contains(s.Title, "shop") || !strings.Contains(s.Body, "`apps/shop.yaml`") {
		t.Errorf("spec = %+v", s)
	}
	if got := gitopstest.Git(t, bare, "show", "paved/apps/shop:apps/shop.yaml"); !strings.Contains(got, "name: shop") {
		t.Errorf("the branch holds %q", got)
	}

	// The same request again: same branch, same pull request, no commit.
	again, err := run()
	if err != nil || again["created"] != false || again["pullRequestNumber"] != 7 || len(prs.specs) != 2 || prs.specs[1].Branch != s.Branch {
		t.Fatalf("again = %v, %v (specs %v)", again, err, prs.specs)
	}

	// Closed without merging: the caller hears it.
	prs.state = paved.PullRequestClosed
	if _, err := run(); paved.ErrorCode(err) != paved.EConflict || !strings.Contains(paved.ErrorMessage(err), "closed without merging") {
		t.Fatalf("closed: %v", err)
	}
}

// waitWithPRs runs wait-argocd-app with a forge configured (prs nil: none).
func waitWithPRs(t *testing.T, apps Apps, prs PullRequests, input map[string]any) (map[string]any, error) {
	t.Helper()
	opts := AppActionsOptions{Apps: apps, PollInterval: time.Millisecond, Sleep: func(ctx context.Context, d time.Duration) error {
		return ctx.Err()
	}}
	if prs != nil {
		opts.PullRequests = prs
	}
	raw, _ := json.Marshal(input)
	for _, a := range AppActions(opts) {
		if a.Name == "wait-argocd-app" {
			return a.Handler(t.Context(), Input{Raw: raw})
		}
	}
	t.Fatal("no wait-argocd-app")
	return nil, nil
}

func TestWaitFollowsThePullRequest(t *testing.T) {
	missing := paved.Errorf(paved.ENotFound, "application not found")
	healthy := paved.App{SyncStatus: "Synced", HealthStatus: "Healthy"}

	// Open, then merged: the application appears and the wait ends Healthy;
	// the forge is asked every few polls, not at each.
	prs := &recordedPRs{}
	apps := &scriptedApps{states: []paved.App{{}, {}, {}, {}, {}, {}, healthy}, errs: []error{missing, missing, missing, missing, missing, missing}}
	out, err := waitWithPRs(t, apps, prs, map[string]any{"name": "shop", "timeout": "1m", "pullRequest": 7})
	if err != nil || out["healthStatus"] != "Healthy" {
		t.Fatalf("open pull request: %v, %v", out, err)
	}
	if prs.reads != 2 {
		t.Errorf("the forge was asked %d times over 6 polls of a missing app, want 2 (every %d polls)", prs.reads, prEvery)
	}

	// Closed without merging: the application will never appear; the wait
	// ends at once with a conflict naming the pull request.
	prs = &recordedPRs{state: paved.PullRequestClosed}
	apps = &scriptedApps{states: []paved.App{{}}, errs: []error{missing}}
	_, err = waitWithPRs(t, apps, prs, map[string]any{"name": "shop", "timeout": "10m", "pullRequest": 7})
	msg := paved.ErrorMessage(err)
	if paved.ErrorCode(err) != paved.EConflict || !strings.Contains(msg, "#7 (https://forge.example.test/platform/deploy/pulls/7)") || !strings.Contains(msg, "closed without merging") || apps.calls != 1 {
		t.Fatalf("closed pull request: %q (%s) after %d polls", msg, paved.ErrorCode(err), apps.calls)
	}

	// A pull request that is not there, or no forge at all: the field is wrong.
	for name, prs := range map[string]PullRequests{"unknown number": &recordedPRs{}, "no forge": nil} {
		apps = &scriptedApps{states: []paved.App{{}}, errs: []error{missing}}
		_, err = waitWithPRs(t, apps, prs, map[string]any{"name": "shop", "timeout": "10m", "pullRequest": 8})
		var e *paved.Error
		if !errors.As(err, &e) || e.Code != paved.EInvalid || len(e.Fields) != 1 || e.Fields[0].Field != "pullRequest" {
			t.Errorf("%s: err = %v, want a field error on pullRequest", name, err)
		}
	}
}
