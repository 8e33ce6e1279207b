//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/pavedproc"
	"github.com/paved-dev/paved/e2e/stack"
)

// TestAppSetEnvironments creates an ApplicationSet through paved's actions
// protocol (the paved binary, Argo CD's API, the real ApplicationSet
// controller) and follows it until Argo CD has generated, synced and found
// healthy one Application per environment, each in its own namespace; the
// same input again changes nothing on the real Argo CD, a different one is
// its conflict; deleting the ApplicationSet takes the Applications with it.
func TestAppSetEnvironments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st := stack.StartForTest(ctx, t, "argocd-applicationset-controller", "argocd-server", "argocd-application-controller")
	// No Backstage: discovery points at a port nothing listens on.
	nowhere, err := pavedproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := pavedproc.Start(t, pavedproc.Options{Config: pavedConfig(nowhere, st.ArgoCDAddr),
		Env: []string{"ARGO_TOKEN=" + st.PavedToken, "ARGO_PASSWORD=" + st.AdminPassword}})
	api := pavedHTTP{p: p, client: &http.Client{Timeout: 2 * time.Minute}}

	const name = "shop"
	envs := []string{"dev", "prod"}
	input := map[string]any{
		"instance":       "stack",
		"name":           name,
		"repoURL":        st.GitURL("plain"),
		"path":           ".",
		"targetRevision": "main",
		"environments": []any{
			map[string]any{"name": "dev", "namespace": name + "-dev"},
			map[string]any{"name": "prod", "namespace": name + "-prod", "server": "https://kubernetes.default.svc"},
		},
		"automated":       true,
		"prune":           true,
		"createNamespace": true,
		"owner":           "group:default/shop",
		"entityRef":       "component:default/shop",
	}
	began := time.Now()
	res := api.invoke(t, ctx, "paved:create-argocd-appset", input)
	took := time.Since(began)
	if res.Output["created"] != true || res.Output["name"] != name {
		t.Fatalf("output = %v", res.Output)
	}
	apps, _ := res.Output["applications"].([]any)
	if len(apps) != len(envs) {
		t.Fatalf("applications = %v", res.Output["applications"])
	}
	for i, a := range apps {
		a := a.(map[string]any)
		want := name + "-" + envs[i]
		if a["name"] != want || !strings.HasSuffix(fmt.Sprint(a["url"]), "/applications/"+want) {
			t.Fatalf("application %d = %v", i, a)
		}
	}

	// The controller generates the Applications; Argo CD syncs them.
	eventually(t, 6*time.Minute, "both generated applications Synced and Healthy", func() (bool, string) {
		var states []string
		for _, env := range envs {
			code, app := appCode(t, st, name+"-"+env, "default")
			if code != http.StatusOK {
				return false, fmt.Sprintf("%s-%s: HTTP %d", name, env, code)
			}
			states = append(states, fmt.Sprintf("%s-%s %s/%s", name, env, app.Status.Sync.Status, app.Status.Health.Status))
			if app.Status.Sync.Status != "Synced" || app.Status.Health.Status != "Healthy" {
				return false, strings.Join(states, ", ")
			}
		}
		return true, ""
	})
	fmt.Printf("E2E appset created in %s; %d apps Synced+Healthy %s after the call\n", took.Round(time.Millisecond), len(envs), time.Since(began).Round(time.Millisecond))
	for _, env := range envs {
		if got := kubeNames(t, st, "get", "deployments", "-n", name+"-"+env); !slices.Contains(got, "deployment.apps/plain-app") {
			t.Errorf("namespace %s-%s holds %v, want the fixture's deployment", name, env, got)
		}
	}

	// On the real Argo CD too, the same ApplicationSet again is no change.
	again := api.invoke(t, ctx, "paved:create-argocd-appset", input)
	if again.Output["created"] != false || again.Output["updated"] != false {
		t.Fatalf("the same input again = %v; want created=false updated=false", again.Output)
	}
	input["targetRevision"] = "HEAD"
	conflict, err := api.invokeAs(ctx, p.Token, "paved:create-argocd-appset", input)
	if err != nil {
		t.Fatal(err)
	}
	if conflict.Status != http.StatusConflict || !strings.Contains(conflict.Error.Message, "existing ApplicationSet spec is different") {
		t.Fatalf("a different spec without upsert: %d %s %q; want 409 with Argo CD's message", conflict.Status, conflict.Error.Name, conflict.Error.Message)
	}

	code, body, err := st.ArgoREST(http.MethodDelete, "/api/v1/applicationsets/"+name, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("delete the ApplicationSet: %d %s %v", code, body, err)
	}
	eventually(t, 4*time.Minute, "the generated applications deleted with their ApplicationSet", func() (bool, string) {
		for _, env := range envs {
			if code, _ := appCode(t, st, name+"-"+env, "default"); code != http.StatusNotFound {
				return false, fmt.Sprintf("%s-%s: HTTP %d", name, env, code)
			}
		}
		return true, ""
	})

	// gitops mode commits the same object as YAML (to paved's embedded
	// repository here); the API server's ApplicationSet schema accepts it.
	input["mode"] = "gitops"
	committed := api.invoke(t, ctx, "paved:create-argocd-appset", input)
	if committed.Output["created"] != true || committed.Output["path"] != "appsets/"+name+".yaml" {
		t.Fatalf("gitops mode output = %v", committed.Output)
	}
	show := exec.Command("git", "--git-dir", filepath.Join(p.DataDir, "gitops.git"), "show", fmt.Sprintf("%s:appsets/%s.yaml", committed.Output["commit"], name))
	doc, err := show.Output()
	if err != nil {
		t.Fatalf("git show: %v", err)
	}
	file := filepath.Join(t.TempDir(), "appset.yaml")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := st.Kubectl("create", "--dry-run=server", "-f", file); err != nil {
		t.Fatalf("the API server refuses the committed ApplicationSet: %v\n%s\n%s", err, out, doc)
	}
}
