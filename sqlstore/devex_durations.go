package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/paved-dev/paved/devex"
)

// Run durations per month and per year (devex_period_durations, migration
// 0017): per (period, template, owner), a histogram of the durations of the
// runs that finished, in logarithmic buckets 2 % wide, so that a template's
// percentiles over five years read a few rows per template instead of every
// run. A percentile is the nearest-rank bucket's middle: within 1 % of the
// exact nearest-rank value (docs/api.md). A run's duration is added once,
// when it becomes final (final runs never change).

// durationGamma is the ratio of a bucket's bounds.
const durationGamma = 1.02

// durationBucket is the bucket of ms: 0 holds 0 and below; bucket k ≥ 1
// holds (γ^(k-2), γ^(k-1)].
func durationBucket(ms int64) int64 {
	if ms <= 0 {
		return 0
	}
	return int64(math.Ceil(math.Log(float64(ms))/math.Log(durationGamma)-1e-9)) + 1
}

// durationOfBucket is the value a bucket stands for: the middle of its
// bounds in relative terms, within 1 % of any value it holds.
func durationOfBucket(k int64) int64 {
	if k <= 0 {
		return 0
	}
	return int64(math.Round(2 * math.Pow(durationGamma, float64(k-1)) / (durationGamma + 1)))
}

// histogram counts durations per bucket.
type histogram map[int64]int64

// encodeHistogram writes h as (bucket delta, count) uvarint pairs, buckets
// ascending.
func encodeHistogram(h histogram) []byte {
	keys := make([]int64, 0, len(h))
	for k, n := range h {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]byte, 0, 3*len(keys))
	var last int64
	for _, k := range keys {
		out = binary.AppendUvarint(out, uint64(k-last))
		out = binary.AppendUvarint(out, uint64(h[k]))
		last = k
	}
	return out
}

// addHistogram adds the encoded histogram b to h.
func addHistogram(h histogram, b []byte) error {
	return eachBucket(b, func(k, c int64) { h[k] += c })
}

// eachBucket calls each with the buckets and counts of the encoded
// histogram b, buckets ascending.
func eachBucket(b []byte, each func(k, c int64)) error {
	var k int64
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("duration histogram: bad bucket")
		}
		b = b[n:]
		c, m := binary.Uvarint(b)
		if m <= 0 {
			return fmt.Errorf("duration histogram: bad count")
		}
		b = b[m:]
		k += int64(d)
		each(k, int64(c))
	}
	return nil
}

// durationKey is a row of devex_period_durations.
type durationKey struct{ grain, start, template, owner string }

