package stack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// gitEnv keeps the machine's and the user's git configuration out of the
// fixture repositories, so commits look the same everywhere.
func (s *Stack) gitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=paved e2e", "GIT_AUTHOR_EMAIL=e2e@paved.invalid",
		"GIT_COMMITTER_NAME=paved e2e", "GIT_COMMITTER_EMAIL=e2e@paved.invalid",
		"GIT_TERMINAL_PROMPT=0",
	)
}

func (s *Stack) git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = s.gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// AddRepo makes a bare repository named name, served by the stack's git
// daemon, whose branch main holds one commit with the files of srcDir. It
// returns the repository's URL.
func (s *Stack) AddRepo(ctx context.Context, name, srcDir string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("bad repository name %q", name)
	}
	bare := filepath.Join(s.gitRoot, name)
	if _, err := os.Stat(bare); err == nil {
		return "", fmt.Errorf("repository %q exists", name)
	}
	work, err := os.MkdirTemp(s.tmpDir, "repo-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if err := os.CopyFS(work, os.DirFS(srcDir)); err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"commit", "-q", "-m", "Add " + name + " fixture"},
		{"clone", "-q", "--bare", ".", bare},
	} {
		if _, err := s.git(ctx, work, args...); err != nil {
			return "", err
		}
	}
	return s.GitURL(name), nil
}

// Commit writes files (path relative to the repository → content; empty
// content deletes the file) to branch main of repository repo as one new
// commit and pushes it, as a developer would. It returns the commit's hash.
func (s *Stack) Commit(ctx context.Context, repo string, files map[string]string, message string) (string, error) {
	work, err := os.MkdirTemp(s.tmpDir, "commit-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if _, err := s.git(ctx, work, "clone", "-q", "-b", "main", s.GitURL(repo), "."); err != nil {
		return "", err
	}
	for name, content := range files {
		path := filepath.Join(work, filepath.FromSlash(name))
		if !strings.HasPrefix(path, work+string(filepath.Separator)) {
			return "", fmt.Errorf("path %q leaves the repository", name)
		}
		if content == "" {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", message}, {"push", "-q", "origin", "main"}} {
		if _, err := s.git(ctx, work, args...); err != nil {
			return "", err
		}
	}
	return s.git(ctx, work, "rev-parse", "HEAD")
}

// GitURL is the URL of a repository served by the stack's git daemon.
func (s *Stack) GitURL(repo string) string {
	return "git://" + s.GitAddr + "/" + repo
}

// addFixtureRepos turns every directory of e2e/fixtures into a repository of the same name.
func (s *Stack) addFixtureRepos(ctx context.Context) error {
	dir := filepath.Join(s.root, "e2e", "fixtures")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := s.AddRepo(ctx, e.Name(), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
