package scaffolder_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
	"github.com/paved-dev/paved/scaffolder"
)

const (
	getAppSetAction    = "paved:get-argocd-appset"
	deleteAppSetAction = "paved:delete-argocd-appset"
)

type appSetEnv struct {
	reg    *scaffolder.Registry
	srv    *argocdtest.Server
	client *argocd.Client
	repo   *gitops.Repo
}

// newAppSetEnv is newAppSetRegistry with the client and the repository at
// hand, to put there what paved did not create.
func newAppSetEnv(t *testing.T, gitURL string) appSetEnv {
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
	env := appSetEnv{srv: srv, client: client}
	o := scaffolder.AppSetActionsOptions{AppSets: client}
	if gitURL != "" {
		if env.repo, err = gitops.Open(gitops.Config{URL: gitURL}); err != nil {
			t.Fatal(err)
		}
		o.GitOps = gitops.Writer{Repo: env.repo, Render: argocd.Manifests{}}
	}
	if env.reg, err = scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved"}); err != nil {
		t.Fatal(err)
	}
	if err := env.reg.Register(scaffolder.AppSetActions(o)...); err != nil {
		t.Fatal(err)
	}
	return env
}

func (e appSetEnv) invoke(t *testing.T, action, input string) map[string]any {
	t.Helper()
	out, err := e.reg.Invoke(jane(), action, json.RawMessage(input), nil)
	if err != nil {
		t.Fatalf("%s %s: %v (fields %v)", action, input, err, fieldsOf(err))
	}
	return out
}

func TestGetAppSetFollowsTheGeneratedApplications(t *testing.T) {
	e := newAppSetEnv(t, "")
	e.invoke(t, appSetAction, shopInput)

	// Before the controller has acted: the set, no Application, not healthy.
	out := e.invoke(t, getAppSetAction, `{"name":"shop"}`)
	if out["healthy"] != false || out["managedByPaved"] != true || len(out["applications"].([]any)) != 0 || out["project"] != "default" {
		t.Fatalf("before generation: %v", out)
	}
	envs, _ := json.Marshal(out["environments"])
	if string(envs) != `[{"name":"dev","namespace":"shop-dev","server":"https://kubernetes.default.svc"},{"name":"prod","namespace":"shop","server":"https://prod.example:6443"}]` {
		t.Fatalf("environments = %s", envs)
	}

	if _, err := e.srv.GenerateAppSet("", "shop"); err != nil {
		t.Fatal(err)
	}
	// An Application of the same project that the set does not own stays out.
	if _, err := e.client.CreateApp(context.Background(), paved.AppRequest{AppRef: paved.AppRef{Instance: "prod", Name: "shop-legacy"},
		Sources:     []paved.AppSource{{RepoURL: "https://git.example.test/shop.git", Path: "legacy"}},
		Destination: paved.AppDestination{Namespace: "shop"}}); err != nil {
		t.Fatal(err)
	}
	out = e.invoke(t, getAppSetAction, `{"name":"shop","instance":"prod"}`)
	if out["healthy"] != true || appNames(out) != "shop-dev,shop-prod" {
		t.Fatalf("after generation: %v", out)
	}
	dev := out["applications"].([]any)[0].(map[string]any)
	if dev["environment"] != "dev" || dev["namespace"] != "shop-dev" || dev["syncStatus"] != "Synced" || dev["healthStatus"] != "Healthy" ||
		dev["url"] != "https://argocd.example/applications/shop-dev" || dev["server"] != argocdtest.InClusterServer {
		t.Fatalf("dev = %v", dev)
	}
	if e.srv.Calls(argocdtest.MethodAppSetCreate) != 1 {
		t.Fatal("get-argocd-appset wrote to Argo CD")
	}

	_, err := e.reg.Invoke(jane(), getAppSetAction, json.RawMessage(`{"name":"nope"}`), nil)
	if paved.ErrorCode(err) != paved.ENotFound || !strings.Contains(paved.ErrorMessage(err), `"nope" not found`) {
		t.Fatalf("a missing ApplicationSet: %v, want Argo CD's 404", err)
	}
}

