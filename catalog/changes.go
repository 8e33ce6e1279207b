package catalog

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/paved-dev/paved"
)

// Op is what happened to an entity.
type Op string

// The operations of the change log.
const (
	OpAdded   Op = "added"
	OpUpdated Op = "updated"
	OpRemoved Op = "removed"
)

// Change is one entry of the change log.
type Change struct {
	Seq         int64
	Op          Op
	EntityRef   string
	LocationKey string
	Entity      json.RawMessage // nil when removed
	At          time.Time
}

var errBadPageCursor = paved.Errorf(paved.EInvalid, "cursor is not a page cursor from a previous response")

// Cursor is the change-log position as clients see it: "<epoch>.<seq>".
func (s State) Cursor() string {
	if s.Epoch == "" {
		return "0.0"
	}
	return s.Epoch + "." + strconv.FormatInt(s.Seq, 10)
}

// parseCursor reads a changes cursor, exactly as Cursor writes it: the
// sequence in plain decimal digits (no sign, no leading zero), so that one
// position has one cursor.
func parseCursor(c string) (epoch string, seq int64, err error) {
	epoch, n, ok := strings.Cut(c, ".")
	if ok {
		seq, err = strconv.ParseInt(n, 10, 64)
		ok = err == nil && n == strconv.FormatInt(seq, 10)
	}
	if !ok || err != nil || seq < 0 || epoch == "" {
		return "", 0, paved.InvalidFields(paved.FieldError{Field: "cursor", Message: "is not a cursor from a previous response"})
	}
	return epoch, seq, nil
}

// Provided is an entity with its location key, as the TypeScript provider
// hands it to applyMutation.
type Provided struct {
	Entity      json.RawMessage `json:"entity"`
	LocationKey string          `json:"locationKey"`
}

// Removed names an entity to remove.
type Removed struct {
	EntityRef   string `json:"entityRef"`
	LocationKey string `json:"locationKey"`
}

// ChangeSet is the answer of the changes endpoint. Reset means the cursor is
// unknown or too old: the client applies a full snapshot and continues from
// Cursor.
type ChangeSet struct {
	Cursor  string     `json:"cursor"`
	Added   []Provided `json:"added"`
	Updated []Provided `json:"updated"`
	Removed []Removed  `json:"removed"`
	Reset   bool       `json:"reset"`
}

// coalesce folds a run of changes into one change set: only the last state
// of each (entity, location key) pair counts, and an entity that appeared in
// the run is "added" even if it was updated after.
func coalesce(changes []Change) ChangeSet {
	type pair struct{ ref, key string }
	type fold struct {
		first, last Op
		entity      json.RawMessage
		order       int
	}
	folds := map[pair]*fold{}
	var order []pair
	for _, c := range changes {
		p := pair{c.EntityRef, c.LocationKey}
		f := folds[p]
		if f == nil {
			f = &fold{first: c.Op}
			folds[p] = f
			order = append(order, p)
		}
		f.last, f.entity = c.Op, c.Entity
	}
	cs := ChangeSet{Added: []Provided{}, Updated: []Provided{}, Removed: []Removed{}}
	for _, p := range order {
		f := folds[p]
		switch {
		case f.last == OpRemoved:
			cs.Removed = append(cs.Removed, Removed{EntityRef: p.ref, LocationKey: p.key})
		case f.first == OpUpdated:
			cs.Updated = append(cs.Updated, Provided{Entity: f.entity, LocationKey: p.key})
		default:
			cs.Added = append(cs.Added, Provided{Entity: f.entity, LocationKey: p.key})
		}
	}
	return cs
}

// ErrStale is returned by a Store when the change log moved on since the
// state a refresh started from: another replica refreshed meanwhile.
var ErrStale = errors.New("catalog: the change log moved on since this refresh began")
