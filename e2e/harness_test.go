//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection that creates the scenario database

	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/pavedproc"
	"github.com/paved-dev/paved/e2e/stack"
)

// scenarioTemplates are the templates the scenarios run, one file each.
// Backstage does not pass templateInfo to remote actions, so templateRef is
// written out; expressions stay out of YAML flow mappings.
var scenarioTemplates = map[string]string{
	// Scenarios 1–3: automated sync, wait until Synced and Healthy.
	"e2e-create": `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-create
  title: e2e create and wait
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: App
      required: [name, instance, project, repoURL, path]
      properties:
        name: {type: string}
        instance: {type: string}
        project: {type: string}
        repoURL: {type: string}
        path: {type: string}
  steps:
    - id: create
      name: Create the Argo CD application
      action: paved:create-argocd-app
      input:
        instance: ${{ parameters.instance }}
        name: ${{ parameters.name }}
        project: ${{ parameters.project }}
        source:
          repoURL: ${{ parameters.repoURL }}
          path: ${{ parameters.path }}
          targetRevision: main
        destination:
          namespace: ${{ parameters.name }}
        createNamespace: true
        automated:
          prune: true
          selfHeal: true
        entityRef: component:default/${{ parameters.name }}
        templateRef: template:default/e2e-create
        wait: true
        waitTimeout: 4m
  output:
    url: ${{ steps.create.output.url }}
    created: ${{ steps.create.output.created }}
    syncStatus: ${{ steps.create.output.syncStatus }}
    healthStatus: ${{ steps.create.output.healthStatus }}
`,
	// Scenario 4: a manual-sync app in a project paved creates.
	"e2e-manual": `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-manual
  title: e2e manual-sync app in its own project
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: App
      required: [name, instance, project, repoURL]
      properties:
        name: {type: string}
        instance: {type: string}
        project: {type: string}
        repoURL: {type: string}
  steps:
    - id: create
      name: Create the Argo CD application and its project
      action: paved:create-argocd-app
      input:
        instance: ${{ parameters.instance }}
        name: ${{ parameters.name }}
        project: ${{ parameters.project }}
        createProject: true
        source:
          repoURL: ${{ parameters.repoURL }}
          path: .
          targetRevision: main
        destination:
          namespace: ${{ parameters.name }}
        createNamespace: true
        entityRef: component:default/${{ parameters.name }}
        templateRef: template:default/e2e-manual
  output:
    created: ${{ steps.create.output.created }}
    project: ${{ steps.create.output.project }}
`,
	"e2e-sync": `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-sync
  title: e2e sync and wait
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: App
      required: [name, instance, project]
      properties:
        name: {type: string}
        instance: {type: string}
        project: {type: string}
  steps:
    - id: sync
      name: Sync the application
      action: paved:sync-argocd-app
      input:
        instance: ${{ parameters.instance }}
        name: ${{ parameters.name }}
        project: ${{ parameters.project }}
        wait: true
        waitTimeout: 4m
  output:
    syncStatus: ${{ steps.sync.output.syncStatus }}
    healthStatus: ${{ steps.sync.output.healthStatus }}
    operationPhase: ${{ steps.sync.output.operationPhase }}
`,
	"e2e-teardown": `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-teardown
  title: e2e delete app and project
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: App
      required: [name, instance, project]
      properties:
        name: {type: string}
        instance: {type: string}
        project: {type: string}
  steps:
    - id: delete
      name: Delete the application, its objects and its project
      action: paved:delete-argocd-app
      input:
        instance: ${{ parameters.instance }}
        name: ${{ parameters.name }}
        project: ${{ parameters.project }}
        cascade: true
        deleteProject: true
  output:
    deleted: ${{ steps.delete.output.deleted }}
`,
}

// e2e-create-proxy is e2e-create through paved's scaffolder module
// (plugins/scaffolder-backend-module-paved), whose actions carry paved's
// error message into the task; the registry path shows only the HTTP status.
func init() {
	doc := scenarioTemplates["e2e-create"]
	doc = strings.ReplaceAll(doc, "e2e-create", "e2e-create-proxy")
	doc = strings.ReplaceAll(doc, "action: paved:", "action: paved-proxy:")
	scenarioTemplates["e2e-create-proxy"] = doc
}

// scaffolderModule is the built paved scaffolder module, loaded into the
// Backstage backend with the id prefix paved-proxy: beside the registry's paved: ids.
func scaffolderModule(t *testing.T) string {
	return builtModule(t, "scaffolder-backend-module-paved")
}

// catalogModule is the built catalog module (paved's entity provider).
func catalogModule(t *testing.T) string {
	return builtModule(t, "catalog-backend-module-paved")
}

// builtModule is the CommonJS build of one of paved's backend modules in plugins/.
func builtModule(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "plugins", name, "dist", "index.cjs.js")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("paved's module %s is not built (%v); at the repository root: make build-ts", name, err)
	}
	return path
}

