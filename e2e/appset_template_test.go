//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/stack"
)

// TestAppSetTemplate runs examples/templates/new-service-environments.yaml,
// unchanged, in a real Backstage backend against the paved binary and the
// real Argo CD with its ApplicationSet controller. The fixture repository
// "environments" has one directory per environment under services/web/, each
// with a ConfigMap naming its environment: that each namespace ends up with
// its own environment's data proves the {{.environment}} placeholder went
// through the scaffolder untouched and was rendered by Argo CD. Running the
// template again changes nothing; paved:delete-argocd-appset tears it down.
func TestAppSetTemplate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st := stack.StartForTest(ctx, t, "argocd-applicationset-controller", "argocd-server", "argocd-application-controller", "argocd-repo-server")

	const template = "paved-service-environments"
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "templates", "new-service-environments.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, bs := startPavedBackstage(t, ctx, st, stackPaved{
		Templates: templatesDir(t, map[string]string{"new-service-environments.yaml": string(raw)}),
		Wait:      []string{template},
	})
	api := pavedHTTP{p: p, client: &http.Client{Timeout: 2 * time.Minute}}

	const name = "web" // the fixture's services/web/<environment>
	envs := []string{"dev", "staging", "prod"}
	values := map[string]any{
		"name":       name,
		"owner":      "group:default/platform",
		"repoUrl":    st.GitURL("environments"),
		"revision":   "main",
		"prodServer": "https://kubernetes.default.svc",
	}
	began := time.Now()
	task := runTask(t, ctx, bs, template, values)
	if task.Status != "completed" {
		t.Fatal(taskFailure(task))
	}
	// The environments' links, after the template's rating link, which the
	// scaffolder rendered with this run's task id (the run the page opens).
	var links []any
	rating := 0
	all, _ := task.Output["links"].([]any)
	for _, l := range all {
		if m, _ := l.(map[string]any); strings.HasPrefix(fmt.Sprint(m["url"]), "/paved?feedback=") {
			if m["url"] == "/paved?feedback="+task.ID {
				rating++
			}
			continue
		}
		links = append(links, l)
	}
	if rating != 1 {
		t.Errorf("task output links = %v, want one rating link to /paved?feedback=%s", task.Output["links"], task.ID)
	}
	if len(links) != len(envs) {
		t.Fatalf("task output links = %v, want one per environment", task.Output["links"])
	}
	for i, l := range links {
		m, _ := l.(map[string]any)
		want := "http://" + st.ArgoCDAddr + "/applications/" + name + "-" + envs[i]
		if m["url"] != want || m["title"] != "Argo CD ("+envs[i]+")" {
			t.Errorf("link %d = %v, want %q titled Argo CD (%s)", i, m, want, envs[i])
		}
	}

	eventually(t, 6*time.Minute, "three generated applications Synced and Healthy", func() (bool, string) {
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
	fmt.Printf("E2E appset template: %d apps Synced+Healthy %s after the task was created\n", len(envs), time.Since(began).Round(time.Millisecond))
	for _, env := range envs {
		ns := name + "-" + env
		got, err := st.Kubectl("get", "configmap", "web-config", "-n", ns, "-o", "jsonpath={.data.environment}")
		if err != nil || got != env {
			t.Errorf("namespace %s: ConfigMap web-config has environment %q (%v), want %q: the path placeholder was not rendered per environment", ns, got, err, env)
		}
	}

	// paved reads the same state back: every environment Synced and Healthy.
	got := api.invoke(t, ctx, "paved:get-argocd-appset", map[string]any{"name": name})
	if got.Output["healthy"] != true || got.Output["managedByPaved"] != true || len(got.Output["applications"].([]any)) != len(envs) {
		t.Errorf("get-argocd-appset = %v", got.Output)
	}

	generation := func() string {
		t.Helper()
		g, err := st.Kubectl("get", "applicationset", name, "-n", "argocd", "-o", "jsonpath={.metadata.generation}")
		if err != nil || g == "" {
			t.Fatalf("the ApplicationSet's generation: %q %v", g, err)
		}
		return g
	}
	before := generation()
	again := runTask(t, ctx, bs, template, values)
	if again.Status != "completed" {
		t.Fatalf("re-run: %s", taskFailure(again))
	}
	if after := generation(); after != before {
		t.Errorf("the same values again changed the ApplicationSet: generation %s → %s", before, after)
	}
	// Backstage's events carry no step output; paved's audit log has it.
	outs := appSetOutputs(t, ctx, api)
	if len(outs) < 2 || outs[0]["created"] != false || outs[0]["updated"] != false || outs[1]["created"] != true {
		t.Errorf("paved's audit log of create-argocd-appset, newest first = %v; want created=false updated=false, then created=true", outs)
	}

	// Clean up through paved: the ApplicationSet, then Argo CD's controller
	// takes the Applications and, through their finalizer, the ConfigMaps.
	del := api.invoke(t, ctx, "paved:delete-argocd-appset", map[string]any{"name": name})
	if del.Output["deleted"] != true || len(del.Output["applications"].([]any)) != len(envs) {
		t.Fatalf("delete-argocd-appset = %v", del.Output)
	}
	eventually(t, 4*time.Minute, "the generated applications and their ConfigMaps deleted with the ApplicationSet", func() (bool, string) {
		for _, env := range envs {
			if code, _ := appCode(t, st, name+"-"+env, "default"); code != http.StatusNotFound {
				return false, fmt.Sprintf("%s-%s: HTTP %d", name, env, code)
			}
			if cms := kubeNames(t, st, "get", "configmap", "web-config", "-n", name+"-"+env); len(cms) > 0 {
				return false, fmt.Sprintf("%s-%s still holds %v", name, env, cms)
			}
		}
		return true, ""
	})
	if gone := api.invoke(t, ctx, "paved:delete-argocd-appset", map[string]any{"name": name}); gone.Output["deleted"] != false {
		t.Errorf("deleting it again = %v, want deleted=false", gone.Output)
	}

	// An ApplicationSet someone applied by hand is not paved's to delete.
	manual := filepath.Join(t.TempDir(), "manual.yaml")
	if err := os.WriteFile(manual, []byte(manualAppSet), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := st.Kubectl("apply", "-f", manual); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	// Argo CD's API server reads ApplicationSets from its informer cache:
	// right after kubectl apply it may not know "manual" yet, and paved would
	// truthfully answer that there was nothing to delete.
	eventually(t, time.Minute, "Argo CD's API server knows the hand-made ApplicationSet", func() (bool, string) {
		got, err := api.invokeAs(ctx, p.Token, "paved:get-argocd-appset", map[string]any{"name": "manual"})
		if err != nil {
			return false, err.Error()
		}
		return got.Status == http.StatusOK, fmt.Sprintf("HTTP %d %s", got.Status, got.Error.Message)
	})
	refused, err := api.invokeAs(ctx, p.Token, "paved:delete-argocd-appset", map[string]any{"name": "manual"})
	if err != nil {
		t.Fatal(err)
	}
	if refused.Status != http.StatusConflict || !strings.Contains(refused.Error.Message, "not created by paved") {
		t.Fatalf("deleting a hand-made ApplicationSet: %d %s %q, want 409", refused.Status, refused.Error.Name, refused.Error.Message)
	}
	if names := kubeNames(t, st, "get", "applicationset", "manual", "-n", "argocd"); len(names) != 1 {
		t.Fatalf("a refused delete removed the ApplicationSet: %v", names)
	}
	if forced := api.invoke(t, ctx, "paved:delete-argocd-appset", map[string]any{"name": "manual", "force": true}); forced.Output["deleted"] != true {
		t.Fatalf("force = %v", forced.Output)
	}
	eventually(t, time.Minute, "the forced delete reaches the API server", func() (bool, string) {
		names := kubeNames(t, st, "get", "applicationset", "manual", "-n", "argocd")
		return len(names) == 0, strings.Join(names, " ")
	})
}

// manualAppSet generates nothing: only its ownership matters.
const manualAppSet = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: manual
  namespace: argocd
spec:
  goTemplate: true
  generators:
    - list:
        elements: []
  template:
    metadata:
      name: 'manual-{{.environment}}'
    spec:
      project: default
      source:
        repoURL: https://git.example.invalid/manual.git
        path: .
      destination:
        server: https://kubernetes.default.svc
        namespace: manual
`

// appSetOutputs reads the outputs paved's audit log kept of
// paved:create-argocd-appset, newest first.
func appSetOutputs(t *testing.T, ctx context.Context, api pavedHTTP) []map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.p.BaseURL+"/api/paved/invocations?limit=20&action="+url.QueryEscape("paved:create-argocd-appset"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+api.p.Token)
	resp, err := api.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Items []struct {
			Status string         `json:"status"`
			Output map[string]any `json:"output"`
		} `json:"items"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invocations: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	var outs []map[string]any
	for _, it := range page.Items {
		if it.Status == "succeeded" {
			outs = append(outs, it.Output)
		}
	}
	return outs
}
