package gitops

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/paved-dev/paved"
)

// The remote side of Apply: fetching the tip, pushing (with a lease-like
// check that nobody else moved it), the errors and links of the remote.

func (r *Repo) trackingRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, r.cfg.Branch)
}

func (r *Repo) haveTip() bool {
	_, err := r.repo.Storer.Reference(r.trackingRef())
	return err == nil
}

// tip is the branch's last known commit; zero when the branch does not exist yet.
func (r *Repo) tip() (plumbing.Hash, error) {
	ref, err := r.repo.Storer.Reference(r.trackingRef())
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ref.Hash(), nil
}

func (r *Repo) setTip(h plumbing.Hash) {
	_ = r.repo.Storer.SetReference(plumbing.NewHashReference(r.trackingRef(), h))
}

func (r *Repo) fetch(ctx context.Context) error {
	src := plumbing.NewBranchReferenceName(r.cfg.Branch)
	spec := gitconfig.RefSpec("+" + src.String() + ":" + r.trackingRef().String())
	err := r.remote.FetchContext(ctx, &git.FetchOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: r.auth, Tags: git.NoTags})
	if emptyRef(err) && r.cfg.CacheDir != "" && scrubRefs(r.cfg.CacheDir, r.logger) > 0 {
		// A ref write cut short (see cache.go): fetch again without it.
		err = r.remote.FetchContext(ctx, &git.FetchOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: r.auth, Tags: git.NoTags})
	}
	var noMatch git.NoMatchingRefSpecError
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, transport.ErrEmptyRemoteRepository), errors.As(err, &noMatch):
		// A new repository: the first commit creates the branch.
		_ = r.repo.Storer.RemoveReference(r.trackingRef())
		return nil
	}
	return r.remoteError("fetch", err)
}

// tipMoved fetches and reports whether the branch moved away from base.
func (r *Repo) tipMoved(ctx context.Context, base plumbing.Hash) (bool, error) {
	if err := r.fetch(ctx); err != nil {
		return false, err
	}
	now, err := r.tip()
	if err != nil {
		return false, err
	}
	return now != base, nil
}

func (r *Repo) remoteHas(ctx context.Context, branch string) (bool, error) {
	refs, err := r.remote.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return false, nil
	}
	if err != nil {
		return false, r.remoteError("list", err)
	}
	name := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == name {
			return true, nil
		}
	}
	return false, nil
}

// fetchBranch fetches another branch than the configured one and returns its tip.
func (r *Repo) fetchBranch(ctx context.Context, branch string) (plumbing.Hash, error) {
	local := plumbing.ReferenceName("refs/paved/review/" + branch)
	spec := gitconfig.RefSpec("+" + plumbing.NewBranchReferenceName(branch).String() + ":" + local.String())
	err := r.remote.FetchContext(ctx, &git.FetchOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: r.auth, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, r.remoteError("fetch "+branch, err)
	}
	ref, err := r.repo.Storer.Reference(local)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("gitops: fetched branch %s: %w", branch, err)
	}
	return ref.Hash(), nil
}

// sameTree reports whether two commits hold the same files.
func (r *Repo) sameTree(a, b plumbing.Hash) (bool, error) {
	ca, err := object.GetCommit(r.repo.Storer, a)
	if err != nil {
		return false, err
	}
	cb, err := object.GetCommit(r.repo.Storer, b)
	if err != nil {
		return false, err
	}
	return ca.TreeHash == cb.TreeHash, nil
}

func (r *Repo) forcePush(ctx context.Context, commit plumbing.Hash, branch string) error {
	local := plumbing.ReferenceName("refs/paved/push")
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(local, commit)); err != nil {
		return err
	}
	spec := gitconfig.RefSpec("+" + local.String() + ":" + plumbing.NewBranchReferenceName(branch).String())
	err := r.remote.PushContext(ctx, &git.PushOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: r.auth, Force: true})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

func (r *Repo) push(ctx context.Context, commit plumbing.Hash, branch string) error {
	local := plumbing.ReferenceName("refs/paved/push")
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(local, commit)); err != nil {
		return err
	}
	spec := gitconfig.RefSpec(local.String() + ":" + plumbing.NewBranchReferenceName(branch).String())
	err := r.remote.PushContext(ctx, &git.PushOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: r.auth})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// remoteError keeps credentials out of what the caller sees: go-git's errors
// may quote the URL.
func (r *Repo) remoteError(op string, err error) error {
	msg := strings.ReplaceAll(err.Error(), r.cfg.URL, r.URL())
	if r.cfg.Token != "" {
		msg = strings.ReplaceAll(msg, r.cfg.Token, "***")
	}
	return &paved.Error{Code: paved.EUnavailable, Message: fmt.Sprintf("GitOps repository %s: %s: %s", r.URL(), op, msg)}
}

func (r *Repo) compareURL(branch string) string {
	if r.cfg.CompareURL == "" {
		return ""
	}
	return strings.NewReplacer("{base}", url.PathEscape(r.cfg.Branch), "{branch}", url.PathEscape(branch)).Replace(r.cfg.CompareURL)
}

func backoff(attempt int) time.Duration {
	var b [1]byte
	_, _ = rand.Read(b[:])
	d := time.Duration(attempt*attempt) * 10 * time.Millisecond
	return d + time.Duration(b[0])*time.Millisecond/4 // jitter keeps racing writers apart
}
