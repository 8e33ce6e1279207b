package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// idBatch bounds the ids of one IN (…) list, well under PostgreSQL's
// 65535 parameters.
const idBatch = 500

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

	ids := make([]string, 0, len(runs))
	for _, r := range runs {
		ids = append(ids, r.TaskID)
	}
	stored, err := db.storedRuns(ctx, tx, ids)
	if err != nil {
		return ch, fmt.Errorf("upsert runs: %w", err)
	}

	deltas := map[rollupKey]*devex.Totals{}
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
			addContribution(deltas, old, devex.Day(old.CreatedAt), -1)
		} else {
			if ch.New == nil {
				ch.New = make([]devex.Run, 0, len(runs))
			}
			ch.New = append(ch.New, r)
		}
		addContribution(deltas, r, day, +1)
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
			duration_ms = excluded.duration_ms, time_saved_s = excluded.time_saved_s`, runWidth, args); err != nil {
		return devex.Change{}, fmt.Errorf("upsert runs: %w", err)
	}
	fresh, err := db.applyRollupDeltas(ctx, tx, deltas, users)
	if err != nil {
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

// beginBatch begins a write transaction for multi-row statements (ingest,
// grouped audit records). Under SQLite, a multi-row insert or upsert keeps a
// statement journal; on a connection with the default temp_store it is a
// temporary file written page by page, which costs most of the write, so
// the connection keeps it in memory (the setting stays with the connection;
// it cannot change inside a transaction). It is scratch space for undoing
// one statement, not the database's journal: durability is unchanged.
func (db *DB) beginBatch(ctx context.Context) (*sql.Tx, func(), error) {
	if db.dialect.Name != SQLite.Name {
		tx, err := db.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		// Rolling back a committed transaction does nothing; a failed one must
		// give its connection back to the pool.
		return tx, func() { _ = tx.Rollback() }, nil
	}
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA temp_store = MEMORY`); err != nil {
		conn.Close()
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	// Closing the Conn returns it to the pool, once the transaction ended.
	return tx, func() { tx.Rollback(); conn.Close() }, nil
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

type rollupKey struct{ day, template, owner string }

type userKey struct{ day, template, owner, user string }

func addContribution(deltas map[rollupKey]*devex.Totals, r devex.Run, day string, sign int64) {
	k := rollupKey{day, r.TemplateRef, r.Owner}
	d := deltas[k]
	if d == nil {
		d = &devex.Totals{}
		deltas[k] = d
	}
	d.Started += sign
	switch r.Status {
	case devex.TaskCompleted:
		d.Succeeded += sign
		d.TimeSavedSeconds += sign * int64(r.TimeSaved/time.Second)
	case devex.TaskFailed:
		d.Failed += sign
	case devex.TaskCancelled, devex.TaskSkipped:
		d.Cancelled += sign
	}
	if devex.Final(r.Status) {
		d.DurationMS += sign * r.Duration().Milliseconds()
	}
}

// applyRollupDeltas adds deltas to the daily rollups and records users. It
// returns the user ordinals it assigned, to be remembered once committed.
// Rows go in key order: neighbouring keys land on the same B-tree pages,
// where map order would touch a different page for almost every row.
func (db *DB) applyRollupDeltas(ctx context.Context, tx *sql.Tx, deltas map[rollupKey]*devex.Totals, users map[userKey]struct{}) (map[string]int64, error) {
	keys := make([]rollupKey, 0, len(deltas))
	for k, d := range deltas {
		if *d != (devex.Totals{}) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b rollupKey) int {
		return cmp.Or(strings.Compare(a.day, b.day), strings.Compare(a.template, b.template), strings.Compare(a.owner, b.owner))
	})
	const dailyWidth = 9
	args := make([]any, 0, len(keys)*dailyWidth)
	for _, k := range keys {
		d := deltas[k]
		args = append(args, k.day, k.template, k.owner, d.Started, d.Succeeded, d.Failed, d.Cancelled, d.DurationMS, d.TimeSavedSeconds)
	}
	if err := db.insertRows(ctx, tx, `INSERT INTO devex_daily (day, template_ref, owner, started, succeeded, failed,
			cancelled, duration_ms, time_saved_s) VALUES `, `
		ON CONFLICT (day, template_ref, owner) DO UPDATE SET
			started = devex_daily.started + excluded.started,
			succeeded = devex_daily.succeeded + excluded.succeeded,
			failed = devex_daily.failed + excluded.failed,
			cancelled = devex_daily.cancelled + excluded.cancelled,
			duration_ms = devex_daily.duration_ms + excluded.duration_ms,
			time_saved_s = devex_daily.time_saved_s + excluded.time_saved_s`, dailyWidth, args); err != nil {
		return nil, err
	}
	ukeys := make([]userKey, 0, len(users))
	for k := range users {
		ukeys = append(ukeys, k)
	}
	slices.SortFunc(ukeys, func(a, b userKey) int {
		return cmp.Or(strings.Compare(a.day, b.day), strings.Compare(a.template, b.template),
			strings.Compare(a.owner, b.owner), strings.Compare(a.user, b.user))
	})
	const userWidth = 4
	args = make([]any, 0, len(ukeys)*userWidth)
	for _, k := range ukeys {
		args = append(args, k.day, k.template, k.owner, k.user)
	}
	if err := db.insertRows(ctx, tx, `INSERT INTO devex_daily_users (day, template_ref, owner, user_ref) VALUES `,
		` ON CONFLICT (day, template_ref, owner, user_ref) DO NOTHING`, userWidth, args); err != nil {
		return nil, err
	}
	return db.markDayUsers(ctx, tx, ukeys)
}

