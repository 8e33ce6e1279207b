// Package backstagehost runs a real Backstage backend (catalog and
// scaffolder, installed from npm with a pinned lockfile) for paved's
// end-to-end tests, and speaks its HTTP API.
//
// The npm project lives beside this file (the newest Backstage release
// tested) and in compat/<line>/ (older release lines, PAVED_E2E_BACKSTAGE);
// Install copies it to a directory per line in the user's cache (InstallDir,
// outside the repository, so the go tool never sees the stray .go files
// node_modules ships) and runs npm ci there when the lockfile changed.
package backstagehost

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/paved-dev/paved/e2e/loopback"

	"github.com/paved-dev/paved"
)

//go:embed app-config.yaml.tmpl
var configTemplate string

// npmFiles are copied from the source directory to the install directory;
// lineFiles, the npm project proper, come from the directory of the
// Backstage release line (Line).
var (
	npmFiles  = []string{"package.json", "package-lock.json", "index.js", "permission-policy.js", "mcp-client.js"}
	lineFiles = map[string]bool{"package.json": true, "package-lock.json": true}
)

// stampFile records what node_modules was installed from.
const stampFile = ".paved-install-stamp"

// OldestLine is the oldest Backstage release line paved supports: the first
// whose scaffolder runs remote actions of the actions registry
// (backend.actions.pluginSources) and lists them per task rather than once at
// its start-up (plugin-scaffolder-backend 3.0.0 in Backstage 1.44; 2.2.1 in
// 1.43 kept the list it read at start-up, so a paved started after Backstage
// had no actions there). compat/<line>/ holds its package.json and lockfile.
const OldestLine = "1.44"

// OldestModulesLine is the oldest release line paved's TypeScript backend
// modules (plugins/*) are tested on. They are built with
// @backstage/backend-plugin-api 1.12, whose createBackendModule writes
// registrations of type module-v1.1 (since 1.7.0, Backstage 1.48); the
// backend of older lines refuses them ("Invalid registration type
// 'module-v1.1'") and does not start. 1.48 to 1.52 cannot be installed from
// the npm registry this project uses (backend-app-api 1.5.0 and the
// scaffolder and catalog releases of 1.49 to 1.52 are missing there), so
// 1.53 is the oldest line tested with the modules.
const OldestModulesLine = "1.53"

