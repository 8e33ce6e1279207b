package config

import (
	"net/url"
	"path/filepath"
	"strings"
)

// GitOps configures the repository paved commits manifests to: the
// Applications of create-argocd-app in gitops mode and the manifests of
// infrastructure golden paths.
type GitOps struct {
	// URL of the repository; empty uses a bare repository under the data
	// directory, created on first start (<dataDir>/gitops.git).
	URL string `yaml:"url"`
	// RepoURL is the repository as Argo CD reaches it, written into the
	// Applications paved commits (default: url).
	RepoURL string `yaml:"repoURL"`
	Branch  string `yaml:"branch"`
	// Username and Token authenticate over HTTPS; PAVED_GITOPS_TOKEN sets the token.
	Username string `yaml:"username"`
	Token    string `yaml:"token"`
	// SSHKeyFile authenticates over SSH; PAVED_GITOPS_SSH_KEY_FILE sets it.
	SSHKeyFile        string `yaml:"sshKeyFile"`
	SSHKeyPassphrase  string `yaml:"sshKeyPassphrase"`
	SSHKnownHostsFile string `yaml:"sshKnownHostsFile"`
	AuthorName        string `yaml:"authorName"`
	AuthorEmail       string `yaml:"authorEmail"`
	// AppsPath is the directory of Applications the app-of-apps root watches;
	// InfraPath holds each resource's manifests under <kind>/<name>/.
	AppsPath  string `yaml:"appsPath"`
	InfraPath string `yaml:"infraPath"`
	// AppNamespace is the namespace of the Application objects (Argo CD's).
	AppNamespace   string `yaml:"appNamespace"`
	DefaultProject string `yaml:"defaultProject"`
	// Review commits every change on a new branch instead of the branch.
	Review bool `yaml:"review"`
	// CompareURL links a review branch, with {base} and {branch}, e.g.
	// https://github.com/org/deploy/compare/{base}...{branch}.
	CompareURL string `yaml:"compareUrl"`
	// CacheDir keeps fetched objects between restarts (default <dataDir>/gitops-cache).
	CacheDir string `yaml:"cacheDir"`
	// PullRequests, with review, opens a pull request for each review
	// branch on the forge that hosts the repository.
	PullRequests PullRequests `yaml:"pullRequests"`
}

// PullRequests names the forge and repository of review mode's pull requests.
type PullRequests struct {
	// Kind is github, gitlab, gitea or forgejo; empty: no pull requests.
	Kind string `yaml:"kind"`
	// APIURL is the forge's URL (GitHub: default https://api.github.com).
	APIURL string `yaml:"apiURL"`
	// Repo is owner/name (GitLab: the project's full path).
	Repo string `yaml:"repo"`
	// Token may open and edit pull requests; PAVED_GITOPS_PR_TOKEN sets it.
	Token string `yaml:"token"`
}

// DefaultGitOps is the GitOps configuration paved starts with.
func DefaultGitOps() GitOps {
	return GitOps{Branch: "main", AuthorName: "paved", AuthorEmail: "paved@localhost", AppsPath: "apps",
		InfraPath: "infra", AppNamespace: "argocd", DefaultProject: "default"}
}

// EmbeddedRepo is the bare repository used when no URL is configured.
func (g GitOps) EmbeddedRepo(dataDir string) string { return filepath.Join(dataDir, "gitops.git") }

func (g *GitOps) applyEnv(getenv func(string) string) {
	for name, dst := range map[string]*string{
		"PAVED_GITOPS_URL": &g.URL, "PAVED_GITOPS_TOKEN": &g.Token, "PAVED_GITOPS_SSH_KEY_FILE": &g.SSHKeyFile,
		"PAVED_GITOPS_BRANCH": &g.Branch, "PAVED_GITOPS_PR_TOKEN": &g.PullRequests.Token,
	} {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
}

func (g *GitOps) fill(dataDir string) {
	if g.CacheDir == "" && dataDir != "" {
		g.CacheDir = filepath.Join(dataDir, "gitops-cache")
	}
}

func (g GitOps) validate(p *problems) {
	if g.URL != "" {
		if u, err := url.Parse(g.URL); err != nil || u.Scheme == "" && !strings.Contains(g.URL, "@") {
			p.add("gitops.url", "must be an https://, ssh://, git://, file:// or scp-like (git@host:path) URL")
		}
	}
	if g.Token != "" && g.SSHKeyFile != "" {
		p.add("gitops", "set either token or sshKeyFile, not both")
	}
	if g.Branch == "" || strings.ContainsAny(g.Branch, " ~^:?*[\\") || strings.Contains(g.Branch, "..") {
		p.add("gitops.branch", "must be a valid branch name, got %q", g.Branch)
	}
	for field, v := range map[string]string{"gitops.appsPath": g.AppsPath, "gitops.infraPath": g.InfraPath} {
		if v == "" || strings.HasPrefix(v, "/") || strings.Contains(v, "..") {
			p.add(field, "must be a relative path inside the repository, got %q", v)
		}
	}
	if g.CompareURL != "" && !strings.Contains(g.CompareURL, "{branch}") {
		p.add("gitops.compareUrl", "must contain {branch}")
	}
	if pr := g.PullRequests; pr.Kind != "" {
		switch {
		case !g.Review:
			p.add("gitops.pullRequests", "needs gitops.review: true (pull requests are opened for review branches)")
		case pr.Kind != "github" && pr.Kind != "gitlab" && pr.Kind != "gitea" && pr.Kind != "forgejo":
			p.add("gitops.pullRequests.kind", "must be github, gitlab, gitea or forgejo, got %q", pr.Kind)
		case pr.Kind != "github" && pr.APIURL == "":
			p.add("gitops.pullRequests.apiURL", "is required for %s", pr.Kind)
		case strings.Count(pr.Repo, "/") < 1:
			p.add("gitops.pullRequests.repo", "must be owner/name")
		case pr.Token == "":
			p.add("gitops.pullRequests.token", "is required (or PAVED_GITOPS_PR_TOKEN)")
		}
	}
}

func (g GitOps) masked() GitOps {
	g.Token, g.SSHKeyPassphrase = mask(g.Token), mask(g.SSHKeyPassphrase)
	g.PullRequests.Token = mask(g.PullRequests.Token)
	g.URL = MaskURL(g.URL)
	return g
}
