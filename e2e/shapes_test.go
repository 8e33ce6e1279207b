//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/stack"
)

// shapeTemplates are templates a platform team would write, one per kind of
// application, each calling paved:create-argocd-app through Backstage's
// actions registry (the default path) and waiting until Synced and Healthy.
var shapeTemplates = map[string]string{
	"shape-directory": shapeTemplate("shape-directory", "Directory of manifests", "path, waitTimeout", `
        source:
          repoURL: ${{ parameters.repoURL }}
          path: ${{ parameters.path }}
          targetRevision: main`, "${{ parameters.waitTimeout }}"),
	"shape-helm": shapeTemplate("shape-helm", "Helm chart with values and parameters", "values, tier", `
        source:
          repoURL: ${{ parameters.repoURL }}
          path: .
          targetRevision: main
          helm:
            releaseName: ${{ parameters.name }}
            values: ${{ parameters.values }}
            parameters:
              - name: tier
                value: ${{ parameters.tier }}`, "3m"),
	"shape-helm-object": shapeTemplate("shape-helm-object", "Helm chart with a values object", "greeting, image", `
        source:
          repoURL: ${{ parameters.repoURL }}
          path: .
          targetRevision: main
          helm:
            valuesObject:
              greeting: ${{ parameters.greeting }}
              image: ${{ parameters.image }}`, "3m"),
	"shape-kustomize": shapeTemplate("shape-kustomize", "Kustomize overlay with an image override and a name prefix", "image, prefix", `
        source:
          repoURL: ${{ parameters.repoURL }}
          path: overlays/dev
          targetRevision: main
          kustomize:
            namePrefix: ${{ parameters.prefix }}
            images:
              - ${{ parameters.image }}`, "3m"),
	"shape-multisource": shapeTemplate("shape-multisource", "Helm chart with its values file from another repository", "valuesRepoURL", `
        sources:
          - repoURL: ${{ parameters.repoURL }}
            path: .
            targetRevision: main
            helm:
              releaseName: ${{ parameters.name }}
              valueFiles:
                - $values/web/values.yaml
          - repoURL: ${{ parameters.valuesRepoURL }}
            targetRevision: main
            ref: values`, "3m"),
	"shape-named-cluster": shapeTemplate("shape-named-cluster", "Directory app on a cluster chosen by its name in Argo CD", "cluster", `
        source:
          repoURL: ${{ parameters.repoURL }}
          path: .
          targetRevision: main
        destination:
          name: ${{ parameters.cluster }}
          namespace: ${{ parameters.name }}`, "3m"),
	"shape-app-namespace": shapeTemplate("shape-app-namespace", "Directory app whose Application lives in the team's namespace", "appNamespace, project", `
        namespace: ${{ parameters.appNamespace }}
        project: ${{ parameters.project }}
        createProject: true
        source:
          repoURL: ${{ parameters.repoURL }}
          path: .
          targetRevision: main`, "3m"),
	// Created without automated sync; the template's second step syncs.
	"shape-manual-sync": strings.Replace(strings.Replace(
		shapeTemplate("shape-manual-sync", "Directory app synced by the template", "path", `
        source:
          repoURL: ${{ parameters.repoURL }}
          path: ${{ parameters.path }}
          targetRevision: main`, ""),
		"        automated:\n          prune: true\n", "", 1),
		"  output:", `    - id: sync
      name: Sync it and wait
      action: paved:sync-argocd-app
      input:
        name: ${{ parameters.name }}
        wait: true
        waitTimeout: 2m
  output:`, 1),
}

// shapeTemplate is a template whose one step creates an application from
// parameters name, repoURL and params (a comma-separated list of string
// parameters), with input, the step's source and whatever else differs;
// the destination is the namespace of the app's name unless input gives
// one. An empty wait creates without waiting.
func shapeTemplate(name, title, params, input, wait string) string {
	props := ""
	for _, p := range strings.Split("name, repoURL, "+params, ", ") {
		props += "\n        " + p + ": {type: string}"
	}
	if !strings.Contains(input, "destination:") {
		input += "\n        destination:\n          namespace: ${{ parameters.name }}"
	}
	if wait != "" {
		wait = "\n        wait: true\n        waitTimeout: " + wait
	}
	return `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: ` + name + `
  title: ` + title + `
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: App
      required: [name, repoURL, ` + params + `]
      properties:` + props + `
  steps:
    - id: create
      name: Create the Argo CD application
      action: paved:create-argocd-app
      input:
        name: ${{ parameters.name }}` + input + `
        createNamespace: true
        automated:
          prune: true
        entityRef: component:default/${{ parameters.name }}
        templateRef: template:default/` + name + wait + `
  output:
    created: ${{ steps.create.output.created }}
    url: ${{ steps.create.output.url }}
    namespace: ${{ steps.create.output.namespace }}
`
}