func TestDeleteAppSetAPIMode(t *testing.T) {
	e := newAppSetEnv(t, "")
	e.invoke(t, appSetAction, shopInput)
	if _, err := e.srv.GenerateAppSet("", "shop"); err != nil {
		t.Fatal(err)
	}
	// Its apps' owner is group:default/shop: paved's default policy lets
	// its members delete them, and no one else.
	_, err := e.reg.Invoke(jane(), deleteAppSetAction, json.RawMessage(`{"name":"shop"}`), nil)
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "paved.argocd.app.delete") || !strings.Contains(err.Error(), "IS_OWNER") {
		t.Fatalf("jane, not in group shop, deletes the set: %v, want 403 naming the permission and IS_OWNER", err)
	}
	member := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/sam", Groups: []string{"group:default/shop"}})
	out, err := e.reg.Invoke(member, deleteAppSetAction, json.RawMessage(`{"name":"shop"}`), nil)
	if err != nil {
		t.Fatalf("a member of shop deletes the set: %v", err)
	}
	if out["deleted"] != true || out["mode"] != "api" || out["instance"] != "prod" {
		t.Fatalf("delete = %v", out)
	}
	if got, _ := json.Marshal(out["applications"]); string(got) != `["shop-dev","shop-prod"]` {
		t.Fatalf("applications = %s", got)
	}
	if _, ok := e.srv.AppSet("", "shop"); ok {
		t.Fatal("the ApplicationSet is still in Argo CD")
	}
	for _, app := range []string{"shop-dev", "shop-prod"} {
		if _, ok := e.srv.App("", app); ok {
			t.Errorf("%s outlived its ApplicationSet", app)
		}
	}
	again, err := e.reg.Invoke(member, deleteAppSetAction, json.RawMessage(`{"name":"shop"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if again["deleted"] != false {
		t.Fatalf("deleting it again = %v, want deleted=false", again)
	}
	if n := e.srv.Calls(argocdtest.MethodAppSetDelete); n != 1 {
		t.Fatalf("Argo CD's Delete was called %d times, want once", n)
	}
}

func TestDeleteAppSetRefusesWhatPavedDidNotCreate(t *testing.T) {
	e := newAppSetEnv(t, "")
	// Another tool's ApplicationSet: its own managed-by label.
	_, err := e.client.CreateAppSet(context.Background(), paved.AppSetRequest{
		Template: paved.AppRequest{AppRef: paved.AppRef{Instance: "prod", Name: "legacy"}, Labels: map[string]string{paved.LabelManagedBy: "Helm"},
			Sources: []paved.AppSource{{RepoURL: "https://git.example.test/legacy.git", Path: "envs/{{.environment}}"}}},
		Environments: []paved.Environment{{Name: "dev", Namespace: "legacy-dev"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.invoke(t, getAppSetAction, `{"name":"legacy"}`); got["managedByPaved"] != false {
		t.Fatalf("get = %v, want managedByPaved=false", got)
	}
	_, err = e.reg.Invoke(jane(), deleteAppSetAction, json.RawMessage(`{"name":"legacy"}`), nil)
	if paved.ErrorCode(err) != paved.EConflict || !strings.Contains(paved.ErrorMessage(err), "not created by paved") {
		t.Fatalf("delete without force: %v, want a conflict", err)
	}
	if _, ok := e.srv.AppSet("", "legacy"); !ok || e.srv.Calls(argocdtest.MethodAppSetDelete) != 0 {
		t.Fatal("a refused delete reached Argo CD")
	}
	// force deletes what paved did not create, for a caller holding
	// paved.argocd.app.delete on its apps: not a user who owns none of them
	// (paved's default policy), an operator.
	_, err = e.reg.Invoke(jane(), deleteAppSetAction, json.RawMessage(`{"name":"legacy","force":true}`), nil)
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "IS_OWNER") {
		t.Fatalf("jane's delete with force: %v, want 403 naming IS_OWNER", err)
	}
	operator := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalStatic, Subject: "ops"})
	if out, err := e.reg.Invoke(operator, deleteAppSetAction, json.RawMessage(`{"name":"legacy","force":true}`), nil); err != nil || out["deleted"] != true {
		t.Fatalf("an operator's delete with force = %v, %v", out, err)
	}
	if _, ok := e.srv.AppSet("", "legacy"); ok {
		t.Fatal("force did not delete it")
	}
}

func TestAppSetGetAndDeleteRefuseBadInput(t *testing.T) {
	e := newAppSetEnv(t, "")
	tests := []struct {
		name, action, input, wantFields string
	}{
		{"delete without name", deleteAppSetAction, `{}`, "name"},
		{"delete bad name", deleteAppSetAction, `{"name":"Shop_1"}`, "name"},
		{"delete bad namespace", deleteAppSetAction, `{"name":"shop","namespace":"a b"}`, "namespace"},
		{"delete unknown mode", deleteAppSetAction, `{"name":"shop","mode":"kubectl"}`, "mode"},
		{"delete force not a boolean", deleteAppSetAction, `{"name":"shop","force":"yes"}`, "force"},
		{"delete unknown instance", deleteAppSetAction, `{"name":"shop","instance":"staging"}`, "instance"},
		{"delete gitops not configured", deleteAppSetAction, `{"name":"shop","mode":"gitops"}`, "mode"},
		{"delete every field at once", deleteAppSetAction, `{"name":"-","force":1,"extra":true}`, "extra,force,name"},
		{"get without name", getAppSetAction, `{"instance":"prod"}`, "name"},
		{"get unknown instance", getAppSetAction, `{"name":"shop","instance":"staging"}`, "instance"},
		{"get takes no force", getAppSetAction, `{"name":"shop","force":true}`, "force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.reg.Invoke(jane(), tt.action, json.RawMessage(tt.input), nil)
			if paved.ErrorCode(err) != paved.EInvalid || strings.Join(fieldsOf(err), ",") != tt.wantFields {
				t.Fatalf("got %v (fields %v), want a 400 naming %s", err, fieldsOf(err), tt.wantFields)
			}
		})
	}
	for _, m := range []string{argocdtest.MethodAppSetGet, argocdtest.MethodAppSetDelete} {
		if n := e.srv.Calls(m); n != 0 {
			t.Errorf("bad input reached Argo CD's %s %d times", m, n)
		}
	}
}

func TestDeleteAppSetGitOpsMode(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	e := newAppSetEnv(t, url)
	in := strings.Replace(shopInput, `"name":"shop"`, `"name":"shop","mode":"gitops"`, 1)
	e.invoke(t, appSetAction, in)
	commits := gitopstest.Commits(t, dir, "main")

	out := e.invoke(t, deleteAppSetAction, `{"name":"shop","mode":"gitops"}`)
	head := gitopstest.Git(t, dir, "rev-parse", "main")
	if out["deleted"] != true || out["commit"] != head || out["branch"] != "main" || out["path"] != "appsets/shop.yaml" || out["mode"] != "gitops" {
		t.Fatalf("delete = %v (main at %s)", out, head)
	}
	if gitopstest.Commits(t, dir, "main") != commits+1 {
		t.Fatal("want exactly one commit")
	}
	if changed := gitopstest.Git(t, dir, "diff-tree", "--no-commit-id", "--name-status", "-r", "main"); changed != "D\tappsets/shop.yaml" {
		t.Fatalf("the commit changed %q, want only the removal of appsets/shop.yaml", changed)
	}
	if e.srv.Calls(argocdtest.MethodAppSetDelete) != 0 {
		t.Fatal("gitops mode called the Argo CD API")
	}
	again := e.invoke(t, deleteAppSetAction, `{"name":"shop","mode":"gitops"}`)
	if again["deleted"] != false || gitopstest.Commits(t, dir, "main") != commits+1 {
		t.Fatalf("removing it again = %v; want deleted=false and no commit", again)
	}

	// A file someone else wrote is left alone unless forced.
	foreign := "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: legacy\n  namespace: argocd\n"
	if _, err := e.repo.Apply(context.Background(), gitops.Change{Message: "by hand", Write: map[string][]byte{"appsets/legacy.yaml": []byte(foreign)}}); err != nil {
		t.Fatal(err)
	}
	commits = gitopstest.Commits(t, dir, "main")
	_, err := e.reg.Invoke(jane(), deleteAppSetAction, json.RawMessage(`{"name":"legacy","mode":"gitops"}`), nil)
	if paved.ErrorCode(err) != paved.EConflict || !strings.Contains(paved.ErrorMessage(err), "not written by paved") {
		t.Fatalf("removing a file paved did not write: %v, want a conflict", err)
	}
	if gitopstest.Commits(t, dir, "main") != commits {
		t.Fatal("a refused removal made a commit")
	}
	if out := e.invoke(t, deleteAppSetAction, `{"name":"legacy","mode":"gitops","force":true}`); out["deleted"] != true {
		t.Fatalf("forced removal = %v", out)
	}
	if files := gitopstest.Files(t, dir, "main"); strings.Contains(strings.Join(files, ","), "appsets/") {
		t.Fatalf("files left on main: %v", files)
	}
}
