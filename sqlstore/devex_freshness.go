package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/paved-dev/paved/devex"
)

// Golden-path freshness (devex/freshness.go): template versions seen in runs
// and in the catalog, and the version each service was created from.

var _ devex.FreshnessStore = (*DB)(nil)

// keepFirstSeen keeps a version's earliest sighting.
const keepFirstSeen = ` ON CONFLICT (template_ref, version) DO UPDATE SET first_seen_at = CASE
	WHEN excluded.first_seen_at < devex_template_versions.first_seen_at THEN excluded.first_seen_at
	ELSE devex_template_versions.first_seen_at END`

type versionKey struct{ template, version string }

// freshnessGeneration names the generation of what freshness derives from.
const freshnessGeneration = "freshness"

// bumpGeneration moves a derived answer's generation on, in the transaction
// (or statement) that changes what it derives from.
func (db *DB) bumpGeneration(ctx context.Context, ex interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, name string) error {
	_, err := ex.ExecContext(ctx, db.dialect.Rebind(`INSERT INTO devex_generations (name, gen) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET gen = devex_generations.gen + 1`), name)
	return err
}

// FreshnessGeneration returns the generation of the service versions,
// template versions and components freshness reads: it changes with every
// write to them, on any replica.
func (db *DB) FreshnessGeneration(ctx context.Context) (int64, error) {
	var gen int64
	err := db.queryRow(ctx, `SELECT gen FROM devex_generations WHERE name = ?`, freshnessGeneration).Scan(&gen)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("freshness generation: %w", err)
	}
	return gen, nil
}

// insertTemplateVersions records versions first seen at the given times,
// keeping the earliest time of each.
func (db *DB) insertTemplateVersions(ctx context.Context, tx *sql.Tx, seen map[versionKey]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(seen))
	for k, at := range seen {
		args = append(args, k.template, k.version, db.dialect.Time(at))
	}
	return db.insertRows(ctx, tx, `INSERT INTO devex_template_versions (template_ref, version, first_seen_at) VALUES `, keepFirstSeen, 3, args)
}

// recordRunVersions is part of UpsertRuns: it records the template versions
// of runs, and the version of the entity each succeeded run among finished
// registered, in the runs' transaction.
func (db *DB) recordRunVersions(ctx context.Context, tx *sql.Tx, runs []dayRun, finished []devex.Run) error {
	seen := map[versionKey]time.Time{}
	for _, w := range runs {
		if w.TemplateVersion == "" {
			continue
		}
		k := versionKey{strings.ToLower(w.TemplateRef), w.TemplateVersion}
		if at, ok := seen[k]; !ok || w.CreatedAt.Before(at) {
			seen[k] = w.CreatedAt
		}
	}
	if len(seen) == 0 {
		return nil // no run of a known version: nothing freshness reads
	}
	if err := db.bumpGeneration(ctx, tx, freshnessGeneration); err != nil {
		return fmt.Errorf("template versions: %w", err)
	}
	if err := db.insertTemplateVersions(ctx, tx, seen); err != nil {
		return fmt.Errorf("template versions: %w", err)
	}
	latest := map[string]devex.Run{}
	for _, r := range finished {
		if r.Status != devex.TaskCompleted || r.EntityRef == "" || r.TemplateVersion == "" {
			continue
		}
		ref := strings.ToLower(r.EntityRef)
		if old, ok := latest[ref]; !ok || !r.CreatedAt.Before(old.CreatedAt) {
			latest[ref] = r
		}
	}
	if len(latest) == 0 {
		return nil
	}
	args := make([]any, 0, 6*len(latest))
	for ref, r := range latest {
		args = append(args, ref, strings.ToLower(r.TemplateRef), r.Owner, r.TemplateVersion, r.TaskID, db.dialect.Time(r.CreatedAt))
	}
	// A service made again by a later run takes that run's version; an older
	// run reported late does not undo it.
	if err := db.insertRows(ctx, tx, `INSERT INTO devex_service_versions (entity_ref, template_ref, owner, version, task_id, created_at) VALUES `, `
		ON CONFLICT (entity_ref) DO UPDATE SET template_ref = excluded.template_ref, owner = excluded.owner,
			version = excluded.version, task_id = excluded.task_id, created_at = excluded.created_at
		WHERE excluded.created_at >= devex_service_versions.created_at`, 6, args); err != nil {
		return fmt.Errorf("service versions: %w", err)
	}
	return nil
}

