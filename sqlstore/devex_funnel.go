package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paved-dev/paved/devex"
)

// The funnel and satisfaction per funnel stage at scale (migration 0021).
//
// A run's funnel (started, succeeded, registered, healthy) depends on two
// facts that change after the run: its entity is in the catalog
// (devex_components) and an app it created became healthy (devex_apps). The
// run keeps them as flags (devex_runs.registered, .healthy), and its
// contribution sits in devex_funnel_periods per day, month and year. Every
// transaction that changes a run, a component or an app moves the flags it
// changes and the run's contribution with them (funnelDeltas, in key order),
// and the stage of the run's answers (syncFeedbackStages), whose triggers
// move their counts per stage. The movers take the stage lock (lockStages):
// on PostgreSQL, two replicas' movers run one after the other, so a flag is
// never decided on a fact another transaction is changing, and count rows
// are never locked in two orders.

// runFlagExprs are the facts behind the flags, for a devex_runs row.
var runFlagExprs = map[string]string{
	"registered": `CASE WHEN devex_runs.entity_ref <> '' AND EXISTS (SELECT 1 FROM devex_components c
		WHERE c.entity_ref = devex_runs.entity_ref) THEN 1 ELSE 0 END`,
	"healthy": `CASE WHEN EXISTS (SELECT 1 FROM devex_apps a
		WHERE a.task_id = devex_runs.task_id AND a.first_healthy_at IS NOT NULL) THEN 1 ELSE 0 END`,
}

// runStage is the stage of the answers about the run taskID (an SQL
// expression): where the run stopped (started when it did not succeed,
// succeeded, registered, healthy), or ” when the store holds no such run.
func runStage(taskID string) string {
	return `COALESCE((SELECT CASE WHEN r.status <> 'completed' THEN 'started'
		WHEN r.healthy = 1 THEN 'healthy' WHEN r.registered = 1 THEN 'registered' ELSE 'succeeded' END
		FROM devex_runs r WHERE r.task_id = ` + taskID + `), '')`
}

// runStageExpr is the stage of devex_feedback's row.
var runStageExpr = runStage(`devex_feedback.task_id`)

// funnelCounts is one row of devex_funnel_periods' counts.
type funnelCounts struct{ started, succeeded, registered, healthy int64 }

// runFunnel is a run's contribution to the funnel.
func runFunnel(status string, registered, healthy bool) funnelCounts {
	c := funnelCounts{started: 1}
	if status == devex.TaskCompleted {
		c.succeeded = 1
		if registered {
			c.registered = 1
		}
		if healthy {
			c.healthy = 1
		}
	}
	return c
}

type funnelKey struct{ owner, template, grain, period string }

// funnelDeltas are changes of devex_funnel_periods' rows, applied together
// in key order (applyFunnelDeltas).
type funnelDeltas map[funnelKey]*funnelCounts

// add adds sign times c, the contribution of a run of day, template and
// owner, to the rows of its day, month and year, for its team and template,
// its team, its template and overall.
func (m funnelDeltas) add(day, template, owner string, c funnelCounts, sign int64) {
	owners, templates := []string{owner, ""}, []string{template, ""}
	if owner == "" {
		owners = owners[1:]
	}
	if template == "" {
		templates = templates[1:]
	}
	for _, o := range owners {
		for _, t := range templates {
			for _, p := range [...][2]string{{"d", day}, {"m", day[:7]}, {"y", day[:4]}} {
				k := funnelKey{o, t, p[0], p[1]}
				d := m[k]
				if d == nil {
					d = &funnelCounts{}
					m[k] = d
				}
				d.started += sign * c.started
				d.succeeded += sign * c.succeeded
				d.registered += sign * c.registered
				d.healthy += sign * c.healthy
			}
		}
	}
}

