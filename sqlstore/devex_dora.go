package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
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

	// What the store has of this app's changes: whether it knows each, and
	// whether it knows its commit time.
	hasCommit := map[string]bool{}
	rows, err := tx.QueryContext(ctx, q(`SELECT deploy_id, commit_at FROM devex_deployments WHERE app_key = ?`), s.Key)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var id string
		var commit time.Time
		if err := rows.Scan(&id, timeColumn{&commit}); err != nil {
			rows.Close()
			return fail(err)
		}
		hasCommit[id] = !commit.IsZero()
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}

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
			}
		}
		if !hasCommit[c.ID] && c.Revision != "" && c.ID != devex.FailedChangeID(c.Revision) {
			ch.NeedCommit = append(ch.NeedCommit, devex.ChangeRef{AppKey: s.Key, DeployID: c.ID, Revision: c.Revision})
		}
	}
	// Changes the collector's poll stored first lack their team and template.
	if s.Owner != "" || s.TemplateRef != "" {
		if _, err := tx.ExecContext(ctx, q(`UPDATE devex_deployments SET owner = ?, template_ref = ?
			WHERE app_key = ? AND owner = '' AND template_ref = ''`), s.Owner, s.TemplateRef, s.Key); err != nil {
			return fail(err)
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
		}
	}
	if h := f.Healthy; h != nil {
		at := h.At
		if fresh[h.DeployID] {
			at = h.AtFirstSight
		}
		if _, err := tx.ExecContext(ctx, q(`UPDATE devex_deployments SET healthy_at = ? WHERE app_key = ? AND deploy_id = ? AND healthy_at IS NULL`),
			db.dialect.Time(at), s.Key, h.DeployID); err != nil {
			return fail(err)
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
			}
		}
	}
	if err := db.applyDeploymentRollups(ctx, tx, stored); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return ch, nil
}

// SetCommitTime records when a change's revision was committed, once.
func (db *DB) SetCommitTime(ctx context.Context, c devex.ChangeRef, at time.Time) error {
	if _, err := db.exec(ctx, `UPDATE devex_deployments SET commit_at = ? WHERE app_key = ? AND deploy_id = ? AND commit_at IS NULL`,
		db.dialect.Time(at), c.AppKey, c.DeployID); err != nil {
		return fmt.Errorf("set commit time %s/%s: %w", c.AppKey, c.DeployID, err)
	}
	return nil
}

// doraGroup is the column a grouping of the four keys reads; the team and
// template of changes stored before they were known come from the catalog
// component and the app.
func doraGroup(groupBy string) (string, error) {
	switch groupBy {
	case "service":
		return `x.service`, nil
	case "team":
		return `COALESCE(NULLIF(x.owner, ''), c.owner, '')`, nil
	case "template":
		return `COALESCE(NULLIF(x.template_ref, ''), a.template_ref, '')`, nil
	}
	return "", paved.Errorf(paved.EInvalid, "groupBy must be one of service, team, template")
}

const doraJoins = ` LEFT JOIN devex_components c ON c.entity_ref = x.service LEFT JOIN devex_apps a ON a.app_key = x.app_key`

// doraWhere selects the rows of f by their day.
func doraWhere(f devex.Filter) (string, []any) {
	where := ` WHERE x.day >= ? AND x.day < ?`
	args := []any{f.FromDay(), f.ToDay()}
	if f.Owner != "" {
		where += ` AND COALESCE(NULLIF(x.owner, ''), c.owner, '') = ?`
		args = append(args, f.Owner)
	}
	if f.Template != "" {
		where += ` AND COALESCE(NULLIF(x.template_ref, ''), a.template_ref, '') = ?`
		args = append(args, f.Template)
	}
	return where, args
}

// FourKeys reads the changes deployed and the incidents begun in f's days,
// per group and overall.
func (db *DB) FourKeys(ctx context.Context, f devex.Filter, groupBy string) ([]devex.KeysRow, devex.KeysRow, error) {
	var overall devex.KeysRow
	group, err := doraGroup(groupBy)
	if err != nil {
		return nil, overall, err
	}
	where, args := doraWhere(f)
	byGroup := map[string]*devex.KeysRow{}
	days := map[string]map[string]bool{}
	allDays := map[string]bool{}
	row := func(g string) *devex.KeysRow {
		r := byGroup[g]
		if r == nil {
			r = &devex.KeysRow{Group: g}
			byGroup[g] = r
			days[g] = map[string]bool{}
		}
		return r
	}
	rows, err := db.query(ctx, `SELECT `+group+`, x.succeeded, x.day, x.failure, x.commit_at, x.healthy_at
		FROM devex_deployments x`+doraJoins+where, args...)
	if err != nil {
		return nil, overall, fmt.Errorf("four keys: %w", err)
	}
	for rows.Next() {
		var g, day, failure string
		var ok int
		var commit, healthy time.Time
		if err := rows.Scan(&g, &ok, &day, &failure, timeColumn{&commit}, timeColumn{&healthy}); err != nil {
			rows.Close()
			return nil, overall, fmt.Errorf("four keys: %w", err)
		}
		r := row(g)
		r.Changes++
		if ok == 1 {
			r.Deployments++
			days[g][day] = true
			allDays[day] = true
		}
		if ok == 0 || failure != "" {
			r.FailedChanges++
		}
		if !commit.IsZero() && !healthy.IsZero() {
			r.LeadTimesMS = append(r.LeadTimesMS, max(healthy.Sub(commit).Milliseconds(), 0))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, overall, fmt.Errorf("four keys: %w", err)
	}
	rows, err = db.query(ctx, `SELECT `+group+`, x.restore_ms FROM devex_incidents x`+doraJoins+where, args...)
	if err != nil {
		return nil, overall, fmt.Errorf("four keys: %w", err)
	}
	for rows.Next() {
		var g string
		var restore sql.NullInt64
		if err := rows.Scan(&g, &restore); err != nil {
			rows.Close()
			return nil, overall, fmt.Errorf("four keys: %w", err)
		}
		r := row(g)
		if restore.Valid {
			r.RestoresMS = append(r.RestoresMS, restore.Int64)
		} else {
			r.OpenIncidents++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, overall, fmt.Errorf("four keys: %w", err)
	}
	out := make([]devex.KeysRow, 0, len(byGroup))
	for g, r := range byGroup {
		r.DeploymentDays = int64(len(days[g]))
		slices.Sort(r.LeadTimesMS)
		slices.Sort(r.RestoresMS)
		out = append(out, *r)
		overall.Deployments += r.Deployments
		overall.Changes += r.Changes
		overall.FailedChanges += r.FailedChanges
		overall.OpenIncidents += r.OpenIncidents
		overall.LeadTimesMS = append(overall.LeadTimesMS, r.LeadTimesMS...)
		overall.RestoresMS = append(overall.RestoresMS, r.RestoresMS...)
	}
	overall.DeploymentDays = int64(len(allDays))
	slices.Sort(overall.LeadTimesMS)
	slices.Sort(overall.RestoresMS)
	slices.SortFunc(out, func(a, b devex.KeysRow) int {
		if a.Changes != b.Changes {
			return int(b.Changes - a.Changes)
		}
		if a.Group < b.Group {
			return -1
		}
		if a.Group > b.Group {
			return 1
		}
		return 0
	})
	return out, overall, nil
}
