package scaffolder

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

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
