package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

const feedbackColumns = `task_id, user_ref, template_ref, owner, score, comment, created_at, updated_at`

func scanFeedback(row interface{ Scan(...any) error }) (devex.Feedback, error) {
	var f devex.Feedback
	err := row.Scan(&f.TaskID, &f.UserRef, &f.TemplateRef, &f.Owner, &f.Score, &f.Comment, timeColumn{&f.CreatedAt}, timeColumn{&f.UpdatedAt})
	return f, err
}

// GetFeedback returns a user's answer about a run, or an ENotFound error.
func (db *DB) GetFeedback(ctx context.Context, taskID, userRef string) (devex.Feedback, error) {
	f, err := scanFeedback(db.queryRow(ctx, `SELECT `+feedbackColumns+` FROM devex_feedback WHERE task_id = ? AND user_ref = ?`, taskID, userRef))
	if err == sql.ErrNoRows {
		return devex.Feedback{}, paved.Errorf(paved.ENotFound, "no feedback on run %q", taskID)
	}
	if err != nil {
		return devex.Feedback{}, fmt.Errorf("get feedback: %w", err)
	}
	return f, nil
}

// PutFeedback stores a user's answer about a run in one statement: a new
// answer, or a change of one first given at or after editableSince. A
// change after that is an EConflict error and leaves the answer as it was.
// It returns the answer as stored and whether it is new.
func (db *DB) PutFeedback(ctx context.Context, fb devex.Feedback, editableSince time.Time) (devex.Feedback, bool, error) {
	if fb.TaskID == "" || fb.UserRef == "" || fb.TemplateRef == "" || fb.Score < 1 || fb.Score > 5 || fb.CreatedAt.IsZero() {
		return devex.Feedback{}, false, paved.Errorf(paved.EInvalid, "feedback needs a run, a user, a template, a score from 1 to 5 and a time")
	}
	fb.CreatedAt = fb.CreatedAt.UTC().Truncate(time.Microsecond)
	if fb.UpdatedAt.IsZero() {
		fb.UpdatedAt = fb.CreatedAt
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return devex.Feedback{}, false, fmt.Errorf("put feedback: %w", err)
	}
	defer tx.Rollback()
	// A new answer takes the stage of its run (devex_funnel.go), which the
	// stage lock keeps from moving meanwhile.
	if err := db.lockStages(ctx, tx, true); err != nil {
		return devex.Feedback{}, false, fmt.Errorf("put feedback: %w", err)
	}
	// The packs of the answer's periods are read and written back below:
	// their writers run one at a time, and the score the answer had is
	// read under that lock.
	if err := db.lockFeedbackPacks(ctx, tx); err != nil {
		return devex.Feedback{}, false, fmt.Errorf("put feedback: %w", err)
	}
	// A new answer counts in its first day and template, which a change
	// keeps.
	before, day, template := 0, devex.Day(fb.CreatedAt), fb.TemplateRef
	if err := tx.QueryRowContext(ctx, db.dialect.Rebind(`SELECT score, day, template_ref FROM devex_feedback WHERE task_id = ? AND user_ref = ?`),
		fb.TaskID, fb.UserRef).Scan(&before, &day, &template); err != nil && err != sql.ErrNoRows {
		return devex.Feedback{}, false, fmt.Errorf("put feedback: %w", err)
	}
	stored, err := scanFeedback(tx.QueryRowContext(ctx, db.dialect.Rebind(`
		INSERT INTO devex_feedback (task_id, user_ref, template_ref, owner, score, comment, day, created_at, updated_at, stage)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, `+runStage(`?`)+`)
		ON CONFLICT (task_id, user_ref) DO UPDATE SET score = excluded.score, comment = excluded.comment, updated_at = excluded.updated_at
		WHERE devex_feedback.created_at >= ?
		RETURNING `+feedbackColumns),
		fb.TaskID, fb.UserRef, fb.TemplateRef, fb.Owner, fb.Score, fb.Comment, devex.Day(fb.CreatedAt),
		db.dialect.Time(fb.CreatedAt), db.dialect.Time(fb.UpdatedAt), fb.TaskID, db.dialect.Time(editableSince)))
	if err == sql.ErrNoRows {
		return devex.Feedback{}, false, paved.Errorf(paved.EConflict,
			"the feedback on run %q can no longer be changed: answers are editable for a while after they are first given", fb.TaskID)
	}
	if err != nil {
		return devex.Feedback{}, false, fmt.Errorf("put feedback: %w", err)
	}
	if stored.Score != before {
		d := scoreDelta{}
		d.add(day, template, before, -1)
		d.add(day, template, stored.Score, 1)
		if err := applyFeedbackPacks(ctx, tx, db.dialect, d); err != nil {
			return devex.Feedback{}, false, fmt.Errorf("put feedback: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return devex.Feedback{}, false, fmt.Errorf("put feedback: %w", err)
	}
	return stored, stored.CreatedAt.Equal(fb.CreatedAt), nil
}

// UserRuns returns a user's finished runs created since, newest first, with
// their answers.
func (db *DB) UserRuns(ctx context.Context, userRef string, since time.Time) ([]devex.RunFeedback, error) {
	rows, err := db.query(ctx, `
		SELECT r.task_id, r.template_ref, r.owner, r.status, r.created_at,
			f.score, f.comment, f.created_at, f.updated_at
		FROM devex_runs r LEFT JOIN devex_feedback f ON f.task_id = r.task_id AND f.user_ref = r.user_ref
		WHERE r.user_ref = ? AND r.created_at >= ? AND r.status NOT IN ('open', 'processing')
		ORDER BY r.created_at DESC, r.task_id LIMIT 100`, userRef, db.dialect.Time(since))
	if err != nil {
		return nil, fmt.Errorf("user runs: %w", err)
	}
	defer rows.Close()
	var out []devex.RunFeedback
	for rows.Next() {
		var r devex.RunFeedback
		var score sql.NullInt64
		var comment sql.NullString
		var created, updated time.Time
		if err := rows.Scan(&r.TaskID, &r.TemplateRef, &r.Owner, &r.Status, timeColumn{&r.CreatedAt},
			&score, &comment, timeColumn{&created}, timeColumn{&updated}); err != nil {
			return nil, fmt.Errorf("user runs: %w", err)
		}
		if score.Valid {
			r.Feedback = &devex.Feedback{TaskID: r.TaskID, UserRef: userRef, TemplateRef: r.TemplateRef, Owner: r.Owner,
				Score: int(score.Int64), Comment: comment.String, CreatedAt: created, UpdatedAt: updated}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// feedbackWhere is the WHERE clause of answer queries for f: by the day of
// the first answer.
func feedbackWhere(f devex.Filter) (string, []any) {
	return feedbackFilter(`f.day >= ? AND f.day < ?`, []any{f.FromDay(), f.ToDay()}, f)
}

// feedbackFilter adds f's team and template to the clause where selecting
// answers.
func feedbackFilter(where string, args []any, f devex.Filter) (string, []any) {
	if f.Owner != "" {
		where += ` AND f.owner = ?`
		args = append(args, f.Owner)
	}
	if f.Template != "" {
		where += ` AND f.template_ref = ?`
		args = append(args, f.Template)
	}
	return where, args
}

const scoreColumns = `COALESCE(SUM(CASE WHEN f.score = 1 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN f.score = 2 THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN f.score = 3 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN f.score = 4 THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN f.score = 5 THEN 1 ELSE 0 END), 0)`

func scanScores(key *string, c *devex.ScoreCounts) []any {
	return []any{key, &c.Counts[0], &c.Counts[1], &c.Counts[2], &c.Counts[3], &c.Counts[4]}
}

func (db *DB) scoresBy(ctx context.Context, name, query string, args ...any) ([]string, []devex.ScoreCounts, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	defer rows.Close()
	var keys []string
	var counts []devex.ScoreCounts
	for rows.Next() {
		var k string
		var c devex.ScoreCounts
		if err := rows.Scan(scanScores(&k, &c)...); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		keys, counts = append(keys, k), append(counts, c)
	}
	return keys, counts, rows.Err()
}

// periodRange is the periods of one grain of a rollup kept per day ('d',
// period 2026-11-03), month ('m', 2026-11) and year ('y', 2026) that cover
// part of a range of days: periods from From (inclusive) to To (exclusive).
type periodRange struct{ Grain, From, To string }

// periodRanges splits the days [from, to) as splitRange does (edge days,
// whole months, whole years when coarsest is 'y', whole months, edge days)
// into the ranges of periods of devex_feedback_scores; their rows never
// overlap, so their sum is the sum over the days.
func periodRanges(from, to time.Time, coarsest byte) []periodRange {
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, time.UTC)
	if coarsest == 'd' {
		if !from.Before(to) {
			return nil
		}
		return []periodRange{{"d", devex.Day(from), devex.Day(to)}}
	}
	s := splitRange(from, to, coarsest == 'y')
	var out []periodRange
	add := func(grain string, r dayRange, width int) {
		if r.from < r.to {
			out = append(out, periodRange{grain, r.from[:width], r.to[:width]})
		}
	}
	add("d", s.days[0], len("2006-01-02"))
	add("m", s.months[0], len("2006-01"))
	add("y", s.years, len("2006"))
	add("m", s.months[1], len("2006-01"))
	add("d", s.days[1], len("2006-01-02"))
	return out
}

// periods lists the periods of r, from From up to To.
func (r periodRange) periods() []string {
	layout := map[string]string{"d": time.DateOnly, "m": "2006-01", "y": "2006"}[r.Grain]
	var out []string
	for p := r.From; p < r.To; {
		out = append(out, p)
		t, err := time.Parse(layout, p)
		if err != nil {
			break // periods are the store's own
		}
		switch r.Grain {
		case "d":
			t = t.AddDate(0, 0, 1)
		case "m":
			t = t.AddDate(0, 1, 0)
		default:
			t = t.AddDate(1, 0, 0)
		}
		p = t.Format(layout)
	}
	return out
}

// yearParts reads the months on either side of whole years from the
// counts of every team per part of a year (migration 0023): the months
// from a year's start month to its end ('rest') and those from its January
// to the month before its end ('ytd'), one row each per template. Each
// becomes a range of one period (p up to p + "-").
func yearParts(ranges []periodRange) []periodRange {
	years := slices.IndexFunc(ranges, func(r periodRange) bool { return r.Grain == "y" })
	if years < 0 {
		return ranges
	}
	out := slices.Clone(ranges)
	for i, r := range out {
		if r.Grain != "m" {
			continue
		}
		if i < years { // [a month, the next January)
			out[i] = periodRange{"rest", r.From, r.From + "-"}
		} else { // [January, a month)
			out[i] = periodRange{"ytd", r.To, r.To + "-"}
		}
	}
	return out
}

// feedbackScoresWhere selects the rows of devex_feedback_scores (see its
// migration) that sum to the answers of f's days for the team f.Owner (”
// for every team), in periods no coarser than coarsest.
func feedbackScoresWhere(f devex.Filter, coarsest byte) (string, []any) {
	ranges := periodRanges(f.From, f.To, coarsest)
	if len(ranges) == 0 {
		return `false`, nil
	}
	if f.Owner == "" {
		ranges = yearParts(ranges)
	}
	where, args := `s.owner = ? AND (`, []any{f.Owner}
	for i, r := range ranges {
		if i > 0 {
			where += ` OR `
		}
		where += `(s.grain = ? AND s.period >= ? AND s.period < ?)`
		args = append(args, r.Grain, r.From, r.To)
	}
	return where + `)`, args
}

const scoreSums = `SUM(s.s1), SUM(s.s2), SUM(s.s3), SUM(s.s4), SUM(s.s5)`

// ScoresByTemplate counts the answers f selects by template and score, from
// the counts kept per day, month and year.
func (db *DB) ScoresByTemplate(ctx context.Context, f devex.Filter) ([]devex.TemplateScores, error) {
	if f.Owner == "" && f.Template == "" {
		return db.packedScoresByTemplate(ctx, f)
	}
	where, args := feedbackScoresWhere(f, 'y')
	if f.Template != "" {
		where += ` AND s.template_ref = ?`
		args = append(args, f.Template)
	} else {
		where += ` AND s.template_ref <> ''`
	}
	keys, counts, err := db.scoresBy(ctx, "scores by template", `SELECT s.template_ref, `+scoreSums+`
		FROM devex_feedback_scores s WHERE `+where+` GROUP BY s.template_ref HAVING SUM(s.s1 + s.s2 + s.s3 + s.s4 + s.s5) > 0 ORDER BY 1`, args...)
	out := make([]devex.TemplateScores, len(keys))
	for i := range keys {
		out[i] = devex.TemplateScores{TemplateRef: keys[i], ScoreCounts: counts[i]}
	}
	return out, err
}

// ScoresByPeriod counts the answers f selects by score, per day for the
// groupings by day and week and per month (edge days per day) for the
// grouping by month; each row's Day is the first day of its period.
func (db *DB) ScoresByPeriod(ctx context.Context, f devex.Filter, grouping string) ([]devex.DayScores, error) {
	coarsest := byte('d')
	if grouping == devex.GroupMonth {
		coarsest = 'm'
	}
	// Every period of the range is one key of the counts: asked for by
	// key, the rows of other templates in the same periods are not read.
	// The range's bounds besides the keys are for PostgreSQL's generic
	// plan of the statement (pgx prepares it; from the sixth call on, the
	// plan is for any values): there the list is a filter, not a key, and
	// without the bounds the scan went through every period of the grain
	// (28 days: 2,300 pages, 36 ms, against 41 pages, 0.4 ms).
	var conds []string
	var args []any
	for _, r := range periodRanges(f.From, f.To, coarsest) {
		periods := r.periods()
		conds = append(conds, `(s.grain = ? AND s.owner = ? AND s.template_ref = ? AND s.period >= ? AND s.period < ? AND s.period IN (`+
			placeholders(len(periods))+`))`)
		args = append(args, r.Grain, f.Owner, f.Template, r.From, r.To)
		for _, p := range periods {
			args = append(args, p)
		}
	}
	if len(conds) == 0 {
		return nil, nil
	}
	keys, counts, err := db.scoresBy(ctx, "scores by period", `SELECT s.period, `+scoreSums+`
		FROM devex_feedback_scores s WHERE `+strings.Join(conds, ` OR `)+`
		GROUP BY s.period HAVING SUM(s.s1 + s.s2 + s.s3 + s.s4 + s.s5) > 0 ORDER BY 1`, args...)
	out := make([]devex.DayScores, len(keys))
	for i, k := range keys {
		if len(k) == len("2006-01") {
			k += "-01"
		}
		out[i] = devex.DayScores{Day: k, ScoreCounts: counts[i]}
	}
	return out, err
}

// FeedbackComments returns the latest answers with a comment that f
// selects, newest change first, at most limit. The range is that of the
// days of the first answers, read from created_at (the day is that of
// created_at), so that the planner walks the comments' index newest first
// and stops at limit instead of sorting every comment of the range.
func (db *DB) FeedbackComments(ctx context.Context, f devex.Filter, limit int) ([]devex.Feedback, error) {
	from, err := time.Parse(time.DateOnly, f.FromDay())
	if err != nil {
		return nil, fmt.Errorf("feedback comments: %w", err)
	}
	to, err := time.Parse(time.DateOnly, f.ToDay())
	if err != nil {
		return nil, fmt.Errorf("feedback comments: %w", err)
	}
	where, args := feedbackFilter(`f.created_at >= ? AND f.created_at < ?`, []any{db.dialect.Time(from), db.dialect.Time(to)}, f)
	rows, err := db.query(ctx, `SELECT f.task_id, f.user_ref, f.template_ref, f.owner, f.score, f.comment, f.created_at, f.updated_at
		FROM devex_feedback f WHERE `+where+` AND f.comment <> '' ORDER BY f.updated_at DESC, f.task_id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("feedback comments: %w", err)
	}
	defer rows.Close()
	var out []devex.Feedback
	for rows.Next() {
		fb, err := scanFeedback(rows)
		if err != nil {
			return nil, fmt.Errorf("feedback comments: %w", err)
		}
		out = append(out, fb)
	}
	return out, rows.Err()
}
