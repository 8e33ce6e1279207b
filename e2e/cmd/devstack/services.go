package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/stack"
)

// Fixed ports, so that a person's bookmarks and Backstage app configs keep
// working across up and down.
const (
	pavedAddr     = "127.0.0.1:7010"
	backstagePort = 7007
)

type envVar struct{ key, value string }

// startServices runs paved and a Backstage backend wired to each other, to
// the stack's Argo CD and to its GitOps repository, both detached and recorded in dir so that down stops
// them. It returns what goes into stack.env.
func startServices(ctx context.Context, root, dir string, s *stack.Stack, gitopsURL string, logf func(string, ...any)) ([]envVar, error) {
	backstageURL := fmt.Sprintf("http://127.0.0.1:%d", backstagePort)
	pavedURL := "http://" + pavedAddr

	logf("building paved")
	bin := filepath.Join(dir, "paved")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/paved")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/paved: %w\n%s", err, out)
	}
	dataDir := filepath.Join(dir, "paved-data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`# Written by devstack up.
backstage:
  discovery: %s/api/{{pluginId}}
argocd:
  instances:
    - name: default
      server: %s
      plainText: true
      token: ${ARGOCD_TOKEN}
gitops:
  url: %s
`, backstageURL, s.ArgoCDAddr, gitopsURL)
	cfgPath := filepath.Join(dir, "paved.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	if _, err := stack.StartDetached(dir, "paved", []string{bin, "serve"}, []string{
		"PAVED_CONFIG=" + cfgPath, "PAVED_LISTEN=" + pavedAddr, "PAVED_DATA_DIR=" + dataDir,
		"ARGOCD_TOKEN=" + s.PavedToken,
	}, ""); err != nil {
		return nil, err
	}

	logf("installing Backstage (first time: minutes)")
	if err := backstagehost.Install(ctx); err != nil {
		return nil, err
	}
	bsDir := filepath.Join(dir, "backstage")
	if err := os.MkdirAll(bsDir, 0o700); err != nil {
		return nil, err
	}
	args, token, err := backstagehost.WriteConfig(bsDir, backstagehost.Options{
		PavedBaseURL: pavedURL + "/api/{{pluginId}}",
		TemplatesDir: filepath.Join(root, "examples", "templates"),
	}, backstagePort)
	if err != nil {
		return nil, err
	}
	if _, err := stack.StartDetached(dir, "backstage", backstagehost.NodeCommand(args),
		[]string{"BACKSTAGE_EXTRA_MODULES="}, backstagehost.InstallDir()); err != nil {
		return nil, err
	}

	logf("waiting for paved and Backstage")
	if err := waitOK(ctx, dir, "paved", pavedURL+"/healthz", ""); err != nil {
		return nil, err
	}
	if err := waitOK(ctx, dir, "backstage", backstageURL+"/api/catalog/entities?limit=1", token); err != nil {
		return nil, err
	}
	env := []envVar{
		{"PAVED_URL", pavedURL},
		{"BACKSTAGE_URL", backstageURL},
		{"BACKSTAGE_TOKEN", token},
	}
	// paved writes a token for its own CLI on first start.
	if raw, err := os.ReadFile(filepath.Join(dataDir, "local-token")); err == nil {
		env = append(env, envVar{"PAVED_TOKEN", strings.TrimSpace(string(raw))})
	}
	return env, nil
}

// waitOK polls url until it answers 200, giving up early when the component
// recorded under name in dir has exited.
func waitOK(ctx context.Context, dir, name, url, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	last := errors.New("no answer yet")
	for {
		if !alive(dir, name) {
			return fmt.Errorf("%s exited during start-up; see %s", name, filepath.Join(dir, "logs", name+".log"))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if resp, err := client.Do(req); err != nil {
			last = err
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w; see %s", name, last, filepath.Join(dir, "logs", name+".log"))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func alive(dir, name string) bool {
	procs, err := stack.Status(dir)
	if err != nil {
		return false
	}
	for _, p := range procs {
		if p.Name == name {
			return p.Alive
		}
	}
	return false
}
