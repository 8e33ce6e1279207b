package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/paved-dev/paved/costs"
)

var _ costs.Store = (*DB)(nil)

const costColumns = `resource_id, kind, name, team, monthly, currency, started_at, ended_at`

// OpenCost adds a ledger entry; one for the same resource stays as it is.
func (db *DB) OpenCost(ctx context.Context, e costs.Entry) error {
	if e.StartedAt.IsZero() {
		e.StartedAt = now()
	}
	_, err := db.exec(ctx, `INSERT INTO infra_costs (`+costColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (resource_id) DO NOTHING`,
		e.ResourceID, e.Kind, e.Name, e.Team, e.Monthly, e.Currency, db.dialect.Time(e.StartedAt), db.dialect.Time(e.EndedAt))
	if err != nil {
		return fmt.Errorf("open cost entry: %w", err)
	}
	return nil
}

// DiscardCost removes a resource's entry.
func (db *DB) DiscardCost(ctx context.Context, resourceID string) error {
	if _, err := db.exec(ctx, `DELETE FROM infra_costs WHERE resource_id = ?`, resourceID); err != nil {
		return fmt.Errorf("discard cost entry: %w", err)
	}
	return nil
}

// CloseCost ends a resource's entry at at, once.
func (db *DB) CloseCost(ctx context.Context, resourceID string, at time.Time) error {
	if _, err := db.exec(ctx, `UPDATE infra_costs SET ended_at = ? WHERE resource_id = ? AND ended_at IS NULL`,
		db.dialect.Time(at), resourceID); err != nil {
		return fmt.Errorf("close cost entry: %w", err)
	}
	return nil
}

// OpenCosts returns the entries of resources alive now.
func (db *DB) OpenCosts(ctx context.Context) ([]costs.Entry, error) {
	return db.costEntries(ctx, `WHERE ended_at IS NULL ORDER BY team, kind, name`)
}

// CostEntries returns the entries alive at some time in [from, to).
func (db *DB) CostEntries(ctx context.Context, from, to time.Time) ([]costs.Entry, error) {
	return db.costEntries(ctx, `WHERE started_at < ? AND (ended_at IS NULL OR ended_at > ?) ORDER BY team, kind, name`,
		db.dialect.Time(to), db.dialect.Time(from))
}

// ReconcileCosts closes, at at, the open entries whose resource is no longer
// stored (a replica died between the teardown and the ledger), and returns
// how many it closed.
func (db *DB) ReconcileCosts(ctx context.Context, at time.Time) (int64, error) {
	res, err := db.exec(ctx, `UPDATE infra_costs SET ended_at = ?
		WHERE ended_at IS NULL AND NOT EXISTS (SELECT 1 FROM infra_resources r WHERE r.id = infra_costs.resource_id)`,
		db.dialect.Time(at))
	if err != nil {
		return 0, fmt.Errorf("reconcile costs: %w", err)
	}
	return res.RowsAffected()
}

func (db *DB) costEntries(ctx context.Context, tail string, args ...any) ([]costs.Entry, error) {
	rows, err := db.query(ctx, `SELECT `+costColumns+` FROM infra_costs `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("list cost entries: %w", err)
	}
	defer rows.Close()
	var out []costs.Entry
	for rows.Next() {
		var e costs.Entry
		if err := rows.Scan(&e.ResourceID, &e.Kind, &e.Name, &e.Team, &e.Monthly, &e.Currency,
			timeColumn{&e.StartedAt}, timeColumn{&e.EndedAt}); err != nil {
			return nil, fmt.Errorf("list cost entries: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