// applyDurations adds the durations of the runs that became final to the
// histograms of their months and years.
func (db *DB) applyDurations(ctx context.Context, tx *sql.Tx, finished []devex.Run) error {
	add := map[durationKey]histogram{}
	for _, r := range finished {
		month, year := periodStarts(devex.Day(r.CreatedAt))
		b := durationBucket(r.Duration().Milliseconds())
		for _, k := range []durationKey{{grainMonth, month, r.TemplateRef, r.Owner}, {grainYear, year, r.TemplateRef, r.Owner}} {
			if add[k] == nil {
				add[k] = histogram{}
			}
			add[k][b]++
		}
	}
	if len(add) == 0 {
		return nil
	}
	keys := make([]durationKey, 0, len(add))
	for k := range add {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b durationKey) int {
		return cmp.Or(strings.Compare(a.grain, b.grain), strings.Compare(a.start, b.start),
			strings.Compare(a.template, b.template), strings.Compare(a.owner, b.owner))
	})
	// The stored histograms of those keys, read per period. One collector
	// writes at a time (its lease), as for the day bitmaps.
	for i := 0; i < len(keys); {
		j := i
		for j < len(keys) && keys[j].grain == keys[i].grain && keys[j].start == keys[i].start && j-i < idBatch {
			j++
		}
		args := []any{keys[i].grain, keys[i].start}
		for _, k := range keys[i:j] {
			args = append(args, k.template)
		}
		rows, err := tx.QueryContext(ctx, db.dialect.Rebind(`SELECT template_ref, owner, hist FROM devex_period_durations
			WHERE grain = ? AND start = ? AND template_ref IN (`+placeholders(j-i)+`)`), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var tpl, owner string
			var b []byte
			if err := rows.Scan(&tpl, &owner, &b); err != nil {
				rows.Close()
				return err
			}
			if h := add[durationKey{keys[i].grain, keys[i].start, tpl, owner}]; h != nil {
				if err := addHistogram(h, b); err != nil {
					rows.Close()
					return err
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		i = j
	}
	const width = 5
	args := make([]any, 0, len(keys)*width)
	for _, k := range keys {
		args = append(args, k.grain, k.start, k.template, k.owner, encodeHistogram(add[k]))
	}
	return db.insertRows(ctx, tx, `INSERT INTO devex_period_durations (grain, start, template_ref, owner, hist) VALUES `,
		` ON CONFLICT (grain, start, template_ref, owner) DO UPDATE SET hist = excluded.hist`, width, args)
}

// DurationPercentiles returns, per template, the nearest-rank percentiles
// ps of the durations of the finished runs f selects, in milliseconds: the
// runs of the edge days read raw and exact, those of whole months and years
// from their histograms, each at its bucket's value (within 1 %).
func (db *DB) DurationPercentiles(ctx context.Context, f devex.Filter, ps ...int) (map[string][]int64, error) {
	hists, err := db.durationCounts(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]int64, len(hists))
	for tpl, h := range hists {
		keys := make([]int64, 0, len(h))
		var n int64
		for k, c := range h {
			if c > 0 {
				keys = append(keys, k)
				n += c
			}
		}
		if n == 0 {
			continue
		}
		slices.Sort(keys)
		v := make([]int64, len(ps))
		for i, p := range ps {
			rank := min(max(int64(math.Ceil(float64(p)/100*float64(n))), 1), n)
			var seen int64
			for _, k := range keys {
				if seen += h[k]; seen >= rank {
					v[i] = k
					break
				}
			}
		}
		out[tpl] = v
	}
	return out, nil
}

// durationCounts counts, per template, the runs f selects per duration in
// milliseconds: the edge days' runs at their exact duration, those of whole
// periods at their bucket's value. A range without whole months is exact.
func (db *DB) durationCounts(ctx context.Context, f devex.Filter) (map[string]histogram, error) {
	from, err := db.rollupFrom(ctx, f.From)
	if err != nil {
		return nil, fmt.Errorf("run durations: %w", err)
	}
	s := splitRange(from, f.To, true)
	if f.Owner == "" && f.Template == "" {
		out, err := db.packedDurationCounts(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("run durations: %w", err)
		}
		return out, nil
	}
	filter, fargs := ownerTemplateFilter(f)
	out := map[string]histogram{}
	get := func(tpl string) histogram {
		h := out[tpl]
		if h == nil {
			h = histogram{}
			out[tpl] = h
		}
		return h
	}
	var raw unionOf
	raw.add(`SELECT template_ref, duration_ms FROM devex_runs WHERE duration_ms IS NOT NULL`, "day", filter, fargs, s.days[:]...)
	q, args := raw.source()
	rows, err := db.query(ctx, `SELECT template_ref, duration_ms FROM `+q+` r`, args...)
	if err != nil {
		return nil, fmt.Errorf("run durations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tpl string
		var ms int64
		if err := rows.Scan(&tpl, &ms); err != nil {
			return nil, fmt.Errorf("run durations: %w", err)
		}
		get(tpl)[ms]++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run durations: %w", err)
	}
	var hists unionOf
	hists.add(`SELECT template_ref, hist FROM devex_period_durations WHERE grain = 'month'`, "start", filter, fargs, s.months[:]...)
	hists.add(`SELECT template_ref, hist FROM devex_period_durations WHERE grain = 'year'`, "start", filter, fargs, s.years)
	q, args = hists.source()
	hrows, err := db.query(ctx, `SELECT template_ref, hist FROM `+q+` h`, args...)
	if err != nil {
		return nil, fmt.Errorf("run durations: %w", err)
	}
	defer hrows.Close()
	for hrows.Next() {
		var tpl string
		var b []byte
		if err := hrows.Scan(&tpl, &b); err != nil {
			return nil, fmt.Errorf("run durations: %w", err)
		}
		h := histogram{}
		if err := addHistogram(h, b); err != nil {
			return nil, fmt.Errorf("run durations: %w", err)
		}
		counts := get(tpl)
		for k, c := range h {
			counts[durationOfBucket(k)] += c
		}
	}
	return out, hrows.Err()
}

// backfillDurations builds the histograms of the runs the store holds, in
// the transaction of the migration that creates their table (migrate.go's
// goSteps): a kill leaves the migration unapplied, and no run is written
// between the read and the histograms.
func backfillDurations(ctx context.Context, tx *sql.Tx, d Dialect) error {
	rows, err := tx.QueryContext(ctx, `SELECT template_ref, owner, day, duration_ms FROM devex_runs WHERE duration_ms IS NOT NULL`)
	if err != nil {
		return err
	}
	hists := map[durationKey]histogram{}
	for rows.Next() {
		var tpl, owner, day string
		var ms int64
		if err := rows.Scan(&tpl, &owner, &day, &ms); err != nil {
			rows.Close()
			return err
		}
		month, year := periodStarts(day)
		for _, k := range []durationKey{{grainMonth, month, tpl, owner}, {grainYear, year, tpl, owner}} {
			if hists[k] == nil {
				hists[k] = histogram{}
			}
			hists[k][durationBucket(ms)]++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	st, err := tx.PrepareContext(ctx, d.Rebind(`INSERT INTO devex_period_durations (grain, start, template_ref, owner, hist) VALUES (?, ?, ?, ?, ?)`))
	if err != nil {
		return err
	}
	defer st.Close()
	for k, h := range hists {
		if _, err := st.ExecContext(ctx, k.grain, k.start, k.template, k.owner, encodeHistogram(h)); err != nil {
			return err
		}
	}
	return nil
}
