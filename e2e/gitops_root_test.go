//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/pavedproc"
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
// repository lacks fails no step (the commit is fine: Argo CD meets the path
// later), so the card route must carry Argo CD's reason: ComparisonError …
// app path does not exist.
func TestGitOpsRootApplication(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	st := stack.StartWithForTest(ctx, t, stack.Options{AppResync: 10 * time.Second},
		"argocd-application-controller", "argocd-repo-server", "git-daemon")
	gitopsURL, err := st.AddGitOpsRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pavedAddr, bsAddr, bsPort := freeAddrs(t)
	p := pavedproc.Start(t, pavedproc.Options{Addr: pavedAddr, Env: []string{"ARGO_TOKEN=" + st.PavedToken}, Config: fmt.Sprintf(`
backstage:
  discovery: http://%s/api/{{pluginId}}
argocd:
  instances:
    - name: stack
      server: %s
      plainText: true
      token: ${ARGO_TOKEN}
gitops:
  url: %s
`, bsAddr, st.ArgoCDAddr, gitopsURL)})
	bs := backstagehost.StartT(t, backstagehost.Options{
		Port:         bsPort,
		PavedBaseURL: "http://" + pavedAddr + "/api/{{pluginId}}",
		TemplatesDir: filepath.Join(repoRoot(), "examples", "templates"),
	})
	if _, err := bs.WaitEntity(ctx, "template", "default", "paved-new-service"); err != nil {
		t.Fatal(err)
	}
	// What paved's app card shows for a component.
	card := func(name string) (entityApps, error) {
		var out entityApps
		status, body := getConnection(t, ctx, p.BaseURL+"/api/paved/apps/v1/by-entity?entityRef=component:default/"+name, p.Token)
		if status != http.StatusOK {
			return out, fmt.Errorf("by-entity: %d %s", status, body)
		}
		return out, json.Unmarshal(body, &out)
	}
	service := func(name, path string) backstagehost.Task {
		t.Helper()
		id, err := bs.CreateTask(ctx, "template:default/paved-new-service", map[string]any{"name": name, "owner": "group:default/platform",
			"repoUrl": st.GitURL("plain"), "path": path, "revision": "main"})
		if err != nil {
			t.Fatal(err)
		}
		task, err := bs.WaitTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
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
	service(bad, "no-such-dir")
	const reason = "no-such-dir: app path does not exist"
	eventually(t, 3*time.Minute, "Argo CD's reason for "+bad+" on paved's card", func() (bool, string) {
		apps, err := card(bad)
		if err != nil {
			return false, err.Error()
		}
		for _, a := range apps.Items {
			for _, pr := range a.Problems {
				if pr.Status == "ComparisonError" && strings.Contains(pr.Message, reason) {
					fmt.Printf("E2E gitops root: a bad path on paved's card: %s: %s\n", pr.Status, pr.Message)
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%+v", apps)
	})
}

// entityApps is the part of apps/v1/by-entity the tests read.
type entityApps struct {
	Items []struct {
		Name, SyncStatus, HealthStatus string
		Problems                       []struct{ Resource, Status, Message string }
	}
}