// manualComponent is a service registered by hand: in the catalog, not from
// a template, so golden-path coverage counts it against the templates.
const manualComponent = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: hand-made-service
spec:
  type: service
  lifecycle: production
  owner: group:default/platform
`

// shapes is one run of TestAppShapes: the stack, Backstage and paved.
type shapes struct {
	st  *stack.Stack
	bs  *backstagehost.Backstage
	api pavedHTTP
	sfx string
	// created maps each application a template created to the template.
	created map[string]string
}

// TestAppShapes runs, in a real Backstage backend against the paved binary
// and the real Argo CD (v2.14 unless PAVED_E2E_ARGOCD=v3), every kind of
// application a template may ask paved for, and the ways waiting for one can
// fail:
//   - a sync Argo CD fails (a manifest the API server refuses) and an app
//     that stays Degraded past the wait's timeout: the task fails and its
//     log, as Backstage's task events API serves it, names the operation's
//     message and the resources in trouble;
//   - Helm (values, valuesObject, parameters), Kustomize (images,
//     namePrefix), multi-source with a $values ref, destination.name of a
//     cluster registered in Argo CD, and an Application in a namespace of
//     its own (apps-in-any-namespace): each reaches Synced and Healthy with
//     what the template asked for rendered into the cluster, and the same
//     run again completes without changing the Application.
func TestAppShapes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	st := stack.StartForTest(ctx, t, "argocd-server", "argocd-application-controller", "argocd-repo-server")

	docs := map[string]string{"hand-made.yaml": manualComponent}
	var names []string
	for name, doc := range shapeTemplates {
		docs[name+".yaml"] = doc
		names = append(names, name)
	}
	p, bs := startPavedBackstage(t, ctx, st, stackPaved{
		Config:    "devex:\n  interval: 10s\n  catalogEvery: 1\n",
		Templates: templatesDir(t, docs),
		Wait:      names,
		// paved's catalog module: Argo CD's apps as Components, by deltas of
		// paved's changes feed.
		ExtraModules: []string{catalogModule(t)},
	})
	s := &shapes{st: st, bs: bs, sfx: randomHex(2), created: map[string]string{},
		api: pavedHTTP{p: p, client: &http.Client{Timeout: 2 * time.Minute}}}

	t.Run("failed sync", s.failedSync)
	t.Run("degraded past the timeout", s.degraded)
	t.Run("helm", s.helm)
	t.Run("kustomize", s.kustomize)
	t.Run("multi-source with a values ref", s.multiSource)
	t.Run("named cluster", s.namedCluster)
	t.Run("app in its own namespace", s.appNamespace)
	t.Run("catalog and coverage", s.catalog)

	if strings.Contains(p.Log(), st.PavedToken) {
		t.Error("the Argo CD token appears in paved's log")
	}
}

func (s *shapes) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// failedRun runs template, which must fail, and checks that its task log
// says each of wants; it returns the log.
func (s *shapes) failedRun(t *testing.T, ctx context.Context, template string, values map[string]any, wants ...string) string {
	t.Helper()
	task := runTask(t, ctx, s.bs, template, values)
	if task.Status != "failed" {
		t.Fatalf("task %s, want failed; outputs %v", task.Status, task.Output)
	}
	log := taskLog(task)
	for _, want := range wants {
		if !strings.Contains(log, want) {
			t.Errorf("the task log does not say %q:\n%s", want, log)
		}
	}
	return log
}

// taskLog is what a developer reads of a task in Backstage: every log
// event's message and the failure.
func taskLog(task backstagehost.Task) string {
	return strings.Join(task.Log, "\n") + "\n" + task.Error
}

// failedSync: the Deployment of failing/invalid lacks spec.selector, which
// the API server refuses. With automated sync Argo CD retries the failed
// operation (five times, backing off, for minutes): the wait runs out
// naming the failing resource and the retrying operation. A sync the
// template starts has no retries: it fails at once, and so does the wait.
// Either way the task log says which resource failed and why.
func (s *shapes) failedSync(t *testing.T) {
	ctx := s.ctx(t)
	name := "fail-auto-" + s.sfx
	log := s.failedRun(t, ctx, "shape-directory", map[string]any{
		"name": name, "repoURL": s.st.GitURL("failing"), "path": "invalid", "waitTimeout": "90s"},
		`timed out after 1m30s waiting for application "`+name+`"`,
		"resources: Deployment "+name+"/invalid-app: SyncFailed", // the resource and its result
		"spec.selector",          // the API server's reason
		"last operation Running", // Argo CD still retrying
	)
	fmt.Printf("E2E task log of an automated sync failing: %s\n", firstLineWith(log, "timed out"))

	name = "fail-sync-" + s.sfx
	log = s.failedRun(t, ctx, "shape-manual-sync", map[string]any{
		"name": name, "repoURL": s.st.GitURL("failing"), "path": "invalid"},
		`sync of application "`+name+`" failed (Failed): Deployment `+name+"/invalid-app: SyncFailed",
		"spec.selector",
		"operation: one or more objects failed to apply",
	)
	if strings.Contains(log, "timed out") {
		t.Errorf("the wait ran out instead of ending on the failed sync:\n%s", log)
	}
	fmt.Printf("E2E task log of a failed sync: %s\n", firstLineWith(log, "failed (Failed)"))
	app := s.app(t, name, "")
	if op := app.Status.OperationState; op == nil || op.Phase != "Failed" {
		t.Errorf("Argo CD's operation state = %+v, want Failed", app.Status.OperationState)
	}
}

// degraded: failing/stuck's Deployment wants a pod the stack never runs, and
// passes its 10 s progress deadline; the wait runs out and says where the
// application stands and which resource holds it up.
func (s *shapes) degraded(t *testing.T) {
	ctx := s.ctx(t)
	name := "stuck-" + s.sfx
	log := s.failedRun(t, ctx, "shape-directory", map[string]any{
		"name": name, "repoURL": s.st.GitURL("failing"), "path": "stuck", "waitTimeout": "45s"},
		`timed out after 45s waiting for application "`+name+`" to be Synced and Healthy`,
		"sync=Synced",
		"last operation Succeeded",
		"Deployment "+name+"/stuck-app: Degraded",
		"exceeded its progress deadline",
	)
	fmt.Printf("E2E task log of an app Degraded past the timeout: %s\n", firstLineWith(log, "timed out"))
}

// helm: values (a YAML string) and a parameter each set one value of the
// fixture chart; a values object, in another app, sets two. (Argo CD renders
// valuesObject alone when both are set, so paved refuses both at once.)
func (s *shapes) helm(t *testing.T) {
	ctx := s.ctx(t)
	name := "helm-" + s.sfx
	values := map[string]any{"name": name, "repoURL": s.st.GitURL("helm"),
		"values": "greeting: hello from the template's values\n", "tier": "from-a-parameter"}
	s.createTwice(t, ctx, "shape-helm", values, name, "")
	s.want(t, name, "configmap", name+"-config", "{.data.greeting}", "hello from the template's values")
	s.want(t, name, "configmap", name+"-config", "{.data.tier}", "from-a-parameter")

	name = "helmobj-" + s.sfx
	values = map[string]any{"name": name, "repoURL": s.st.GitURL("helm"), "greeting": "hello from a values object", "image": "nginx:1.27-alpine"}
	s.createTwice(t, ctx, "shape-helm-object", values, name, "")
	s.want(t, name, "configmap", name+"-config", "{.data.greeting}", "hello from a values object")
	s.want(t, name, "deployment", name+"-app", "{.spec.template.spec.containers[0].image}", "nginx:1.27-alpine")
}

// kustomize: the name prefix and the image override of the template.
func (s *shapes) kustomize(t *testing.T) {
	ctx := s.ctx(t)
	name := "kust-" + s.sfx
	values := map[string]any{"name": name, "repoURL": s.st.GitURL("kustomize"), "image": "nginx=nginx:1.27-alpine", "prefix": "team-"}
	s.createTwice(t, ctx, "shape-kustomize", values, name, "")
	// Argo CD runs "kustomize edit set nameprefix", which replaces the
	// overlay's own prefix (dev-).
	s.want(t, name, "configmap", "team-kustomize-config", "{.data.greeting}", "hello from the kustomize dev overlay")
	s.want(t, name, "deployment", "team-kustomize-app", "{.spec.template.spec.containers[0].image}", "nginx:1.27-alpine")
	if t.Failed() {
		t.Logf("objects in %s: %v", name, kubeNames(t, s.st, "-n", name, "get", "configmap,deployment"))
	}
}

// multiSource: the chart from the helm repository, its values file from the
// values repository through the $values ref.
func (s *shapes) multiSource(t *testing.T) {
	ctx := s.ctx(t)
	name := "multi-" + s.sfx
	values := map[string]any{"name": name, "repoURL": s.st.GitURL("helm"), "valuesRepoURL": s.st.GitURL("values")}
	s.createTwice(t, ctx, "shape-multisource", values, name, "")
	s.want(t, name, "configmap", name+"-config", "{.data.greeting}", "hello from the values repository")
	s.want(t, name, "configmap", name+"-config", "{.data.tier}", "from-values-repo")
	app := s.app(t, name, "")
	if len(app.Spec.Sources) != 2 || app.Spec.Sources[1].Ref != "values" || len(app.Status.Sync.Revisions) != 2 {
		t.Errorf("sources = %+v, synced revisions %v; want the chart and the values ref, both synced", app.Spec.Sources, app.Status.Sync.Revisions)
	}
}

// namedCluster: a cluster registered in Argo CD the way an operator does (a
// Secret labelled secret-type cluster) under a name, reached through the API
// server's own address; the template names the cluster, not its URL.
func (s *shapes) namedCluster(t *testing.T) {
	ctx := s.ctx(t)
	cluster := "e2e-named-" + s.sfx
	ca, err := os.ReadFile(s.st.KubeCACert)
	if err != nil {
		t.Fatal(err)
	}
	config, _ := json.Marshal(map[string]any{
		"bearerToken":     s.st.KubeToken,
		"tlsClientConfig": map[string]any{"caData": base64.StdEncoding.EncodeToString(ca)},
	})
	secret, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "cluster-" + cluster, "namespace": "argocd",
			"labels": map[string]string{"argocd.argoproj.io/secret-type": "cluster"}},
		"stringData": map[string]string{"name": cluster, "server": s.st.KubeAPIServer, "config": string(config)},
	})
	s.apply(t, secret)

	name := "named-" + s.sfx
	values := map[string]any{"name": name, "repoURL": s.st.GitURL("plain"), "cluster": cluster}
	s.createTwice(t, ctx, "shape-named-cluster", values, name, "")
	s.want(t, name, "configmap", "plain-config", "{.data.greeting}", "hello from the plain fixture")
	app := s.app(t, name, "")
	if app.Spec.Destination.Name != cluster || app.Spec.Destination.Server != "" {
		t.Errorf("destination = %+v, want the cluster by name only", app.Spec.Destination)
	}
	// The name resolved to the registered cluster, the only one by that name.
	code, body, err := s.st.ArgoREST(http.MethodGet, "/api/v1/clusters", nil)
	var clusters struct {
		Items []struct{ Name, Server string } `json:"items"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &clusters) != nil {
		t.Fatalf("Argo CD's clusters: %d %s %v", code, body, err)
	}
	found := false
	for _, c := range clusters.Items {
		found = found || c.Name == cluster && c.Server == s.st.KubeAPIServer
	}
	if !found {
		t.Errorf("Argo CD's clusters = %+v, want %s at %s", clusters.Items, cluster, s.st.KubeAPIServer)
	}
}

