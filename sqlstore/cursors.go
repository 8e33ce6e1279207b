package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/paved-dev/paved"
)

// GetCursor returns the value a background collector saved under name, or ""
// when it saved none.
func (db *DB) GetCursor(ctx context.Context, name string) (string, error) {
	var value string
	err := db.queryRow(ctx, `SELECT value FROM cursors WHERE name = ?`, name).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get cursor %q: %w", name, err)
	}
	return value, nil
}

// SetCursor saves value under name, replacing the value saved before.
func (db *DB) SetCursor(ctx context.Context, name, value string) error {
	if name == "" {
		return paved.Errorf(paved.EInvalid, "set cursor: the name is required")
	}
	_, err := db.exec(ctx, `
		INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, db.dialect.Time(now()))
	if err != nil {
		return fmt.Errorf("set cursor %q: %w", name, err)
	}
	return nil
}
