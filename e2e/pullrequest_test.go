//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/stack"
)

// reviewTemplate commits an application in gitops mode with review, which
// opens its pull request, and then (follow) waits until the application,
// created by the root application once the pull request is merged, is
// Synced and Healthy.
const reviewTemplate = `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-gitops-review
  title: e2e gitops review, followed to Healthy
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: App
      required: [name, repoURL, path]
      properties:
        name: {type: string}
        repoURL: {type: string}
        path: {type: string}
        follow: {type: boolean, default: true}
  steps:
    - id: app
      name: Open the pull request of the Argo CD application
      action: paved:create-argocd-app
      input:
        mode: gitops
        name: ${{ parameters.name }}
        source:
          repoURL: ${{ parameters.repoURL }}
          targetRevision: main
          path: ${{ parameters.path }}
        destination:
          namespace: ${{ parameters.name }}
        createNamespace: true
        automated:
          prune: true
          selfHeal: true
        templateRef: template:default/e2e-gitops-review
    - id: follow
      name: Follow it to merged, synced and healthy
      if: ${{ parameters.follow }}
      action: paved:wait-argocd-app
      input:
        name: ${{ parameters.name }}
        pullRequest: ${{ steps.app.output.pullRequestNumber }}
        timeout: 10m
  output:
    links:
      - title: Pull request
        url: ${{ steps.app.output.pullRequestUrl }}
    pullRequestUrl: ${{ steps.app.output.pullRequestUrl }}
    pullRequestNumber: ${{ steps.app.output.pullRequestNumber }}
    pullRequestState: ${{ steps.app.output.pullRequestState }}
    created: ${{ steps.app.output.created }}
    commit: ${{ steps.app.output.commit }}
    path: ${{ steps.app.output.path }}
    branch: ${{ steps.app.output.branch }}
    syncStatus: ${{ steps.follow.output.syncStatus }}
    healthStatus: ${{ steps.follow.output.healthStatus }}
`

// rootApp is the app-of-apps of the GitOps repository: every Application
// under apps/ on main, created in the argocd namespace.
const rootApp = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: root
  namespace: argocd
spec:
  project: default
  source:
    repoURL: %s
    targetRevision: main
    path: apps
  destination:
    server: https://kubernetes.default.svc
    namespace: argocd
  syncPolicy:
    automated:
      prune: true
`

// giteaPR is the part of Gitea's pull request JSON the test reads.
type giteaPR struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
	State   string `json:"state"`
	Merged  bool   `json:"merged"`
	Title   string `json:"title"`
	Head    struct {
		Ref string `json:"ref"`
		Sha string `json:"sha"`
	} `json:"head"`
}

// TestGitOpsPullRequest runs GitOps review mode against a real forge: a
// Gitea server (built from its Go module) hosts the GitOps repository, and
// the stack's Argo CD syncs its root application from Gitea's HTTP git. A
// typo in the path is refused before any branch is pushed, Argo CD's reason
// in the task log. A template run through the real Backstage opens a pull request on Gitea
// (its URL in the task's output and links) and follows the application; the same
// request again finds the same pull request, a corrected request updates it
// (a new head, no second pull request); merging it through Gitea's API
// lets the root application create the application, which Argo CD syncs to
// Healthy and the follow step reports. A pull request closed without merging
// ends the follow step waiting for it and is reported by the next run, not
// reopened.
func TestGitOpsPullRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	st := stack.StartForTest(ctx, t, "gitea", "argocd-server", "argocd-application-controller", "argocd-repo-server")
	gitea, repo, cloneURL := gitOpsOnGitea(t, ctx, st)

	// Tokens come from the environment, as an operator would pass them.
	_, bs := startPavedBackstage(t, ctx, st, stackPaved{
		Env: []string{"PAVED_GITOPS_TOKEN=" + gitea.Token, "PAVED_GITOPS_PR_TOKEN=" + gitea.Token},
		Config: fmt.Sprintf(`gitops:
  url: %s
  username: %s
  review: true
  pullRequests:
    kind: gitea
    apiURL: %s
    repo: %s