// Line is the Backstage release line the host installs, from
// PAVED_E2E_BACKSTAGE: empty (or "newest") for the default set beside this
// file, the newest release line tested; "oldest" for OldestLine;
// "oldest-modules" for OldestModulesLine; or a line with a directory in
// compat/.
func Line() (string, error) {
	switch v := os.Getenv("PAVED_E2E_BACKSTAGE"); v {
	case "", "newest":
		return "", nil
	case "oldest":
		return OldestLine, nil
	case "oldest-modules":
		return OldestModulesLine, nil
	default:
		if strings.ContainsAny(v, `/\`) || strings.HasPrefix(v, ".") {
			return "", fmt.Errorf("PAVED_E2E_BACKSTAGE=%q: not a release line", v)
		}
		if _, err := os.Stat(filepath.Join(sourceDir(), "compat", v, "package.json")); err != nil {
			return "", fmt.Errorf("PAVED_E2E_BACKSTAGE=%q: no such release line in compat/ (oldest, newest or a directory there)", v)
		}
		return v, nil
	}
}

// lineDir is where the npm project of a release line lives.
func lineDir(line string) string {
	if line == "" {
		return sourceDir()
	}
	return filepath.Join(sourceDir(), "compat", line)
}

// sourceDir is the directory of this file, where the npm project lives.
func sourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// InstallDir is where node_modules lives: $BACKSTAGEHOST_DIR, or a directory
// in the user's cache, one per release line (Line). It must be outside the
// repository: Backstage's config loader walks up to the nearest npm workspace
// root and would load paved's own workspace packages as if they were part of
// this backend.
func InstallDir() string {
	if d := os.Getenv("BACKSTAGEHOST_DIR"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	name := "backstagehost"
	if line, err := Line(); err == nil && line != "" {
		name += "-" + line
	}
	return filepath.Join(cache, "paved-e2e", name)
}

// Install makes sure the Backstage backend is installed: it runs npm ci when
// node_modules is missing or was installed from another lockfile or Node
// version. It is idempotent, safe across concurrent test processes, and
// prints nothing unless npm fails.
func Install(ctx context.Context) error {
	line, err := Line()
	if err != nil {
		return err
	}
	dir := InstallDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock install dir: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway

	h := sha256.New()
	for _, name := range npmFiles {
		src := sourceDir()
		if lineFiles[name] {
			src = lineDir(line)
		}
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		if err := writeIfChanged(filepath.Join(dir, name), b); err != nil {
			return err
		}
		if filepath.Ext(name) != ".js" { // code changes need no reinstall
			h.Write(b)
		}
	}
	nodeVersion, err := exec.CommandContext(ctx, "node", "--version").Output()
	if err != nil {
		return fmt.Errorf("node is required: %w", err)
	}
	h.Write(nodeVersion)
	stamp := hex.EncodeToString(h.Sum(nil))
	stampPath := filepath.Join(dir, "node_modules", stampFile)
	if got, err := os.ReadFile(stampPath); err == nil && string(got) == stamp {
		return nil
	}

	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	cmd.Env = os.Environ()
	// better-sqlite3 compiles from source; with the distribution's Node
	// headers node-gyp needs no download.
	if _, err := os.Stat("/usr/include/node/node.h"); err == nil && os.Getenv("npm_config_nodedir") == "" {
		cmd.Env = append(cmd.Env, "npm_config_nodedir=/usr")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, tail(out.String(), 8000))
	}
	return os.WriteFile(stampPath, []byte(stamp), 0o644)
}

// checkLine refuses options that need a plugin the release line's host does
// not install: the older lines hold the catalog and the scaffolder alone, what
// the core tests run.
func checkLine(opts Options) error {
	line, err := Line()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(lineDir(line), "package.json"))
	if err != nil {
		return err
	}
	var pkg struct{ Dependencies map[string]string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(lineDir(line), "package.json"), err)
	}
	if len(opts.ExtraModules) > 0 && line != "" && olderLine(line, OldestModulesLine) {
		return fmt.Errorf("the Backstage %s host cannot load backend modules built with today's @backstage/backend-plugin-api (module-v1.1 registrations need Backstage 1.48 or later; paved's modules are tested from %s): PAVED_E2E_BACKSTAGE=oldest runs the registry tests only", line, OldestModulesLine)
	}
	for _, need := range []struct {
		on  bool
		pkg string
	}{
		{opts.Permissions, "@backstage/plugin-permission-backend"},
		{opts.Permissions, "@backstage/plugin-auth-backend"},
		{opts.MCP, "@backstage/plugin-mcp-actions-backend"},
		{opts.Notifications, "@backstage/plugin-notifications-backend"},
	} {
		if need.on && pkg.Dependencies[need.pkg] == "" {
			return fmt.Errorf("the Backstage %s host does not install %s (PAVED_E2E_BACKSTAGE=%s runs the core tests only)", line, need.pkg, os.Getenv("PAVED_E2E_BACKSTAGE"))
		}
	}
	return nil
}

// olderLine reports whether release line a ("1.44") is older than b.
func olderLine(a, b string) bool {
	var aMaj, aMin, bMaj, bMin int
	fmt.Sscanf(a, "%d.%d", &aMaj, &aMin)
	fmt.Sscanf(b, "%d.%d", &bMaj, &bMin)
	return aMaj < bMaj || aMaj == bMaj && aMin < bMin
}

func writeIfChanged(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return os.WriteFile(path, b, 0o644)
}

// Options configure a Backstage backend.
type Options struct {
	// PavedBaseURL is the discovery target of the paved plugin, e.g.
	// "http://127.0.0.1:7010/api/{{pluginId}}". Empty leaves paved out of
	// the config (no discovery endpoint, no action source).
	PavedBaseURL string
	// TemplatesDir holds catalog entity files (*.yaml, searched recursively)
	// registered as a file location.
	TemplatesDir string
	// ExtraModules are backend modules to add: package names resolvable
	// from the install directory, or paths.
	ExtraModules []string
	// ExtraConfig is YAML merged over the generated app-config.
	ExtraConfig string
	// Port to listen on; 0 picks a free one.
	Port int
	// Env is added to the backend's environment.
	Env []string
	// Permissions turns Backstage's permission framework on: the permission
	// backend with the policy of permission-policy.js, and the auth backend
	// so users sign in (SignIn) and call with their own token.
	Permissions bool
	// MCP adds Backstage's MCP actions plugin (POST /api/mcp-actions/v1);
	// MCPCall speaks to it with the official MCP client.
	MCP bool
	// Notifications adds Backstage's notifications backend
	// (@backstage/plugin-notifications-backend): plugins send with a service
	// token, users read theirs with their own (Notifications; needs
	// Permissions for users to sign in).
	Notifications bool
}

// Backstage is a running backend.
type Backstage struct {
	baseURL string
	token   string
	dir     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	client  *http.Client
	stop    sync.Once
}

// Start installs (if needed) and starts a backend, and returns once it is
// ready. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Backstage, error) {
	if err := checkLine(opts); err != nil {
		return nil, err
	}
	if err := Install(ctx); err != nil {
		return nil, err
	}
	port := opts.Port
	if port == 0 {
		p, err := loopback.FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	dir, err := os.MkdirTemp("", "backstagehost-")
	if err != nil {
		return nil, err
	}
	args, token, err := WriteConfig(dir, opts, port)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b := &Backstage{
		baseURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		token:   token,
		dir:     dir,
		logPath: filepath.Join(dir, "backstage.log"),
		exited:  make(chan struct{}),
		client:  &http.Client{Timeout: 30 * time.Second},
	}
	logFile, err := os.Create(b.logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logFile.Close()

	argv := NodeCommand(args)
	b.cmd = exec.Command(argv[0], argv[1:]...)
	b.cmd.Dir = InstallDir()
	b.cmd.Stdout, b.cmd.Stderr = logFile, logFile
	b.cmd.Env = append(os.Environ(), opts.Env...)
	b.cmd.Env = append(b.cmd.Env, "BACKSTAGE_EXTRA_MODULES="+strings.Join(opts.ExtraModules, string(os.PathListSeparator)))
	if opts.Permissions {
		b.cmd.Env = append(b.cmd.Env, "BACKSTAGE_PERMISSIONS=1")
	}
	if opts.MCP {
		b.cmd.Env = append(b.cmd.Env, "BACKSTAGE_MCP=1")
	}
	if opts.Notifications {
		b.cmd.Env = append(b.cmd.Env, "BACKSTAGE_NOTIFICATIONS=1")
	}
	// Its own process group so Stop can kill everything it spawned; the
	// death signal covers a test binary that dies without calling Stop.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start backstage: %w", err)
	}
	go func() {
		b.waitErr = b.cmd.Wait()
		close(b.exited)
	}()
	if err := b.waitReady(ctx); err != nil {
		logs := b.Logs()
		b.Stop()
		return nil, fmt.Errorf("%w\nbackstage log:\n%s", err, tail(logs, 8000))
	}
	return b, nil
}

// StartT starts a backend for a test: it fails the test when the backend
// does not start, stops it at cleanup, and prints its log if the test failed.
func StartT(t testing.TB, opts Options) *Backstage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // the first install is slow
	defer cancel()
	b, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start backstage: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("backstage log (%s):\n%s", b.logPath, tail(b.Logs(), 20000))
		}
		b.Stop()
	})
	return b
}

// WriteConfig writes the app-config of a backend listening on port into dir,
// with a new static token, and returns the arguments that make
// NodeCommand in InstallDir use it. It is for running the backend some
// other way than Start (detached, for a person); opts.Port, opts.Env,
// opts.ExtraModules and the BACKSTAGE_PERMISSIONS=1 of opts.Permissions are
// the caller's to apply.
func WriteConfig(dir string, opts Options, port int) (args []string, token string, err error) {
	token = rand.Text()
	data := struct {
		Port                    int
		Token                   string
		PavedBaseURL, PavedHost string
		TemplatesDir            string
		Permissions             bool
	}{Port: port, Token: token, PavedBaseURL: opts.PavedBaseURL, Permissions: opts.Permissions}
	if opts.PavedBaseURL != "" {
		u, err := url.Parse(strings.ReplaceAll(opts.PavedBaseURL, "{{pluginId}}", "paved"))
		if err != nil || u.Host == "" {
			return nil, "", fmt.Errorf("PavedBaseURL %q: not a URL", opts.PavedBaseURL)
		}
		data.PavedHost = u.Host
	}
	if opts.TemplatesDir != "" {
		abs, err := filepath.Abs(opts.TemplatesDir)
		if err != nil {
			return nil, "", err
		}
		data.TemplatesDir = filepath.ToSlash(abs)
	}
	for _, s := range []string{data.PavedBaseURL, data.TemplatesDir} {
		if strings.ContainsAny(s, "'\n") {
			return nil, "", fmt.Errorf("%q cannot go into app-config", s)
		}
	}
	tmpl, err := template.New("app-config").Parse(configTemplate)
	if err != nil {
		return nil, "", err
	}
	var cfg bytes.Buffer
	if err := tmpl.Execute(&cfg, data); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "app-config.yaml")
	if err := os.WriteFile(path, cfg.Bytes(), 0o600); err != nil {
		return nil, "", err
	}
	args = []string{"--config", path}
	if opts.ExtraConfig != "" {
		extra := filepath.Join(dir, "app-config.extra.yaml")
		if err := os.WriteFile(extra, []byte(opts.ExtraConfig), 0o600); err != nil {
			return nil, "", err
		}
		args = append(args, "--config", extra)
	}
	return args, token, nil
}

// NodeCommand is the command line that runs the backend in InstallDir with
// WriteConfig's arguments. --no-node-snapshot is what Backstage asks of Node
// 20 and later for the scaffolder: its sandbox (isolated-vm, used up to
// plugin-scaffolder-backend 3.x) refuses to run a task without it.
func NodeCommand(args []string) []string {
	return append([]string{"node", "--no-node-snapshot", "index.js"}, args...)
}

func (b *Backstage) waitReady(ctx context.Context) error {
	// Loading the backend's modules alone took 2 minutes on the 2 shared
	// cores under a full build load.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.baseURL+"/.backstage/health/v1/readiness", nil)
		if resp, err := b.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-b.exited:
			return fmt.Errorf("backstage exited before it was ready: %v", b.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("backstage not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop kills the backend's process group and removes its files. It is safe
// to call more than once.
func (b *Backstage) Stop() {
	b.stop.Do(func() {
		pgid := b.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-b.exited
		}
		// Children that outlived node still hold the group id.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		os.RemoveAll(b.dir)
	})
}

// BaseURL is the backend's root URL, e.g. http://127.0.0.1:40123.
func (b *Backstage) BaseURL() string { return b.baseURL }

// Token is the static external-access token the backend accepts (subject "e2e").
func (b *Backstage) Token() string { return b.token }

// LogPath is the file holding the backend's output.
func (b *Backstage) LogPath() string { return b.logPath }

// Logs returns the backend's output so far.
func (b *Backstage) Logs() string {
	out, err := os.ReadFile(b.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(out)
}

// RSS returns the resident memory of the backend's node process in bytes.
func (b *Backstage) RSS() (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no VmRSS")
}

// HTTPError is a non-2xx answer of the backend.
type HTTPError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, tail(e.Body, 2000))
}

// IsNotFound reports whether err is a 404 from the backend.
func IsNotFound(err error) bool {
	var h *HTTPError
	return errors.As(err, &h) && h.Status == http.StatusNotFound
}

// Do sends a request with the static token to path (relative to BaseURL)
// and decodes a JSON answer into out, when out is not nil.
func (b *Backstage) Do(ctx context.Context, method, path string, body, out any) error {
	return b.DoAs(ctx, b.token, method, path, body, out)
}

// DoAs is Do with another token, e.g. a user's from SignIn.
func (b *Backstage) DoAs(ctx context.Context, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.baseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &HTTPError{Method: method, Path: path, Status: resp.StatusCode, Body: string(raw)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

// Entity is a catalog entity as the catalog returns it.
type Entity map[string]any

// GetEntity returns one entity of the catalog; a missing one is an error
// for which IsNotFound is true.
func (b *Backstage) GetEntity(ctx context.Context, kind, namespace, name string) (Entity, error) {
	var e Entity
	err := b.Do(ctx, http.MethodGet, "/api/catalog/entities/by-name/"+
		url.PathEscape(kind)+"/"+url.PathEscape(namespace)+"/"+url.PathEscape(name), nil, &e)
	return e, err
}

// WaitEntity polls the catalog until the entity exists, since file and URL
// locations are ingested asynchronously.
func (b *Backstage) WaitEntity(ctx context.Context, kind, namespace, name string) (Entity, error) {
	for {
		e, err := b.GetEntity(ctx, kind, namespace, name)
		if err == nil {
			return e, nil
		}
		if !IsNotFound(err) {
			return nil, err
		}
		if err := paved.Sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, fmt.Errorf("entity %s:%s/%s never appeared: %w", kind, namespace, name, err)
		}
	}
}

// RegisterLocation adds a catalog location: a URL (type url) or an absolute
// file path (type file). Registering an existing location is not an error.
func (b *Backstage) RegisterLocation(ctx context.Context, target string) error {
	typ := "url"
	if filepath.IsAbs(target) {
		typ = "file"
	}
	err := b.Do(ctx, http.MethodPost, "/api/catalog/locations", map[string]string{"type": typ, "target": target}, nil)
	var h *HTTPError
	if errors.As(err, &h) && h.Status == http.StatusConflict {
		return nil
	}
	return err
}

// Action is one scaffolder action as the scaffolder lists it.
type Action struct {
	ID          string          `json:"id"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Examples    json.RawMessage `json:"examples,omitempty"`
}

// Actions lists the scaffolder's actions, built-in and remote (paved's).
func (b *Backstage) Actions(ctx context.Context) ([]Action, error) {
	var actions []Action
	err := b.Do(ctx, http.MethodGet, "/api/scaffolder/v2/actions", nil, &actions)
	return actions, err
}

// SignIn signs a user of the catalog in, as the oauth2-proxy provider does
// for a request oauth2-proxy let through (the X-Forwarded-User header; the
// sign-in resolver matches the User entity by name), and returns their
// Backstage user token and ownership entity refs. Only with Permissions.
func (b *Backstage) SignIn(ctx context.Context, userName string) (token string, ownership []string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.baseURL+"/api/auth/oauth2Proxy/refresh", nil)
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("X-Forwarded-User", userName)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := b.client.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, &HTTPError{Method: http.MethodGet, Path: "/api/auth/oauth2Proxy/refresh", Status: resp.StatusCode, Body: string(raw)}
	}
	var out struct {
		BackstageIdentity struct {
			Token    string `json:"token"`
			Identity struct {
				OwnershipEntityRefs []string `json:"ownershipEntityRefs"`
			} `json:"identity"`
		} `json:"backstageIdentity"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.BackstageIdentity.Token == "" {
		return "", nil, fmt.Errorf("sign-in of %s: no Backstage token in %.300s", userName, raw)
	}
	return out.BackstageIdentity.Token, out.BackstageIdentity.Identity.OwnershipEntityRefs, nil
}

// Notification is one notification as its recipient reads it
// (GET /api/notifications/notifications).
type Notification struct {
	ID      string `json:"id"`
	User    string `json:"user"`
	Origin  string `json:"origin"`
	Payload struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Link        string `json:"link"`
		Severity    string `json:"severity"`
		Topic       string `json:"topic"`
	} `json:"payload"`
}

// Notifications returns the notifications of the holder of a user token,
// newest first, through the notifications backend's API. Only with
// Notifications.
func (b *Backstage) Notifications(ctx context.Context, token string) ([]Notification, error) {
	var out struct {
		Notifications []Notification `json:"notifications"`
	}
	err := b.DoAs(ctx, token, http.MethodGet, "/api/notifications/notifications?limit=50", nil, &out)
	return out.Notifications, err
}

// MCPListTools lists the tools of the MCP actions plugin as the holder of
// token sees them, with the official MCP TypeScript SDK (mcp-client.js).
func (b *Backstage) MCPListTools(ctx context.Context, token string) ([]MCPTool, error) {
	var out struct {
		Tools []MCPTool `json:"tools"`
	}
	if err := b.mcp(ctx, &out, token, "list"); err != nil {
		return nil, err
	}
	return out.Tools, nil
}

// MCPTool is a tool as an MCP client lists it.
type MCPTool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Annotations struct {
		ReadOnlyHint    bool `json:"readOnlyHint"`
		DestructiveHint bool `json:"destructiveHint"`
	} `json:"annotations"`
}

// MCPResult is a tool call's result: its text, and whether it is an error.
type MCPResult struct {
	IsError bool `json:"isError"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
}

// Text is the result's text content, joined.
func (r MCPResult) Text() string {
	var parts []string
	for _, c := range r.Content {
		parts = append(parts, c.Text)
	}
	return strings.Join(parts, "\n")
}

// MCPCallTool calls a tool with args as the holder of token.
func (b *Backstage) MCPCallTool(ctx context.Context, token, tool string, args any) (MCPResult, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return MCPResult{}, err
	}
	var out MCPResult
	err = b.mcp(ctx, &out, token, "call", tool, string(raw))
	return out, err
}

