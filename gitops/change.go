package gitops

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/paved-dev/paved"
)

// A Change as a commit: the tree it writes, and the rules on its paths and
// branch names.

// commit writes ch on top of base and returns the new commit; changed is
// false (and the commit is base) when the tree would not change.
func (r *Repo) commit(base plumbing.Hash, ch Change) (plumbing.Hash, bool, error) {
	st := r.repo.Storer
	var baseTree *object.Tree
	if !base.IsZero() {
		c, err := object.GetCommit(st, base)
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("gitops: base commit: %w", err)
		}
		if baseTree, err = c.Tree(); err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("gitops: base tree: %w", err)
		}
	}
	edits := map[string]*[]byte{}
	for p, data := range ch.Write {
		edits[cleanPath(p)] = &data
	}
	for _, p := range ch.Delete {
		edits[cleanPath(p)] = nil
	}
	treeHash, _, err := writeTree(st, baseTree, edits)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	if baseTree != nil && treeHash == baseTree.Hash {
		return base, false, nil
	}
	when := r.cfg.Now()
	sig := object.Signature{Name: r.cfg.AuthorName, Email: r.cfg.AuthorEmail, When: when}
	c := &object.Commit{Author: sig, Committer: sig, Message: ch.Message, TreeHash: treeHash}
	if !base.IsZero() {
		c.ParentHashes = []plumbing.Hash{base}
	}
	obj := st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, false, err
	}
	h, err := st.SetEncodedObject(obj)
	return h, true, err
}

func checkChange(ch Change) error {
	var bad []paved.FieldError
	if strings.TrimSpace(ch.Message) == "" {
		bad = append(bad, paved.FieldError{Field: "message", Message: "is required"})
	}
	if len(ch.Write) == 0 && len(ch.Delete) == 0 {
		bad = append(bad, paved.FieldError{Field: "write", Message: "a change must write or delete something"})
	}
	for p := range ch.Write {
		if !validPath(p) {
			bad = append(bad, paved.FieldError{Field: "write." + p, Message: "is not a clean relative path"})
		}
	}
	for _, p := range ch.Delete {
		if !validPath(p) {
			bad = append(bad, paved.FieldError{Field: "delete." + p, Message: "is not a clean relative path"})
		}
		if _, ok := ch.Write[p]; ok {
			bad = append(bad, paved.FieldError{Field: "delete." + p, Message: "is also written"})
		}
	}
	if ch.ReviewBranch != "" && !validRefName(ch.ReviewBranch) {
		bad = append(bad, paved.FieldError{Field: "reviewBranch", Message: "is not a valid branch name"})
	}
	if len(bad) > 0 {
		return paved.InvalidFields(bad...)
	}
	return nil
}

func cleanPath(p string) string { return path.Clean(strings.TrimPrefix(p, "/")) }

// validPath accepts relative slash paths that stay inside the repository and
// never touch .git.
func validPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") || path.Clean(p) != p {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." || strings.EqualFold(part, ".git") {
			return false
		}
	}
	return true
}

// validRefName is a conservative subset of git check-ref-format.
func validRefName(b string) bool {
	if b == "" || len(b) > 200 || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") || strings.HasPrefix(b, "-") {
		return false
	}
	for _, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/'
		if !ok {
			return false
		}
	}
	return true
}

// NewBranchName returns prefix/name-<random>, a review branch name that does
// not collide with an earlier one for the same resource.
func NewBranchName(prefix, name string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strings.Trim(prefix, "/") + "/" + name + "-" + hex.EncodeToString(b[:])
}
