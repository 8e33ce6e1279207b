package catalog

import (
	"testing"
)

// FuzzCursors feeds both cursors a client sends (changes and page) with
// anything: a cursor is either refused with an input error or understood,
// and an understood changes cursor writes back the same: one position, one
// cursor ("0.-0", "e.+1" and "e.01" are refused).
func FuzzCursors(f *testing.F) {
	for _, s := range []string{"", "0.0", "a1b2c3.42", "x.-1", "e.+1", "e.01", "..", "abc.99999999999999999999", "Y29tcG9uZW50OmRlZmF1bHQvYQ"} {
		f.Add(s)
	}
	snap := NewSnapshot(State{Epoch: "e", Seq: 3}, []Item{
		{Ref: "component:default/a", LocationKey: "paved:x", Entity: []byte(`{}`)},
		{Ref: "component:default/b", LocationKey: "paved:x", Entity: []byte(`{}`)},
	})
	f.Fuzz(func(t *testing.T, s string) {
		if epoch, seq, err := parseCursor(s); err == nil {
			if got := (State{Epoch: epoch, Seq: seq}).Cursor(); got != s {
				t.Fatalf("cursor %q reads as %q.%d and writes back as %q", s, epoch, seq, got)
			}
		}
		page, next, err := snap.Page(s, 1)
		if err == nil && (len(page) > 1 || (next != "" && len(page) == 0)) {
			t.Fatalf("page cursor %q gave %d items, next %q", s, len(page), next)
		}
	})
}
