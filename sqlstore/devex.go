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

// Adoption ingest: scaffolder runs (with their rollups, devex_rollups.go),
// catalog components and app observations, their reads by id, retention.

// UpsertRuns stores scaffolder runs, all in one transaction, and keeps the
// daily rollups in step. A run that is final in the store does not change
// any more; storing the same runs again changes nothing. The returned Change
// lists the runs the store had never seen and those that became final now.
func (db *DB) UpsertRuns(ctx context.Context, runs []devex.Run) (devex.Change, error) {
	var ch devex.Change
	if len(runs) == 0 {
		return ch, nil
	}
	for i, r := range runs {
		if r.TaskID == "" || r.TemplateRef == "" || r.Status == "" || r.CreatedAt.IsZero() {
			return ch, paved.Errorf(paved.EInvalid, "run %d: task id, template, status and creation time are required", i)
		}
	}
	tx, done, err := db.beginBatch(ctx)
	if err != nil {
		return ch, fmt.Errorf("upsert runs: %w", err)
	}
	defer done()
	if err := db.lockStages(ctx, tx, false); err != nil {
		return ch, fmt.Errorf("upsert runs: %w", err)
	}

	ids := make([]string, 0, len(runs))
	for _, r := range runs {
		ids = append(ids, r.TaskID)
	}
	stored, err := db.storedRuns(ctx, tx, ids)
	if err != nil {
		return ch, fmt.Errorf("upsert runs: %w", err)
	}

	deltas := map[rollupKey]*devex.Totals{}
	// The funnel's counts move with the status; the flags, written 0,
	// are refreshed from their facts once the runs are stored.
	funnel := funnelDeltas{}
	users := make(map[userKey]struct{}, len(runs))
	// write holds the runs to store, in the order first seen; at maps a task
	// id to its place there.
	write := make([]dayRun, 0, len(runs))
	at := make(map[string]int, len(runs))
	for _, r := range runs {
		r = normalizeRun(r)
		old, seen := stored[r.TaskID]
		i, again := at[r.TaskID]
		if again { // a batch naming a task twice counts its last report once
			old, seen = write[i].Run, true
		}
		if seen && devex.Final(old.Status) {
			continue // final runs never change; a late or repeated report is ignored
		}
		if seen && r.EntityRef == "" {
			r.EntityRef = old.EntityRef
		}
		if seen && sameRun(old, r) {
			continue
		}
		day := devex.Day(r.CreatedAt)
		if again {
			write[i] = dayRun{r, day}
		} else {
			at[r.TaskID] = len(write)
			write = append(write, dayRun{r, day})
		}
		if seen {
			// old is not final: its contribution has no flags.
			addContribution(deltas, old, devex.Day(old.CreatedAt), -1)
			funnel.add(devex.Day(old.CreatedAt), old.TemplateRef, old.Owner, runFunnel(old.Status, false, false), -1)
		} else {
			if ch.New == nil {
				ch.New = make([]devex.Run, 0, len(runs))
			}
			ch.New = append(ch.New, r)
		}
		addContribution(deltas, r, day, +1)
		funnel.add(day, r.TemplateRef, r.Owner, runFunnel(r.Status, false, false), +1)
		if devex.Final(r.Status) {
			if ch.Finished == nil {
				ch.Finished = make([]devex.Run, 0, len(runs))
			}
			ch.Finished = append(ch.Finished, r)
		}
		if r.UserRef != "" {
			users[userKey{day, r.TemplateRef, r.Owner, r.UserRef}] = struct{}{}
		}
	}
	const runWidth = 12
	args := make([]any, 0, len(write)*runWidth)
	for _, w := range write {
		r := w.Run
		var duration any
		if devex.Final(r.Status) {
			duration = r.Duration().Milliseconds()
		}
		args = append(args, r.TaskID, r.TemplateRef, r.Owner, r.UserRef, r.EntityRef, r.Status,
			db.dialect.Time(r.CreatedAt), w.day, db.dialect.Time(r.HeartbeatAt),
			db.dialect.Time(r.FinishedAt), duration, int64(r.TimeSaved/time.Second))
	}
	if err := db.insertRows(ctx, tx, `INSERT INTO devex_runs (task_id, template_ref, owner, user_ref, entity_ref, status,
			created_at, day, heartbeat_at, finished_at, duration_ms, time_saved_s) VALUES `, `
		ON CONFLICT (task_id) DO UPDATE SET
			template_ref = excluded.template_ref, owner = excluded.owner, user_ref = excluded.user_ref,
			entity_ref = excluded.entity_ref, status = excluded.status, created_at = excluded.created_at,
			day = excluded.day, heartbeat_at = excluded.heartbeat_at, finished_at = excluded.finished_at,
			duration_ms = excluded.duration_ms, time_saved_s = excluded.time_saved_s,
			registered = 0, healthy = 0`, runWidth, args); err != nil {
		return devex.Change{}, fmt.Errorf("upsert runs: %w", err)
	}
	if err := db.applyRunFlags(ctx, tx, write, funnel); err != nil {
		return devex.Change{}, fmt.Errorf("upsert runs: %w", err)
	}
	fresh, err := db.applyRollupDeltas(ctx, tx, deltas, users)
	if err != nil {
		return devex.Change{}, fmt.Errorf("upsert runs: %w", err)
	}
	if err := db.applyDurations(ctx, tx, ch.Finished); err != nil {
		return devex.Change{}, fmt.Errorf("upsert runs: %w", err)
	}
	if err := db.applyTemplatePacks(ctx, tx, deltas, users, ch.Finished); err != nil {
		return devex.Change{}, fmt.Errorf("upsert runs: %w", err)
	}
	if err := db.recordRunVersions(ctx, tx, write, ch.Finished); err != nil {
		return devex.Change{}, fmt.Errorf("upsert runs: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return devex.Change{}, fmt.Errorf("upsert runs: %w", err)
	}
	db.ordinals().remember(fresh)
	return ch, nil
}

// dayRun is a run with its UTC day, formatted once.
type dayRun struct {
	devex.Run
	day string
}

// normalizeRun cuts times to what the store keeps, so that a run read back
// compares equal to the one stored.
func normalizeRun(r devex.Run) devex.Run {
	cut := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.UTC().Truncate(time.Microsecond)
	}
	r.CreatedAt, r.HeartbeatAt, r.FinishedAt = cut(r.CreatedAt), cut(r.HeartbeatAt), cut(r.FinishedAt)
	if !devex.Final(r.Status) {
		r.FinishedAt = time.Time{}
	}
	r.TimeSaved = r.TimeSaved.Truncate(time.Second)
	return r
}

