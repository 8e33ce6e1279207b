package stack

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestRootApplications: AddGitOpsRoot creates the root Applications an
// operator would, from deploy/gitops/root-application.yaml, watching the
// stack's GitOps repository where paved commits (apps/ and appsets/).
func TestRootApplications(t *testing.T) {
	const repo = "git://127.0.0.1:9418/gitops"
	text, err := rootApplications(filepath.Join("..", ".."), repo)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, rootPlaceholder) {
		t.Errorf("the placeholder repository is left in:\n%s", text)
	}
	type app struct {
		Kind     string
		Metadata struct{ Name, Namespace string }
		Spec     struct {
			Source struct {
				RepoURL        string `yaml:"repoURL"`
				TargetRevision string `yaml:"targetRevision"`
				Path           string `yaml:"path"`
			} `yaml:"source"`
			SyncPolicy struct {
				Automated *struct{ Prune bool } `yaml:"automated"`
			} `yaml:"syncPolicy"`
		}
	}
	paths := map[string]string{}
	dec := yaml.NewDecoder(strings.NewReader(text))
	for {
		var a app
		if err := dec.Decode(&a); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		s := a.Spec.Source
		if a.Kind != "Application" || a.Metadata.Namespace != "argocd" || s.RepoURL != repo || s.TargetRevision != "main" || a.Spec.SyncPolicy.Automated == nil {
			t.Errorf("%s %s/%s: source %+v, automated %v; want an automated Application in argocd from %s main",
				a.Kind, a.Metadata.Namespace, a.Metadata.Name, s, a.Spec.SyncPolicy.Automated, repo)
		}
		paths[s.Path] = a.Metadata.Name
	}
	if paths["apps"] != "paved-root" || paths["appsets"] == "" || len(paths) != 2 {
		t.Errorf("root applications by path: %v, want paved-root on apps and one on appsets", paths)
	}
}
