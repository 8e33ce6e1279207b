package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// The report queries of the adoption page: totals, users, durations,
// coverage, time to healthy, deployments and the funnel, read from the
// rollups of devex_rollups.go (and the raw runs where a query needs them).

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

// RunTotals sums the runs f selects, from the rollups of its edge days,
// whole months and whole years.
func (db *DB) RunTotals(ctx context.Context, f devex.Filter) (devex.Totals, error) {
	var t devex.Totals
	src, args, err := db.periodRollups(ctx, f, grainYear, false)
	if err != nil {
		return t, fmt.Errorf("run totals: %w", err)
	}
	if err := db.queryRow(ctx, `SELECT `+totalsColumns+` FROM `+src, args...).Scan(scanTotals(&t)...); err != nil {
		return t, fmt.Errorf("run totals: %w", err)
	}
	return t, nil
}

// RunTotalsByDay sums the runs f selects per day, days without runs left out.
func (db *DB) RunTotalsByDay(ctx context.Context, f devex.Filter) ([]devex.DayTotals, error) {
	where, args := rollupWhere(f)
	out, err := db.dayTotals(ctx, `SELECT day, `+totalsColumns+` FROM devex_daily WHERE `+where+` GROUP BY day ORDER BY day`, args)
	if err != nil {
		return nil, fmt.Errorf("run totals by day: %w", err)
	}
	return out, nil
}

