// Package gitops commits manifests to a git repository with go-git: a direct
// commit on the configured branch, or a commit on a new branch for review.
// Commits are built as git objects (no worktree, no checkout), so a change
// costs what it touches, not the size of the repository; a push that loses a
// race is retried on the new tip, so concurrent writers never lose a commit.
package gitops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/paved-dev/paved"
)

// Config says where and as whom paved commits.
type Config struct {
	// URL of the repository: https://…, ssh://…, git://… or file://….
	URL string
	// Branch that direct commits land on and review branches start from.
	Branch string
	// Username and Token authenticate over HTTP(S) (the token is the password).
	Username string
	Token    string
	// SSHKeyFile (with its passphrase) authenticates over SSH; host keys are
	// checked against SSHKnownHostsFile, or the user's known_hosts.
	SSHKeyFile        string
	SSHKeyPassphrase  string
	SSHKnownHostsFile string
	AuthorName        string
	AuthorEmail       string
	// CompareURL is the link to review a branch, with {base} and {branch}
	// replaced, e.g. https://github.com/org/deploy/compare/{base}...{branch}.
	CompareURL string
	// CacheDir keeps fetched objects between restarts; empty keeps them in memory.
	CacheDir string
	// MaxAttempts bounds the pushes of one change that lose a race (default 10).
	MaxAttempts int
	Logger      *slog.Logger
	Now         func() time.Time
}

// Change is one commit's worth of edits.
type Change struct {
	Message string
	// Write maps a slash-separated path to its new content.
	Write map[string][]byte
	// Delete lists files or whole directories to remove.
	Delete []string
	// ReviewBranch, when set, puts the commit on this new branch, started
	// from the tip of the configured branch, instead of on the branch itself.
	ReviewBranch string
	// ReuseBranch lets ReviewBranch exist already: it is paved's own branch
	// for this request (the head of its pull request), rebuilt as the
	// configured branch's tip plus this change and force-pushed, or left
	// alone when its files already are what this change makes them.
	ReuseBranch bool
}

// Result is where a change landed.
type Result struct {
	Commit     string `json:"commit"`
	Branch     string `json:"branch"`
	CompareURL string `json:"compareUrl,omitempty"`
	// Base is the configured branch a review branch starts from.
	Base string `json:"base,omitempty"`
	// Changed is false when the change left the tree as it was: no commit was made.
	Changed bool `json:"changed"`
}

// Repo commits to one repository. Its methods are safe for concurrent use;
// within a process changes are applied one at a time, across processes the
// push retry keeps every commit.
type Repo struct {
	cfg    Config
	auth   transport.AuthMethod
	logger *slog.Logger

	mu     sync.Mutex
	repo   *git.Repository
	remote *git.Remote
}

const remoteName = "origin"