func sameRun(a, b devex.Run) bool {
	return a.TemplateRef == b.TemplateRef && a.Owner == b.Owner && a.UserRef == b.UserRef &&
		a.EntityRef == b.EntityRef && a.Status == b.Status && a.TimeSaved == b.TimeSaved &&
		a.CreatedAt.Equal(b.CreatedAt) && a.HeartbeatAt.Equal(b.HeartbeatAt) && a.FinishedAt.Equal(b.FinishedAt)
}

const runColumns = `task_id, template_ref, owner, user_ref, entity_ref, status, created_at, heartbeat_at, finished_at, time_saved_s`

func scanRun(row interface{ Scan(...any) error }) (devex.Run, error) {
	var r devex.Run
	var saved int64
	err := row.Scan(&r.TaskID, &r.TemplateRef, &r.Owner, &r.UserRef, &r.EntityRef, &r.Status,
		timeColumn{&r.CreatedAt}, timeColumn{&r.HeartbeatAt}, timeColumn{&r.FinishedAt}, &saved)
	r.TimeSaved = time.Duration(saved) * time.Second
	return r, err
}

func (db *DB) storedRuns(ctx context.Context, tx *sql.Tx, ids []string) (map[string]devex.Run, error) {
	out := make(map[string]devex.Run, len(ids))
	for start := 0; start < len(ids); start += idBatch {
		batch := ids[start:min(start+idBatch, len(ids))]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := db.queryIn(ctx, tx, `SELECT `+runColumns+` FROM devex_runs WHERE task_id IN `, args)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[r.TaskID] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetRun returns one stored run, or an ENotFound error.
func (db *DB) GetRun(ctx context.Context, taskID string) (devex.Run, error) {
	r, err := scanRun(db.queryRow(ctx, `SELECT `+runColumns+` FROM devex_runs WHERE task_id = ?`, taskID))
	if err == sql.ErrNoRows {
		return devex.Run{}, paved.Errorf(paved.ENotFound, "run %q not found", taskID)
	}
	if err != nil {
		return devex.Run{}, fmt.Errorf("get run: %w", err)
	}
	return r, nil
}

// UnfinishedRuns returns the runs that are still open or processing, oldest first.
func (db *DB) UnfinishedRuns(ctx context.Context) ([]devex.Run, error) {
	rows, err := db.query(ctx, `SELECT `+runColumns+` FROM devex_runs WHERE status IN ('open', 'processing') ORDER BY created_at, task_id`)
	if err != nil {
		return nil, fmt.Errorf("unfinished runs: %w", err)
	}
	defer rows.Close()
	var out []devex.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("unfinished runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ActiveRuns counts each template's unfinished runs, and those of them whose
// last heartbeat (or creation, for runs never claimed) is before stuckBefore.
func (db *DB) ActiveRuns(ctx context.Context, stuckBefore time.Time) ([]devex.ActiveRuns, error) {
	rows, err := db.query(ctx, `
		SELECT template_ref, COUNT(*),
			COALESCE(SUM(CASE WHEN COALESCE(heartbeat_at, created_at) < ? THEN 1 ELSE 0 END), 0)
		FROM devex_runs WHERE status IN ('open', 'processing')
		GROUP BY template_ref ORDER BY template_ref`, db.dialect.Time(stuckBefore))
	if err != nil {
		return nil, fmt.Errorf("active runs: %w", err)
	}
	defer rows.Close()
	var out []devex.ActiveRuns
	for rows.Next() {
		var a devex.ActiveRuns
		if err := rows.Scan(&a.TemplateRef, &a.Active, &a.Stuck); err != nil {
			return nil, fmt.Errorf("active runs: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SyncComponents stores a full snapshot of the catalog's components taken
// at at: new ones are added, known ones refreshed, and those missing from
// the snapshot marked removed. It returns the components the store had never
// seen, and whether it had seen any component before (false on the first
// snapshot, whose components are the existing catalog rather than new ones).
func (db *DB) SyncComponents(ctx context.Context, comps []devex.Component, at time.Time) (added []devex.Component, hadAny bool, err error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	defer tx.Rollback()
	if err := db.lockStages(ctx, tx, false); err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	known := map[string]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT entity_ref FROM devex_components`)
	if err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	for rows.Next() {
		var ref string
		if err := rows.Scan(&ref); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("sync components: %w", err)
		}
		known[ref] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	st, err := tx.PrepareContext(ctx, db.dialect.Rebind(`
		INSERT INTO devex_components (entity_ref, kind, owner, source_template, first_seen_at, last_seen_at, removed_at)
		VALUES (?, ?, ?, ?, ?, ?, NULL)
		ON CONFLICT (entity_ref) DO UPDATE SET kind = excluded.kind, owner = excluded.owner,
			source_template = excluded.source_template, last_seen_at = excluded.last_seen_at, removed_at = NULL`))
	if err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	defer st.Close()
	ts := db.dialect.Time(at)
	for _, c := range comps {
		if c.EntityRef == "" {
			continue
		}
		if _, err := st.ExecContext(ctx, c.EntityRef, c.Kind, c.Owner, c.SourceTemplate, ts, ts); err != nil {
			return nil, false, fmt.Errorf("sync component %s: %w", c.EntityRef, err)
		}
		if !known[c.EntityRef] {
			added = append(added, c)
			known[c.EntityRef] = true
		}
	}
	if _, err := tx.ExecContext(ctx, db.dialect.Rebind(`UPDATE devex_components SET removed_at = ? WHERE last_seen_at < ? AND removed_at IS NULL`), ts, ts); err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	// The runs of the new entities are registered now (a removed
	// component stays registered until retention deletes it).
	refs := make([]string, len(added))
	for i, c := range added {
		refs[i] = c.EntityRef
	}
	if err := db.moveFlags(ctx, tx, "registered", "entity_ref", refs); err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	// Owners and removals change freshness's answers.
	if err := db.bumpGeneration(ctx, tx, freshnessGeneration); err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	return added, len(known) > len(added), nil
}

// RecordApps stores observations of the applications paved created: each
// app once, its first healthy moment once, each deployment once.
func (db *DB) RecordApps(ctx context.Context, obs []devex.AppObservation) (devex.AppChange, error) {
	var ch devex.AppChange
	var stored []storedDeployment
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return ch, fmt.Errorf("record apps: %w", err)
	}
	defer tx.Rollback()
	if err := db.lockStages(ctx, tx, false); err != nil {
		return ch, fmt.Errorf("record apps: %w", err)
	}
	q := func(s string) string { return db.dialect.Rebind(s) }
	// The runs whose healthy flag may change: those of apps turning
	// healthy, and of healthy apps moving to another run.
	var healthyRuns []string
	// Deployments are the four keys' changes: their per-period sums are
	// read and written back (devex_dora_periods.go).
	if slices.ContainsFunc(obs, func(o devex.AppObservation) bool { return len(o.Deployments) > 0 }) {
		if err := db.lockDORA(ctx, tx); err != nil {
			return ch, fmt.Errorf("record apps: %w", err)
		}
	}
	dora := doraDeltas{}
	for _, o := range obs {
		if o.Key == "" || o.CreatedAt.IsZero() {
			return devex.AppChange{}, paved.Errorf(paved.EInvalid, "app observation needs a key and a creation time")
		}
		// The run that created the app, when paved knows it, is where the
		// path to the first healthy deploy starts.
		start := o.CreatedAt.UTC().Truncate(time.Microsecond)
		if o.TaskID != "" {
			var runCreated time.Time
			err := tx.QueryRowContext(ctx, q(`SELECT created_at FROM devex_runs WHERE task_id = ?`), o.TaskID).Scan(timeColumn{&runCreated})
			if err == nil && runCreated.Before(start) {
				start = runCreated
			} else if err != nil && err != sql.ErrNoRows {
				return devex.AppChange{}, fmt.Errorf("record apps: %w", err)
			}
		}
		known := 0
		var oldTask string
		var wasHealthy int
		err := tx.QueryRowContext(ctx, q(`SELECT task_id, CASE WHEN first_healthy_at IS NULL THEN 0 ELSE 1 END FROM devex_apps WHERE app_key = ?`),
			o.Key).Scan(&oldTask, &wasHealthy)
		switch {
		case err == nil:
			known = 1
			if wasHealthy == 1 && oldTask != o.TaskID {
				healthyRuns = append(healthyRuns, oldTask, o.TaskID)
			}
		case err != sql.ErrNoRows:
			return devex.AppChange{}, fmt.Errorf("record apps: %w", err)
		}
		if _, err := tx.ExecContext(ctx, q(`
			INSERT INTO devex_apps (app_key, service, environment, template_ref, task_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_key) DO UPDATE SET service = excluded.service, environment = excluded.environment,
				template_ref = excluded.template_ref, task_id = excluded.task_id`),
			o.Key, o.Service, o.Environment, o.TemplateRef, o.TaskID, db.dialect.Time(o.CreatedAt)); err != nil {
			return devex.AppChange{}, fmt.Errorf("record app %s: %w", o.Key, err)
		}
		if o.Healthy && !o.ObservedAt.IsZero() {
			// Seen unhealthy before: it turned healthy since the last look.
			// Healthy at first sight: since its last sync, at the latest.
			healthyAt := o.ObservedAt.UTC().Truncate(time.Microsecond)
			if known == 0 && !o.LastSyncAt.IsZero() && o.LastSyncAt.Before(healthyAt) {
				healthyAt = o.LastSyncAt.UTC().Truncate(time.Microsecond)
			}
			after := healthyAt.Sub(start).Truncate(time.Millisecond)
			if after < 0 {
				after = 0
			}
			res, err := tx.ExecContext(ctx, q(`UPDATE devex_apps SET first_healthy_at = ?, healthy_after_ms = ?
				WHERE app_key = ? AND first_healthy_at IS NULL`), db.dialect.Time(healthyAt), after.Milliseconds(), o.Key)
			if err != nil {
				return devex.AppChange{}, fmt.Errorf("record app %s: %w", o.Key, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				ch.Healthy = append(ch.Healthy, devex.TimeToHealthy{TemplateRef: o.TemplateRef, Duration: after})
				healthyRuns = append(healthyRuns, o.TaskID)
			}
		}
		var owner, template string
		if len(o.Deployments) > 0 {
			if owner, template, err = teamAndTemplate(ctx, tx, db.dialect, o.Service, o.Key, "", o.TemplateRef); err != nil {
				return devex.AppChange{}, fmt.Errorf("record apps: %w", err)
			}
		}
		for _, d := range o.Deployments {
			ok := 0
			if d.Succeeded {
				ok = 1
			}
			res, err := tx.ExecContext(ctx, q(`
				INSERT INTO devex_deployments (app_key, deploy_id, service, environment, revision, succeeded, deployed_at, day, owner, template_ref)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_key, deploy_id) DO NOTHING`),
				o.Key, d.ID, o.Service, o.Environment, d.Revision, ok, db.dialect.Time(d.DeployedAt), devex.Day(d.DeployedAt), owner, template)
			if err != nil {
				return devex.AppChange{}, fmt.Errorf("record deployment %s/%s: %w", o.Key, d.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				ch.Deployments = append(ch.Deployments, devex.StoredDeployment{Service: o.Service, Environment: o.Environment, Succeeded: d.Succeeded})
				stored = append(stored, storedDeployment{o.Service, devex.Day(d.DeployedAt), d.Succeeded})
				c := doraChange{key: doraKey{devex.Day(d.DeployedAt), o.Service, owner, template}, succeeded: d.Succeeded}
				dora.add(c.key, c.contribution(), 1)
			}
		}
	}
	if err := db.applyDeploymentRollups(ctx, tx, stored); err != nil {
		return devex.AppChange{}, fmt.Errorf("record apps: %w", err)
	}
	if err := db.applyDORA(ctx, tx, dora); err != nil {
		return devex.AppChange{}, fmt.Errorf("record apps: %w", err)
	}
	if err := db.moveFlags(ctx, tx, "healthy", "task_id", nonEmpty(healthyRuns)); err != nil {
		return devex.AppChange{}, fmt.Errorf("record apps: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return devex.AppChange{}, fmt.Errorf("record apps: %w", err)
	}
	return ch, nil
}

// DeleteDevexBefore applies retention: raw runs and deployments of days
// before rawBefore, rollups of days before rollupBefore, and components
// removed from the catalog before rawBefore. It returns the rows deleted.
// Rollup queries start at rollupBefore from then on (devex_periods.go).
func (db *DB) DeleteDevexBefore(ctx context.Context, rawBefore, rollupBefore time.Time) (int64, error) {
	raw, rollup := devex.Day(rawBefore), devex.Day(rollupBefore)
	// The runs and the components go in transactions of their own, which
	// move the funnel's counts and the answers' stages with them.
	stmts := []struct {
		q   string
		arg any
		del func() (int64, error)
	}{
		{del: func() (int64, error) { return db.deleteRunsBefore(ctx, raw) }},
		{`DELETE FROM devex_deployments WHERE day < ?`, raw, nil},
		{`DELETE FROM devex_deployment_totals WHERE start < ?`, raw, nil},
		{`DELETE FROM devex_deployment_sums WHERE start < ?`, raw, nil},
		{`DELETE FROM devex_template_packs WHERE kind = 'r' AND start < ?`, raw, nil},
		{`DELETE FROM devex_template_packs WHERE kind NOT IN ('r', 'm') AND start < ?`, rollup, nil},
		{`DELETE FROM devex_template_packs WHERE kind = 'm' AND start < ?`, blockStart(monthIndex(rollup) / monthBits), nil},
		{`DELETE FROM devex_service_versions WHERE entity_ref IN (SELECT entity_ref FROM devex_components WHERE removed_at < ?)`, db.dialect.Time(rawBefore), nil},
		{`DELETE FROM devex_incidents WHERE day < ? AND restored_at IS NOT NULL`, raw, nil},
		{del: func() (int64, error) { return db.deleteComponentsRemovedBefore(ctx, rawBefore) }},
		{`DELETE FROM devex_daily WHERE day < ?`, rollup, nil},
		{`DELETE FROM devex_daily_users WHERE day < ?`, rollup, nil},
		{`DELETE FROM devex_day_users WHERE day < ?`, rollup, nil},
		{`DELETE FROM devex_period_users WHERE start < ?`, rollup, nil},
		{`DELETE FROM devex_period_totals WHERE start < ?`, rollup, nil},
		{`DELETE FROM devex_totals WHERE start < ?`, rollup, nil},
		{`DELETE FROM devex_period_durations WHERE start < ?`, rollup, nil},
		{`DELETE FROM devex_dora_periods WHERE grain = 'day' AND start < ?`, rollup, nil},
		// Years to date of the floor's year stay: a range from the floor
		// reads its months as the difference of two of them.
		{`DELETE FROM devex_dora_periods WHERE grain = 'ytd' AND start < ?`, rollup[:4] + "-01-01", nil},
		{`DELETE FROM devex_dora_packs WHERE grain = 'day' AND start < ?`, rollup, nil},
		{`DELETE FROM devex_dora_packs WHERE grain = 'ytd' AND start < ?`, rollup[:4] + "-01-01", nil},
		{`DELETE FROM devex_user_months WHERE block < ?`, monthIndex(rollup) / monthBits, nil},
		{del: func() (int64, error) { return db.deleteFeedbackBefore(ctx, rollup) }},
	}
	for _, gen := range []string{freshnessGeneration, doraGeneration} {
		if err := db.bumpGeneration(ctx, db.db, gen); err != nil {
			return 0, fmt.Errorf("devex retention: %w", err)
		}
	}
	// The floor first: from now on queries start there, so the periods
	// about to go (those starting before it) are never read, even if a kill
	// stops the deletes half-way. It only moves forward.
	// The deployments' rollups keep their own floor: the raw days'.
	for _, floor := range [][2]string{{rollupFloorCursor, rollup}, {deploymentsFloorCursor, raw}} {
		if _, err := db.exec(ctx, `INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
			WHERE cursors.value < excluded.value`, floor[0], floor[1], db.dialect.Time(now())); err != nil {
			return 0, fmt.Errorf("devex retention: %w", err)
		}
	}
	var total int64
	for _, s := range stmts {
		if s.del != nil {
			n, err := s.del()
			if err != nil {
				return total, fmt.Errorf("devex retention: %w", err)
			}
			total += n
			continue
		}
		res, err := db.exec(ctx, s.q, s.arg)
		if err != nil {
			return total, fmt.Errorf("devex retention: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	// Again after the deletes: an answer computed meanwhile, under the
	// generation bumped first, is not kept.
	if err := db.bumpGeneration(ctx, db.db, doraGeneration); err != nil {
		return total, fmt.Errorf("devex retention: %w", err)
	}
	return total, nil
}