// dayTotals reads the rows of q: a day and the totals' columns.
func (db *DB) dayTotals(ctx context.Context, q string, args []any) ([]devex.DayTotals, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []devex.DayTotals
	for rows.Next() {
		var d devex.DayTotals
		if err := rows.Scan(append([]any{&d.Day}, scanTotals(&d.Totals)...)...); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RunTotalsByTemplate sums the runs f selects per template, most runs first.
func (db *DB) RunTotalsByTemplate(ctx context.Context, f devex.Filter) ([]devex.TemplateTotals, error) {
	if f.Owner == "" && f.Template == "" {
		out, err := db.packedTotalsByTemplate(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("run totals by template: %w", err)
		}
		return out, nil
	}
	src, args, err := db.periodRollups(ctx, f, grainYear, true)
	if err != nil {
		return nil, fmt.Errorf("run totals by template: %w", err)
	}
	rows, err := db.query(ctx, `SELECT template_ref, `+totalsColumns+` FROM `+src+`
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

// ActiveUsers counts the distinct users who started a run f selects: with
// no filter from the day bitmaps, with one from the edge days' rows and the
// month bits of the whole months.
func (db *DB) ActiveUsers(ctx context.Context, f devex.Filter) (int64, error) {
	if f.Owner == "" && f.Template == "" {
		return db.dayUsers(ctx, f.FromDay(), f.ToDay())
	}
	src, args, err := db.periodUsers(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	var n int64
	if err := db.queryRow(ctx, `SELECT COUNT(DISTINCT user_ref) FROM `+src, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	return n, nil
}

// ActiveUsersByTemplate counts distinct users per template, from the edge
// days' rows and the month bits of the whole months.
func (db *DB) ActiveUsersByTemplate(ctx context.Context, f devex.Filter) (map[string]int64, error) {
	if f.Owner == "" && f.Template == "" {
		out, err := db.packedUsersByTemplate(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("active users by template: %w", err)
		}
		return out, nil
	}
	src, args, err := db.periodUsers(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("active users by template: %w", err)
	}
	rows, err := db.query(ctx, `SELECT template_ref, COUNT(DISTINCT user_ref) FROM `+src+` GROUP BY template_ref`, args...)
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

// Coverage counts, per owner, the components in the catalog at at and those
// of them a template created.
func (db *DB) Coverage(ctx context.Context, at time.Time, owner string) ([]devex.CoverageRow, error) {
	from, args := db.coverageFrom(at, owner)
	rows, err := db.query(ctx, `SELECT owner, `+coverageCounts+from+` GROUP BY owner ORDER BY owner`, args...)
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

// CoverageTotal counts the components in the catalog at at (of owner, if
// set) and those of them a template created, every owner together: the
// summary's figure, without Coverage's grouping per owner (most of its
// time with 10,000 components).
func (db *DB) CoverageTotal(ctx context.Context, at time.Time, owner string) (devex.CoverageRow, error) {
	from, args := db.coverageFrom(at, owner)
	c := devex.CoverageRow{Owner: owner}
	if err := db.queryRow(ctx, `SELECT `+coverageCounts+from, args...).Scan(&c.Components, &c.FromTemplate); err != nil {
		return c, fmt.Errorf("coverage: %w", err)
	}
	return c, nil
}

// coverageCounts are the columns of the coverage's counts.
const coverageCounts = `COUNT(*), COALESCE(SUM(CASE WHEN source_template <> '' THEN 1 ELSE 0 END), 0)`

// coverageFrom is the FROM and WHERE of the components in the catalog at at
// (of owner, if set), with its arguments.
func (db *DB) coverageFrom(at time.Time, owner string) (string, []any) {
	ts := db.dialect.Time(at)
	q := ` FROM devex_components WHERE first_seen_at <= ? AND (removed_at IS NULL OR removed_at > ?)`
	args := []any{ts, ts}
	if owner != "" {
		q += ` AND owner = ?`
		args = append(args, owner)
	}
	return q, args
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

// deploymentsFrom is the FROM and WHERE of the deployments f selects (x).
func deploymentsFrom(f devex.Filter) (string, []any) {
	q := ` FROM devex_deployments x WHERE x.day >= ? AND x.day < ?`
	args := []any{f.FromDay(), f.ToDay()}
	if f.Owner != "" {
		// Only an owner filter needs the catalog: the join costs a lookup
		// per deployment.
		q = ` FROM devex_deployments x` + appOwnerJoin + ` WHERE x.day >= ? AND x.day < ? AND c.owner = ?`
		args = append(args, f.Owner)
	}
	if f.Template != "" {
		q += ` AND x.app_key IN (SELECT app_key FROM devex_apps WHERE template_ref = ?)`
		args = append(args, f.Template)
	}
	return q, args
}

// SucceededDeployments counts the succeeded deployments f selects: the
// summary's figure, without a row per service.
func (db *DB) SucceededDeployments(ctx context.Context, f devex.Filter) (int64, error) {
	q, args := ``, []any(nil)
	if f.Owner == "" && f.Template == "" {
		src, rargs, err := db.deploymentRollups(ctx, f, deploymentsAll)
		if err != nil {
			return 0, fmt.Errorf("succeeded deployments: %w", err)
		}
		q, args = `SELECT COALESCE(SUM(r.succeeded), 0) FROM `+src, rargs
	} else {
		from, fargs := deploymentsFrom(f)
		q, args = `SELECT COUNT(*)`+from+` AND x.succeeded = 1`, fargs
	}
	var n int64
	if err := db.queryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("succeeded deployments: %w", err)
	}
	return n, nil
}

// Deployments sums, per service, the deployments in f's range. Without a
// filter from the service's rollups (devex_deployment_totals); a team or
// template filter reads the deployments, as the team comes from the catalog
// at read time.
func (db *DB) Deployments(ctx context.Context, f devex.Filter) ([]devex.DeploymentRow, error) {
	if f.Owner == "" && f.Template == "" {
		out, err := db.deploymentsFromRollups(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("deployments: %w", err)
		}
		return out, nil
	}
	from, args := deploymentsFrom(f)
	q := `SELECT x.service,
			COALESCE(SUM(CASE WHEN x.succeeded = 1 THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN x.succeeded = 0 THEN 1 ELSE 0 END), 0),
			COUNT(DISTINCT CASE WHEN x.succeeded = 1 THEN x.day END)` + from + ` GROUP BY x.service ORDER BY 2 DESC, x.service`
	rows, err := db.query(ctx, q, args...)
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
