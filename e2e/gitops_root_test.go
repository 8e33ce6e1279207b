//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/stack"
)

// TestGitOpsRootApplication is make dev-stack's golden path, as a newcomer
// runs it: a stack whose Argo CD holds the root applications of
// deploy/gitops/root-application.yaml on a GitOps repository of its git
// daemon (stack.AddGitOpsRoot, with the dev stack's 10 s
// timeout.reconciliation), a paved committing there, and a real Backstage
// with examples/templates unchanged. The recommended template
// (paved-new-service, gitops mode) makes an Argo CD application that
// reaches Synced and Healthy, which paved's app card route shows; the
// figure "commit → app Synced and Healthy" is printed. A path the service's
// repository lacks fails the step before anything is committed: paved asks
// the real Argo CD (RepositoryService.GetAppDetails, through the RBAC of
// stack.PavedPolicy on Argo CD 3) and the task's events, read through
// Backstage's task API (the registry path), carry paved's reason naming
// source.path and Argo CD's "app path does not exist"; the GitOps
// repository's main is where it was.
func TestGitOpsRootApplication(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	st := stack.StartWithForTest(ctx, t, stack.Options{AppResync: 10 * time.Second},
		"argocd-application-controller", "argocd-repo-server", "git-daemon")
	gitopsURL, err := st.AddGitOpsRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, bs := startPavedBackstage(t, ctx, st, stackPaved{
		Config:    "gitops:\n  url: " + gitopsURL + "\n",
		Templates: templatesWithAPIVariant(t),
		Wait:      []string{"paved-new-service", apiTemplate},
	})
	// What paved's app card shows for a component.
	card := func(name string) (entityApps, error) {
		var out entityApps
		status, body := getConnection(t, ctx, p.BaseURL+"/api/paved/apps/v1/by-entity?entityRef=component:default/"+name, p.Token)
		if status != http.StatusOK {
			return out, fmt.Errorf("by-entity: %d %s", status, body)
		}
		return out, json.Unmarshal(body, &out)
	}
	runTemplate := func(template, name, path string) backstagehost.Task {
		t.Helper()
		return runTask(t, ctx, bs, template, map[string]any{"name": name, "owner": "group:default/platform",
			"repoUrl": st.GitURL("plain"), "path": path, "revision": "main"})
	}
	service := func(name, path string) backstagehost.Task {
		t.Helper()
		task := runTemplate("paved-new-service", name, path)
		if task.Status != "completed" {
			t.Fatalf("task %s: %s", task.Status, taskFailure(task))
		}
		return task
	}

	name := "hello-" + randomHex(2)
	service(name, ".")
	committed := time.Now()
	eventually(t, 3*time.Minute, "the root application's app "+name+" Synced and Healthy, on paved's card", func() (bool, string) {
		apps, err := card(name)
		if err != nil {
			return false, err.Error()
		}
		ok := len(apps.Items) == 1 && apps.Items[0].Name == name && apps.Items[0].SyncStatus == "Synced" && apps.Items[0].HealthStatus == "Healthy"
		return ok, fmt.Sprintf("%+v", apps)
	})
	fmt.Printf("E2E gitops root: commit → app Synced and Healthy on paved's card: %d ms (Argo CD timeout.reconciliation 10 s)\n", time.Since(committed).Milliseconds())
	if got, err := st.Kubectl("-n", name, "get", "deployment.apps/plain-app", "-o", "name"); err != nil || strings.TrimSpace(got) != "deployment.apps/plain-app" {
		t.Errorf("Argo CD did not deploy the fixture into namespace %s: %q %v", name, got, err)
	}

	bad := "nopath-" + randomHex(2)
	head := remoteHead(t, gitopsURL)
	refused := runTemplate("paved-new-service", bad, "no-such-dir")
	const reason = "source.path: Argo CD cannot resolve the source: no-such-dir: app path does not exist"
	if log := refused.Error + "\n" + strings.Join(refused.Log, "\n"); refused.Status != "failed" || !strings.Contains(log, reason) {
		t.Errorf("a bad path: task %s, want failed saying %q:\n%s", refused.Status, reason, taskFailure(refused))
	} else {
		fmt.Printf("E2E gitops root: the task log of a bad path (Argo CD %s): %s\n", st.ArgoCDVersion, firstLineWith(log, reason))
	}
	if now := remoteHead(t, gitopsURL); now != head {
		t.Errorf("a refused bad path moved the GitOps repository's main from %s to %s", head, now)
	}
	if apps, err := card(bad); err != nil || len(apps.Items) != 0 {
		t.Errorf("paved's card of the refused %s = %+v, %v; want no app", bad, apps, err)
	}

	// api mode: Argo CD's own validation on create refuses it, and its
	// reason reaches the task log the same way.
	badAPI := "nopath-api-" + randomHex(2)
	refused = runTemplate(apiTemplate, badAPI, "no-such-dir")
	const apiReason = "no-such-dir: app path does not exist"
	if log := refused.Error + "\n" + strings.Join(refused.Log, "\n"); refused.Status != "failed" || !strings.Contains(log, apiReason) {
		t.Errorf("a bad path in api mode: task %s, want failed saying %q:\n%s", refused.Status, apiReason, taskFailure(refused))
	} else {
		fmt.Printf("E2E gitops root: the task log of a bad path in api mode (Argo CD %s): %s\n", st.ArgoCDVersion, firstLineWith(log, apiReason))
	}
	if code, _ := appCode(t, st, badAPI, "default"); code != http.StatusNotFound && code != http.StatusForbidden {
		t.Errorf("Argo CD answers %d for the refused %s, want it absent", code, badAPI)
	}
	if now := remoteHead(t, gitopsURL); now != head {
		t.Errorf("api mode moved the GitOps repository's main from %s to %s", head, now)
	}

	// Every shape of source the real repo server is asked about in gitops
	// mode resolves and is committed (a Helm chart with values, a Kustomize
	// overlay, a chart whose values file another source lends), and a
	// multi-source app with a missing path names that source.
	api := pavedHTTP{p: p, client: &http.Client{Timeout: 2 * time.Minute}}
	shape := func(name string, sources ...map[string]any) invokeResult {
		t.Helper()
		res, err := api.invokeAs(ctx, p.Token, "paved:create-argocd-app", map[string]any{"name": name, "mode": "gitops",
			"sources": sources, "destination": map[string]any{"namespace": name}, "createNamespace": true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	src := func(repo, path string) map[string]any {
		return map[string]any{"repoURL": st.GitURL(repo), "path": path, "targetRevision": "main"}
	}
	helm := src("helm", ".")
	helm["helm"] = map[string]any{"valueFiles": []string{"$values/web/values.yaml"}, "parameters": []map[string]any{{"name": "tier", "value": "gitops"}}}
	values := map[string]any{"repoURL": st.GitURL("values"), "targetRevision": "main", "ref": "values"}
	kustomize := src("kustomize", "overlays/dev")
	kustomize["kustomize"] = map[string]any{"namePrefix": "team-"}
	for name, sources := range map[string][]map[string]any{
		"shape-helm-" + randomHex(2): {helm, values}, "shape-kustomize-" + randomHex(2): {kustomize}, "shape-plain-" + randomHex(2): {src("plain", ".")},
	} {
		if res := shape(name, sources...); res.Status != http.StatusOK || res.Output["created"] != true {
			t.Errorf("gitops mode %s (%d sources): %d %+v %+v, want it committed", name, len(sources), res.Status, res.Error, res.Output)
		}
	}
	res := shape("shape-bad-"+randomHex(2), src("plain", "."), src("kustomize", "overlays/nope"))
	const multiReason = "sources.1.path: Argo CD cannot resolve the source: overlays/nope: app path does not exist"
	if res.Status != http.StatusBadRequest || res.Error.Name != "InputError" || !strings.Contains(res.Error.Message, multiReason) {
		t.Errorf("gitops mode with a missing path in sources: %d %+v, want a 400 InputError saying %q", res.Status, res.Error, multiReason)
	}
}

// apiTemplate is the example gitops template in api mode: the same form
// and step, the Application created through Argo CD's API.
const apiTemplate = "paved-new-service-api"

// templatesWithAPIVariant copies examples/templates unchanged and adds
// apiTemplate beside them.
func templatesWithAPIVariant(t *testing.T) string {
	t.Helper()
	dir, src := exampleTemplates(t, repoRoot())
	b, err := os.ReadFile(filepath.Join(src, "new-service-gitops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for from, to := range map[string]string{"  name: paved-new-service\n": "  name: " + apiTemplate + "\n", "        mode: gitops\n": "        mode: api\n",
		"template:default/paved-new-service\n": "template:default/" + apiTemplate + "\n"} {
		if !strings.Contains(text, from) {
			t.Fatalf("new-service-gitops.yaml has no %q any more; the api variant replaces it", from)
		}
		text = strings.ReplaceAll(text, from, to)
	}
	if err := os.WriteFile(filepath.Join(dir, "new-service-api.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// entityApps is the part of apps/v1/by-entity the tests read.
type entityApps struct {
	Items []struct {
		Name, SyncStatus, HealthStatus string
		Problems                       []struct{ Resource, Status, Message string }
	}
}

// remoteHead is the commit main points to in a served repository.
func remoteHead(t *testing.T, url string) string {
	t.Helper()
	out, err := exec.Command("git", "ls-remote", url, "refs/heads/main").Output()
	if err != nil {
		t.Fatalf("git ls-remote %s: %v", url, err)
	}
	head, _, _ := strings.Cut(string(out), "\t")
	if head == "" {
		t.Fatalf("%s has no main", url)
	}
	return head
}
