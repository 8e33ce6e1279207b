//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/pavedproc"
)

// coreTemplate calls paved's create and get actions and exposes their outputs
// as the task's output.
const coreTemplate = `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: paved-core
  title: paved core
  annotations:
    backstage.io/time-saved: PT2H
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: App
      required: [name, path]
      properties:
        name: {type: string}
        path: {type: string}
  steps:
    # Backstage stores task times to the second: a short pause makes the
    # run durations that paved reports measurable.
    - id: pause
      name: Pause
      action: debug:wait
      input:
        seconds: 2
    - id: create
      name: Create the Argo CD application
      action: paved:create-argocd-app
      input:
        name: ${{ parameters.name }}
        source:
          repoURL: https://git.example.com/platform/deploy.git
          path: ${{ parameters.path }}
        destination:
          namespace: ${{ parameters.name }}
        createNamespace: true
        automated: {prune: true, selfHeal: true}
        entityRef: component:default/${{ parameters.name }}
        templateRef: template:default/paved-core
        wait: true
        waitTimeout: 60s
    - id: get
      name: Read it back
      action: paved:get-argocd-app
      input:
        name: ${{ parameters.name }}
  output:
    links:
      - title: Argo CD
        url: ${{ steps.create.output.url }}
    url: ${{ steps.create.output.url }}
    created: ${{ steps.create.output.created }}
    syncStatus: ${{ steps.get.output.syncStatus }}
    healthStatus: ${{ steps.get.output.healthStatus }}
`

// TestBackstageRunsPavedActions is the core promise: a real Backstage backend
// lists paved's actions through the actions registry and completes a template
// task whose steps call paved, which creates a real (protocol-level) Argo CD
// Application. The scaffolder authenticates with its own ES256 plugin token.
func TestBackstageRunsPavedActions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	argo, p, bs := startCoreBackstage(t)

	actions, err := bs.Actions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range actions {
		ids = append(ids, a.ID)
	}
	for _, want := range []string{"paved:create-argocd-app", "paved:get-argocd-app", "paved:sync-argocd-app", "paved:wait-argocd-app", "paved:delete-argocd-app"} {
		if !strings.Contains(strings.Join(ids, " "), want) {
			t.Fatalf("the scaffolder does not list %s; it lists %v", want, ids)
		}
	}

	if _, err := bs.WaitEntity(ctx, "template", "default", "paved-core"); err != nil {
		t.Fatal(err)
	}
	run := func(values map[string]any) backstagehost.Task {
		t.Helper()
		id, err := bs.CreateTask(ctx, "template:default/paved-core", values)
		if err != nil {
			t.Fatal(err)
		}
		task, err := bs.WaitTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return task
	}

	task := run(map[string]any{"name": "checkout", "path": "apps/checkout"})
	if task.Status != "completed" {
		t.Fatalf("task %s: %s\n%s", task.Status, task.Error, strings.Join(task.Log, "\n"))
	}
	out := task.Output
	if !strings.Contains(fmt.Sprint(out["url"]), "/applications/") || out["syncStatus"] != "Synced" || out["healthStatus"] != "Healthy" || out["created"] != true {
		t.Fatalf("unexpected task output: %v", out)
	}
	app, ok := argo.App("argocd", "checkout")
	if !ok {
		t.Fatal("no Application in Argo CD")
	}
	if app.Annotations["backstage.io/source-template"] != "template:default/paved-core" {
		t.Fatalf("source template annotation missing: %v", app.Annotations)
	}

	// The same values again: completed, no second app, created false.
	again := run(map[string]any{"name": "checkout", "path": "apps/checkout"})
	if again.Status != "completed" || again.Output["created"] != false {
		t.Fatalf("re-run: %s %v %s", again.Status, again.Output, again.Error)
	}
	// A changed spec without upsert fails the task.
	changed := run(map[string]any{"name": "checkout", "path": "apps/checkout-v2"})
	if changed.Status != "failed" {
		t.Fatalf("a changed spec should fail the task, got %s", changed.Status)
	}

	// paved's audit log saw the scaffolder as the caller.
	list, err := p.CLI(ctx, "", "invocations", "--action", "paved:create-argocd-app")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(list, "scaffolder") != 3 || !strings.Contains(list, "failed") {
		t.Fatalf("audit log should show 3 calls by the scaffolder, one failed:\n%s", list)
	}
	// Adoption metrics: paved collects the scaffolder's tasks with its own
	// plugin token and its summary shows exactly these three runs.
	checkDevexSummary(t, ctx, p, []backstagehost.Task{task, again, changed})

	if strings.Contains(p.Log(), "e2e-argo-password") {
		t.Fatal("the Argo CD password appears in paved's log")
	}
	if logins := argo.Calls("/session.SessionService/Create"); logins != 1 {
		t.Fatalf("paved logged in %d times, want once", logins)
	}
}

