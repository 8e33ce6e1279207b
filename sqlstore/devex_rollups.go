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
	"time"

	"github.com/paved-dev/paved/devex"
)

// The adoption rollups, kept in step with every run stored, so that the
// page's queries cost the number of days and users, never of runs:
//
//   - devex_daily: per (day, template, owner), the counts and durations of
//     the runs started that day. A run that changes status moves its
//     contribution (addContribution with -1 for the old state, +1 for the new).
//   - devex_daily_users: the (day, template, owner, user) rows, for distinct
//     users per template or owner.
//   - devex_users numbers every user who ever started a run, densely from 0
//     (an ordinal never changes once committed; ordinalCache remembers them).
//   - devex_day_users holds one bitmap per day: bit n of byte n/8 is set when
//     the user with ordinal n started a run that day. The distinct users of
//     any range of days are the popcount of the OR of its bitmaps (dayUsers),
//     whatever the number of runs; one day of 100,000 users is 12.5 KB.

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
	if err := db.applyPeriodDeltas(ctx, tx, deltas); err != nil {
		return nil, err
	}
	ukeys := sortedKeys(users, func(a, b userKey) int {
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
	if err := db.applyUserMonths(ctx, tx, ukeys); err != nil {
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
		bitmaps[d] = b
		out = append(out, d, b)
	}
	if err := db.insertRows(ctx, tx, `INSERT INTO devex_day_users (day, bits) VALUES `,
		` ON CONFLICT (day) DO UPDATE SET bits = excluded.bits`, 2, out); err != nil {
		return nil, err
	}
	return learned, markPeriodUsers(ctx, tx, db.dialect, days, bitmaps)
}

// periodUsersKey is a row of devex_period_users.
type periodUsersKey struct{ grain, start string }

// markPeriodUsers ORs the bitmaps of days (each day's whole bitmap) into
// those of their months and years, read and rewritten whole in key order,
// in the transaction that wrote the days' (as the days' own: the runs'
// ingest runs one transaction at a time, under the collector's lease).
func markPeriodUsers(ctx context.Context, tx *sql.Tx, d Dialect, days []string, bitmaps map[string][]byte) error {
	periods := map[periodUsersKey][]byte{}
	for _, day := range days {
		month, year := periodStarts(day)
		for _, k := range []periodUsersKey{{grainMonth, month}, {grainYear, year}} {
			periods[k] = orBits(periods[k], bitmaps[day])
		}
	}
	read := d.Rebind(`SELECT bits FROM devex_period_users WHERE grain = ? AND start = ?`)
	write := d.Rebind(`INSERT INTO devex_period_users (grain, start, bits) VALUES (?, ?, ?)
		ON CONFLICT (grain, start) DO UPDATE SET bits = excluded.bits`)
	keys := sortedKeys(periods, func(a, b periodUsersKey) int {
		return cmp.Or(strings.Compare(a.grain, b.grain), strings.Compare(a.start, b.start))
	})
	for _, k := range keys {
		var stored []byte
		if err := tx.QueryRowContext(ctx, read, k.grain, k.start).Scan(&stored); err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("period users: %w", err)
		}
		if _, err := tx.ExecContext(ctx, write, k.grain, k.start, orBits(stored, periods[k])); err != nil {
			return fmt.Errorf("period users: %w", err)
		}
	}
	return nil
}