// SyncTemplateVersions stores the catalog's templates and their versions as
// current at at; templates the catalog no longer lists have no current
// version any more.
func (db *DB) SyncTemplateVersions(ctx context.Context, current []devex.TemplateVersion, at time.Time) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sync template versions: %w", err)
	}
	defer tx.Rollback()
	seen := map[versionKey]time.Time{}
	now := map[string]string{}
	for _, v := range current {
		if v.TemplateRef == "" || v.Version == "" {
			continue
		}
		ref := strings.ToLower(v.TemplateRef)
		seen[versionKey{ref, v.Version}] = at
		now[ref] = v.Version
	}
	if err := db.bumpGeneration(ctx, tx, freshnessGeneration); err != nil {
		return fmt.Errorf("sync template versions: %w", err)
	}
	if err := db.insertTemplateVersions(ctx, tx, seen); err != nil {
		return fmt.Errorf("sync template versions: %w", err)
	}
	ts := db.dialect.Time(at)
	args := make([]any, 0, 3*len(now))
	for ref, version := range now {
		args = append(args, ref, version, ts)
	}
	if len(args) > 0 {
		if err := db.insertRows(ctx, tx, `INSERT INTO devex_template_current (template_ref, version, seen_at) VALUES `, `
			ON CONFLICT (template_ref) DO UPDATE SET version = excluded.version, seen_at = excluded.seen_at`, 3, args); err != nil {
			return fmt.Errorf("sync template versions: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, db.dialect.Rebind(`DELETE FROM devex_template_current WHERE seen_at < ?`), ts); err != nil {
		return fmt.Errorf("sync template versions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sync template versions: %w", err)
	}
	return nil
}

// TemplateVersions returns the versions of every template (of template,
// when not ""), in the order they were first seen.
func (db *DB) TemplateVersions(ctx context.Context, template string) ([]devex.TemplateVersion, error) {
	q := `SELECT v.template_ref, v.version, v.first_seen_at, c.seen_at
		FROM devex_template_versions v
		LEFT JOIN devex_template_current c ON c.template_ref = v.template_ref AND c.version = v.version`
	var args []any
	if template != "" {
		q += ` WHERE v.template_ref = ?`
		args = append(args, strings.ToLower(template))
	}
	return queryList(ctx, db, "template versions", q+` ORDER BY v.template_ref, v.first_seen_at, v.version`, func(row rowScanner) (devex.TemplateVersion, error) {
		var v devex.TemplateVersion
		err := row.Scan(&v.TemplateRef, &v.Version, timeColumn{&v.FirstSeen}, timeColumn{&v.ListedAt})
		v.Current = !v.ListedAt.IsZero()
		return v, err
	}, args...)
}

// ServiceVersions returns the version each service was created from (of
// owner and template, when not ""), but for services the catalog removed;
// the owner is the component's in the catalog, else the run's.
func (db *DB) ServiceVersions(ctx context.Context, owner, template string) ([]devex.ServiceVersion, error) {
	const ownerExpr = `COALESCE(NULLIF(c.owner, ''), s.owner)`
	q := `SELECT s.entity_ref, s.template_ref, ` + ownerExpr + `, s.version, s.task_id, s.created_at
		FROM devex_service_versions s LEFT JOIN devex_components c ON c.entity_ref = s.entity_ref
		WHERE c.removed_at IS NULL`
	var args []any
	if owner != "" {
		q += ` AND ` + ownerExpr + ` = ?`
		args = append(args, owner)
	}
	if template != "" {
		q += ` AND s.template_ref = ?`
		args = append(args, strings.ToLower(template))
	}
	return queryList(ctx, db, "service versions", q+` ORDER BY s.entity_ref`, func(row rowScanner) (devex.ServiceVersion, error) {
		var s devex.ServiceVersion
		err := row.Scan(&s.Service, &s.TemplateRef, &s.Owner, &s.Version, &s.TaskID, timeColumn{&s.CreatedAt})
		return s, err
	}, args...)
}
