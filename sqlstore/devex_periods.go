package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/paved-dev/paved/devex"
)

// The rollups per month and per year (devex_period_totals, migration 0014):
// the daily counts summed per (period, template, owner), written by the
// transaction that writes the days (applyPeriodDeltas). A query over a range
// reads the days at its ragged edges from devex_daily, its whole months and
// whole years from devex_period_totals (splitRange): five years cost a few
// rows per template and period, and the sums are those of the days, exactly.
//
// Retention deletes days before a floor (DeleteDevexBefore); the periods
// that start before the floor hold days it deleted, so queries start at the
// floor (rollupFloorCursor): what lies before it is gone from the days too.

const (
	grainMonth = "month"
	grainYear  = "year"
	// rollupFloorCursor names the first day the rollups still hold.
	rollupFloorCursor = "devex.rollups.floor"
)

// periodStarts are the first days of the month and of the year of day
// ("2026-11-17" → "2026-11-01", "2026-01-01").
func periodStarts(day string) (month, year string) {
	return day[:7] + "-01", day[:4] + "-01-01"
}

// applyPeriodDeltas adds the daily deltas to their months and years, and
// to the days, months and years of every template and owner together.
func (db *DB) applyPeriodDeltas(ctx context.Context, tx *sql.Tx, deltas map[rollupKey]*devex.Totals) error {
	type periodKey struct{ grain, start, template, owner string }
	sums := map[periodKey]*devex.Totals{}
	add := func(k periodKey, d *devex.Totals) {
		s := sums[k]
		if s == nil {
			s = &devex.Totals{}
			sums[k] = s
		}
		s.Add(*d)
	}
	for k, d := range deltas {
		if *d == (devex.Totals{}) {
			continue
		}
		month, year := periodStarts(k.day)
		add(periodKey{grainMonth, month, k.template, k.owner}, d)
		add(periodKey{grainYear, year, k.template, k.owner}, d)
		// Every template and owner together (devex_totals): the empty
		// template, which no run has, marks them.
		add(periodKey{grainDay, k.day, "", ""}, d)
		add(periodKey{grainMonth, month, "", ""}, d)
		add(periodKey{grainYear, year, "", ""}, d)
	}
	keys := make([]periodKey, 0, len(sums))
	for k, s := range sums {
		if *s != (devex.Totals{}) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b periodKey) int {
		return cmp.Or(strings.Compare(a.grain, b.grain), strings.Compare(a.start, b.start),
			strings.Compare(a.template, b.template), strings.Compare(a.owner, b.owner))
	})
	const width, allWidth = 10, 8
	args := make([]any, 0, len(keys)*width)
	var all []any
	for _, k := range keys {
		s := sums[k]
		if k.template == "" {
			all = append(all, k.grain, k.start, s.Started, s.Succeeded, s.Failed, s.Cancelled, s.DurationMS, s.TimeSavedSeconds)
			continue
		}
		args = append(args, k.grain, k.start, k.template, k.owner, s.Started, s.Succeeded, s.Failed, s.Cancelled, s.DurationMS, s.TimeSavedSeconds)
	}
	if err := db.insertRows(ctx, tx, `INSERT INTO devex_totals (grain, start, started, succeeded, failed,
			cancelled, duration_ms, time_saved_s) VALUES `, `
		ON CONFLICT (grain, start) DO UPDATE SET
			started = devex_totals.started + excluded.started,
			succeeded = devex_totals.succeeded + excluded.succeeded,
			failed = devex_totals.failed + excluded.failed,
			cancelled = devex_totals.cancelled + excluded.cancelled,
			duration_ms = devex_totals.duration_ms + excluded.duration_ms,
			time_saved_s = devex_totals.time_saved_s + excluded.time_saved_s`, allWidth, all); err != nil {
		return err
	}
	return db.insertRows(ctx, tx, `INSERT INTO devex_period_totals (grain, start, template_ref, owner, started, succeeded, failed,
			cancelled, duration_ms, time_saved_s) VALUES `, `
		ON CONFLICT (grain, start, template_ref, owner) DO UPDATE SET
			started = devex_period_totals.started + excluded.started,
			succeeded = devex_period_totals.succeeded + excluded.succeeded,
			failed = devex_period_totals.failed + excluded.failed,
			cancelled = devex_period_totals.cancelled + excluded.cancelled,
			duration_ms = devex_period_totals.duration_ms + excluded.duration_ms,
			time_saved_s = devex_period_totals.time_saved_s + excluded.time_saved_s`, width, args)
}

