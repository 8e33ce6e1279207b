package catalog

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Item is one entity of a snapshot, encoded once when the snapshot is built
// so that serving a page copies bytes instead of encoding again.
type Item struct {
	Ref         string          // canonical entity ref
	LocationKey string          // "paved:<instance>" or LocationKeyInfra
	Entity      json.RawMessage // the entity as JSON
}

// State is a position in the change log: the epoch names one change log (a
// new database starts a new one, so old cursors cannot match it by accident),
// Seq is the last change applied, and changes up to PrunedSeq are gone.
type State struct {
	Epoch     string
	Seq       int64
	PrunedSeq int64
}

// Snapshot is an immutable set of entities, sorted by ref. Readers hold one
// while a refresh builds the next; the swap is one pointer store.
type Snapshot struct {
	State State
	// ETag is a strong ETag of the whole set: the same entities give the
	// same ETag on every replica.
	ETag  string
	items []Item
	byRef map[string]int
}

// NewSnapshot sorts items by ref and computes the ETag. It takes ownership
// of items.
func NewSnapshot(state State, items []Item) *Snapshot {
	if !slices.IsSortedFunc(items, func(a, b Item) int { return strings.Compare(a.Ref, b.Ref) }) {
		slices.SortFunc(items, func(a, b Item) int { return strings.Compare(a.Ref, b.Ref) })
	}
	h := sha256.New()
	byRef := make(map[string]int, len(items))
	for i, it := range items {
		byRef[it.Ref] = i
		h.Write([]byte(it.LocationKey))
		h.Write([]byte{0})
		h.Write(it.Entity)
		h.Write([]byte{0})
	}
	return &Snapshot{
		State: state,
		ETag:  `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`,
		items: items,
		byRef: byRef,
	}
}

// Len is the number of entities.
func (s *Snapshot) Len() int { return len(s.items) }

// Items returns the entities, sorted by ref. The slice must not be modified.
func (s *Snapshot) Items() []Item { return s.items }

// Get returns the entity with the given canonical ref.
func (s *Snapshot) Get(ref string) (Item, bool) {
	i, ok := s.byRef[ref]
	if !ok {
		return Item{}, false
	}
	return s.items[i], true
}

// Page returns up to limit entities after the page cursor (from a previous
// Page; "" is the start) and the cursor of the next page, "" at the end. The
// cursor is the last ref returned, so paging stays correct when a refresh
// swaps the snapshot between two pages.
func (s *Snapshot) Page(cursor string, limit int) ([]Item, string, error) {
	start := 0
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(raw) == 0 {
			return nil, "", errBadPageCursor
		}
		after := string(raw)
		start = sort.Search(len(s.items), func(i int) bool { return s.items[i].Ref > after })
	}
	end := len(s.items)
	if limit > 0 && start+limit < end {
		end = start + limit
	}
	page := s.items[start:end]
	next := ""
	if end < len(s.items) && len(page) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].Ref))
	}
	return page, next, nil
}

// WritePage writes the entities response body for a page to w:
// {"items":[{"entity":…,"locationKey":…}],"nextCursor":…,"changesCursor":…,"totalItems":…}.
// It streams the stored bytes, so serving 10,000 entities holds no second
// copy of them in memory.
func (s *Snapshot) WritePage(w io.Writer, page []Item, next string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var scratch []byte
	bw.WriteString(`{"items":[`)
	for i, it := range page {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(`{"entity":`)
		bw.Write(it.Entity)
		bw.WriteString(`,"locationKey":`)
		scratch = appendString(scratch[:0], it.LocationKey)
		bw.Write(scratch)
		bw.WriteByte('}')
	}
	bw.WriteByte(']')
	if next != "" {
		bw.WriteString(`,"nextCursor":`)
		bw.Write(appendString(scratch[:0], next))
	}
	bw.WriteString(`,"changesCursor":`)
	bw.Write(appendString(scratch[:0], s.State.Cursor()))
	bw.WriteString(`,"totalItems":`)
	bw.WriteString(strconv.Itoa(len(s.items)))
	bw.WriteByte('}')
	return bw.Flush()
}

// WriteYAML writes the entities to w as a multi-document YAML stream. Each
// document is the entity's JSON, which is YAML too (YAML 1.2 is a superset
// of JSON): the bytes are the ones the JSON route serves, so the two can
// never disagree, and producing them costs a copy.
func (s *Snapshot) WriteYAML(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("# Backstage entities provided by paved; every document is one entity.\n")
	for _, it := range s.items {
		bw.WriteString("---\n")
		bw.Write(it.Entity)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// Diff returns the changes that turn old into next, sorted by ref: an entity
// that moved to another location key is removed from the old key and added
// under the new one, as Backstage only lets the key that holds an entity
// change it.
func Diff(old, next *Snapshot) []Change {
	var out []Change
	var oldItems []Item
	if old != nil {
		oldItems = old.items
	}
	i, j := 0, 0
	for i < len(oldItems) || j < len(next.items) {
		switch {
		case j == len(next.items) || (i < len(oldItems) && oldItems[i].Ref < next.items[j].Ref):
			o := oldItems[i]
			out = append(out, Change{Op: OpRemoved, EntityRef: o.Ref, LocationKey: o.LocationKey})
			i++
		case i == len(oldItems) || next.items[j].Ref < oldItems[i].Ref:
			n := next.items[j]
			out = append(out, Change{Op: OpAdded, EntityRef: n.Ref, LocationKey: n.LocationKey, Entity: n.Entity})
			j++
		default:
			o, n := oldItems[i], next.items[j]
			switch {
			case o.LocationKey != n.LocationKey:
				out = append(out,
					Change{Op: OpRemoved, EntityRef: o.Ref, LocationKey: o.LocationKey},
					Change{Op: OpAdded, EntityRef: n.Ref, LocationKey: n.LocationKey, Entity: n.Entity})
			case !bytes.Equal(o.Entity, n.Entity):
				out = append(out, Change{Op: OpUpdated, EntityRef: n.Ref, LocationKey: n.LocationKey, Entity: n.Entity})
			}
			i++
			j++
		}
	}
	return out
}

// Apply returns the items of s with changes applied, for a replica that
// follows the change log instead of rebuilding.
func (s *Snapshot) Apply(changes []Change) []Item {
	m := make(map[string]Item, len(s.items)+len(changes))
	for _, it := range s.items {
		m[it.Ref] = it
	}
	for _, c := range changes {
		if c.Op == OpRemoved {
			if it, ok := m[c.EntityRef]; ok && it.LocationKey == c.LocationKey {
				delete(m, c.EntityRef)
			}
			continue
		}
		m[c.EntityRef] = Item{Ref: c.EntityRef, LocationKey: c.LocationKey, Entity: c.Entity}
	}
	items := make([]Item, 0, len(m))
	for _, it := range m {
		items = append(items, it)
	}
	return items
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}
