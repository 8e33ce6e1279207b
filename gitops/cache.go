package gitops

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
	"github.com/go-git/go-git/v5/storage/memory"
)

// The cache directory holds a copy of what paved fetched from the remote,
// which stays the truth: a cache that a kill left damaged is repaired or
// started again, never trusted, and never the reason a call fails.
//
// go-git writes a ref by truncating its file and then writing the hash (and
// its config the same way), so a SIGKILL between the two leaves an empty
// file that every later fetch refuses ("ref file is empty"): the chaos suite
// met it. An empty ref is removed (the next fetch writes it again); a cache
// that cannot be opened is removed whole and fetched again.

// openCache opens the repository paved commits from, in dir or (dir empty)
// in memory, with the remote set to url.
func openCache(dir, url string, logger *slog.Logger) (*git.Repository, *git.Remote, error) {
	if dir == "" {
		return initCache(memory.NewStorage(), url)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("gitops: cache: %w", err)
	}
	scrubRefs(dir, logger)
	repo, remote, err := initCache(filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault()), url)
	if err == nil {
		return repo, remote, nil
	}
	logger.Warn("gitops: the cache cannot be opened; starting it again from the remote", "dir", dir, "error", err)
	if err := os.RemoveAll(dir); err != nil {
		return nil, nil, fmt.Errorf("gitops: cache: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("gitops: cache: %w", err)
	}
	return initCache(filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault()), url)
}

func initCache(st storage.Storer, url string) (*git.Repository, *git.Remote, error) {
	repo, err := git.Init(st, nil)
	if errors.Is(err, git.ErrRepositoryAlreadyExists) {
		repo, err = git.Open(st, nil)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("gitops: cache: %w", err)
	}
	if err := repo.DeleteRemote(remoteName); err != nil && !errors.Is(err, git.ErrRemoteNotFound) {
		return nil, nil, fmt.Errorf("gitops: cache: %w", err)
	}
	remote, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: remoteName, URLs: []string{url}})
	if err != nil {
		return nil, nil, fmt.Errorf("gitops: %w", err)
	}
	return repo, remote, nil
}

// scrubRefs removes the empty ref files under dir/refs, each what a kill in
// the middle of writing a ref leaves; it returns how many.
func scrubRefs(dir string, logger *slog.Logger) int {
	n := 0
	_ = filepath.WalkDir(filepath.Join(dir, "refs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Size() == 0 && os.Remove(p) == nil {
			logger.Warn("gitops: removed an empty ref from the cache (a write cut short); the next fetch writes it again", "ref", filepath.ToSlash(p[len(dir)+1:]))
			n++
		}
		return nil
	})
	return n
}

// emptyRef reports whether err is go-git meeting an empty ref file.
func emptyRef(err error) bool { return errors.Is(err, dotgit.ErrEmptyRefFile) }