// Open prepares a Repo; it does not contact the remote until the first change.
func Open(cfg Config) (*Repo, error) {
	if cfg.URL == "" {
		return nil, errors.New("gitops: the repository URL is required")
	}
	if cfg.Branch == "" {
		cfg.Branch = "main"
	}
	if !validRefName(cfg.Branch) {
		return nil, fmt.Errorf("gitops: %q is not a valid branch name", cfg.Branch)
	}
	if cfg.AuthorName == "" {
		cfg.AuthorName = "paved"
	}
	if cfg.AuthorEmail == "" {
		cfg.AuthorEmail = "paved@localhost"
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	auth, err := authMethod(cfg)
	if err != nil {
		return nil, err
	}
	repo, remote, err := openCache(cfg.CacheDir, cfg.URL, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &Repo{cfg: cfg, auth: auth, logger: cfg.Logger, repo: repo, remote: remote}, nil
}

func authMethod(cfg Config) (transport.AuthMethod, error) {
	switch {
	case cfg.Token != "" && cfg.SSHKeyFile != "":
		return nil, errors.New("gitops: set either a token or an SSH key, not both")
	case cfg.Token != "":
		user := cfg.Username
		if user == "" {
			user = "paved" // GitHub and Gitea ignore it; GitLab wants "oauth2"
		}
		return &githttp.BasicAuth{Username: user, Password: cfg.Token}, nil
	case cfg.SSHKeyFile != "":
		user := cfg.Username
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, cfg.SSHKeyFile, cfg.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("gitops: SSH key: %w", err)
		}
		var files []string
		if cfg.SSHKnownHostsFile != "" {
			files = append(files, cfg.SSHKnownHostsFile)
		}
		cb, err := gitssh.NewKnownHostsCallback(files...)
		if err != nil {
			return nil, fmt.Errorf("gitops: SSH known hosts: %w", err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	}
	return nil, nil
}

// URL returns the repository URL without any credentials in it.
func (r *Repo) URL() string { return Redact(r.cfg.URL) }

// Branch returns the branch direct commits land on.
func (r *Repo) Branch() string { return r.cfg.Branch }

// Redact drops the user info of a URL so that it can be logged.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// InitBare creates a bare repository at dir unless one is there, and returns
// its file:// URL. It is paved's embedded default, so that a developer's
// paved needs no git server.
func InitBare(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := git.PlainOpen(abs); err != nil {
		if !errors.Is(err, git.ErrRepositoryNotExists) {
			return "", fmt.Errorf("gitops: %s: %w", dir, err)
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return "", err
		}
		repo, err := git.PlainInit(abs, true)
		if err != nil {
			return "", fmt.Errorf("gitops: init %s: %w", dir, err)
		}
		// HEAD names the branch paved commits to, so that clones check it out.
		head := plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main"))
		if err := repo.Storer.SetReference(head); err != nil {
			return "", err
		}
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// Apply commits ch and pushes it. A change that leaves the tree as it is
// makes no commit and reports the current tip with Changed false.
func (r *Repo) Apply(ctx context.Context, ch Change) (Result, error) {
	if err := checkChange(ch); err != nil {
		return Result{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	target := r.cfg.Branch
	if ch.ReviewBranch != "" {
		target = ch.ReviewBranch
	}
	var lastErr error
	// The first attempt trusts the tip this process saw last: with one
	// writer it is right, and a stale one only costs a rejected push.
	needFetch, fetched := !r.haveTip(), false
	for attempt := 1; attempt <= r.cfg.MaxAttempts; attempt++ {
		if needFetch {
			if err := r.fetch(ctx); err != nil {
				return Result{}, err
			}
			fetched = true
		}
		needFetch = false
		base, err := r.tip()
		if err != nil {
			return Result{}, err
		}
		var current plumbing.Hash // the review branch's tip, when it is there to reuse
		if ch.ReviewBranch != "" {
			exists, err := r.remoteHas(ctx, target)
			if err != nil {
				return Result{}, err
			}
			if exists && !ch.ReuseBranch {
				return Result{}, paved.Errorf(paved.EConflict, "branch %q already exists in the GitOps repository", target)
			}
			if exists {
				if current, err = r.fetchBranch(ctx, target); err != nil {
					return Result{}, err
				}
			}
		}
		commit, changed, err := r.commit(base, ch)
		if err != nil {
			return Result{}, err
		}
		res := Result{Commit: commit.String(), Branch: target, Changed: changed}
		if ch.ReviewBranch != "" {
			res.CompareURL = r.compareURL(target)
			res.Base = r.cfg.Branch
		}
		if !current.IsZero() {
			same, err := r.sameTree(current, commit)
			if err != nil {
				return Result{}, err
			}
			if same {
				res.Commit, res.Changed = current.String(), false
				return res, nil
			}
			// Rebuilt on the configured branch: replaces what the branch had.
			if err := r.forcePush(ctx, commit, target); err != nil {
				return Result{}, r.remoteError("push", err)
			}
			res.Changed = true
			return res, nil
		}
		if !changed && !fetched {
			// "Nothing to do" must hold for the remote, not a stale local tip.
			needFetch = true
			continue
		}
		if !changed {
			return res, nil
		}
		err = r.push(ctx, commit, target)
		if err == nil {
			if ch.ReviewBranch == "" {
				r.setTip(commit)
			}
			return res, nil
		}
		if ctx.Err() != nil {
			return Result{}, paved.Wrap(paved.EUnavailable, ctx.Err(), "pushing to the GitOps repository: %v", ctx.Err())
		}
		lastErr = err
		moved, ferr := r.tipMoved(ctx, base)
		if ferr != nil {
			return Result{}, ferr
		}
		fetched = true
		if !moved {
			// Nobody else pushed: the remote refused for another reason.
			return Result{}, r.remoteError("push", err)
		}
		r.logger.DebugContext(ctx, "gitops push lost a race, re-applying on the new tip", "attempt", attempt, "branch", target)
		if err := paved.Sleep(ctx, backoff(attempt)); err != nil {
			return Result{}, paved.Wrap(paved.EUnavailable, err, "pushing to the GitOps repository: %v", err)
		}
	}
	return Result{}, paved.Wrap(paved.EUnavailable, lastErr, "the GitOps repository kept moving: gave up after %d attempts", r.cfg.MaxAttempts)
}

// DeleteBranch removes a branch from the remote; a branch that is not there
// is not an error. It undoes a review branch whose provisioning failed.
func (r *Repo) DeleteBranch(ctx context.Context, branch string) error {
	if branch == "" || branch == r.cfg.Branch || !validRefName(branch) {
		return paved.Errorf(paved.EInvalid, "refusing to delete branch %q", branch)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	exists, err := r.remoteHas(ctx, branch)
	if err != nil || !exists {
		return err
	}
	spec := gitconfig.RefSpec(":" + plumbing.NewBranchReferenceName(branch).String())
	err = r.remote.PushContext(ctx, &git.PushOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: r.auth})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return r.remoteError("delete branch", err)
	}
	return nil
}

// Branches lists the branches of the remote.
func (r *Repo) Branches(ctx context.Context) ([]string, error) {
	refs, err := r.remote.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, nil
	}
	if err != nil {
		return nil, r.remoteError("list", err)
	}
	var out []string
	for _, ref := range refs {
		if ref.Name().IsBranch() {
			out = append(out, ref.Name().Short())
		}
	}
	return out, nil
}

// ReadFile returns a file of the tip of the branch as last fetched, after
// fetching. A missing file is an ENotFound error.
func (r *Repo) ReadFile(ctx context.Context, p string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fetch(ctx); err != nil {
		return nil, err
	}
	tip, err := r.tip()
	if err != nil {
		return nil, err
	}
	if tip.IsZero() {
		return nil, paved.Errorf(paved.ENotFound, "%s: the branch has no commit yet", p)
	}
	c, err := object.GetCommit(r.repo.Storer, tip)
	if err != nil {
		return nil, err
	}
	f, err := c.File(p)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, paved.Errorf(paved.ENotFound, "%s is not in the repository", p)
	}
	if err != nil {
		return nil, err
	}
	s, err := f.Contents()
	return []byte(s), err
}
