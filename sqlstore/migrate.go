package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// goSteps are the Go parts of migrations, run after the version's script in
// the same transaction: backfills that SQL cannot compute.
var goSteps = map[string]func(ctx context.Context, tx *sql.Tx, d Dialect) error{
	"0017_devex_durations":             backfillDurations,
	"0020_devex_dora_periods":          backfillDORAPeriods,
	"0022_devex_templates_deployments": backfillTemplatesDeployments,
	"0028_devex_period_users":          backfillPeriodUsers,
	"0025_devex_feedback_packs":        backfillFeedbackPacks,
	"0026_devex_dora_packs":            backfillDORAPacks,
}

// Migrate applies the *.sql files at the root of migrations, in the order of
// their names ("0001_init.sql", "0002_…"), that schema_migrations does not
// list yet. All pending files run in one transaction, so a failed start leaves
// the schema as it was; under PostgreSQL the transaction first takes an
// advisory lock, so replicas starting together migrate one after the other and
// the later ones find nothing left to do.
//
// Versions recorded in the database but unknown to migrations (a newer
// replica ran them) are left alone: migrations must keep the previous
// release working.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, migrations fs.FS) (err error) {
	files, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	sort.Strings(files)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrations: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return fmt.Errorf("migrations: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrations: create schema_migrations: %w", err)
	}

	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, file := range files {
		version := strings.TrimSuffix(path.Base(file), ".sql")
		if applied[version] {
			continue
		}
		script, err := fs.ReadFile(migrations, file)
		if err != nil {
			return fmt.Errorf("migration %s: %w", version, err)
		}
		if _, err := tx.ExecContext(ctx, string(script)); err != nil {
			return fmt.Errorf("migration %s: %w", version, err)
		}
		if step := goSteps[version]; step != nil {
			if err := step(ctx, tx, d); err != nil {
				return fmt.Errorf("migration %s: %w", version, err)
			}
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
			version, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("migration %s: record: %w", version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrations: commit: %w", err)
	}
	return nil
}

func appliedVersions(ctx context.Context, tx *sql.Tx) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	return applied, rows.Err()
}
