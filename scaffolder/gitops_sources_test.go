package scaffolder_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
	"github.com/paved-dev/paved/scaffolder"
)

// TestGitOpsModeChecksSources: before gitops mode commits an Application
// (directly or on a review branch), paved asks Argo CD whether its sources
// resolve. A missing path is a 400 naming the field as the input did
// (source.path, sources.1.path) with Argo CD's reason, and nothing is
// committed or pushed; an Argo CD that does not answer is a 503, not a bad
// path, and commits nothing either.
func TestGitOpsModeChecksSources(t *testing.T) {
	srv, client := newFakeArgoCD(t)
	const repoURL = "https://git.example.com/deploy.git"
	srv.SetMissing(repoURL, "no-such-dir")
	url, dir := gitopstest.Serve(t)
	invoke := func(t *testing.T, review bool, in string) (map[string]any, error) {
		t.Helper()
		repo, err := gitops.Open(gitops.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved"})
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: client, Sources: client,
			GitOps: gitops.Writer{Repo: repo, Render: argocd.Manifests{}, Review: review}})...); err != nil {
			t.Fatal(err)
		}
		return reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(in), nil)
	}
	app := func(name, source string) string {
		return `{"name":"` + name + `","mode":"gitops",` + source + `,"destination":{"namespace":"` + name + `"}}`
	}

	if out, err := invoke(t, false, app("web", `"source":{"repoURL":"`+repoURL+`","path":"web"}`)); err != nil || out["created"] != true {
		t.Fatalf("a source that resolves: %v, %v", out, err)
	}
	commits := gitopstest.Commits(t, dir, "main")
	branches := gitopstest.Git(t, dir, "branch", "--list")

	for _, c := range []struct {
		name, source, field string
		review              bool
	}{
		{"bad-path", `"source":{"repoURL":"` + repoURL + `","path":"no-such-dir"}`, "source.path", false},
		{"bad-path-review", `"source":{"repoURL":"` + repoURL + `","path":"no-such-dir"}`, "source.path", true},
		{"bad-multi", `"sources":[{"repoURL":"` + repoURL + `","path":"web"},{"repoURL":"` + repoURL + `","path":"no-such-dir"}]`, "sources.1.path", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := invoke(t, c.review, app(c.name, c.source))
			want := c.field + ": Argo CD cannot resolve the source: no-such-dir: app path does not exist"
			var pe *paved.Error
			if paved.ErrorCode(err) != paved.EInvalid || !strings.Contains(paved.ErrorMessage(err), want) {
				t.Errorf("got %v, want a 400 saying %q", err, want)
			} else if !errors.As(err, &pe) || len(pe.Fields) != 1 || pe.Fields[0].Field != c.field {
				t.Errorf("fields = %+v, want %s", pe.Fields, c.field)
			}
		})
	}

	srv.FailUnavailable(1000)
	_, err := invoke(t, false, app("down", `"source":{"repoURL":"`+repoURL+`","path":"web"}`))
	srv.FailUnavailable(0)
	if paved.ErrorCode(err) != paved.EUnavailable {
		t.Errorf("Argo CD down: %v, want 503", err)
	}

	if got := gitopstest.Commits(t, dir, "main"); got != commits {
		t.Errorf("%d commits on main after the refusals, want %d", got, commits)
	}
	if got := gitopstest.Git(t, dir, "branch", "--list"); got != branches {
		t.Errorf("branches after the refusals:\n%s\nwant:\n%s", got, branches)
	}
}
