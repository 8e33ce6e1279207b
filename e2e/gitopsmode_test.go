//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/stack"
)

// gitOpsTemplate is reviewTemplate for GitOps mode without review: the
// commit goes straight to main, and the follow step waits for the
// application to appear (no pull request to follow, none to link).
var gitOpsTemplate = strings.NewReplacer(
	"e2e-gitops-review", "e2e-gitops",
	"Open the pull request of the Argo CD application", "Commit the Argo CD application",
	"Follow it to merged, synced and healthy", "Follow it to synced and healthy",
	"        pullRequest: ${{ steps.app.output.pullRequestNumber }}\n", "        appear: true\n",
	"    links:\n      - title: Pull request\n        url: ${{ steps.app.output.pullRequestUrl }}\n", "",
).Replace(reviewTemplate)

// TestGitOpsMode runs GitOps mode end to end (issue 15, point 5): a template
// run through the real Backstage commits the Application to main of the
// GitOps repository on Gitea; the root application in the stack's Argo CD
// (told by Gitea's web hook) creates it, Argo CD syncs it, and the
// template's follow step sees it Synced and Healthy, the fixture applied to
// the cluster. The same run again makes no commit and leaves the
// Application as it is.
func TestGitOpsMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	st := stack.StartForTest(ctx, t, "gitea", "argocd-server", "argocd-application-controller", "argocd-repo-server")
	gitea, repo, cloneURL := gitOpsOnGitea(t, ctx, st)

	_, bs := startPavedBackstage(t, ctx, st, stackPaved{
		Env:       []string{"PAVED_GITOPS_TOKEN=" + gitea.Token},
		Config:    fmt.Sprintf("gitops:\n  url: %s\n  username: %s\n", cloneURL, gitea.Admin),
		Templates: templatesDir(t, map[string]string{"e2e-gitops.yaml": gitOpsTemplate}),
		Wait:      []string{"e2e-gitops"},
	})

	name := "committed-" + randomHex(3)
	file := "apps/" + name + ".yaml"
	values := map[string]any{"name": name, "repoURL": st.GitURL("plain"), "path": ".", "follow": true}
	before := giteaHead(t, ctx, gitea, repo, "main")
	began := time.Now()
	first := runTask(t, ctx, bs, "e2e-gitops", values)
	if first.Status != "completed" {
		t.Fatal(taskFailure(first))
	}
	head := giteaHead(t, ctx, gitea, repo, "main")
	if head == before || first.Output["commit"] != head || first.Output["branch"] != "main" || first.Output["path"] != file || first.Output["created"] != true {
		t.Errorf("task output = %v; main on Gitea went from %s to %s, want the commit of %s on main", first.Output, before, head, file)
	}
	if app := giteaFile(t, ctx, gitea, repo, file, "main"); !strings.Contains(app, "name: "+name+"\n") || !strings.Contains(app, "kind: Application\n") {
		t.Errorf("%s on main:\n%s", file, app)
	}
	if first.Output["syncStatus"] != "Synced" || first.Output["healthStatus"] != "Healthy" {
		t.Errorf("the follow step = %v/%v, want Synced/Healthy", first.Output["syncStatus"], first.Output["healthStatus"])
	}
	fmt.Printf("E2E gitops mode: committed to main on Gitea (%.8s), created by the root application, Synced and Healthy %s after the task was created\n",
		head, time.Since(began).Round(time.Millisecond))
	app := argoApp(t, st, name, "")
	if app.Status.Sync.Status != "Synced" || app.Status.Health.Status != "Healthy" {
		t.Errorf("Argo CD's application %s: %s/%s, want Synced/Healthy", name, app.Status.Sync.Status, app.Status.Health.Status)
	}
	// The root application manages it: Argo CD's tracking label (2.x) or
	// annotation (3.x's default) names it.
	if label, ann := app.Labels["app.kubernetes.io/instance"], app.Annotations["argocd.argoproj.io/tracking-id"]; label != "root" && !strings.HasPrefix(ann, "root:") {
		t.Errorf("application %s is tracked by label %q, annotation %q; want the root application", name, label, ann)
	}
	if got, err := st.Kubectl("get", "configmap", "plain-config", "-n", name, "-o", "jsonpath={.data.greeting}"); err != nil || got != "hello from the plain fixture" {
		t.Errorf("configmap %s/plain-config greeting = %q (%v): the fixture was not applied", name, got, err)
	}

	// The same request again: no commit, the Application unchanged, still
	// Synced and Healthy.
	again := runTask(t, ctx, bs, "e2e-gitops", values)
	if again.Status != "completed" {
		t.Fatal(taskFailure(again))
	}
	if again.Output["created"] != false || again.Output["syncStatus"] != "Synced" || again.Output["healthStatus"] != "Healthy" {
		t.Errorf("re-run output = %v, want created false, Synced and Healthy", again.Output)
	}
	if now := giteaHead(t, ctx, gitea, repo, "main"); now != head {
		t.Errorf("the same request again moved main from %s to %s", head, now)
	}
	if after := argoApp(t, st, name, ""); after.Generation != app.Generation {
		t.Errorf("the same request again changed the Application: generation %d → %d", app.Generation, after.Generation)
	}
}
