package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// The four keys (DORA): changes (devex_deployments with their commit,
// healthy moment and failure) and incidents (devex_incidents), written from
// the facts of the application watch stream, and read per service, team or
// template.

// RecordAppFacts applies what one look at an application says, in one
// transaction. Every write is conditional on what the store holds (a change
// inserted once, a failure or healthy moment set once, one open incident per
// app, an incident closed once), so two replicas applying the same facts, or
// one applying them again after a restart, count everything once.
func (db *DB) RecordAppFacts(ctx context.Context, f devex.AppFacts) (devex.DORAChange, error) {
	var ch devex.DORAChange
	s := f.State
	if s.Key == "" || s.Service == "" {
		return ch, paved.Errorf(paved.EInvalid, "app facts need the app's key and service")
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return ch, fmt.Errorf("record app facts: %w", err)
	}
	defer tx.Rollback()
	q := db.dialect.Rebind
	fail := func(err error) (devex.DORAChange, error) {
		return devex.DORAChange{}, fmt.Errorf("record app facts %s: %w", s.Key, err)
	}

	if err := db.lockDORA(ctx, tx); err != nil {
		return fail(err)
	}
	// A team or template the app does not name comes from the catalog
	// component and from the app paved created.
	if s.Owner, s.TemplateRef, err = teamAndTemplate(ctx, tx, db.dialect, s.Service, s.Key, s.Owner, s.TemplateRef); err != nil {
		return fail(err)
	}
	// What the store has of this app's changes and incidents, as the four
	// keys count them: the per-period sums move by what this look changes.
	before, incidentsBefore, err := appDORA(ctx, tx, db.dialect, s.Key)
	if err != nil {
		return fail(err)
	}
	hasCommit := map[string]bool{}
	for id, c := range before {
		hasCommit[id] = c.hasCommit
	}
	changed := false

	fresh := map[string]bool{}
	var stored []storedDeployment
	for _, c := range f.Changes {
		if c.ID == "" || c.DeployedAt.IsZero() {
			continue
		}
		if _, known := hasCommit[c.ID]; !known {
			ok := 1
			if c.ID == devex.FailedChangeID(c.Revision) {
				ok = 0
			}
			res, err := tx.ExecContext(ctx, q(`
				INSERT INTO devex_deployments (app_key, deploy_id, service, environment, revision, succeeded, deployed_at, day, owner, template_ref)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_key, deploy_id) DO NOTHING`),
				s.Key, c.ID, s.Service, s.Environment, c.Revision, ok, db.dialect.Time(c.DeployedAt), devex.Day(c.DeployedAt), s.Owner, s.TemplateRef)
			if err != nil {
				return fail(err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				ch.Changes++
				fresh[c.ID] = true
				stored = append(stored, storedDeployment{s.Service, devex.Day(c.DeployedAt), ok == 1})
				changed = true
			}
		}
		if !hasCommit[c.ID] && c.Revision != "" && c.ID != devex.FailedChangeID(c.Revision) {
			ch.NeedCommit = append(ch.NeedCommit, devex.ChangeRef{AppKey: s.Key, DeployID: c.ID, Revision: c.Revision})
		}
	}
	// Changes stored before their team or template was known get it.
	for _, fill := range []struct{ col, value string }{{"owner", s.Owner}, {"template_ref", s.TemplateRef}} {
		if fill.value == "" {
			continue
		}
		res, err := tx.ExecContext(ctx, q(`UPDATE devex_deployments SET `+fill.col+` = ? WHERE app_key = ? AND `+fill.col+` = ''`), fill.value, s.Key)
		if err != nil {
			return fail(err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			changed = true
		}
	}
	for _, x := range f.Failures {
		res, err := tx.ExecContext(ctx, q(`UPDATE devex_deployments SET failure = ? WHERE app_key = ? AND deploy_id = ? AND failure = ''`),
			x.Reason, s.Key, x.DeployID)
		if err != nil {
			return fail(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			ch.Failed++
			changed = true
		}
	}
	if h := f.Healthy; h != nil {
		at := h.At
		if fresh[h.DeployID] {
			at = h.AtFirstSight
		}
		res, err := tx.ExecContext(ctx, q(`UPDATE devex_deployments SET healthy_at = ? WHERE app_key = ? AND deploy_id = ? AND healthy_at IS NULL`),
			db.dialect.Time(at), s.Key, h.DeployID)
		if err != nil {
			return fail(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			changed = true
		}
	}
	if d := f.Degraded; d != nil {
		res, err := tx.ExecContext(ctx, q(`
			INSERT INTO devex_incidents (app_key, incident_id, deploy_id, revision, service, owner, template_ref, environment, degraded_at, day)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
			s.Key, d.ID, d.DeployID, d.Revision, s.Service, s.Owner, s.TemplateRef, s.Environment, db.dialect.Time(d.DegradedAt), devex.Day(d.DegradedAt))
		if err != nil {
			return fail(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			ch.Opened++
			changed = true
		}
	}
	if !f.RestoredAt.IsZero() {
		var id string
		var degraded time.Time
		err := tx.QueryRowContext(ctx, q(`SELECT incident_id, degraded_at FROM devex_incidents WHERE app_key = ? AND restored_at IS NULL`), s.Key).
			Scan(&id, timeColumn{&degraded})
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return fail(err)
		case !f.RestoredAt.Before(degraded): // a Healthy from before the degradation restores nothing
			took := f.RestoredAt.Sub(degraded).Truncate(time.Millisecond)
			res, err := tx.ExecContext(ctx, q(`UPDATE devex_incidents SET restored_at = ?, restore_ms = ?
				WHERE app_key = ? AND incident_id = ? AND restored_at IS NULL`), db.dialect.Time(f.RestoredAt), took.Milliseconds(), s.Key, id)
			if err != nil {
				return fail(err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				ch.Restored = append(ch.Restored, took)
				changed = true
			}
		}
	}
	if err := db.applyDeploymentRollups(ctx, tx, stored); err != nil {
		return fail(err)
	}
	if changed {
		after, incidentsAfter, err := appDORA(ctx, tx, db.dialect, s.Key)
		if err != nil {
			return fail(err)
		}
		d := doraDeltas{}
		d.changes(changeValues(before), changeValues(after))
		d.incidents(incidentsBefore, incidentsAfter)
		if err := db.applyDORA(ctx, tx, d); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return ch, nil
}

// teamAndTemplate is owner, else the owner of the catalog component
// service, and template, else the template of the app paved created.
func teamAndTemplate(ctx context.Context, tx *sql.Tx, d Dialect, service, app, owner, template string) (string, string, error) {
	if owner == "" {
		err := tx.QueryRowContext(ctx, d.Rebind(`SELECT owner FROM devex_components WHERE entity_ref = ?`), service).Scan(&owner)
		if err != nil && err != sql.ErrNoRows {
			return "", "", err
		}
	}
	if template == "" {
		err := tx.QueryRowContext(ctx, d.Rebind(`SELECT template_ref FROM devex_apps WHERE app_key = ?`), app).Scan(&template)
		if err != nil && err != sql.ErrNoRows {
			return "", "", err
		}
	}
	return owner, template, nil
}

// SetCommitTime records when a change's revision was committed, once.
func (db *DB) SetCommitTime(ctx context.Context, c devex.ChangeRef, at time.Time) error {
	fail := func(err error) error { return fmt.Errorf("set commit time %s/%s: %w", c.AppKey, c.DeployID, err) }
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	if err := db.lockDORA(ctx, tx); err != nil {
		return fail(err)
	}
	change := func() ([]doraChange, error) {
		rows, err := tx.QueryContext(ctx, db.dialect.Rebind(`SELECT `+doraChangeColumns+` FROM devex_deployments WHERE app_key = ? AND deploy_id = ?`),
			c.AppKey, c.DeployID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []doraChange
		for rows.Next() {
			ch, err := scanDORAChange(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, ch)
		}
		return out, rows.Err()
	}
	before, err := change()
	if err != nil {
		return fail(err)
	}
	res, err := tx.ExecContext(ctx, db.dialect.Rebind(`UPDATE devex_deployments SET commit_at = ? WHERE app_key = ? AND deploy_id = ? AND commit_at IS NULL`),
		db.dialect.Time(at), c.AppKey, c.DeployID)
	if err != nil {
		return fail(err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		after, err := change()
		if err != nil {
			return fail(err)
		}
		d := doraDeltas{}
		d.changes(before, after)
		if err := db.applyDORA(ctx, tx, d); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}