func (b *Backstage) mcp(ctx context.Context, out any, token string, args ...string) error {
	cmd := exec.CommandContext(ctx, "node", append([]string{"mcp-client.js", b.baseURL + "/api/mcp-actions/v1", token}, args...)...)
	cmd.Dir = InstallDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mcp %s: %v: %s", args[0], err, tail(stderr.String(), 4000))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("mcp %s: %v: %s", args[0], err, tail(stdout.String(), 2000))
	}
	return nil
}

// CreateTask starts a scaffolder task from a template ref such as
// "template:default/my-template" and returns its id.
func (b *Backstage) CreateTask(ctx context.Context, templateRef string, values map[string]any) (string, error) {
	return b.CreateTaskAs(ctx, b.token, templateRef, values)
}

// CreateTaskAs starts a task with token, a user's from SignIn: the
// scaffolder then calls actions on behalf of that user.
func (b *Backstage) CreateTaskAs(ctx context.Context, token, templateRef string, values map[string]any) (string, error) {
	if values == nil {
		values = map[string]any{}
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := b.DoAs(ctx, token, http.MethodPost, "/api/scaffolder/v2/tasks",
		map[string]any{"templateRef": templateRef, "values": values}, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", errors.New("scaffolder returned no task id")
	}
	return out.ID, nil
}

// Task is a finished (or cancelled) scaffolder task.
type Task struct {
	ID     string
	Status string // completed | failed | cancelled
	// Output is the template's output, from the completion event.
	Output map[string]any
	// Error is the failure message of a failed task.
	Error  string
	Events []TaskEvent
	// Log is the message of every log event, in order.
	Log []string
}

// TaskEvent is one event of a task's event stream.
type TaskEvent struct {
	ID        int64           `json:"id"`
	Type      string          `json:"type"` // log | completion | cancelled | recovered
	CreatedAt string          `json:"createdAt"`
	Body      json.RawMessage `json:"body"`
}

type eventBody struct {
	Message string         `json:"message"`
	StepID  string         `json:"stepId"`
	Status  string         `json:"status"`
	Output  map[string]any `json:"output"`
	Error   *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// WaitTask polls a task until it is no longer open or processing, then
// returns its status, output and events.
func (b *Backstage) WaitTask(ctx context.Context, id string) (Task, error) {
	path := "/api/scaffolder/v2/tasks/" + url.PathEscape(id)
	var status struct {
		Status string `json:"status"`
	}
	for {
		if err := b.Do(ctx, http.MethodGet, path, nil, &status); err != nil {
			return Task{}, err
		}
		if status.Status != "open" && status.Status != "processing" {
			break
		}
		if err := paved.Sleep(ctx, 250*time.Millisecond); err != nil {
			return Task{}, fmt.Errorf("task %s still %s: %w", id, status.Status, err)
		}
	}
	t := Task{ID: id, Status: status.Status}
	if err := b.Do(ctx, http.MethodGet, path+"/events", nil, &t.Events); err != nil {
		return t, err
	}
	for _, ev := range t.Events {
		var body eventBody
		if err := json.Unmarshal(ev.Body, &body); err != nil {
			continue
		}
		switch ev.Type {
		case "log":
			t.Log = append(t.Log, body.Message)
		case "completion":
			t.Output = body.Output
			if body.Error != nil {
				t.Error = body.Error.Message
			}
		}
	}
	return t, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
