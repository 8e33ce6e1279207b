//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
	// The task log says why, through paved's reason phrase: the registry
	// path prints the status line of paved's answer.
	const reason = "Request failed with 409 existing application spec is different, use upsert flag to force update"
	if log := changed.Error + "\n" + strings.Join(changed.Log, "\n"); !strings.Contains(log, reason) {
		t.Fatalf("the failed task does not say %q:\n%s", reason, taskFailure(changed))
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

// TestScaffolderModuleRunsPavedActions loads paved's scaffolder module
// (plugins/scaffolder-backend-module-paved, id prefix paved-proxy: beside the
// registry's paved: ids) into the real scaffolder: the core template through
// the module creates the app, and a changed spec fails the task with paved's
// own message (the module reads it from paved's answer body).
func TestScaffolderModuleRunsPavedActions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	proxy := strings.ReplaceAll(coreTemplate, "paved-core", "paved-core-proxy")
	proxy = strings.ReplaceAll(proxy, "action: paved:", "action: paved-proxy:")
	argo, _, bs := startCore(t, coreOptions{
		pavedFirst:   true,
		extraModules: []string{scaffolderModule(t)},
		extraConfig:  "paved:\n  actions:\n    idPrefix: 'paved-proxy:'\n",
		templates:    map[string]string{"proxy.yaml": proxy},
	})
	if _, err := bs.WaitEntity(ctx, "template", "default", "paved-core-proxy"); err != nil {
		t.Fatal(err)
	}
	task := runTask(t, ctx, bs, "paved-core-proxy", map[string]any{"name": "proxied", "path": "apps/proxied"})
	if task.Status != "completed" || task.Output["created"] != true || task.Output["syncStatus"] != "Synced" {
		t.Fatalf("%s\noutput %v", taskFailure(task), task.Output)
	}
	if app, ok := argo.App("argocd", "proxied"); !ok || app.Annotations["backstage.io/source-template"] != "template:default/paved-core-proxy" {
		t.Fatalf("the Application in Argo CD: %v (found %v)", app, ok)
	}
	changed := runTask(t, ctx, bs, "paved-core-proxy", map[string]any{"name": "proxied", "path": "apps/proxied-v2"})
	const reason = "existing application spec is different, use upsert flag to force update"
	if log := changed.Error + "\n" + strings.Join(changed.Log, "\n"); changed.Status != "failed" || !strings.Contains(log, reason) {
		t.Fatalf("a changed spec through the module should fail saying %q:\n%s", reason, taskFailure(changed))
	}
}

// TestBackstageStartedBeforePaved: Backstage may start before paved (two
// Deployments, any order, or paved restarted). The scaffolder then lists no
// paved action, and once paved answers it lists and runs them with no restart
// of Backstage: the scaffolder reads the actions registry per request. This
// is what makes Backstage 1.44 the oldest line paved supports
// (backstagehost.OldestLine): 1.43's scaffolder read the registry once, at its
// start-up.
func TestBackstageStartedBeforePaved(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	argo, startPaved, bs := startCore(t, coreOptions{})
	if _, err := bs.WaitEntity(ctx, "template", "default", "paved-core"); err != nil {
		t.Fatal(err)
	}
	pavedActions := func() (bool, string) {
		actions, err := bs.Actions(ctx)
		if err != nil {
			return false, err.Error()
		}
		var ids []string
		for _, a := range actions {
			ids = append(ids, a.ID)
		}
		return slices.Contains(ids, "paved:create-argocd-app"), strings.Join(ids, " ")
	}
	if ok, ids := pavedActions(); ok {
		t.Fatalf("the scaffolder lists paved's actions before paved started: %s", ids)
	}

	startPaved()
	eventually(t, 2*time.Minute, "the scaffolder lists paved:create-argocd-app once paved answers", pavedActions)
	id, err := bs.CreateTask(ctx, "template:default/paved-core", map[string]any{"name": "late", "path": "apps/late"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := bs.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != "completed" || task.Output["created"] != true {
		t.Fatalf("%s\noutput %v", taskFailure(task), task.Output)
	}
	if _, ok := argo.App("argocd", "late"); !ok {
		t.Fatal("no Application in Argo CD")
	}
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
	argo, startPaved, bs := startCore(t, coreOptions{pavedFirst: true, templatesDir: templates, extraModules: extraModules})
	return argo, startPaved(), bs
}

// coreOptions are what the core tests vary around the core template.
type coreOptions struct {
	pavedFirst   bool              // start paved before Backstage
	templatesDir string            // catalog entity files; empty: a new directory with the core template
	templates    map[string]string // more catalog files written there (name: YAML)
	extraModules []string          // backend modules Backstage loads
	extraConfig  string            // merged over Backstage's generated app-config
}

// startCore starts argocdtest and a real Backstage backend pointed at paved.
// With pavedFirst the paved binary is started before Backstage; otherwise
// the caller starts it with the returned function, when it likes.
func startCore(t *testing.T, o coreOptions) (*argocdtest.Server, func() *pavedproc.Paved, *backstagehost.Backstage) {
	t.Helper()
	argo, err := argocdtest.NewServer(argocdtest.Options{Username: "admin", Password: "e2e-argo-password", SyncDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	argo.Start()
	t.Cleanup(argo.Close)

	pavedAddr, bsAddr, bsPort := freeAddrs(t)

	var p *pavedproc.Paved
	startPaved := func() *pavedproc.Paved {
		if p == nil {
			p = pavedproc.Start(t, pavedproc.Options{Addr: pavedAddr, Config: fmt.Sprintf(`
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
		}
		return p
	}
	if o.pavedFirst {
		startPaved()
	}

	templates := o.templatesDir
	files := maps.Clone(o.templates)
	if templates == "" {
		templates = t.TempDir()
		if files == nil {
			files = map[string]string{}
		}
		files["template.yaml"] = coreTemplate
	}
	for name, doc := range files {
		if err := os.WriteFile(filepath.Join(templates, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bs := backstagehost.StartT(t, backstagehost.Options{
		Port:         bsPort,
		PavedBaseURL: "http://" + pavedAddr + "/api/{{pluginId}}",
		TemplatesDir: templates,
		ExtraModules: o.extraModules,
		ExtraConfig:  o.extraConfig,
	})
	return argo, startPaved, bs
}