// appNamespace: the Application lives in apps-<team>, a namespace Argo CD
// takes apps from (stack.AppNamespaces); paved creates the project admitting
// it, and links to the namespaced app in Argo CD's UI.
func (s *shapes) appNamespace(t *testing.T) {
	ctx := s.ctx(t)
	appNS := "apps-team-" + s.sfx
	if out, err := s.st.Kubectl("create", "namespace", appNS); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	name := "nsapp-" + s.sfx
	project := "team-" + s.sfx
	values := map[string]any{"name": name, "repoURL": s.st.GitURL("plain"), "appNamespace": appNS, "project": project}
	task := s.createTwice(t, ctx, "shape-app-namespace", values, name, appNS)
	if task.Output["namespace"] != appNS || !strings.HasSuffix(fmt.Sprint(task.Output["url"]), "/applications/"+appNS+"/"+name) {
		t.Errorf("outputs = %v, want namespace %s and a link to /applications/%s/%s", task.Output, appNS, appNS, name)
	}
	s.want(t, name, "configmap", "plain-config", "{.data.greeting}", "hello from the plain fixture")
	if left := kubeNames(t, s.st, "-n", "argocd", "get", "applications.argoproj.io", name); len(left) != 0 {
		t.Errorf("an Application %s in argocd too: %v", name, left)
	}
	got, err := s.st.Kubectl("get", "appprojects.argoproj.io", project, "-n", "argocd", "-o", "jsonpath={.spec.sourceNamespaces}")
	if err != nil || !strings.Contains(got, appNS) {
		t.Errorf("project %s sourceNamespaces = %q (%v), want %s", project, got, err, appNS)
	}
}

