package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/catalog"
)

var _ catalog.Store = (*DB)(nil)

// catalogBatch is how many rows one INSERT carries: few round trips for a
// first snapshot of thousands of entities, few enough placeholders for
// either engine.
const catalogBatch = 200

// CatalogState returns the head of the catalog's change log, or the zero
// State when no refresh was stored yet.
func (db *DB) CatalogState(ctx context.Context) (catalog.State, error) {
	st, err := catalogState(ctx, db.db, db.dialect)
	if err != nil {
		return catalog.State{}, fmt.Errorf("catalog state: %w", err)
	}
	return st, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func catalogState(ctx context.Context, q queryer, d Dialect) (catalog.State, error) {
	var st catalog.State
	err := q.QueryRowContext(ctx, d.Rebind(`SELECT epoch, seq, pruned_seq FROM catalog_state WHERE id = 1`)).
		Scan(&st.Epoch, &st.Seq, &st.PrunedSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.State{}, nil
	}
	return st, err
}

// CatalogEntities returns every stored entity and the state they are at. The
// state is read before and after the entities and the read is repeated when
// a refresh committed in between, so the two always match.
func (db *DB) CatalogEntities(ctx context.Context) (catalog.State, []catalog.Item, error) {
	for attempt := 0; ; attempt++ {
		before, err := db.CatalogState(ctx)
		if err != nil {
			return catalog.State{}, nil, err
		}
		items, err := db.catalogItems(ctx)
		if err != nil {
			return catalog.State{}, nil, err
		}
		after, err := db.CatalogState(ctx)
		if err != nil {
			return catalog.State{}, nil, err
		}
		if before == after {
			return after, items, nil
		}
		if attempt == 5 {
			return catalog.State{}, nil, paved.Errorf(paved.EUnavailable, "catalog entities: the catalog kept changing while being read")
		}
	}
}

func (db *DB) catalogItems(ctx context.Context) ([]catalog.Item, error) {
	rows, err := db.query(ctx, `SELECT entity_ref, location_key, body FROM catalog_entities ORDER BY entity_ref`)
	if err != nil {
		return nil, fmt.Errorf("catalog entities: %w", err)
	}
	defer rows.Close()
	var items []catalog.Item
	for rows.Next() {
		var it catalog.Item
		var body []byte
		if err := rows.Scan(&it.Ref, &it.LocationKey, &body); err != nil {
			return nil, fmt.Errorf("catalog entities: %w", err)
		}
		it.Entity = body
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog entities: %w", err)
	}
	return items, nil
}

// ApplyCatalogChanges appends changes to the log, numbered after base.Seq,
// and applies them to the stored entities, in one transaction. It returns
// catalog.ErrStale, and changes nothing, when the head is no longer base: the
// state row is updated first, so of two writers the second waits for the
// first and then finds the head moved. changes hold each entity ref at most
// once as a removal and once as an addition or update, a removal first (as
// catalog.Diff returns them). The first call on an empty store starts the
// change log with a new epoch, even with no changes.
func (db *DB) ApplyCatalogChanges(ctx context.Context, base catalog.State, changes []catalog.Change) (st catalog.State, err error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	d := db.dialect
	at := now()
	if base.Epoch == "" {
		if _, err := tx.ExecContext(ctx, d.Rebind(`
			INSERT INTO catalog_state (id, epoch, seq, pruned_seq, updated_at) VALUES (1, ?, 0, 0, ?)
			ON CONFLICT (id) DO NOTHING`), newEpoch(), d.Time(at)); err != nil {
			return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
		}
		cur, err := catalogState(ctx, tx, d)
		if err != nil {
			return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
		}
		base.Epoch = cur.Epoch
	}
	next := base.Seq + int64(len(changes))
	res, err := tx.ExecContext(ctx, d.Rebind(`
		UPDATE catalog_state SET seq = ?, updated_at = ? WHERE id = 1 AND epoch = ? AND seq = ?`),
		next, d.Time(at), base.Epoch, base.Seq)
	if err != nil {
		return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
	} else if n != 1 {
		return catalog.State{}, catalog.ErrStale
	}

	changes = slices.Clone(changes)
	var removed []catalog.Change
	upserts := make([]catalog.Change, 0, len(changes))
	for i := range changes {
		changes[i].Seq = base.Seq + int64(i) + 1
		c := changes[i]
		switch c.Op {
		case catalog.OpRemoved:
			removed = append(removed, c)
		case catalog.OpAdded, catalog.OpUpdated:
			upserts = append(upserts, c)
		default:
			return catalog.State{}, paved.Errorf(paved.EInvalid, "apply catalog changes: unknown op %q", c.Op)
		}
	}
	for _, c := range removed {
		if _, err := tx.ExecContext(ctx, d.Rebind(`DELETE FROM catalog_entities WHERE entity_ref = ? AND location_key = ?`),
			c.EntityRef, c.LocationKey); err != nil {
			return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
		}
	}
	err = batches(upserts, func(batch []catalog.Change) error {
		args := make([]any, 0, 4*len(batch))
		for _, c := range batch {
			args = append(args, c.EntityRef, c.LocationKey, string(c.Entity), c.Seq)
		}
		_, err := tx.ExecContext(ctx, d.Rebind(`
			INSERT INTO catalog_entities (entity_ref, location_key, body, seq) VALUES `+values(len(batch), 4)+`
			ON CONFLICT (entity_ref) DO UPDATE
			SET location_key = excluded.location_key, body = excluded.body, seq = excluded.seq`), args...)
		return err
	})
	if err != nil {
		return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
	}
	err = batches(changes, func(batch []catalog.Change) error {
		args := make([]any, 0, 6*len(batch))
		for _, c := range batch {
			var body any // NULL for a removal
			if c.Op != catalog.OpRemoved {
				body = string(c.Entity)
			}
			args = append(args, c.Seq, string(c.Op), c.EntityRef, c.LocationKey, body, d.Time(at))
		}
		_, err := tx.ExecContext(ctx, d.Rebind(`
			INSERT INTO catalog_changes (seq, op, entity_ref, location_key, body, changed_at) VALUES `+values(len(batch), 6)), args...)
		return err
	})
	if err != nil {
		return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
	}
	st, err = catalogState(ctx, tx, d)
	if err != nil {
		return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return catalog.State{}, fmt.Errorf("apply catalog changes: %w", err)
	}
	return st, nil
}

func batches[T any](all []T, f func([]T) error) error {
	for len(all) > 0 {
		n := min(len(all), catalogBatch)
		if err := f(all[:n]); err != nil {
			return err
		}
		all = all[n:]
	}
	return nil
}

// values returns "(?, ?), (?, ?)" for rows rows of cols columns.
func values(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", rows-1) + row
}

// CatalogChanges returns up to limit changes after seq, oldest first.
func (db *DB) CatalogChanges(ctx context.Context, after int64, limit int) ([]catalog.Change, error) {
	rows, err := db.query(ctx, `
		SELECT seq, op, entity_ref, location_key, body, changed_at FROM catalog_changes
		WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog changes: %w", err)
	}
	defer rows.Close()
	var out []catalog.Change
	for rows.Next() {
		var c catalog.Change
		var op string
		var body []byte
		if err := rows.Scan(&c.Seq, &op, &c.EntityRef, &c.LocationKey, &body, timeColumn{&c.At}); err != nil {
			return nil, fmt.Errorf("catalog changes: %w", err)
		}
		c.Op = catalog.Op(op)
		if body != nil {
			c.Entity = body
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog changes: %w", err)
	}
	return out, nil
}

// PruneCatalogChanges forgets the changes up to and including through;
// cursors older than that get a reset.
func (db *DB) PruneCatalogChanges(ctx context.Context, through int64) (err error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("prune catalog changes: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	d := db.dialect
	if _, err := tx.ExecContext(ctx, d.Rebind(`DELETE FROM catalog_changes WHERE seq <= ?`), through); err != nil {
		return fmt.Errorf("prune catalog changes: %w", err)
	}
	if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE catalog_state SET pruned_seq = ? WHERE id = 1 AND pruned_seq < ?`), through, through); err != nil {
		return fmt.Errorf("prune catalog changes: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("prune catalog changes: %w", err)
	}
	return nil
}

// newEpoch names a new change log.
func newEpoch() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
