package gitops

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// writeTree stores the tree that base becomes after edits (path → new
// content, or nil to delete a file or directory) and returns its hash and
// number of entries. Only the directories on an edited path are rewritten;
// every other subtree keeps its hash.
func writeTree(st storer.EncodedObjectStorer, base *object.Tree, edits map[string]*[]byte) (plumbing.Hash, int, error) {
	entries := map[string]object.TreeEntry{}
	if base != nil {
		for _, e := range base.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string]map[string]*[]byte{}
	for p, data := range edits {
		dir, rest, nested := strings.Cut(p, "/")
		if nested {
			if sub[dir] == nil {
				sub[dir] = map[string]*[]byte{}
			}
			sub[dir][rest] = data
			continue
		}
		if data == nil {
			delete(entries, p)
			continue
		}
		h, err := writeBlob(st, *data)
		if err != nil {
			return plumbing.ZeroHash, 0, err
		}
		entries[p] = object.TreeEntry{Name: p, Mode: filemode.Regular, Hash: h}
	}
	for dir, dirEdits := range sub {
		var child *object.Tree
		if e, ok := entries[dir]; ok && e.Mode == filemode.Dir {
			t, err := object.GetTree(st, e.Hash)
			if err != nil {
				return plumbing.ZeroHash, 0, fmt.Errorf("gitops: tree %s: %w", dir, err)
			}
			child = t
		}
		h, n, err := writeTree(st, child, dirEdits)
		if err != nil {
			return plumbing.ZeroHash, 0, err
		}
		if n == 0 {
			delete(entries, dir) // git has no empty directories
			continue
		}
		entries[dir] = object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h}
	}
	t := &object.Tree{Entries: make([]object.TreeEntry, 0, len(entries))}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	sort.Sort(object.TreeEntrySorter(t.Entries))
	obj := st.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, 0, err
	}
	h, err := st.SetEncodedObject(obj)
	return h, len(t.Entries), err
}

func writeBlob(st storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
	obj := st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(obj)
}