// dayRange is the days [from, to), as rollup days.
type dayRange struct{ from, to string }

// rangeSplit is a range of days as the rollups answer it: the ragged days
// at its edges, its whole months and its whole years. Each part may be
// empty (from == to).
type rangeSplit struct {
	days   [2]dayRange
	months [2]dayRange
	years  dayRange
}

// splitRange splits [from, to) (UTC midnights) into edge days, whole months
// and, when years is set, whole years.
func splitRange(from, to time.Time, years bool) rangeSplit {
	day := func(t time.Time) string { return devex.Day(t) }
	var s rangeSplit
	empty := dayRange{day(to), day(to)}
	s.days[1], s.months[0], s.months[1], s.years = empty, empty, empty, empty
	if !from.Before(to) {
		s.days[0] = empty
		return s
	}
	mFrom := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	if mFrom.Before(from) {
		mFrom = mFrom.AddDate(0, 1, 0)
	}
	mTo := time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !mFrom.Before(mTo) {
		s.days[0] = dayRange{day(from), day(to)}
		return s
	}
	s.days[0], s.days[1] = dayRange{day(from), day(mFrom)}, dayRange{day(mTo), day(to)}
	s.months[0] = dayRange{day(mFrom), day(mTo)}
	if !years {
		return s
	}
	yFrom := time.Date(mFrom.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	if yFrom.Before(mFrom) {
		yFrom = yFrom.AddDate(1, 0, 0)
	}
	yTo := time.Date(mTo.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	if !yFrom.Before(yTo) {
		return s
	}
	s.months[0], s.months[1] = dayRange{day(mFrom), day(yFrom)}, dayRange{day(yTo), day(mTo)}
	s.years = dayRange{day(yFrom), day(yTo)}
	return s
}

// rollupFrom is from, or the first day the rollups hold when retention
// deleted the days before it.
func (db *DB) rollupFrom(ctx context.Context, from time.Time) (time.Time, error) {
	return db.floorFrom(ctx, rollupFloorCursor, from)
}

// floorFrom is from, or the floor the cursor names (the first day retention
// kept) when it is later.
func (db *DB) floorFrom(ctx context.Context, cursor string, from time.Time) (time.Time, error) {
	floor, err := db.GetCursor(ctx, cursor)
	if err != nil {
		return from, err
	}
	if t, err := time.Parse(time.DateOnly, floor); err == nil && t.After(from) {
		return t, nil
	}
	return from, nil
}

// Grains a range is split into, finest first: a range read up to grainDay
// is all days.
const grainDay = "day"

// periodRollups is a FROM source (with its arguments) of the rollup rows
// that sum to f's runs: columns period (the day, month or year start) and
// the counts, and with perTemplate template_ref and owner too. coarsest
// (grainDay, grainMonth or grainYear) is the coarsest period read whole.
// Without a filter, and unless perTemplate, the rows are devex_totals' (one
// per period); else devex_daily's and devex_period_totals'.
func (db *DB) periodRollups(ctx context.Context, f devex.Filter, coarsest string, perTemplate bool) (string, []any, error) {
	from, err := db.rollupFrom(ctx, f.From)
	if err != nil {
		return "", nil, err
	}
	s := splitRange(from, f.To, coarsest == grainYear)
	if coarsest == grainDay {
		s = splitRange(f.To, f.To, false)
		if from.Before(f.To) {
			s.days[0] = dayRange{devex.Day(from), devex.Day(f.To)}
		}
	}
	const counts = `started, succeeded, failed, cancelled, duration_ms, time_saved_s`
	var u unionOf
	if !perTemplate && f.Owner == "" && f.Template == "" {
		const head = `SELECT start AS period, ` + counts + ` FROM devex_totals WHERE grain = `
		u.add(head+`'day'`, "start", "", nil, s.days[:]...)
		u.add(head+`'month'`, "start", "", nil, s.months[:]...)
		u.add(head+`'year'`, "start", "", nil, s.years)
		q, args := u.source()
		return q + ` r`, args, nil
	}
	filter, fargs := ownerTemplateFilter(f)
	const cols = `template_ref, owner, ` + counts
	u.add(`SELECT day AS period, `+cols+` FROM devex_daily WHERE 1 = 1`, "day", filter, fargs, s.days[:]...)
	u.add(`SELECT start AS period, `+cols+` FROM devex_period_totals WHERE grain = 'month'`, "start", filter, fargs, s.months[:]...)
	u.add(`SELECT start AS period, `+cols+` FROM devex_period_totals WHERE grain = 'year'`, "start", filter, fargs, s.years)
	q, args := u.source()
	return q + ` r`, args, nil
}

// unionOf builds a UNION ALL of the branches whose ranges are not empty, so
// that each branch is one index range, and none is asked for nothing.
type unionOf struct {
	first    string // the first branch offered, for a source of no rows
	branches []string
	args     []any
}

// add offers the branch head (a SELECT ending in a WHERE clause) for col
// within the ranges rs, then filter (" AND …" with fargs).
func (u *unionOf) add(head, col, filter string, fargs []any, rs ...dayRange) {
	if u.first == "" {
		u.first = head + ` AND 1 = 0`
	}
	var conds []string
	var args []any
	for _, r := range rs {
		if r.from < r.to {
			conds = append(conds, col+` >= ? AND `+col+` < ?`)
			args = append(args, r.from, r.to)
		}
	}
	if len(conds) == 0 {
		return
	}
	u.branches = append(u.branches, head+` AND ((`+strings.Join(conds, `) OR (`)+`))`+filter)
	u.args = append(append(u.args, args...), fargs...)
}

// source is the union in parentheses, with its arguments.
func (u *unionOf) source() (string, []any) {
	if len(u.branches) == 0 {
		return `(` + u.first + `)`, nil
	}
	return `(` + strings.Join(u.branches, ` UNION ALL `) + `)`, u.args
}

// ownerTemplateFilter is the " AND …" of f's owner and template, with its
// arguments.
func ownerTemplateFilter(f devex.Filter) (string, []any) {
	filter, args := "", []any{}
	if f.Owner != "" {
		filter += ` AND owner = ?`
		args = append(args, f.Owner)
	}
	if f.Template != "" {
		filter += ` AND template_ref = ?`
		args = append(args, f.Template)
	}
	return filter, args
}

// RunTotalsByPeriod sums the runs f selects per period of grouping (keyed
// by its first day), periods without runs left out. Months are read whole
// from the monthly rollups; days and weeks from the days (without a filter,
// one row per day).
func (db *DB) RunTotalsByPeriod(ctx context.Context, f devex.Filter, grouping string) ([]devex.DayTotals, error) {
	coarsest := grainDay
	if grouping == devex.GroupMonth {
		coarsest = grainMonth
	}
	src, args, err := db.periodRollups(ctx, f, coarsest, false)
	if err != nil {
		return nil, fmt.Errorf("run totals by period: %w", err)
	}
	days, err := db.dayTotals(ctx, `SELECT period, `+totalsColumns+` FROM `+src+` GROUP BY period ORDER BY period`, args)
	if err != nil {
		return nil, fmt.Errorf("run totals by period: %w", err)
	}
	var out []devex.DayTotals
	for _, d := range days {
		t, err := time.Parse(time.DateOnly, d.Day)
		if err != nil {
			return nil, fmt.Errorf("run totals by period: day %q: %w", d.Day, err)
		}
		p := devex.Day(devex.PeriodStart(t, grouping))
		if n := len(out); n > 0 && out[n-1].Day == p {
			out[n-1].Add(d.Totals)
			continue
		}
		out = append(out, devex.DayTotals{Day: p, Totals: d.Totals})
	}
	return out, nil
}

// monthBits is the width of a devex_user_months block, in months.
const monthBits = 48

// monthIndex counts the months of day ("2026-11-17") from January 1970.
func monthIndex(day string) int64 {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return 0 // days are the store's own, written by devex.Day
	}
	return int64(t.Year()-1970)*12 + int64(t.Month()) - 1
}

// applyUserMonths sets the users' bits of their runs' months, by OR in SQL.
func (db *DB) applyUserMonths(ctx context.Context, tx *sql.Tx, users []userKey) error {
	type key struct {
		template, owner, user string
		block                 int64
	}
	masks := map[key]int64{}
	for _, u := range users {
		m := monthIndex(u.day)
		masks[key{u.template, u.owner, u.user, m / monthBits}] |= 1 << (m % monthBits)
	}
	keys := sortedKeys(masks, func(a, b key) int {
		return cmp.Or(strings.Compare(a.template, b.template), strings.Compare(a.owner, b.owner),
			strings.Compare(a.user, b.user), cmp.Compare(a.block, b.block))
	})
	const width = 5
	args := make([]any, 0, len(keys)*width)
	for _, k := range keys {
		args = append(args, k.template, k.owner, k.user, k.block, masks[k])
	}
	return db.insertRows(ctx, tx, `INSERT INTO devex_user_months (template_ref, owner, user_ref, block, months) VALUES `,
		` ON CONFLICT (template_ref, owner, user_ref, block) DO UPDATE SET months = devex_user_months.months | excluded.months`, width, args)
}

// periodUsers is a FROM source (with its arguments) of the (template_ref,
// user_ref) pairs of the users who started a run f selects: from the days
// at the range's edges and the month bits of its whole months. Pairs may
// repeat: count them DISTINCT.
func (db *DB) periodUsers(ctx context.Context, f devex.Filter) (string, []any, error) {
	from, err := db.rollupFrom(ctx, f.From)
	if err != nil {
		return "", nil, err
	}
	s := splitRange(from, f.To, false)
	filter, fargs := ownerTemplateFilter(f)
	var u unionOf
	u.add(`SELECT template_ref, user_ref FROM devex_daily_users WHERE 1 = 1`, "day", filter, fargs, s.days[:]...)
	q, args := u.source()
	if cond, margs := monthsMask(s.months[0]); cond != "" {
		q = strings.TrimSuffix(q, `)`) + ` UNION ALL SELECT template_ref, user_ref FROM devex_user_months WHERE ` + cond + filter + `)`
		args = append(append(args, margs...), fargs...)
	}
	return q + ` u`, args, nil
}

// monthsMask is the condition on devex_user_months (with its arguments) of
// the users with a bit in the whole months m, as a mask per block; "" when
// m is empty.
func monthsMask(m dayRange) (string, []any) {
	a, b := monthIndex(m.from), monthIndex(m.to)
	if a >= b {
		return "", nil
	}
	var blocks []string
	var args []any
	for k := a / monthBits; k <= (b-1)/monthBits; k++ {
		lo, hi := max(a, k*monthBits)-k*monthBits, min(b, (k+1)*monthBits)-k*monthBits
		blocks = append(blocks, `(block = ? AND (months & ?) <> 0)`)
		args = append(args, k, int64(1)<<hi-int64(1)<<lo)
	}
	return `(` + strings.Join(blocks, ` OR `) + `)`, args
}

// monthUsers counts, per whole month of [from, to) (month starts), the
// distinct users of the runs of owner and template (either may be empty,
// not both: unfiltered months OR the day bitmaps), from their month bits.
func (db *DB) monthUsers(ctx context.Context, from, to, owner, template string, out map[string]int64) error {
	a, b := monthIndex(from), monthIndex(to)
	if a >= b {
		return nil
	}
	q := `SELECT user_ref, block, months FROM devex_user_months WHERE block >= ? AND block <= ?`
	args := []any{a / monthBits, (b - 1) / monthBits}
	if owner != "" {
		q += ` AND owner = ?`
		args = append(args, owner)
	}
	if template != "" {
		q += ` AND template_ref = ?`
		args = append(args, template)
	}
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := map[string]map[int64]bool{}
	for rows.Next() {
		var user string
		var block, months int64
		if err := rows.Scan(&user, &block, &months); err != nil {
			return err
		}
		for months != 0 {
			bit := int64(bits.TrailingZeros64(uint64(months)))
			months &^= 1 << bit
			m := block*monthBits + bit
			if m < a || m >= b {
				continue
			}
			if seen[user] == nil {
				seen[user] = map[int64]bool{}
			}
			seen[user][m] = true
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ms := range seen {
		for m := range ms {
			out[devex.Day(time.Date(1970+int(m/12), time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC))]++
		}
	}
	return nil
}
