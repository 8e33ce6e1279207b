package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// rootPlaceholder is the repository URL deploy/gitops/root-application.yaml
// ships with, for the operator to replace.
const rootPlaceholder = "https://git.example.com/platform/deploy.git"

// AddGitOpsRoot makes repository "gitops" on the stack's git daemon (which
// takes pushes), with the apps/ and appsets/ directories, for paved to
// commit to; and creates in Argo CD the root Applications of
// deploy/gitops/root-application.yaml reading it, as an operator would, so
// that what paved commits becomes Argo CD applications. It returns the
// repository's URL.
func (s *Stack) AddGitOpsRoot(ctx context.Context) (string, error) {
	src, err := os.MkdirTemp(s.tmpDir, "gitops-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(src)
	for dir, what := range map[string]string{"apps": "Applications", "appsets": "ApplicationSets"} {
		if err := os.MkdirAll(filepath.Join(src, dir), 0o755); err != nil {
			return "", err
		}
		text := fmt.Sprintf("Argo CD %s written by paved, one file each; a root Application creates them.\n", what)
		if err := os.WriteFile(filepath.Join(src, dir, "README.md"), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	url, err := s.AddRepo(ctx, "gitops", src)
	if err != nil {
		return "", err
	}
	manifest, err := rootApplications(s.root, url)
	if err != nil {
		return "", err
	}
	file := filepath.Join(s.StateDir, "root-application.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		return "", err
	}
	if out, err := s.Kubectl("apply", "-f", file); err != nil {
		return "", fmt.Errorf("creating the root applications: %w\n%s", err, out)
	}
	return url, nil
}

// rootApplications is deploy/gitops/root-application.yaml with the
// repository set to repoURL.
func rootApplications(root, repoURL string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "gitops", "root-application.yaml"))
	if err != nil {
		return "", err
	}
	text := string(raw)
	if n := strings.Count(text, "repoURL: "+rootPlaceholder); n != 2 {
		return "", fmt.Errorf("deploy/gitops/root-application.yaml: want the repoURL %s in its two Applications, found it %d times", rootPlaceholder, n)
	}
	return strings.ReplaceAll(text, "repoURL: "+rootPlaceholder, "repoURL: "+repoURL), nil
}
