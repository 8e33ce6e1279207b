package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/paved-dev/paved/e2e/loopback"
)

// GiteaVersion is the Gitea e2e/tools/gitea builds: the newest release on the
// Go module proxy under code.gitea.io/gitea (v1.27 declares the module
// gitea.dev, which the proxy does not serve).
const GiteaVersion = "v1.26.0"

// Gitea is a real Gitea server of the stack (StartGitea): SQLite, HTTP on
// loopback, no SSH, registration closed. Its repositories are public, so
// Argo CD reads them without credentials; pushing takes Admin and Token.
type Gitea struct {
	// URL is http://127.0.0.1:<port>, without a trailing slash.
	URL string
	// Admin is the site administrator's user name, who owns the repositories
	// CreateRepo makes; Token is an access token of theirs with every scope.
	Admin, Password, Token string

	client *http.Client
}

// giteaAdmin is the administrator StartGitea creates.
const giteaAdmin = "paved-admin"

// StartGitea builds Gitea when it is not in the cache yet (minutes, once),
// starts it beside the stack's other components and creates its
// administrator and their token with Gitea's own CLI. Stop stops it.
func (s *Stack) StartGitea(ctx context.Context) (*Gitea, error) {
	bin := s.bins.Gitea
	if bin == "" {
		bins, err := Build(ctx, BuildOptions{Root: s.root, Logf: s.logf, Only: []string{"gitea"}})
		if err != nil {
			return nil, err
		}
		bin = bins.Gitea
	}
	dir := filepath.Join(s.StateDir, "gitea")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	l, err := loopback.Listen()
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	g := &Gitea{URL: "http://" + addr, Admin: giteaAdmin, Password: randomHex(16), client: &http.Client{Timeout: time.Minute}}
	ini := filepath.Join(dir, "app.ini")
	if err := os.WriteFile(ini, []byte(giteaConfig(dir, filepath.Dir(bin), addr)), 0o600); err != nil {
		return nil, err
	}
	env := []string{"GIT_CONFIG_NOSYSTEM=1", "HOME=" + dir}
	if os.Getuid() == 0 {
		// Gitea refuses to run as root (as CI's containers do) unless told.
		env = append(env, "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true")
	}
	// Gitea reads its configuration from the file and the work path only.
	cli := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append([]string{"--work-path", dir, "--config", ini}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("gitea %s: %w\n%s", args[0], err, stderr.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	began := time.Now()
	if _, err := cli("migrate"); err != nil {
		return nil, err
	}
	if _, err := cli("admin", "user", "create", "--username", g.Admin, "--password", g.Password,
		"--email", g.Admin+"@paved.invalid", "--admin", "--must-change-password=false"); err != nil {
		return nil, err
	}
	out, err := cli("admin", "user", "generate-access-token", "--username", g.Admin,
		"--token-name", "e2e", "--scopes", "all", "--raw")
	if err != nil {
		return nil, err
	}
	// The token is the line of 40 hex digits: Gitea's console log shares stdout.
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		if l = strings.TrimSpace(l); len(l) == 40 && strings.Trim(l, "0123456789abcdef") == "" {
			g.Token = l
		}
	}
	if g.Token == "" {
		return nil, fmt.Errorf("gitea admin user generate-access-token printed no token (%d lines)", len(lines))
	}
	spec := procSpec{name: "gitea", path: bin, dir: dir,
		args: []string{"--work-path", dir, "--config", ini, "web"},
		env:  env}
	if err := s.startAndWait(ctx, spec, func(ctx context.Context) error { return httpOK(ctx, g.URL+"/api/healthz") }); err != nil {
		return nil, fmt.Errorf("gitea: %w", err)
	}
	s.mu.Lock()
	s.Timings = append(s.Timings, Timing{Component: "gitea", Duration: time.Since(began)})
	s.mu.Unlock()
	return g, nil
}

// giteaConfig is Gitea's app.ini: everything under dir, static files from
// the build's directory, web hooks allowed to loopback (Argo CD's).
func giteaConfig(dir, static, addr string) string {
	return fmt.Sprintf(`APP_NAME = paved e2e
RUN_MODE = prod
WORK_PATH = %[1]s

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[3]s
DOMAIN = 127.0.0.1
ROOT_URL = http://%[4]s/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
APP_DATA_PATH = %[1]s/data
STATIC_ROOT_PATH = %[2]s

[database]
DB_TYPE = sqlite3
PATH = %[1]s/data/gitea.db
SQLITE_JOURNAL_MODE = WAL

[repository]
ROOT = %[1]s/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[5]s
INTERNAL_TOKEN = %[6]s

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false

[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 10

[actions]
ENABLED = false

[mailer]
ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[cron]
ENABLED = false

[log]
MODE = console
LEVEL = Warn
ROOT_PATH = %[1]s/log
`, dir, static, port(addr), addr, randomHex(32), randomHex(32))
}

// API calls Gitea's REST API (path under /api/v1) as the administrator; out,
// when not nil, receives a 2xx answer's JSON. Another status is an error
// carrying it and Gitea's message.
func (g *Gitea) API(ctx context.Context, method, path string, in, out any) error {
	_, err := g.call(ctx, method, path, in, out)
	return err
}

// call is API that also returns the status.
func (g *Gitea) call(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.URL+"/api/v1"+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "token "+g.Token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("gitea %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("gitea %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// CreateRepo creates a public repository of the administrator whose branch
// main holds one commit (a README), and returns its clone URL.
func (g *Gitea) CreateRepo(ctx context.Context, name string) (string, error) {
	var repo struct {
		CloneURL string `json:"clone_url"`
	}
	err := g.API(ctx, http.MethodPost, "/user/repos", map[string]any{
		"name": name, "auto_init": true, "default_branch": "main", "readme": "Default", "private": false,
	}, &repo)
	return repo.CloneURL, err
}

// Merge merges pull request number of repo (owner/name) with a merge commit,
// as a reviewer's button would. Gitea checks a new pull request's
// mergeability in the background; until it has, it refuses with 405, so the
// merge is retried until ctx ends.
func (g *Gitea) Merge(ctx context.Context, repo string, number int) error {
	path := fmt.Sprintf("/repos/%s/pulls/%d/merge", repo, number)
	for {
		status, err := g.call(ctx, http.MethodPost, path, map[string]any{"Do": "merge"}, nil)
		if err == nil || status != http.StatusMethodNotAllowed {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ClosePullRequest closes pull request number of repo without merging it, as a
// reviewer who rejects it would.
func (g *Gitea) ClosePullRequest(ctx context.Context, repo string, number int) error {
	return g.API(ctx, http.MethodPatch, fmt.Sprintf("/repos/%s/pulls/%d", repo, number), map[string]any{"state": "closed"}, nil)
}

// AddWebhook makes repo (owner/name) notify url of every push, with Gitea's
// own payload (which Argo CD's /api/webhook reads as Gogs'), so Argo CD
// refreshes the applications of the repository at once instead of at its
// next poll.
func (g *Gitea) AddWebhook(ctx context.Context, repo, url string) error {
	return g.API(ctx, http.MethodPost, "/repos/"+repo+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push"},
		"config": map[string]string{"url": url, "content_type": "json"},
	}, nil)
}