func writeTemplates(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, doc := range scenarioTemplates {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stackPaved is what startPavedBackstage starts beside an e2e stack.
type stackPaved struct {
	// Config is more of paved's config after backstage and argocd
	// (gitops:, devex:); Env more of its environment (its tokens).
	Config string
	Env    []string
	// Templates is the directory of the templates Backstage loads; Wait
	// the names of those to find in its catalog before going on.
	Templates    string
	Wait         []string
	ExtraModules []string
}

// startPavedBackstage starts paved with the stack's Argo CD as its only
// instance, "stack" (the paved account's API key from the environment, as
// an operator passes it; templates name no instance, as a user's would
// not), and a real Backstage whose scaffolder calls paved through the
// actions registry with o's templates, each waited for in its catalog.
func startPavedBackstage(t *testing.T, ctx context.Context, st *stack.Stack, o stackPaved) (*pavedproc.Paved, *backstagehost.Backstage) {
	t.Helper()
	pavedAddr, bsAddr, bsPort := freeAddrs(t)
	p := pavedproc.Start(t, pavedproc.Options{Addr: pavedAddr, Env: append([]string{"ARGO_TOKEN=" + st.PavedToken}, o.Env...),
		Config: "\nbackstage:\n  discovery: http://" + bsAddr + "/api/{{pluginId}}\n" + stackInstance(st.ArgoCDAddr) + o.Config})
	bs := backstagehost.StartT(t, backstagehost.Options{
		Port:         bsPort,
		PavedBaseURL: "http://" + pavedAddr + "/api/{{pluginId}}",
		TemplatesDir: o.Templates,
		ExtraModules: o.ExtraModules,
	})
	for _, name := range o.Wait {
		if _, err := bs.WaitEntity(ctx, "template", "default", name); err != nil {
			t.Fatal(err)
		}
	}
	return p, bs
}

// templatesDir writes documents (file name → YAML) into a new directory.
func templatesDir(t *testing.T, docs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, doc := range docs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// pavedConfig gives paved two views of the same Argo CD: "stack" with the
// paved account's API key, "stack-login" with admin's username and password
// (a session paved must renew when Argo CD refuses it).
func pavedConfig(bsAddr, argoAddr string) string {
	return "\nbackstage:\n  discovery: http://" + bsAddr + "/api/{{pluginId}}\n" + stackInstance(argoAddr) + fmt.Sprintf(`    - name: stack-login
      server: %s
      plainText: true
      username: admin
      password: ${ARGO_PASSWORD}
`, argoAddr)
}

// stackInstance is paved's argocd config for the stack's Argo CD as
// instance "stack", with the paved account's API key from ARGO_TOKEN; more
// instances may follow it in the list.
func stackInstance(argoAddr string) string {
	return fmt.Sprintf(`argocd:
  instances:
    - name: stack
      server: %s
      plainText: true
      token: ${ARGO_TOKEN}
`, argoAddr)
}

// tokenCapture is a Backstage plugin ("capture") that serves an empty action
// list and keeps the bearer tokens the scaffolder sends it: real plugin
// tokens, minted by Backstage for audience "capture".
type tokenCapture struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newTokenCapture(t *testing.T) *tokenCapture {
	c := &tokenCapture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			c.mu.Lock()
			c.tokens = append(c.tokens, tok)
			c.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"actions":[]}`)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *tokenCapture) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) == 0 {
		return ""
	}
	return c.tokens[len(c.tokens)-1]
}

// backstageExtraConfig adds the capture plugin as a second action source;
// Backstage replaces lists rather than merging them, so paved is repeated.
func backstageExtraConfig(pavedAddr, captureURL string) string {
	return fmt.Sprintf(`backend:
  actions:
    pluginSources: [paved, capture]
paved:
  actions:
    idPrefix: 'paved-proxy:'
discovery:
  endpoints:
    - target: 'http://%s/api/{{pluginId}}'
      plugins: [paved]
    - target: '%s/api/{{pluginId}}'
      plugins: [capture]
`, pavedAddr, captureURL)
}

// jwtParts decodes a JWT's header and claims without verifying it.
func jwtParts(token string) (header, claims map[string]any, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("a JWT has 3 parts, this has %d", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return nil, nil, err
		}
	}
	return header, claims, nil
}

// audience returns a JWT's aud claim as a list (it may be a string or an array).
func audience(claims map[string]any) []string {
	switch a := claims["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			out = append(out, fmt.Sprint(v))
		}
		return out
	}
	return nil
}

// pavedHTTP calls paved's actions protocol directly (not through the CLI
// process), so that its wall time can be set against Argo CD's.
type pavedHTTP struct {
	p      *pavedproc.Paved
	client *http.Client
}

type invokeResult struct {
	Status int
	Output map[string]any
	Error  struct{ Name, Message string }
	Took   time.Duration
}

func (c pavedHTTP) invokeAs(ctx context.Context, token, action string, input any) (invokeResult, error) {
	body, err := json.Marshal(input)
	if err != nil {
		return invokeResult{}, err
	}
	u := c.p.BaseURL + "/api/paved/.backstage/actions/v1/actions/" + url.PathEscape(action) + "/invoke"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return invokeResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	began := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return invokeResult{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	res := invokeResult{Status: resp.StatusCode, Took: time.Since(began)}
	if err != nil {
		return res, err
	}
	var decoded struct {
		Output map[string]any `json:"output"`
		Error  struct{ Name, Message string }
	}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return res, fmt.Errorf("decode %s answer %d: %v: %s", action, resp.StatusCode, err, raw)
	}
	res.Output, res.Error = decoded.Output, decoded.Error
	return res, nil
}

// invoke calls an action with paved's local CLI token and fails the test
// unless paved answers 200.
func (c pavedHTTP) invoke(t *testing.T, ctx context.Context, action string, input any) invokeResult {
	t.Helper()
	res, err := c.invokeAs(ctx, c.p.Token, action, input)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if res.Status != http.StatusOK {
		t.Fatalf("%s: %d %s: %s", action, res.Status, res.Error.Name, res.Error.Message)
	}
	return res
}

type invocation struct {
	ActionID  string    `json:"actionId"`
	Status    string    `json:"status"`
	Error     string    `json:"error"`
	StartedAt time.Time `json:"startedAt"`
}

// invocations reads paved's audit log, newest first.
func (c pavedHTTP) invocations(ctx context.Context, action string) ([]invocation, error) {
	var out struct {
		Items []invocation `json:"items"`
	}
	if err := c.get(ctx, "/api/paved/invocations?limit=200&action="+url.QueryEscape(action), &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// get reads one of paved's routes with the local CLI token into out.
func (c pavedHTTP) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.p.BaseURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.p.Token)
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// freeAddrs picks free loopback addresses for paved and a Backstage backend,
// and the backend's port, which backstagehost takes as a number.
func freeAddrs(t *testing.T) (pavedAddr, bsAddr string, bsPort int) {
	t.Helper()
	pavedAddr, err := pavedproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if bsAddr, err = pavedproc.FreeAddr(); err != nil {
		t.Fatal(err)
	}
	if bsPort, err = strconv.Atoi(bsAddr[strings.LastIndex(bsAddr, ":")+1:]); err != nil {
		t.Fatal(err)
	}
	return pavedAddr, bsAddr, bsPort
}

// runTask runs a template through the scaffolder's REST API and returns the finished task.
func runTask(t *testing.T, ctx context.Context, bs *backstagehost.Backstage, template string, values map[string]any) backstagehost.Task {
	t.Helper()
	id, err := bs.CreateTask(ctx, "template:default/"+template, values)
	if err != nil {
		t.Fatalf("create task from %s: %v", template, err)
	}
	task, err := bs.WaitTask(ctx, id)
	if err != nil {
		t.Fatalf("task %s from %s: %v", id, template, err)
	}
	return task
}

func taskFailure(task backstagehost.Task) string {
	return fmt.Sprintf("task %s %s: %s\n%s", task.ID, task.Status, task.Error, strings.Join(task.Log, "\n"))
}

// appCode is the status Argo CD answers for GET of an app in project default.
func appCode(t *testing.T, st *stack.Stack, name, project string) (int, appView) {
	t.Helper()
	code, body, err := st.ArgoREST(http.MethodGet, "/api/v1/applications/"+name+"?project="+project, nil)
	if err != nil {
		t.Fatalf("get app %s: %v", name, err)
	}
	var app appView
	if code == http.StatusOK {
		if err := json.Unmarshal(body, &app); err != nil {
			t.Fatalf("decode app %s: %v", name, err)
		}
	}
	return code, app
}

type appView struct {
	Status struct {
		Sync   struct{ Status string } `json:"sync"`
		Health struct{ Status string } `json:"health"`
	} `json:"status"`
}

// kubeNames lists objects by kubectl "get … -o name"; absent ones give nothing.
func kubeNames(t *testing.T, st *stack.Stack, args ...string) []string {
	t.Helper()
	out, err := st.Kubectl(append(args, "--ignore-not-found", "-o", "name")...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)
}

// eventually polls cond until it holds; giving up after limit means the
// system never converged (a failure of behaviour, not of speed).
func eventually(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s; last: %s", what, limit, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// scenarioDatabase returns a fresh PostgreSQL database for paved, dropped at
// the end: PAVED_TEST_DATABASE_URL, or the server scripts/pg-test-server.sh
// starts (idempotently).
func scenarioDatabase(t *testing.T) string {
	t.Helper()
	server := os.Getenv("PAVED_TEST_DATABASE_URL")
	if server == "" {
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command(filepath.Join(filepath.Dir(file), "..", "scripts", "pg-test-server.sh"), "start")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("scripts/pg-test-server.sh start: %v: %s", err, stderr.String())
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export PAVED_TEST_DATABASE_URL="); ok {
				server = strings.Trim(v, `'"`)
			}
		}
		if server == "" {
			t.Fatalf("scripts/pg-test-server.sh start printed no PAVED_TEST_DATABASE_URL")
		}
	}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatalf("open the PostgreSQL server: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("paved_e2e_%d", time.Now().UnixNano())
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("PAVED_TEST_DATABASE_URL is not a URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
