package scaffolder_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
	"github.com/paved-dev/paved/guardrail"
	"github.com/paved-dev/paved/scaffolder"
)

const appSetAction = "paved:create-argocd-appset"

// newAppSetRegistry registers paved:create-argocd-appset against the
// in-process Argo CD and, with a repository URL, gitops mode into it.
func newAppSetRegistry(t *testing.T, gitURL string) (*scaffolder.Registry, *argocdtest.Server) {
	t.Helper()
	return newAppSetRegistryWith(t, gitURL, nil)
}

// newAppSetRegistryWith is newAppSetRegistry with guardrails.
func newAppSetRegistryWith(t *testing.T, gitURL string, guards *guardrail.Set, rules ...scaffolder.AppRules) (*scaffolder.Registry, *argocdtest.Server) {
	t.Helper()
	srv, err := argocdtest.NewServer(argocdtest.Options{APITokens: []string{"argo-token"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	client, err := argocd.New([]argocd.InstanceConfig{{Name: "prod", Server: srv.Addr(), UIURL: "https://argocd.example", Token: "argo-token", PlainText: true, DefaultProject: "default", Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	o := scaffolder.AppSetActionsOptions{AppSets: client, Guardrails: guards}
	if len(rules) > 0 {
		o.Approvals = rules[0]
	}
	if gitURL != "" {
		repo, err := gitops.Open(gitops.Config{URL: gitURL})
		if err != nil {
			t.Fatal(err)
		}
		o.GitOps = gitops.Writer{Repo: repo, Render: argocd.Manifests{}}
	}
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved"})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppSetActions(o)...); err != nil {
		t.Fatal(err)
	}
	return reg, srv
}

const shopInput = `{"name":"shop","repoURL":"https://git.example.test/shop.git","path":"envs/{{.environment}}","targetRevision":"main",
	"environments":[{"name":"dev","namespace":"shop-dev"},{"name":"prod","namespace":"shop","server":"https://prod.example:6443"}],
	"automated":true,"prune":true,"createNamespace":true,"owner":"group:default/shop","entityRef":"component:default/shop"}`

func appNames(out map[string]any) string {
	var names []string
	for _, a := range out["applications"].([]any) {
		names = append(names, a.(map[string]any)["name"].(string))
	}
	return strings.Join(names, ",")
}

func TestCreateAppSetAPIMode(t *testing.T) {
	reg, srv := newAppSetRegistry(t, "")
	out, err := reg.Invoke(jane(), appSetAction, json.RawMessage(shopInput), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out["name"] != "shop" || out["created"] != true || out["updated"] != false || out["mode"] != "api" || out["instance"] != "prod" || out["project"] != "default" {
		t.Fatalf("output = %v", out)
	}
	if appNames(out) != "shop-dev,shop-prod" {
		t.Fatalf("applications = %v", out["applications"])
	}
	if u := out["applications"].([]any)[1].(map[string]any)["url"]; u != "https://argocd.example/applications/shop-prod" {
		t.Fatalf("url = %v", u)
	}
	set, ok := srv.AppSet("", "shop")
	if !ok {
		t.Fatal("no ApplicationSet in Argo CD")
	}
	tm := set.Spec.Template
	checks := map[string]bool{
		"template name":                tm.Name == "shop-{{.environment}}",
		"path placeholder":             tm.Spec.Source.Path == "envs/{{.environment}}",
		"destination from the element": tm.Spec.Destination.Server == "{{.server}}" && tm.Spec.Destination.Namespace == "{{.namespace}}",
		"automated prune":              tm.Spec.SyncPolicy != nil && tm.Spec.SyncPolicy.Automated != nil && tm.Spec.SyncPolicy.Automated.Prune,
		"CreateNamespace":              tm.Spec.SyncPolicy != nil && strings.Join(tm.Spec.SyncPolicy.SyncOptions, ",") == "CreateNamespace=true",
		"owner annotation":             tm.Annotations[paved.AnnotationOwner] == "group:default/shop",
		"initiator label":              tm.Labels[paved.LabelUser] == "user.default.jane" && set.Labels[paved.LabelUser] == "user.default.jane",
		"entity":                       tm.Annotations[paved.AnnotationEntityRef] == "component:default/shop",
		"resources finalizer":          len(tm.Finalizers) == 1,
		"two elements":                 len(set.Spec.Generators[0].List.Elements) == 2,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: not as expected in %+v", what, set)
		}
	}

	again, err := reg.Invoke(jane(), appSetAction, json.RawMessage(shopInput), nil)
	if err != nil || again["created"] != false || again["updated"] != false {
		t.Fatalf("the same input again = %v, %v; want created=false", again, err)
	}

	changed := strings.Replace(shopInput, `"path":"envs/{{.environment}}"`, `"path":"deploy/{{environment}}"`, 1)
	_, err = reg.Invoke(jane(), appSetAction, json.RawMessage(changed), nil)
	if paved.ErrorCode(err) != paved.EConflict || !strings.Contains(paved.ErrorMessage(err), "existing ApplicationSet spec is different") {
		t.Fatalf("a different spec without upsert: %v, want Argo CD's conflict", err)
	}
	up, err := reg.Invoke(jane(), appSetAction, json.RawMessage(strings.Replace(changed, `"name":"shop"`, `"name":"shop","upsert":true`, 1)), nil)
	if err != nil || up["created"] != false || up["updated"] != true {
		t.Fatalf("upsert = %v, %v", up, err)
	}
	if set, _ := srv.AppSet("", "shop"); set.Spec.Template.Spec.Source.Path != "deploy/{{.environment}}" {
		t.Fatalf("upsert left path %q ({{environment}} must become {{.environment}})", set.Spec.Template.Spec.Source.Path)
	}
}

func TestCreateAppSetRefusesBadInputAndCreatesNothing(t *testing.T) {
	reg, srv := newAppSetRegistry(t, "")
	envs := func(names ...string) string {
		var parts []string
		for _, n := range names {
			parts = append(parts, fmt.Sprintf(`{"name":%q,"namespace":"ns"}`, n))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	input := func(name, path, environments string) string {
		return fmt.Sprintf(`{"name":%q,"repoURL":"https://git.example.test/shop.git","path":%q,"environments":%s}`, name, path, environments)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("e%d", i)
	}
	tests := []struct {
		name, input string
		wantFields  string
	}{
		{"duplicate environment", input("shop", "envs/{{.environment}}", envs("dev", "dev")), "environments.1.name"},
		{"environment not a DNS label", input("shop", ".", envs("dev", "Prod_1")), "environments.1.name"},
		{"missing namespace", input("shop", ".", `[{"name":"dev"}]`), "environments.0.namespace"},
		{"bad server", input("shop", ".", `[{"name":"dev","namespace":"x","server":"kubernetes"}]`), "environments.0.server"},
		{"no environment", input("shop", ".", `[]`), "environments"},
		{"more than 20 environments", input("shop", ".", envs(many...)), "environments"},
		{"unknown placeholder", input("shop", "envs/{{.env}}", envs("dev")), "path"},
		{"stray braces", input("shop", "envs/{{.environment", envs("dev")), "path"},
		{"path escapes", input("shop", "../other", envs("dev")), "path"},
		{"application name too long", input(strings.Repeat("a", 60), ".", envs("prod")), "environments.0.name"},
		{"no path", input("shop", "", envs("dev")), "path"},
		{"unknown instance", strings.Replace(input("shop", ".", envs("dev")), `"name"`, `"instance":"staging","name"`, 1), "instance"},
		{"gitops not configured", strings.Replace(input("shop", ".", envs("dev")), `"name"`, `"mode":"gitops","name"`, 1), "mode"},
		{"bad label", strings.Replace(input("shop", ".", envs("dev")), `"name"`, `"labels":{"team":"a b"},"name"`, 1), "labels.team"},
		{"every field at once", `{"name":"Shop","environments":[{"name":"dev","namespace":"ns"},{"name":"dev","namespace":"ns"}],"extra":1}`, "extra,name,repoURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reg.Invoke(jane(), appSetAction, json.RawMessage(tt.input), nil)
			if paved.ErrorCode(err) != paved.EInvalid || strings.Join(fieldsOf(err), ",") != tt.wantFields {
				t.Fatalf("got %v (fields %v), want a 400 naming %s", err, fieldsOf(err), tt.wantFields)
			}
		})
	}
	if n := srv.Calls(argocdtest.MethodAppSetCreate); n != 0 {
		t.Fatalf("bad input reached Argo CD %d times", n)
	}
}

func TestCreateAppSetPassesArgoCDsError(t *testing.T) {
	reg, srv := newAppSetRegistry(t, "")
	in := strings.Replace(shopInput, `"name":"shop"`, `"name":"shop","project":"payments"`, 1)
	_, err := reg.Invoke(jane(), appSetAction, json.RawMessage(in), nil)
	if paved.ErrorCode(err) != paved.EInvalid || !strings.Contains(paved.ErrorMessage(err), "ApplicationSet references project payments which does not exist") {
		t.Fatalf("got %v, want Argo CD's own message", err)
	}
	if _, ok := srv.AppSet("", "shop"); ok {
		t.Fatal("an ApplicationSet was created")
	}
}

func TestCreateAppSetGitOpsMode(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	reg, srv := newAppSetRegistry(t, url)
	in := strings.Replace(shopInput, `"name":"shop"`, `"name":"shop","mode":"gitops"`, 1)
	out, err := reg.Invoke(jane(), appSetAction, json.RawMessage(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out["commit"] != gitopstest.Git(t, dir, "rev-parse", "main") || out["branch"] != "main" || out["created"] != true ||
		out["path"] != "appsets/shop.yaml" || out["mode"] != "gitops" || out["project"] != "default" {
		t.Fatalf("output = %v", out)
	}
	// The one configured instance gives the links, though Argo CD is not called.
	if appNames(out) != "shop-dev,shop-prod" || out["applications"].([]any)[0].(map[string]any)["url"] != "https://argocd.example/applications/shop-dev" {
		t.Fatalf("applications = %v", out["applications"])
	}
	if srv.Calls(argocdtest.MethodAppSetCreate) != 0 {
		t.Fatal("gitops mode called the Argo CD API")
	}
	body := gitopstest.Git(t, dir, "show", "main:appsets/shop.yaml")
	for _, want := range []string{"kind: ApplicationSet", "namespace: argocd", "goTemplate: true", "name: shop-{{.environment}}",
		"path: envs/{{.environment}}", "paved.dev/initiator: user:default/jane", "paved.dev/owner: group:default/shop"} {
		if !strings.Contains(body, want) {
			t.Errorf("appsets/shop.yaml lacks %q:\n%s", want, body)
		}
	}
	commits := gitopstest.Commits(t, dir, "main")

	again, err := reg.Invoke(jane(), appSetAction, json.RawMessage(in), nil)
	if err != nil || again["created"] != false || again["updated"] != false || again["commit"] != out["commit"] || gitopstest.Commits(t, dir, "main") != commits {
		t.Fatalf("the same input again = %v, %v; want no new commit", again, err)
	}
	changed := strings.Replace(in, `"targetRevision":"main"`, `"targetRevision":"v2"`, 1)
	if _, err := reg.Invoke(jane(), appSetAction, json.RawMessage(changed), nil); paved.ErrorCode(err) != paved.EConflict {
		t.Fatalf("a different spec without upsert: %v, want conflict", err)
	}
	if gitopstest.Commits(t, dir, "main") != commits {
		t.Fatal("a refused change made a commit")
	}
	up, err := reg.Invoke(jane(), appSetAction, json.RawMessage(strings.Replace(changed, `"mode":"gitops"`, `"mode":"gitops","upsert":true`, 1)), nil)
	if err != nil || up["created"] != false || up["updated"] != true || gitopstest.Commits(t, dir, "main") != commits+1 ||
		!strings.Contains(gitopstest.Git(t, dir, "show", "main:appsets/shop.yaml"), "targetRevision: v2") {
		t.Fatalf("upsert = %v, %v; want one new commit with the new revision", up, err)
	}
}

// TestCreateAppSetAppliesTheGuardrails: every Application a set would
// generate is held to its golden path's guardrails, as create-argocd-app's
// application is, whoever calls: a set with one environment outside them is
// a 403 naming that environment's element, the project and the repository
// (each once) and the rule, and creates nothing in Argo CD or git; a set
// inside them is created, in both modes.
func TestCreateAppSetAppliesTheGuardrails(t *testing.T) {
	guards, err := guardrail.New([]guardrail.Apps{{Templates: []string{"template:default/new-service-environments"},
		Projects: []string{"default", "team-*"}, Destinations: []string{"https://kubernetes.default.svc/shop-*", "https://prod.example:6443/shop"},
		RepoURLs: []string{"https://git.example.test/*"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	url, dir := gitopstest.Serve(t)
	reg, srv := newAppSetRegistryWith(t, url, guards)
	operator := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalStatic, Subject: "ops"})
	set := func(mode, project, prodNamespace, repo string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"name":"shop","mode":%q,"project":%q,"repoURL":%q,"path":"envs/{{.environment}}",
			"environments":[{"name":"dev","namespace":"shop-dev"},{"name":"prod","namespace":%q,"server":"https://prod.example:6443"}],
			"templateRef":"template:default/new-service-environments"}`, mode, project, repo, prodNamespace))
	}
	for _, mode := range []string{scaffolder.ModeAPI, scaffolder.ModeGitOps} {
		for who, ctx := range map[string]context.Context{"jane": jane(), "a static token": operator} {
			_, err := reg.Invoke(ctx, appSetAction, set(mode, "platform", "kube-system", "https://evil.example/x.git"), nil)
			if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(paved.ErrorMessage(err), "outside the guardrails of guardrails.apps[0]") {
				t.Fatalf("%s, %s mode, outside the golden path: %v, want a 403 naming the rule", who, mode, err)
			}
			got := fieldsOf(err)
			sort.Strings(got)
			if strings.Join(got, ",") != "environments.1.namespace,project,repoURL" {
				t.Errorf("%s, %s mode: fields %v, want environments.1.namespace, project and repoURL, each once", who, mode, got)
			}
			if msg := paved.ErrorMessage(err); !strings.Contains(msg, `environments.1.namespace: environment "prod": "https://prod.example:6443/kube-system" is outside guardrails.apps[0].destinations`) {
				t.Errorf("%s, %s mode: %q does not name the environment and its destination", who, mode, msg)
			}
		}
		// Only the in-cluster environment outside: that element alone.
		outside := strings.Replace(string(set(mode, "team-shop", "shop", "https://git.example.test/shop.git")), `"namespace":"shop-dev"`, `"namespace":"default"`, 1)
		_, err := reg.Invoke(jane(), appSetAction, json.RawMessage(outside), nil)
		if got := strings.Join(fieldsOf(err), ","); paved.ErrorCode(err) != paved.EForbidden || got != "environments.0.namespace" ||
			!strings.Contains(paved.ErrorMessage(err), `environment "dev": "https://kubernetes.default.svc/default" is outside`) {
			t.Fatalf("%s mode, dev outside: %v (fields %s), want a 403 naming environments.0.namespace", mode, err, got)
		}
	}
	if n := srv.Calls(argocdtest.MethodAppSetCreate); n != 0 {
		t.Fatalf("refused sets reached Argo CD %d times", n)
	}
	if n := gitopstest.Commits(t, dir, "main"); n != 0 {
		t.Fatalf("refused sets made %d commits", n)
	}

	out, err := reg.Invoke(jane(), appSetAction, set(scaffolder.ModeAPI, "default", "shop", "https://git.example.test/shop.git"), nil)
	if err != nil || out["created"] != true || appNames(out) != "shop-dev,shop-prod" {
		t.Fatalf("api mode, inside the golden path = %v, %v; want the set created", out, err)
	}
	out, err = reg.Invoke(operator, appSetAction, set(scaffolder.ModeGitOps, "team-shop", "shop", "https://git.example.test/shop.git"), nil)
	if err != nil || out["created"] != true || gitopstest.Commits(t, dir, "main") != 1 {
		t.Fatalf("gitops mode, inside the golden path = %v, %v; want one commit", out, err)
	}
	// Another golden path has no rule: no limit.
	other := strings.Replace(string(set(scaffolder.ModeAPI, "default", "kube-system", "https://evil.example/x.git")), "new-service-environments", "other", 1)
	other = strings.Replace(other, `"name":"shop"`, `"name":"misc"`, 1)
	if out, err := reg.Invoke(jane(), appSetAction, json.RawMessage(other), nil); err != nil || out["created"] != true {
		t.Fatalf("a golden path without guardrails = %v, %v", out, err)
	}
}

var templateExpr = regexp.MustCompile(`\$\{\{\s*parameters\.(\w+)\s*\}\}`)

// The example template's step, rendered with sample parameters as the
// scaffolder would, passes the published schema and creates its ApplicationSet.
func TestExampleTemplateCreatesItsApplicationSet(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "examples", "templates", "new-service-environments.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Metadata struct {
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"metadata"`
		Spec struct {
			Steps []struct {
				Action string         `yaml:"action"`
				Input  map[string]any `yaml:"input"`
			} `yaml:"steps"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	if len(tpl.Spec.Steps) != 1 || tpl.Spec.Steps[0].Action != appSetAction || tpl.Metadata.Annotations["backstage.io/time-saved"] == "" {
		t.Fatalf("template = %+v", tpl)
	}
	params := map[string]string{"name": "shop", "owner": "group:default/shop", "repoUrl": "https://git.example.test/deploy.git",
		"revision": "main", "prodServer": argocdtest.InClusterServer}
	input, err := json.Marshal(tpl.Spec.Steps[0].Input)
	if err != nil {
		t.Fatal(err)
	}
	rendered := templateExpr.ReplaceAllStringFunc(string(input), func(s string) string {
		return params[templateExpr.FindStringSubmatch(s)[1]]
	})
	reg, srv := newAppSetRegistry(t, "")
	out, err := reg.Invoke(jane(), appSetAction, json.RawMessage(rendered), nil)
	if err != nil {
		t.Fatalf("%s: %v (fields %v)", rendered, err, fieldsOf(err))
	}
	if appNames(out) != "shop-dev,shop-staging,shop-prod" {
		t.Fatalf("applications = %v", out["applications"])
	}
	if set, ok := srv.AppSet("", "shop"); !ok || set.Spec.Template.Spec.Source.Path != "services/shop/{{.environment}}" {
		t.Fatalf("ApplicationSet = %+v", set)
	}
}

// prodRule holds back, as an approval rule with namespace prod-* would,
// every Application bound for a prod-* namespace.
type prodRule struct{}

func (prodRule) AppRule(app paved.AppRequest) (approval.Rule, string, bool) {
	if strings.HasPrefix(app.Destination.Namespace, "prod-") {
		return approval.Rule{Action: approval.ActionCreateApp, Namespace: "prod-*"}, "rule 0: action create-argocd-app, namespace prod-*", true
	}
	return approval.Rule{}, "", false
}

// A set is no way around an approval rule: one that would generate an
// Application a rule holds back is refused, naming the environment and the
// rule, and reaches neither Argo CD nor git; a set no rule names is created.
func TestCreateAppSetRefusesWhatNeedsApproval(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	reg, srv := newAppSetRegistryWith(t, url, nil, prodRule{})
	set := func(mode, prodNamespace string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"name":"shop","mode":%q,"repoURL":"https://git.example.test/shop.git","path":"envs/{{.environment}}",
			"environments":[{"name":"dev","namespace":"shop-dev"},{"name":"prod","namespace":%q}]}`, mode, prodNamespace))
	}
	for _, mode := range []string{scaffolder.ModeAPI, scaffolder.ModeGitOps} {
		_, err := reg.Invoke(jane(), appSetAction, set(mode, "prod-shop"), nil)
		if paved.ErrorCode(err) != paved.EForbidden || strings.Join(fieldsOf(err), ",") != "environments.1.namespace" ||
			!strings.Contains(paved.ErrorMessage(err), "namespace prod-*") || !strings.Contains(paved.ErrorMessage(err), `environment "prod" needs approval`) {
			t.Fatalf("%s mode, prod environment: %v (fields %v), want a 403 naming environments.1.namespace and the rule", mode, err, fieldsOf(err))
		}
	}
	if n := srv.Calls(argocdtest.MethodAppSetCreate); n != 0 {
		t.Fatalf("refused sets reached Argo CD %d times", n)
	}
	if n := gitopstest.Commits(t, dir, "main"); n != 0 {
		t.Fatalf("refused sets made %d commits", n)
	}
	if out, err := reg.Invoke(jane(), appSetAction, set(scaffolder.ModeAPI, "shop-prod"), nil); err != nil || out["created"] != true {
		t.Fatalf("a set no rule names = %v, %v; want it created", out, err)
	}
}