// applyFunnelDeltas adds m to devex_funnel_periods, in key order, by
// increments in SQL.
func (db *DB) applyFunnelDeltas(ctx context.Context, tx *sql.Tx, m funnelDeltas) error {
	keys := make([]funnelKey, 0, len(m))
	for k, d := range m {
		if *d != (funnelCounts{}) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b funnelKey) int {
		return cmp.Or(strings.Compare(a.owner, b.owner), strings.Compare(a.template, b.template),
			strings.Compare(a.grain, b.grain), strings.Compare(a.period, b.period))
	})
	const width = 8
	args := make([]any, 0, len(keys)*width)
	for _, k := range keys {
		d := m[k]
		args = append(args, k.owner, k.template, k.grain, k.period, d.started, d.succeeded, d.registered, d.healthy)
	}
	return db.insertRows(ctx, tx, `INSERT INTO devex_funnel_periods (owner, template_ref, grain, period,
			started, succeeded, registered, healthy) VALUES `, `
		ON CONFLICT (owner, template_ref, grain, period) DO UPDATE SET
			started = devex_funnel_periods.started + excluded.started,
			succeeded = devex_funnel_periods.succeeded + excluded.succeeded,
			registered = devex_funnel_periods.registered + excluded.registered,
			healthy = devex_funnel_periods.healthy + excluded.healthy`, width, args)
}

// lockStages takes the stage lock for the rest of tx: exclusive for the
// movers of flags and stages, shared for a new or changed answer (whose
// count rows its trigger takes in key order, which concurrent answers
// share). SQLite's transactions are serialised already.
func (db *DB) lockStages(ctx context.Context, tx *sql.Tx, shared bool) error {
	q := db.dialect.StageLock
	if shared {
		q = db.dialect.StageLockShared
	}
	if q == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, q)
	return err
}