// catalog: the applications the templates created reach the real catalog
// as Components through paved's catalog module, by deltas of paved's
// changes feed (its full snapshot is 30 minutes away); an owner changed on
// the Application changes the entity; a deleted application's entity goes.
// paved's golden-path coverage, read from that catalog, counts them against
// the hand-made service.
func (s *shapes) catalog(t *testing.T) {
	ctx := s.ctx(t)
	if len(s.created) == 0 {
		t.Fatal("no application was created by the earlier subtests")
	}
	for name, template := range s.created {
		e, err := s.bs.WaitEntity(ctx, "component", "default", name)
		if err != nil {
			t.Fatalf("component:default/%s: %v", name, err)
		}
		ann := entityAnnotations(e)
		if ann["backstage.io/source-template"] != "template:default/"+template || ann["argocd/app-name"] != name {
			t.Errorf("component:default/%s annotations = %v, want source-template %s and argocd/app-name %s", name, ann, template, name)
		}
	}
	if !strings.Contains(s.bs.Logs(), "Applied paved's catalog changes: ") {
		t.Errorf("the catalog module applied no delta of paved's changes feed; Backstage's log: %s", s.bs.LogPath())
	}

	// Update: the owner, as a team hands a service over, on the Application.
	updated := "kust-" + s.sfx
	if out, err := s.st.Kubectl("annotate", "--overwrite", "-n", "argocd", "applications.argoproj.io", updated,
		"paved.dev/owner=group:default/payments"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	eventually(t, 2*time.Minute, "the new owner in the catalog", func() (bool, string) {
		e, err := s.bs.GetEntity(ctx, "component", "default", updated)
		if err != nil {
			return false, err.Error()
		}
		spec, _ := e["spec"].(map[string]any)
		return spec["owner"] == "group:default/payments", fmt.Sprint(spec["owner"])
	})

	// Delete, through paved: the entity leaves the catalog.
	deleted := "helm-" + s.sfx
	if out := s.api.invoke(t, ctx, "paved:delete-argocd-app", map[string]any{"name": deleted, "cascade": true}); out.Output["deleted"] != true {
		t.Fatalf("delete-argocd-app = %v", out.Output)
	}
	delete(s.created, deleted)
	eventually(t, 3*time.Minute, "the deleted application's entity gone from the catalog", func() (bool, string) {
		_, err := s.bs.GetEntity(ctx, "component", "default", deleted)
		if backstagehost.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprint(err)
	})
	// A removal leaves the catalog in applyMutation's own transaction, before
	// the module logs it: wait for the line too.
	eventually(t, 30*time.Second, "the catalog module's log of an added, an updated and a removed entity", func() (bool, string) {
		changes := s.bs.Logs()
		for _, kind := range []string{" added", " updated", " removed"} {
			if !regexp.MustCompile(`Applied paved's catalog changes: .*[1-9]\d*` + kind).MatchString(changes) {
				return false, "no delta of the catalog module had something" + kind + "; Backstage's log: " + s.bs.LogPath()
			}
		}
		return true, ""
	})

	// Coverage, as paved computes it from the real catalog's Components:
	// what the catalog holds now, the hand-made service among them.
	var inCatalog []backstagehost.Entity
	if err := s.bs.Do(ctx, http.MethodGet, "/api/catalog/entities?filter=kind=component", nil, &inCatalog); err != nil {
		t.Fatal(err)
	}
	var all, fromTemplate int64
	manual := false
	for _, e := range inCatalog {
		all++
		if entityAnnotations(e)["backstage.io/source-template"] != "" {
			fromTemplate++
		}
		manual = manual || entityName(e) == "hand-made-service"
	}
	if !manual || fromTemplate < int64(len(s.created)) {
		t.Fatalf("the catalog holds %d components (%d from templates, hand-made %t); want the hand-made one and the %d apps", all, fromTemplate, manual, len(s.created))
	}
	var report struct {
		Overall struct {
			Components, FromTemplate int64
			Ratio                    float64
		}
	}
	eventually(t, 2*time.Minute, "paved's coverage from the catalog", func() (bool, string) {
		if err := s.api.get(ctx, "/api/paved/devex/v1/coverage", &report); err != nil {
			return false, err.Error()
		}
		return report.Overall.Components == all && report.Overall.FromTemplate == fromTemplate,
			fmt.Sprintf("%+v, want %d components, %d from templates", report.Overall, all, fromTemplate)
	})
	fmt.Printf("E2E golden-path coverage from the real catalog: %d of %d components from templates (%.2f)\n",
		report.Overall.FromTemplate, report.Overall.Components, report.Overall.Ratio)
}

func entityAnnotations(e backstagehost.Entity) map[string]string {
	out := map[string]string{}
	md, _ := e["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	for k, v := range ann {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func entityName(e backstagehost.Entity) string {
	md, _ := e["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	return name
}

// createTwice runs template with values, waits for the application to be
// Synced and Healthy as Argo CD reports it, then runs it again: completed,
// created false, the Application's generation unchanged.
func (s *shapes) createTwice(t *testing.T, ctx context.Context, template string, values map[string]any, name, appNS string) backstagehost.Task {
	t.Helper()
	began := time.Now()
	task := runTask(t, ctx, s.bs, template, values)
	if task.Status != "completed" {
		t.Fatal(taskFailure(task))
	}
	s.created[name] = template
	if task.Output["created"] != true {
		t.Errorf("outputs = %v, want created", task.Output)
	}
	app := s.app(t, name, appNS)
	if app.Status.Sync.Status != "Synced" || app.Status.Health.Status != "Healthy" {
		t.Fatalf("after the task Argo CD reports %s/%s, want Synced/Healthy", app.Status.Sync.Status, app.Status.Health.Status)
	}
	fmt.Printf("E2E %s: Synced+Healthy %s after the task was created\n", template, time.Since(began).Round(time.Millisecond))
	again := runTask(t, ctx, s.bs, template, values)
	if again.Status != "completed" {
		t.Fatalf("re-run: %s", taskFailure(again))
	}
	if again.Output["created"] != false {
		t.Errorf("re-run outputs = %v, want created false", again.Output)
	}
	if after := s.app(t, name, appNS); after.Generation != app.Generation {
		t.Errorf("the same values again changed the Application: generation %d → %d", app.Generation, after.Generation)
	}
	return task
}

// app reads an application from Argo CD as admin; appNS empty is argocd's.
func (s *shapes) app(t *testing.T, name, appNS string) v1alpha1.Application {
	t.Helper()
	return argoApp(t, s.st, name, appNS)
}

// want checks one field of an object the application deployed in namespace ns.
func (s *shapes) want(t *testing.T, ns, kind, name, jsonpath, value string) {
	t.Helper()
	got, err := s.st.Kubectl("get", kind, name, "-n", ns, "-o", "jsonpath="+jsonpath)
	if err != nil || got != value {
		t.Errorf("%s %s/%s %s = %q (%v), want %q", kind, ns, name, jsonpath, got, err, value)
	}
}

// apply creates an object with kubectl (JSON is YAML).
func (s *shapes) apply(t *testing.T, doc []byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "object.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := s.st.Kubectl("apply", "-f", file); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
