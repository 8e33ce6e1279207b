package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/config"
)

// syncBuffer is written by paved's goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type running struct {
	base   string
	env    map[string]string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
	cancel context.CancelFunc
}

func (r *running) getenv(k string) string { return r.env[k] }

var listening = regexp.MustCompile(`is listening on (http://\S+)`)

// startPaved runs paved exactly as `paved serve` does and waits for /healthz.
func startPaved(t *testing.T, configYAML string, env map[string]string) *running {
	t.Helper()
	dir := t.TempDir()
	if env == nil {
		env = map[string]string{}
	}
	if env["PAVED_DATA_DIR"] == "" {
		env["PAVED_DATA_DIR"] = filepath.Join(dir, "data")
	}
	env["PAVED_LISTEN"] = "127.0.0.1:0"
	if configYAML != "" {
		path := filepath.Join(dir, "paved.yaml")
		if err := os.WriteFile(path, []byte(configYAML), 0o600); err != nil {
			t.Fatal(err)
		}
		env["PAVED_CONFIG"] = path
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{env: env, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- run(ctx, []string{"serve"}, r.getenv, strings.NewReader(""), r.stdout, r.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("paved did not stop within 30s")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			t.Fatalf("paved exited: %v\nstderr:\n%s", err, r.stderr.String())
		default:
		}
		if m := listening.FindStringSubmatch(r.stdout.String()); m != nil {
			r.base = m[1]
			resp, err := http.Get(r.base + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					r.env["PAVED_URL"] = r.base
					return r
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("paved did not become healthy\nstdout:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())
	return nil
}

// cli runs a client command of paved against the running instance.
func (r *running) cli(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, r.getenv, strings.NewReader(stdin), &out, &errb)
	return out.String(), err
}

func fakeArgoCD(t *testing.T) *argocdtest.Server {
	t.Helper()
	s, err := argocdtest.NewServer(argocdtest.Options{Username: "admin", Password: "argo-pass-123"})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func argoConfig(addr string) string {
	return fmt.Sprintf(`
argocd:
  instances:
    - name: default
      server: %s
      plainText: true
      username: admin
      password: ${ARGO_PASSWORD}
`, addr)
}

func TestServeThenUseTheCLI(t *testing.T) {
	argo := fakeArgoCD(t)
	p := startPaved(t, argoConfig(argo.Addr()), map[string]string{"ARGO_PASSWORD": "argo-pass-123"})

	if strings.Contains(p.stderr.String(), "argo-pass-123") {
		t.Fatal("the Argo CD password appears in paved's log")
	}
	resp, err := http.Get(p.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("readyz = %d", resp.StatusCode)
	}

	out, err := p.cli(t, "", "actions", "list")
	if err != nil {
		t.Fatalf("actions list: %v", err)
	}
	for _, id := range []string{"paved:create-argocd-app", "paved:get-argocd-app", "paved:sync-argocd-app", "paved:wait-argocd-app", "paved:delete-argocd-app"} {
		if !strings.Contains(out, id) {
			t.Fatalf("actions list lacks %s:\n%s", id, out)
		}
	}

	input := `{"name":"payments","source":{"repoURL":"https://git.example.com/deploy.git","path":"apps/payments"},
	  "destination":{"namespace":"payments"},"createNamespace":true,"automated":{"prune":true},"wait":true,"waitTimeout":"20s",
	  "entityRef":"component:default/payments"}`
	out, err = p.cli(t, input, "actions", "invoke", "create-argocd-app", "--input", "-")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	var first struct{ Output map[string]any }
	if err := json.Unmarshal([]byte(out), &first); err != nil {
		t.Fatalf("create output %q: %v", out, err)
	}
	if first.Output["created"] != true || first.Output["syncStatus"] != "Synced" || first.Output["healthStatus"] != "Healthy" ||
		!strings.Contains(fmt.Sprint(first.Output["url"]), "/applications/") {
		t.Fatalf("unexpected create output: %v", first.Output)
	}
	app, ok := argo.App("argocd", "payments")
	if !ok {
		t.Fatal("the application does not exist in Argo CD")
	}
	if app.Labels["app.kubernetes.io/managed-by"] != "paved" || app.Labels["paved.dev/entity"] != "component.default.payments" {
		t.Fatalf("paved's labels missing: %v", app.Labels)
	}

	out, err = p.cli(t, input, "actions", "invoke", "create-argocd-app", "--input", "-")
	if err != nil {
		t.Fatalf("second create: %v", err)
	}
	var second struct{ Output map[string]any }
	_ = json.Unmarshal([]byte(out), &second)
	if second.Output["created"] != false || second.Output["url"] != first.Output["url"] {
		t.Fatalf("same spec twice should be a no-op: %v", second.Output)
	}

	changed := strings.Replace(input, "apps/payments", "apps/payments-v2", 1)
	_, err = p.cli(t, changed, "actions", "invoke", "create-argocd-app", "--input", "-")
	if err == nil || !strings.Contains(err.Error(), "409 ConflictError") || !strings.Contains(err.Error(), "existing application spec is different") {
		t.Fatalf("a different spec should be a conflict carrying Argo CD's message, got %v", err)
	}

	_, err = p.cli(t, `{"name":"x","instance":"nope","source":{"repoURL":"r","path":"p"},"destination":{"namespace":"x"}}`, "actions", "invoke", "create-argocd-app", "--input", "-")
	if err == nil || !strings.Contains(err.Error(), "400 InputError") || !strings.Contains(err.Error(), "instance") {
		t.Fatalf("unknown instance should be a 400 naming the field, got %v", err)
	}

	out, err = p.cli(t, "", "invocations", "--action", "paved:create-argocd-app")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "paved:create-argocd-app") != 4 || !strings.Contains(out, "local-cli") {
		t.Fatalf("audit log should list 4 create invocations by the local CLI:\n%s", out)
	}
	if logins := argo.Calls("/session.SessionService/Create"); logins != 1 {
		t.Fatalf("paved logged in to Argo CD %d times, want once", logins)
	}
}

// TestServeKeepsTheDataDirPrivate: a data directory a script created 0755,
// holding a store file left 0644, becomes 0700, and nothing paved keeps in it
// (store, -wal, -shm, local token, infra key) is readable by other users.
func TestServeKeepsTheDataDirPrivate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "paved.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{data, filepath.Join(data, "paved.db")} {
		if err := os.Chmod(p, map[bool]os.FileMode{true: 0o755, false: 0o644}[p == data]); err != nil {
			t.Fatal(err)
		}
	}
	p := startPaved(t, "", map[string]string{"PAVED_DATA_DIR": data})
	if _, err := p.cli(t, "", "actions", "list"); err != nil { // writes the audit log: -wal and -shm exist
		t.Fatal(err)
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(data, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s: mode %#o, readable by other users", path, m)
		}
		seen[filepath.Base(path)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"data", "paved.db", "paved.db-wal", "paved.db-shm", "local-token", "infra-key"} {
		if !seen[name] {
			t.Errorf("%s not in the data directory (the check would miss it): %v", name, seen)
		}
	}
}

func TestServeStopsGracefullyOnCancel(t *testing.T) {
	p := startPaved(t, "", nil)
	p.cancel()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
		p.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("paved did not stop")
	}
	if !strings.Contains(p.stderr.String(), "paved stopped") {
		t.Fatalf("no shutdown log:\n%s", p.stderr.String())
	}
}

func TestConfigCheckListsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("pluginId: BAD\nlisten: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"config", "check", "--config", path}, func(string) string { return "" }, nil, &out, &errb)
	var p *config.Problems
	if !errors.As(err, &p) || len(p.List) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if err := run(context.Background(), []string{"config", "check"}, func(string) string { return "" }, nil, &out, &errb); err != nil {
		t.Fatalf("defaults should be valid: %v", err)
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, nil, &out, &errb)
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("want a usage error, got %v", err)
	}
}