// markDayUsers sets the users' bits in the bitmaps of their days, numbering
// users seen for the first time; it returns the numbers it read or assigned, to be remembered once committed.
func (db *DB) markDayUsers(ctx context.Context, tx *sql.Tx, users []userKey) (map[string]int64, error) {
	if len(users) == 0 {
		return nil, nil
	}
	known := db.ordinals()
	byDay := map[string][]string{}
	ordinals := map[string]int64{}
	var unknown []string
	for _, k := range users {
		byDay[k.day] = append(byDay[k.day], k.user)
		if _, ok := ordinals[k.user]; ok {
			continue
		}
		if n, ok := known.get(k.user); ok {
			ordinals[k.user] = n
			continue
		}
		ordinals[k.user] = -1
		unknown = append(unknown, k.user)
	}
	var learned map[string]int64
	if len(unknown) > 0 {
		sort.Strings(unknown) // new users get their numbers in a stable order
		err := db.inBatches(ctx, tx, `SELECT user_ref, ordinal FROM devex_users WHERE user_ref IN `, unknown, func(rows *sql.Rows) error {
			var ref string
			var n int64
			if err := rows.Scan(&ref, &n); err != nil {
				return err
			}
			ordinals[ref] = n
			return nil
		})
		if err != nil {
			return nil, err
		}
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(ordinal), -1) + 1 FROM devex_users`).Scan(&next); err != nil {
			return nil, err
		}
		learned = make(map[string]int64, len(unknown))
		var rows []any
		for _, ref := range unknown {
			if ordinals[ref] < 0 {
				ordinals[ref] = next
				learned[ref] = next
				rows = append(rows, ref, next)
				next++
			}
		}
		if err := db.insertRows(ctx, tx, `INSERT INTO devex_users (user_ref, ordinal) VALUES `, ``, 2, rows); err != nil {
			return nil, err
		}
		// Users the store numbered before are remembered too: their
		// numbers never change.
		for _, ref := range unknown {
			if _, isNew := learned[ref]; !isNew {
				learned[ref] = ordinals[ref]
			}
		}
	}
	days := make([]string, 0, len(byDay))
	for d := range byDay {
		days = append(days, d)
	}
	sort.Strings(days)
	bitmaps := map[string][]byte{}
	err := db.inBatches(ctx, tx, `SELECT day, bits FROM devex_day_users WHERE day IN `, days, func(rows *sql.Rows) error {
		var d string
		var b []byte
		if err := rows.Scan(&d, &b); err != nil {
			return err
		}
		bitmaps[d] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, 2*len(days))
	for _, d := range days {
		b := bitmaps[d]
		for _, ref := range byDay[d] {
			n := ordinals[ref]
			if need := int(n/8) + 1; len(b) < need {
				b = append(b, make([]byte, need-len(b))...)
			}
			b[n/8] |= 1 << (n % 8)
		}
		out = append(out, d, b)
	}
	return learned, db.insertRows(ctx, tx, `INSERT INTO devex_day_users (day, bits) VALUES `,
		` ON CONFLICT (day) DO UPDATE SET bits = excluded.bits`, 2, out)
}

// inBatches runs head + "(?, …)" for keys in batches, calling scan per row.
func (db *DB) inBatches(ctx context.Context, tx *sql.Tx, head string, keys []string, scan func(*sql.Rows) error) error {
	for start := 0; start < len(keys); start += idBatch {
		batch := keys[start:min(start+idBatch, len(keys))]
		args := make([]any, len(batch))
		for i, k := range batch {
			args[i] = k
		}
		rows, err := db.queryIn(ctx, tx, head, args)
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

// rowsPerInsert bounds the rows of one multi-row INSERT: one statement per
// row costs most of an ingest, and 200 rows of 12 columns stay far under
// both engines' parameter limits.
const rowsPerInsert = 200

// insertRows runs head + "(?, …), (?, …)" + tail for args, rows of width
// values one after the other, in statements of at most rowsPerInsert rows.
// No two rows may hit the same conflict key.
func (db *DB) insertRows(ctx context.Context, tx *sql.Tx, head, tail string, width int, args []any) error {
	rows := len(args) / width
	var full string // the statement of a full chunk, built once
	for start := 0; start < rows; start += rowsPerInsert {
		n := min(rowsPerInsert, rows-start)
		chunk := args[start*width : (start+n)*width]
		if n < rowsPerInsert {
			if _, err := tx.ExecContext(ctx, db.insertQuery(head, tail, width, n), chunk...); err != nil {
				return err
			}
			continue
		}
		// Full chunks repeat: parse them once per connection, not per batch.
		if full == "" {
			full = db.insertQuery(head, tail, width, n)
		}
		st, err := db.cachedStmt(ctx, full)
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, chunk...); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) insertQuery(head, tail string, width, rows int) string {
	tuple := "(" + placeholders(width) + ")"
	var q strings.Builder
	q.Grow(len(head) + rows*(len(tuple)+2) + len(tail))
	q.WriteString(head)
	for i := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(tuple)
	}
	q.WriteString(tail)
	return db.dialect.Rebind(q.String())
}

// stmtCache holds prepared statements per database and query; database/sql
// prepares each again on every connection that runs it, once.
var stmtCache sync.Map // stmtKey → *sql.Stmt

type stmtKey struct {
	db    *sql.DB
	query string
}

func (db *DB) cachedStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	k := stmtKey{db.db, query}
	if st, ok := stmtCache.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := stmtCache.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
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

// queryIn runs head + "(?, …)" with args. Full batches repeat: they are
// parsed once per connection, not per query.
func (db *DB) queryIn(ctx context.Context, tx *sql.Tx, head string, args []any) (*sql.Rows, error) {
	q := db.dialect.Rebind(head + `(` + placeholders(len(args)) + `)`)
	if len(args) < idBatch {
		return tx.QueryContext(ctx, q, args...)
	}
	st, err := db.cachedStmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
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

// rollupWhere is the WHERE clause of rollup queries for f.
func rollupWhere(f devex.Filter) (string, []any) {
	where := `day >= ? AND day < ?`
	args := []any{f.FromDay(), f.ToDay()}
	if f.Owner != "" {
		where += ` AND owner = ?`
		args = append(args, f.Owner)
	}
	if f.Template != "" {
		where += ` AND template_ref = ?`
		args = append(args, f.Template)
	}
	return where, args
}

// totalsColumns sum the rollup columns; PostgreSQL sums BIGINTs as numeric,
// hence the casts.
const totalsColumns = `CAST(COALESCE(SUM(started), 0) AS BIGINT), CAST(COALESCE(SUM(succeeded), 0) AS BIGINT),
	CAST(COALESCE(SUM(failed), 0) AS BIGINT), CAST(COALESCE(SUM(cancelled), 0) AS BIGINT),
	CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT), CAST(COALESCE(SUM(time_saved_s), 0) AS BIGINT)`

func scanTotals(dst *devex.Totals) []any {
	return []any{&dst.Started, &dst.Succeeded, &dst.Failed, &dst.Cancelled, &dst.DurationMS, &dst.TimeSavedSeconds}
}

// RunTotals sums the runs f selects, from the daily rollups.
func (db *DB) RunTotals(ctx context.Context, f devex.Filter) (devex.Totals, error) {
	where, args := rollupWhere(f)
	var t devex.Totals
	if err := db.queryRow(ctx, `SELECT `+totalsColumns+` FROM devex_daily WHERE `+where, args...).Scan(scanTotals(&t)...); err != nil {
		return t, fmt.Errorf("run totals: %w", err)
	}
	return t, nil
}

// RunTotalsByDay sums the runs f selects per day, days without runs left out.
func (db *DB) RunTotalsByDay(ctx context.Context, f devex.Filter) ([]devex.DayTotals, error) {
	where, args := rollupWhere(f)
	rows, err := db.query(ctx, `SELECT day, `+totalsColumns+` FROM devex_daily WHERE `+where+` GROUP BY day ORDER BY day`, args...)
	if err != nil {
		return nil, fmt.Errorf("run totals by day: %w", err)
	}
	defer rows.Close()
	var out []devex.DayTotals
	for rows.Next() {
		var d devex.DayTotals
		if err := rows.Scan(append([]any{&d.Day}, scanTotals(&d.Totals)...)...); err != nil {
			return nil, fmt.Errorf("run totals by day: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RunTotalsByTemplate sums the runs f selects per template, most runs first.
func (db *DB) RunTotalsByTemplate(ctx context.Context, f devex.Filter) ([]devex.TemplateTotals, error) {
	where, args := rollupWhere(f)
	rows, err := db.query(ctx, `SELECT template_ref, `+totalsColumns+` FROM devex_daily WHERE `+where+`
		GROUP BY template_ref ORDER BY 2 DESC, template_ref`, args...)
	if err != nil {
		return nil, fmt.Errorf("run totals by template: %w", err)
	}
	defer rows.Close()
	var out []devex.TemplateTotals
	for rows.Next() {
		var d devex.TemplateTotals
		if err := rows.Scan(append([]any{&d.TemplateRef}, scanTotals(&d.Totals)...)...); err != nil {
			return nil, fmt.Errorf("run totals by template: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ActiveUsers counts the distinct users who started a run f selects.
func (db *DB) ActiveUsers(ctx context.Context, f devex.Filter) (int64, error) {
	where, args := rollupWhere(f)
	q := `SELECT COUNT(DISTINCT user_ref) FROM devex_daily_users WHERE ` + where
	if f.Owner == "" && f.Template == "" {
		return db.dayUsers(ctx, f.FromDay(), f.ToDay())
	}
	var n int64
	if err := db.queryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	return n, nil
}

// dayUsers ORs the user bitmaps of the days in [from, to) and counts the bits:
// the cost follows the number of days and users, not of runs.
func (db *DB) dayUsers(ctx context.Context, from, to string) (int64, error) {
	rows, err := db.query(ctx, `SELECT bits FROM devex_day_users WHERE day >= ? AND day < ?`, from, to)
	if err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	defer rows.Close()
	var union []byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return 0, fmt.Errorf("active users: %w", err)
		}
		if len(b) > len(union) {
			union = append(union, make([]byte, len(b)-len(union))...)
		}
		for i, x := range b {
			union[i] |= x
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	var n int64
	for _, x := range union {
		n += int64(bits.OnesCount8(x))
	}
	return n, nil
}

// ActiveUsersByTemplate counts distinct users per template.
func (db *DB) ActiveUsersByTemplate(ctx context.Context, f devex.Filter) (map[string]int64, error) {
	where, args := rollupWhere(f)
	rows, err := db.query(ctx, `SELECT template_ref, COUNT(DISTINCT user_ref) FROM devex_daily_users WHERE `+where+` GROUP BY template_ref`, args...)
	if err != nil {
		return nil, fmt.Errorf("active users by template: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("active users by template: %w", err)
		}
		out[t] = n
	}
	return out, rows.Err()
}

// DayUsers lists, per day, the distinct users who started a run f selects,
// so that callers can count distinct users over weeks and months.
func (db *DB) DayUsers(ctx context.Context, f devex.Filter) ([]devex.DayUser, error) {
	where, args := rollupWhere(f)
	rows, err := db.query(ctx, `SELECT DISTINCT day, user_ref FROM devex_daily_users WHERE `+where+` ORDER BY day, user_ref`, args...)
	if err != nil {
		return nil, fmt.Errorf("day users: %w", err)
	}
	defer rows.Close()
	var out []devex.DayUser
	for rows.Next() {
		var d devex.DayUser
		if err := rows.Scan(&d.Day, &d.UserRef); err != nil {
			return nil, fmt.Errorf("day users: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RunDurations returns the durations of the finished runs f selects, per
// template, in milliseconds, each list sorted.
func (db *DB) RunDurations(ctx context.Context, f devex.Filter) (map[string][]int64, error) {
	where, args := rollupWhere(f)
	rows, err := db.query(ctx, `SELECT template_ref, duration_ms FROM devex_runs WHERE `+where+` AND duration_ms IS NOT NULL`, args...)
	if err != nil {
		return nil, fmt.Errorf("run durations: %w", err)
	}
	defer rows.Close()
	out := map[string][]int64{}
	for rows.Next() {
		var t string
		var ms int64
		if err := rows.Scan(&t, &ms); err != nil {
			return nil, fmt.Errorf("run durations: %w", err)
		}
		out[t] = append(out[t], ms)
	}
	for _, v := range out {
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	}
	return out, rows.Err()
}

// UserCounts counts distinct users who started runs on the days since each
// of the given days ("2026-11-01"), for active-user gauges.
func (db *DB) UserCounts(ctx context.Context, sinceDays []string) ([]int64, error) {
	out := make([]int64, len(sinceDays))
	for i, d := range sinceDays {
		from, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return nil, paved.Errorf(paved.EInvalid, "user counts: %q is not a day", d)
		}
		if out[i], err = db.ActiveUsers(ctx, devex.Filter{From: from, To: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}); err != nil {
			return nil, err
		}
	}
	return out, nil
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
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("sync components: %w", err)
	}
	return added, len(known) > len(added), nil
}

// Coverage counts, per owner, the components in the catalog at at and those
// of them a template created.
func (db *DB) Coverage(ctx context.Context, at time.Time, owner string) ([]devex.CoverageRow, error) {
	ts := db.dialect.Time(at)
	q := `SELECT owner, COUNT(*), COALESCE(SUM(CASE WHEN source_template <> '' THEN 1 ELSE 0 END), 0)
		FROM devex_components WHERE first_seen_at <= ? AND (removed_at IS NULL OR removed_at > ?)`
	args := []any{ts, ts}
	if owner != "" {
		q += ` AND owner = ?`
		args = append(args, owner)
	}
	rows, err := db.query(ctx, q+` GROUP BY owner ORDER BY owner`, args...)
	if err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	defer rows.Close()
	var out []devex.CoverageRow
	for rows.Next() {
		var c devex.CoverageRow
		if err := rows.Scan(&c.Owner, &c.Components, &c.FromTemplate); err != nil {
			return nil, fmt.Errorf("coverage: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RecordApps stores observations of the applications paved created: each
// app once, its first healthy moment once, each deployment once.
func (db *DB) RecordApps(ctx context.Context, obs []devex.AppObservation) (devex.AppChange, error) {
	var ch devex.AppChange
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return ch, fmt.Errorf("record apps: %w", err)
	}
	defer tx.Rollback()
	q := func(s string) string { return db.dialect.Rebind(s) }
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
		var known int
		if err := tx.QueryRowContext(ctx, q(`SELECT COUNT(*) FROM devex_apps WHERE app_key = ?`), o.Key).Scan(&known); err != nil {
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
			}
		}
		for _, d := range o.Deployments {
			ok := 0
			if d.Succeeded {
				ok = 1
			}
			res, err := tx.ExecContext(ctx, q(`
				INSERT INTO devex_deployments (app_key, deploy_id, service, environment, revision, succeeded, deployed_at, day)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_key, deploy_id) DO NOTHING`),
				o.Key, d.ID, o.Service, o.Environment, d.Revision, ok, db.dialect.Time(d.DeployedAt), devex.Day(d.DeployedAt))
			if err != nil {
				return devex.AppChange{}, fmt.Errorf("record deployment %s/%s: %w", o.Key, d.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				ch.Deployments = append(ch.Deployments, devex.StoredDeployment{Service: o.Service, Environment: o.Environment, Succeeded: d.Succeeded})
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return devex.AppChange{}, fmt.Errorf("record apps: %w", err)
	}
	return ch, nil
}

// appOwnerJoin lets app and deployment queries filter by the owner of the
// service's catalog entity.
const appOwnerJoin = ` LEFT JOIN devex_components c ON c.entity_ref = x.service`

// TimesToHealthy returns, sorted, how long the apps that first became
// healthy in f's range took from their template run, in milliseconds.
func (db *DB) TimesToHealthy(ctx context.Context, f devex.Filter) ([]int64, error) {
	q := `SELECT x.healthy_after_ms FROM devex_apps x` + appOwnerJoin + `
		WHERE x.first_healthy_at >= ? AND x.first_healthy_at < ?`
	args := []any{db.dialect.Time(f.From), db.dialect.Time(f.To)}
	if f.Owner != "" {
		q += ` AND c.owner = ?`
		args = append(args, f.Owner)
	}
	if f.Template != "" {
		q += ` AND x.template_ref = ?`
		args = append(args, f.Template)
	}
	rows, err := db.query(ctx, q+` ORDER BY x.healthy_after_ms`, args...)
	if err != nil {
		return nil, fmt.Errorf("times to healthy: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var ms int64
		if err := rows.Scan(&ms); err != nil {
			return nil, fmt.Errorf("times to healthy: %w", err)
		}
		out = append(out, ms)
	}
	return out, rows.Err()
}

// Deployments sums, per service, the deployments in f's range.
func (db *DB) Deployments(ctx context.Context, f devex.Filter) ([]devex.DeploymentRow, error) {
	q := `SELECT x.service,
			COALESCE(SUM(CASE WHEN x.succeeded = 1 THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN x.succeeded = 0 THEN 1 ELSE 0 END), 0),
			COUNT(DISTINCT CASE WHEN x.succeeded = 1 THEN x.day END)
		FROM devex_deployments x` + appOwnerJoin + `
		WHERE x.day >= ? AND x.day < ?`
	args := []any{f.FromDay(), f.ToDay()}
	if f.Owner != "" {
		q += ` AND c.owner = ?`
		args = append(args, f.Owner)
	}
	if f.Template != "" {
		q += ` AND x.app_key IN (SELECT app_key FROM devex_apps WHERE template_ref = ?)`
		args = append(args, f.Template)
	}
	rows, err := db.query(ctx, q+` GROUP BY x.service ORDER BY 2 DESC, x.service`, args...)
	if err != nil {
		return nil, fmt.Errorf("deployments: %w", err)
	}
	defer rows.Close()
	var out []devex.DeploymentRow
	for rows.Next() {
		var d devex.DeploymentRow
		if err := rows.Scan(&d.Service, &d.Succeeded, &d.Failed, &d.DeploymentDays); err != nil {
			return nil, fmt.Errorf("deployments: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RunFunnel follows the runs f selects: started, succeeded, registered (the
// entity the run output is in the catalog) and healthy (an app the run
// created reached Synced and Healthy).
func (db *DB) RunFunnel(ctx context.Context, f devex.Filter) (devex.Funnel, error) {
	where, args := rollupWhere(f)
	var fn devex.Funnel
	err := db.queryRow(ctx, `SELECT COUNT(*),
			COALESCE(SUM(CASE WHEN r.status = 'completed' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN r.status = 'completed' AND EXISTS (
				SELECT 1 FROM devex_components c WHERE c.entity_ref = r.entity_ref AND r.entity_ref <> '') THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN r.status = 'completed' AND EXISTS (
				SELECT 1 FROM devex_apps a WHERE a.task_id = r.task_id AND a.first_healthy_at IS NOT NULL) THEN 1 ELSE 0 END), 0)
		FROM devex_runs r WHERE `+where, args...).Scan(&fn.Started, &fn.Succeeded, &fn.Registered, &fn.Healthy)
	if err != nil {
		return fn, fmt.Errorf("run funnel: %w", err)
	}
	return fn, nil
}

// DeleteDevexBefore applies retention: raw runs and deployments of days
// before rawBefore, rollups of days before rollupBefore, and components
// removed from the catalog before rawBefore. It returns the rows deleted.
func (db *DB) DeleteDevexBefore(ctx context.Context, rawBefore, rollupBefore time.Time) (int64, error) {
	raw, rollup := devex.Day(rawBefore), devex.Day(rollupBefore)
	stmts := []struct {
		q   string
		arg any
	}{
		{`DELETE FROM devex_runs WHERE day < ? AND status NOT IN ('open', 'processing')`, raw},
		{`DELETE FROM devex_deployments WHERE day < ?`, raw},
		{`DELETE FROM devex_components WHERE removed_at < ?`, db.dialect.Time(rawBefore)},
		{`DELETE FROM devex_daily WHERE day < ?`, rollup},
		{`DELETE FROM devex_daily_users WHERE day < ?`, rollup},
		{`DELETE FROM devex_day_users WHERE day < ?`, rollup},
		{`DELETE FROM devex_feedback WHERE day < ?`, rollup},
	}
	var total int64
	for _, s := range stmts {
		res, err := db.exec(ctx, s.q, s.arg)
		if err != nil {
			return total, fmt.Errorf("devex retention: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