// checkDevexSummary waits for paved's collector to see the tasks and checks
// the summary counts them exactly: started, succeeded, failed.
func checkDevexSummary(t *testing.T, ctx context.Context, p *pavedproc.Paved, tasks []backstagehost.Task) {
	t.Helper()
	wantOK, wantFailed := 0, 0
	for _, tk := range tasks {
		switch tk.Status {
		case "completed":
			wantOK++
		case "failed":
			wantFailed++
		}
	}
	type kpi struct{ Value float64 }
	var summary struct {
		Kpis map[string]kpi `json:"kpis"`
	}
	var templates struct {
		Items []struct {
			TemplateRef        string  `json:"templateRef"`
			Runs               int     `json:"runs"`
			Succeeded          int     `json:"succeeded"`
			Failed             int     `json:"failed"`
			P50DurationSeconds float64 `json:"p50DurationSeconds"`
			TimeSavedSeconds   float64 `json:"timeSavedSeconds"`
		} `json:"items"`
	}
	get := func(path string, out any) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.BaseURL+"/api/paved/devex/v1/"+path, nil)
		req.Header.Set("Authorization", "Bearer "+p.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: status %d", path, resp.StatusCode)
		}
		return json.NewDecoder(resp.Body).Decode(out)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := get("summary", &summary)
		if err == nil && int(summary.Kpis["runsStarted"].Value) == len(tasks) &&
			int(summary.Kpis["runsSucceeded"].Value) == wantOK && int(summary.Kpis["runsFailed"].Value) == wantFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("devex summary never showed %d runs (%d ok, %d failed): %+v (err %v)", len(tasks), wantOK, wantFailed, summary.Kpis, err)
		}
		time.Sleep(2 * time.Second)
	}
	if err := get("templates", &templates); err != nil {
		t.Fatal(err)
	}
	if len(templates.Items) != 1 || templates.Items[0].TemplateRef != "template:default/paved-core" ||
		templates.Items[0].Runs != len(tasks) || templates.Items[0].Succeeded != wantOK || templates.Items[0].Failed != wantFailed {
		t.Fatalf("per-template figures: %+v", templates.Items)
	}
	if templates.Items[0].P50DurationSeconds < 2 {
		t.Fatalf("run durations missing: %+v", templates.Items[0])
	}
	// time-saved PT2H on the template, counted for the successful runs.
	if templates.Items[0].TimeSavedSeconds != float64(wantOK*7200) {
		t.Fatalf("time saved = %v, want %d", templates.Items[0].TimeSavedSeconds, wantOK*7200)
	}
	t.Logf("E2E devex summary: %d runs, %d succeeded, %d failed, p50 %.1fs", len(tasks), wantOK, wantFailed, templates.Items[0].P50DurationSeconds)
}

// startCoreBackstage starts what TestBackstageRunsPavedActions runs against:
// argocdtest (Argo CD's API, in process), the paved binary on it, and a real
// Backstage backend with the core template, extraModules added.
func startCoreBackstage(t *testing.T, extraModules ...string) (*argocdtest.Server, *pavedproc.Paved, *backstagehost.Backstage) {
	t.Helper()
	templates := t.TempDir()
	if err := os.WriteFile(filepath.Join(templates, "template.yaml"), []byte(coreTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	return startBackstageOn(t, templates, extraModules...)
}

// startBackstageOn is startCoreBackstage with the catalog entity files of
// templates (a directory the test may change: the catalog reads it again
// every 5 seconds).
func startBackstageOn(t *testing.T, templates string, extraModules ...string) (*argocdtest.Server, *pavedproc.Paved, *backstagehost.Backstage) {
	t.Helper()
	argo, err := argocdtest.NewServer(argocdtest.Options{Username: "admin", Password: "e2e-argo-password", SyncDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	argo.Start()
	t.Cleanup(argo.Close)

	pavedAddr, err := pavedproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	bsAddr, err := pavedproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	var bsPort int
	fmt.Sscanf(bsAddr[strings.LastIndex(bsAddr, ":")+1:], "%d", &bsPort)

	p := pavedproc.Start(t, pavedproc.Options{Addr: pavedAddr, Config: fmt.Sprintf(`
backstage:
  discovery: http://%s/api/{{pluginId}}
devex:
  interval: 10s
argocd:
  instances:
    - name: default
      server: %s
      plainText: true
      username: admin
      password: ${ARGO_PASSWORD}
`, bsAddr, argo.Addr()), Env: []string{"ARGO_PASSWORD=e2e-argo-password"}})

	bs := backstagehost.StartT(t, backstagehost.Options{
		Port:         bsPort,
		PavedBaseURL: "http://" + pavedAddr + "/api/{{pluginId}}",
		TemplatesDir: templates,
		ExtraModules: extraModules,
	})
	return argo, p, bs
}