// inList runs head + "(?, …)" + tail for keys in batches of idBatch, calling
// scan per row when it returns rows (scan nil: an Exec). Full batches
// repeat: they are parsed once per connection.
func (db *DB) inList(ctx context.Context, tx *sql.Tx, head, tail string, keys []string, scan func(*sql.Rows) error) error {
	for start := 0; start < len(keys); start += idBatch {
		batch := keys[start:min(start+idBatch, len(keys))]
		args := make([]any, len(batch))
		for i, k := range batch {
			args[i] = k
		}
		q := db.dialect.Rebind(head + `(` + placeholders(len(args)) + `)` + tail)
		exec, query := tx.ExecContext, tx.QueryContext
		if len(args) == idBatch {
			st, err := db.cachedStmt(ctx, q)
			if err != nil {
				return err
			}
			st = tx.StmtContext(ctx, st)
			exec = func(ctx context.Context, _ string, args ...any) (sql.Result, error) {
				return st.ExecContext(ctx, args...)
			}
			query = func(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
				return st.QueryContext(ctx, args...)
			}
		}
		if scan == nil {
			if _, err := exec(ctx, q, args...); err != nil {
				return err
			}
			continue
		}
		rows, err := query(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// refreshRunFlag sets flag ("registered" or "healthy") of the runs whose
// col ("task_id" or "entity_ref") is one of keys to its fact, adds the
// moves of the succeeded runs' contributions to m, and returns the task ids
// of the runs whose flag changed.
func (db *DB) refreshRunFlag(ctx context.Context, tx *sql.Tx, flag, col string, keys []string, m funnelDeltas) ([]string, error) {
	expr := runFlagExprs[flag]
	where := col + ` IN `
	tail := ` AND ` + flag + ` <> ` + expr
	if col == "entity_ref" {
		tail += ` AND entity_ref <> ''` // the partial index of the runs' entities
	}
	var changed []string
	err := db.inList(ctx, tx, `UPDATE devex_runs SET `+flag+` = `+expr+` WHERE `+where, tail+`
		RETURNING task_id, day, template_ref, owner, status, `+flag, keys, func(rows *sql.Rows) error {
		var id, day, template, owner, status string
		var now int
		if err := rows.Scan(&id, &day, &template, &owner, &status, &now); err != nil {
			return err
		}
		changed = append(changed, id)
		if status != devex.TaskCompleted {
			return nil
		}
		var c funnelCounts
		if flag == "registered" {
			c.registered = 1
		} else {
			c.healthy = 1
		}
		sign := int64(1)
		if now == 0 {
			sign = -1
		}
		m.add(day, template, owner, c, sign)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("refresh %s: %w", flag, err)
	}
	return changed, nil
}

// syncFeedbackStages sets the stage of the answers about the runs taskIDs to
// where their run stopped; the answers' triggers move their counts.
func (db *DB) syncFeedbackStages(ctx context.Context, tx *sql.Tx, taskIDs []string) error {
	if err := db.inList(ctx, tx, `UPDATE devex_feedback SET stage = `+runStageExpr+` WHERE task_id IN `,
		` AND stage <> `+runStageExpr, taskIDs, nil); err != nil {
		return fmt.Errorf("feedback stages: %w", err)
	}
	return nil
}

// moveFlags refreshes flag for the runs whose col is one of keys, with
// their funnel counts and their answers' stages.
func (db *DB) moveFlags(ctx context.Context, tx *sql.Tx, flag, col string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	m := funnelDeltas{}
	changed, err := db.refreshRunFlag(ctx, tx, flag, col, keys, m)
	if err != nil {
		return err
	}
	if err := db.applyFunnelDeltas(ctx, tx, m); err != nil {
		return err
	}
	return db.syncFeedbackStages(ctx, tx, changed)
}

// inStageTx runs fn in a transaction holding the stage lock (exclusive),
// and commits when fn succeeds; it returns fn's count of rows.
func (db *DB) inStageTx(ctx context.Context, fn func(tx *sql.Tx) (int64, error)) (int64, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := db.lockStages(ctx, tx, false); err != nil {
		return 0, err
	}
	n, err := fn(tx)
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// deleteRunsBefore is retention's delete of the final runs of days before
// day, in one transaction with their funnel counts and their answers'
// stages (which no run holds any more).
func (db *DB) deleteRunsBefore(ctx context.Context, day string) (int64, error) {
	return db.inStageTx(ctx, func(tx *sql.Tx) (int64, error) {
		const old = `day < ? AND status NOT IN ('open', 'processing')`
		rows, err := tx.QueryContext(ctx, db.dialect.Rebind(`SELECT day, template_ref, owner, status, registered, healthy, COUNT(*)
			FROM devex_runs WHERE `+old+` GROUP BY day, template_ref, owner, status, registered, healthy`), day)
		if err != nil {
			return 0, err
		}
		m := funnelDeltas{}
		for rows.Next() {
			var d, template, owner, status string
			var registered, healthy int
			var n int64
			if err := rows.Scan(&d, &template, &owner, &status, &registered, &healthy, &n); err != nil {
				rows.Close()
				return 0, err
			}
			m.add(d, template, owner, runFunnel(status, registered == 1, healthy == 1), -n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, db.dialect.Rebind(`UPDATE devex_feedback SET stage = '' WHERE stage <> ''
			AND task_id IN (SELECT task_id FROM devex_runs WHERE `+old+`)`), day); err != nil {
			return 0, err
		}
		res, err := tx.ExecContext(ctx, db.dialect.Rebind(`DELETE FROM devex_runs WHERE `+old), day)
		if err != nil {
			return 0, err
		}
		if err := db.applyFunnelDeltas(ctx, tx, m); err != nil {
			return 0, err
		}
		// Periods all of whose runs are gone.
		if _, err := tx.ExecContext(ctx, `DELETE FROM devex_funnel_periods WHERE started = 0`); err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
}

// deleteComponentsRemovedBefore is retention's delete of the components
// removed from the catalog before at, in one transaction with the flags of
// the runs that registered them.
func (db *DB) deleteComponentsRemovedBefore(ctx context.Context, at time.Time) (int64, error) {
	return db.inStageTx(ctx, func(tx *sql.Tx) (int64, error) {
		rows, err := tx.QueryContext(ctx, db.dialect.Rebind(`DELETE FROM devex_components WHERE removed_at < ? RETURNING entity_ref`), db.dialect.Time(at))
		if err != nil {
			return 0, err
		}
		var refs []string
		for rows.Next() {
			var ref string
			if err := rows.Scan(&ref); err != nil {
				rows.Close()
				return 0, err
			}
			refs = append(refs, ref)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		return int64(len(refs)), db.moveFlags(ctx, tx, "registered", "entity_ref", refs)
	})
}

// deleteFeedbackBefore is retention's delete of the answers of days before
// day; their triggers take their counts away, under the stage lock as the
// movers', and the per-stage count rows of the periods before day left
// empty go too. The answers are taken out of the packs first, under the
// packs' lock, which keeps answers from being written meanwhile.
func (db *DB) deleteFeedbackBefore(ctx context.Context, day string) (int64, error) {
	return db.inStageTx(ctx, func(tx *sql.Tx) (int64, error) {
		if err := db.lockFeedbackPacks(ctx, tx); err != nil {
			return 0, err
		}
		rows, err := tx.QueryContext(ctx, db.dialect.Rebind(`SELECT day, template_ref, score, COUNT(*) FROM devex_feedback
			WHERE day < ? GROUP BY day, template_ref, score`), day)
		if err != nil {
			return 0, err
		}
		packs := scoreDelta{}
		for rows.Next() {
			var d, template string
			var score int
			var n int64
			if err := rows.Scan(&d, &template, &score, &n); err != nil {
				rows.Close()
				return 0, err
			}
			packs.add(d, template, score, -n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if err := applyFeedbackPacks(ctx, tx, db.dialect, packs); err != nil {
			return 0, err
		}
		res, err := tx.ExecContext(ctx, db.dialect.Rebind(`DELETE FROM devex_feedback WHERE day < ?`), day)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, db.dialect.Rebind(`DELETE FROM devex_feedback_stages
			WHERE period < ? AND s1 = 0 AND s2 = 0 AND s3 = 0 AND s4 = 0 AND s5 = 0`), day); err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
}

// applyRunFlags, in UpsertRuns' transaction, refreshes the flags of the
// runs it wrote (written 0) from their facts, adds the moves to funnel,
// applies it, and moves the stages of the runs' answers.
func (db *DB) applyRunFlags(ctx context.Context, tx *sql.Tx, write []dayRun, funnel funnelDeltas) error {
	ids := make([]string, len(write))
	for i, w := range write {
		ids[i] = w.TaskID
	}
	for _, flag := range []string{"registered", "healthy"} {
		if _, err := db.refreshRunFlag(ctx, tx, flag, "task_id", ids, funnel); err != nil {
			return err
		}
	}
	if err := db.applyFunnelDeltas(ctx, tx, funnel); err != nil {
		return err
	}
	return db.syncFeedbackStages(ctx, tx, ids)
}

// nonEmpty is keys without the empty ones.
func nonEmpty(keys []string) []string {
	out := keys[:0:0]
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// funnelPeriodsWhere selects the rows of a table kept per (owner,
// template_ref, grain, period) that sum to f's days: its team and template
// (” for all), edge days, whole months and whole years.
func funnelPeriodsWhere(f devex.Filter) (string, []any) {
	ranges := periodRanges(f.From, f.To, 'y')
	if len(ranges) == 0 {
		return `1 = 0`, nil
	}
	conds := make([]string, len(ranges))
	args := []any{f.Owner, f.Template}
	for i, r := range ranges {
		conds[i] = `(grain = ? AND period >= ? AND period < ?)`
		args = append(args, r.Grain, r.From, r.To)
	}
	return `owner = ? AND template_ref = ? AND (` + strings.Join(conds, ` OR `) + `)`, args
}

// RunFunnel follows the runs f selects: started, succeeded, registered (the
// entity the run output is in the catalog) and healthy (an app the run
// created reached Synced and Healthy), from the counts kept per day, month
// and year.
func (db *DB) RunFunnel(ctx context.Context, f devex.Filter) (devex.Funnel, error) {
	where, args := funnelPeriodsWhere(f)
	var fn devex.Funnel
	err := db.queryRow(ctx, `SELECT CAST(COALESCE(SUM(started), 0) AS BIGINT), CAST(COALESCE(SUM(succeeded), 0) AS BIGINT),
			CAST(COALESCE(SUM(registered), 0) AS BIGINT), CAST(COALESCE(SUM(healthy), 0) AS BIGINT)
		FROM devex_funnel_periods WHERE `+where, args...).Scan(&fn.Started, &fn.Succeeded, &fn.Registered, &fn.Healthy)
	if err != nil {
		return fn, fmt.Errorf("run funnel: %w", err)
	}
	return fn, nil
}

// ScoresByStage counts the answers f selects by the funnel stage their run
// stopped at (the furthest it reached: started when it did not succeed,
// succeeded, registered, healthy), as RunFunnel defines the stages, from the
// counts kept per stage, day, month and year. Answers about runs past raw
// retention have no stage and are left out.
func (db *DB) ScoresByStage(ctx context.Context, f devex.Filter) ([]devex.StageScores, error) {
	where, args := funnelPeriodsWhere(f)
	keys, counts, err := db.scoresBy(ctx, "scores by stage", `SELECT stage, `+scoreSums+`
		FROM devex_feedback_stages s WHERE `+where+` GROUP BY stage HAVING SUM(s.s1 + s.s2 + s.s3 + s.s4 + s.s5) > 0 ORDER BY 1`, args...)
	out := make([]devex.StageScores, len(keys))
	for i := range keys {
		out[i] = devex.StageScores{Stage: keys[i], ScoreCounts: counts[i]}
	}
	return out, err
}