// backfillPeriodUsers is migration 0028's Go step: the months' and years'
// bitmaps from the days', as the writes would have kept them.
func backfillPeriodUsers(ctx context.Context, tx *sql.Tx, d Dialect) error {
	rows, err := tx.QueryContext(ctx, `SELECT day, bits FROM devex_day_users ORDER BY day`)
	if err != nil {
		return err
	}
	var days []string
	bitmaps := map[string][]byte{}
	for rows.Next() {
		var day string
		var b []byte
		if err := rows.Scan(&day, &b); err != nil {
			rows.Close()
			return err
		}
		days = append(days, day)
		bitmaps[day] = b
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return markPeriodUsers(ctx, tx, d, days, bitmaps)
}

// dayUsers ORs the user bitmaps of the days in [from, to) and counts the bits:
// the cost follows the number of days and users, not of runs.
//
// Whole months and years read their bitmap (devex_period_users): 5 years
// are about 70 rows instead of 1,825. The range starts at the rollups'
// floor, so a period holding days retention deleted is never read.
func (db *DB) dayUsers(ctx context.Context, from, to string) (int64, error) {
	fromT, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	toT, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	if fromT, err = db.rollupFrom(ctx, fromT); err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	s := splitRange(fromT, toT, true)
	var u unionOf
	u.add(`SELECT bits FROM devex_day_users WHERE 1 = 1`, "day", "", nil, s.days[:]...)
	u.add(`SELECT bits FROM devex_period_users WHERE grain = 'month'`, "start", "", nil, s.months[:]...)
	u.add(`SELECT bits FROM devex_period_users WHERE grain = 'year'`, "start", "", nil, s.years)
	src, args := u.source()
	rows, err := db.query(ctx, `SELECT bits FROM `+src+` b`, args...)
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
		union = orBits(union, b)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	return countBits(union), nil
}

// orBits sets in union the bits of b, growing it as needed.
func orBits(union, b []byte) []byte {
	if len(b) > len(union) {
		union = append(union, make([]byte, len(b)-len(union))...)
	}
	for i, x := range b {
		union[i] |= x
	}
	return union
}

// countBits counts the users of a bitmap.
func countBits(union []byte) int64 {
	var n int64
	for _, x := range union {
		n += int64(bits.OnesCount8(x))
	}
	return n
}

// ActiveUsersByPeriod counts, per period of grouping (keyed by its first
// day), the distinct users who started a run f selects. Without an owner or
// template filter it ORs the days' user bitmaps (a few hundred bytes a day)
// instead of listing every user of every day; with one it counts
// DayUsers' rows.
func (db *DB) ActiveUsersByPeriod(ctx context.Context, f devex.Filter, grouping string) (map[string]int64, error) {
	out := map[string]int64{}
	if f.Owner != "" || f.Template != "" {
		// Whole months from the month bits; the edge days (and days or
		// weeks) from DayUsers' rows.
		days := []devex.Filter{f}
		if grouping == devex.GroupMonth {
			from, err := db.rollupFrom(ctx, f.From)
			if err != nil {
				return nil, err
			}
			s := splitRange(from, f.To, false)
			if err := db.monthUsers(ctx, s.months[0].from, s.months[0].to, f.Owner, f.Template, out); err != nil {
				return nil, fmt.Errorf("active users by period: %w", err)
			}
			days = days[:0]
			for _, d := range s.days {
				e := f
				e.From, _ = time.Parse(time.DateOnly, d.from)
				e.To, _ = time.Parse(time.DateOnly, d.to)
				days = append(days, e)
			}
		}
		var users []devex.DayUser
		for _, e := range days {
			du, err := db.DayUsers(ctx, e)
			if err != nil {
				return nil, err
			}
			users = append(users, du...)
		}
		seen := map[[2]string]bool{}
		for _, u := range users {
			p, err := periodOf(u.Day, grouping)
			if err != nil {
				return nil, err
			}
			if k := [2]string{p, u.UserRef}; !seen[k] {
				seen[k] = true
				out[p]++
			}
		}
		return out, nil
	}
	rows, err := db.query(ctx, `SELECT day, bits FROM devex_day_users WHERE day >= ? AND day < ? ORDER BY day`, f.FromDay(), f.ToDay())
	if err != nil {
		return nil, fmt.Errorf("active users by period: %w", err)
	}
	defer rows.Close()
	unions := map[string][]byte{}
	for rows.Next() {
		var day string
		var b []byte
		if err := rows.Scan(&day, &b); err != nil {
			return nil, fmt.Errorf("active users by period: %w", err)
		}
		p, err := periodOf(day, grouping)
		if err != nil {
			return nil, err
		}
		unions[p] = orBits(unions[p], b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active users by period: %w", err)
	}
	for p, union := range unions {
		out[p] = countBits(union)
	}
	return out, nil
}

func periodOf(day, grouping string) (string, error) {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return "", fmt.Errorf("active users by period: day %q: %w", day, err)
	}
	return devex.Day(devex.PeriodStart(t, grouping)), nil
}