`, cloneURL, gitea.Admin, gitea.URL, repo),
		Templates: templatesDir(t, map[string]string{"e2e-gitops-review.yaml": reviewTemplate}),
		Wait:      []string{"e2e-gitops-review"},
	})
	pulls := func() []giteaPR {
		t.Helper()
		var list []giteaPR
		if err := gitea.API(ctx, http.MethodGet, "/repos/"+repo+"/pulls?state=all&limit=50", nil, &list); err != nil {
			t.Fatal(err)
		}
		return list
	}
	prOf := func(branch string) []giteaPR {
		var mine []giteaPR
		for _, p := range pulls() {
			if p.Head.Ref == branch {
				mine = append(mine, p)
			}
		}
		return mine
	}

	name := "reviewed-" + randomHex(3)
	branch := "paved/apps/" + name
	file := "apps/" + name + ".yaml"
	// A typo in the path is refused before anything is pushed: paved asks
	// Argo CD whether the source resolves, and the task log says why.
	typo := map[string]any{"name": name, "repoURL": st.GitURL("plain"), "path": "deplyo", "follow": false}
	typoed := runTask(t, ctx, bs, "e2e-gitops-review", typo)
	const reason = "source.path: Argo CD cannot resolve the source: deplyo: app path does not exist"
	if log := typoed.Error + "\n" + strings.Join(typoed.Log, "\n"); typoed.Status != "failed" || !strings.Contains(log, reason) {
		t.Fatalf("a typo in the path: task %s, want failed saying %q:\n%s", typoed.Status, reason, taskFailure(typoed))
	}
	if mine := prOf(branch); len(mine) != 0 {
		t.Fatalf("a refused typo opened pull requests of %s: %+v", branch, mine)
	}
	// The first request names the wrong repository (its path exists); the
	// reviewer sends it back.
	wrong := map[string]any{"name": name, "repoURL": st.GitURL("failing"), "path": "invalid", "follow": false}
	values := map[string]any{"name": name, "repoURL": st.GitURL("plain"), "path": ".", "follow": true}

	// The pull request is opened, the application does not exist until it is merged.
	began := time.Now()
	first := runTask(t, ctx, bs, "e2e-gitops-review", wrong)
	if first.Status != "completed" {
		t.Fatal(taskFailure(first))
	}
	opened := prOf(branch)
	if len(opened) != 1 || opened[0].State != "open" {
		t.Fatalf("pull requests of %s on Gitea = %+v, want one open", branch, opened)
	}
	pr := opened[0]
	wantURL := gitea.URL + "/" + repo + "/pulls/" + strconv.Itoa(pr.Number)
	if pr.HTMLURL != wantURL || first.Output["pullRequestUrl"] != wantURL || fmt.Sprint(first.Output["pullRequestNumber"]) != strconv.Itoa(pr.Number) || first.Output["pullRequestState"] != "open" || first.Output["created"] != true {
		t.Errorf("task output = %v; Gitea's pull request %d at %s", first.Output, pr.Number, pr.HTMLURL)
	}
	if links := fmt.Sprint(first.Output["links"]); !strings.Contains(links, wantURL) {
		t.Errorf("task output links = %s, want the pull request %s", links, wantURL)
	}
	fmt.Printf("E2E gitops review: pull request #%d opened on Gitea (%s) %s after the task was created\n", pr.Number, pr.HTMLURL, time.Since(began).Round(time.Millisecond))
	if code, _ := appCode(t, st, name, "default"); code != http.StatusNotFound {
		t.Fatalf("the application exists before its pull request is merged: HTTP %d", code)
	}

	// The same request again: the same pull request, no new commit on its
	// branch, none opened beside it.
	same := runTask(t, ctx, bs, "e2e-gitops-review", wrong)
	if same.Status != "completed" || same.Output["created"] != false {
		t.Fatalf("the same request again: %s; output %v", taskFailure(same), same.Output)
	}
	if again := prOf(branch); len(again) != 1 || again[0].Number != pr.Number || again[0].Head.Sha != pr.Head.Sha || again[0].State != "open" {
		t.Fatalf("after the same request again, pull requests of %s = %+v; want only #%d at %s, open", branch, again, pr.Number, pr.Head.Sha)
	}

	// The request with its path corrected, now followed: the same pull
	// request is updated (a new head on its branch holding the corrected
	// Application), none opened beside it. The merge happens while its
	// follow step waits.
	id := startFollowing(t, ctx, bs, values)
	updated := prOf(branch)
	if len(updated) != 1 || updated[0].Number != pr.Number || updated[0].State != "open" || updated[0].Head.Sha == pr.Head.Sha {
		t.Fatalf("after the corrected request, pull requests of %s = %+v; want only #%d, open, with a new head (was %s)", branch, updated, pr.Number, pr.Head.Sha)
	}
	if app := giteaFile(t, ctx, gitea, repo, file, branch); !strings.Contains(app, "path: .\n") || strings.Contains(app, "invalid") {
		t.Fatalf("%s on %s after the corrected request:\n%s", file, branch, app)
	}
	fmt.Printf("E2E gitops review: the corrected request updated pull request #%d (head %.8s → %.8s)\n", pr.Number, pr.Head.Sha, updated[0].Head.Sha)

	// A reviewer merges it on Gitea; the root application creates the
	// application, Argo CD syncs it, and the follow step sees it Healthy.
	mergeCtx, stopMerge := context.WithTimeout(ctx, 2*time.Minute)
	defer stopMerge()
	if err := gitea.Merge(mergeCtx, repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	merged := time.Now()
	second, err := bs.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if second.Status != "completed" {
		t.Fatal(taskFailure(second))
	}
	if fmt.Sprint(second.Output["pullRequestNumber"]) != strconv.Itoa(pr.Number) || second.Output["pullRequestUrl"] != wantURL || second.Output["created"] != true {
		t.Errorf("corrected run's output = %v, want pull request #%d (%s) updated by a commit", second.Output, pr.Number, wantURL)
	}
	if second.Output["syncStatus"] != "Synced" || second.Output["healthStatus"] != "Healthy" {
		t.Errorf("second run's follow step = %v/%v, want Synced/Healthy", second.Output["syncStatus"], second.Output["healthStatus"])
	}
	fmt.Printf("E2E gitops review: merged on Gitea → Application created by the root application, Synced and Healthy %s after the merge\n", time.Since(merged).Round(time.Millisecond))
	if code, app := appCode(t, st, name, "default"); code != http.StatusOK || app.Status.Health.Status != "Healthy" {
		t.Errorf("Argo CD's application %s: HTTP %d, %+v", name, code, app.Status)
	}
	if cm := kubeNames(t, st, "get", "configmap", "-n", name); len(cm) == 0 {
		t.Errorf("namespace %s holds no ConfigMap: the fixture was not applied", name)
	}
	if all := prOf(branch); len(all) != 1 || !all[0].Merged {
		t.Errorf("pull requests of %s after the merge = %+v, want only #%d, merged", branch, all, pr.Number)
	}

	// A rejected pull request: closed on Gitea without merging, the next run
	// of the same request fails naming it, and nothing is reopened.
	rejected := "rejected-" + randomHex(3)
	rValues := map[string]any{"name": rejected, "repoURL": st.GitURL("plain"), "path": ".", "follow": false}
	opened3 := runTask(t, ctx, bs, "e2e-gitops-review", rValues)
	if opened3.Status != "completed" {
		t.Fatal(taskFailure(opened3))
	}
	rPRs := prOf("paved/apps/" + rejected)
	if len(rPRs) != 1 {
		t.Fatalf("pull requests of %s = %+v, want one", rejected, rPRs)
	}
	// A run that follows it is waiting when the reviewer closes it: its
	// follow step ends (long before its 10 minutes), naming the pull request.
	rFollow := map[string]any{"name": rejected, "repoURL": st.GitURL("plain"), "path": ".", "follow": true}
	waiting := startFollowing(t, ctx, bs, rFollow)
	if err := gitea.ClosePullRequest(ctx, repo, rPRs[0].Number); err != nil {
		t.Fatal(err)
	}
	closedAt := time.Now()
	ended, err := bs.WaitTask(ctx, waiting)
	if err != nil {
		t.Fatal(err)
	}
	wantRef := fmt.Sprintf("pull request #%d (%s/%s/pulls/%d)", rPRs[0].Number, gitea.URL, repo, rPRs[0].Number)
	if endLog := ended.Error + "\n" + strings.Join(ended.Log, "\n"); ended.Status != "failed" || !strings.Contains(endLog, wantRef) || !strings.Contains(endLog, "closed without merging") {
		t.Fatalf("the follow step of a run whose pull request was closed: task %s, want failed naming %q:\n%s", ended.Status, wantRef, endLog)
	}
	fmt.Printf("E2E gitops review: pull request closed on Gitea → the waiting follow step failed %s later with: %s\n", time.Since(closedAt).Round(time.Millisecond), ended.Error)

	refused := runTask(t, ctx, bs, "e2e-gitops-review", rValues)
	if refused.Status != "failed" {
		t.Fatalf("a run after the pull request was closed: task %s, want failed; output %v", refused.Status, refused.Output)
	}
	log := refused.Error + "\n" + strings.Join(refused.Log, "\n")
	if !strings.Contains(log, wantRef) || !strings.Contains(log, "closed without merging") {
		t.Errorf("the failed task does not name the closed pull request %q:\n%s", wantRef, log)
	}
	fmt.Printf("E2E gitops review: the run after the pull request was closed failed with: %s\n", refused.Error)
	if after := prOf("paved/apps/" + rejected); len(after) != 1 || after[0].State != "closed" {
		t.Errorf("pull requests of %s after the refused run = %+v, want the one, still closed", rejected, after)
	}
	if code, _ := appCode(t, st, rejected, "default"); code != http.StatusNotFound {
		t.Errorf("the rejected application exists in Argo CD: HTTP %d", code)
	}
}

// gitOpsOnGitea starts Gitea beside st and sets the GitOps repository up as
// a platform team does: paved-admin/deploy with an apps/ directory on main,
// a web hook telling Argo CD of each push, and the root application syncing
// apps/ from Gitea's HTTP git. It returns Gitea, the repository and its
// clone URL.
func gitOpsOnGitea(t *testing.T, ctx context.Context, st *stack.Stack) (*stack.Gitea, string, string) {
	t.Helper()
	gitea, err := st.StartGitea(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const repo = "paved-admin/deploy"
	cloneURL, err := gitea.CreateRepo(ctx, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	// The root application's directory exists before any application.
	if err := gitea.API(ctx, http.MethodPost, "/repos/"+repo+"/contents/apps/README.md", map[string]any{
		"content": base64.StdEncoding.EncodeToString([]byte("Argo CD Applications, one file each; the root application creates them.\n")),
		"message": "apps: the root application's directory", "branch": "main",
	}, nil); err != nil {
		t.Fatal(err)
	}
	// Gitea tells Argo CD of each push, as a platform team sets it up.
	if err := gitea.AddWebhook(ctx, repo, "http://"+st.ArgoCDAddr+"/api/webhook"); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root.yaml")
	if err := os.WriteFile(root, []byte(fmt.Sprintf(rootApp, cloneURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := st.Kubectl("apply", "-f", root); err != nil {
		t.Fatalf("kubectl apply root application: %v\n%s", err, out)
	}
	return gitea, repo, cloneURL
}

// giteaFile reads path on ref of repo from Gitea's contents API.
func giteaFile(t *testing.T, ctx context.Context, gitea *stack.Gitea, repo, path, ref string) string {
	t.Helper()
	var file struct {
		Content string `json:"content"`
	}
	if err := gitea.API(ctx, http.MethodGet, "/repos/"+repo+"/contents/"+path+"?ref="+url.QueryEscape(ref), nil, &file); err != nil {
		t.Fatal(err)
	}
	body, err := base64.StdEncoding.DecodeString(file.Content)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// giteaHead is the commit at the tip of branch of repo.
func giteaHead(t *testing.T, ctx context.Context, gitea *stack.Gitea, repo, branch string) string {
	t.Helper()
	var b struct {
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	if err := gitea.API(ctx, http.MethodGet, "/repos/"+repo+"/branches/"+url.PathEscape(branch), nil, &b); err != nil {
		t.Fatal(err)
	}
	return b.Commit.ID
}

// startFollowing starts a run of the review template and returns its task
// once the run is in its follow step (the pull request is open by then).
func startFollowing(t *testing.T, ctx context.Context, bs *backstagehost.Backstage, values map[string]any) string {
	t.Helper()
	id, err := bs.CreateTask(ctx, "template:default/e2e-gitops-review", values)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "the run reaches its follow step", func() (bool, string) {
		steps := taskSteps(t, ctx, bs, id)
		return steps["follow"], fmt.Sprint(steps)
	})
	return id
}

// taskSteps returns the steps of a running task that have begun.
func taskSteps(t *testing.T, ctx context.Context, bs *backstagehost.Backstage, id string) map[string]bool {
	t.Helper()
	var events []backstagehost.TaskEvent
	if err := bs.Do(ctx, http.MethodGet, "/api/scaffolder/v2/tasks/"+url.PathEscape(id)+"/events", nil, &events); err != nil {
		t.Fatal(err)
	}
	steps := map[string]bool{}
	for _, ev := range events {
		var body struct {
			StepID string `json:"stepId"`
		}
		if json.Unmarshal(ev.Body, &body) == nil && body.StepID != "" {
			steps[body.StepID] = true
		}
	}
	return steps
}
