package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// The four keys per period (devex_dora_periods, migration 0020): per (period,
// service, owner, template), the changes, successful deployments, failed
// changes and open incidents, a bitmap of the days with a successful
// deployment, and histograms of lead times and times to restore. Periods are
// days (grain 'day') and years to date (grain 'ytd': January 1 to the end of
// the month start names). A range is split like the period rollups
// (splitRange): its edge days read day rows; its whole years the December
// rows; whole months of a year one row (from January) or the difference of
// two. Day bitmaps make the distinct days of any grouping exact; counts are
// exact; medians are those of the histograms' buckets (doraBucket).
//
// Every write is a difference: the transaction that changes a change or an
// incident reads its row before and after, and adds the after's contribution
// less the before's (doraContributions). Since the row writes are the
// idempotent ones (a change inserted once, a failure set once, …), the
// aggregates count each fact once too. The aggregates are read, added to and
// written back, so writers are serialised: SQLite's transactions take the
// write lock when they begin; PostgreSQL's take Dialect.XactLock first.

// doraGeneration names the generation of the four keys' sums: every write
// to them moves it on (devex.DORAGenerations).
const doraGeneration = "dora"

// DORAGeneration returns the generation of the four keys' sums.
func (db *DB) DORAGeneration(ctx context.Context) (int64, error) {
	var gen int64
	err := db.queryRow(ctx, `SELECT gen FROM devex_generations WHERE name = ?`, doraGeneration).Scan(&gen)
	if err != nil && err != sql.ErrNoRows {
		return 0, fmt.Errorf("four keys generation: %w", err)
	}
	return gen, nil
}

// doraYTD is the grain of the rows from January 1 to the end of a month.
const doraYTD = "ytd"

// doraLockKey is the advisory lock of the four keys' aggregates (any fixed
// number, the same on every replica).
const doraLockKey = 7061766566

// doraEdges are the DORA bands' edges in milliseconds (devex.LeadTimeTier,
// devex.TimeToRestoreTier): 1 hour, 1 day, 1 week, 182 days.
var doraEdges = [...]int64{3_600_000, 86_400_000, 604_800_000, 182 * 86_400_000}

// doraBand is the number of edges at or below ms.
func doraBand(ms int64) int64 {
	var b int64
	for _, e := range doraEdges {
		if ms >= e {
			b++
		}
	}
	return b
}

// doraBucket is the histogram bucket of a lead time or time to restore in
// milliseconds: 0 holds 0 and below; otherwise the logarithmic bucket k of
// ratio durationGamma ([γ^k, γ^(k+1))) split at the bands' edges, so that
// every value of a bucket falls in the same DORA band.
func doraBucket(ms int64) int64 {
	if ms <= 0 {
		return 0
	}
	k := int64(math.Floor(math.Log(float64(ms)) / math.Log(durationGamma)))
	return (k+1)*8 + doraBand(ms)
}

// doraHist is a histogram of lead times or times to restore: per bucket
// (doraBucket), how many values and their sum. A bucket stands for the mean
// of its values: exact when they are equal, else within the bucket's 2 %,
// and always in the values' band.
type doraHist map[int64]doraCount

type doraCount struct{ n, sum int64 }

// encodeDORAHist writes h as (bucket delta, count, sum) uvarints, buckets
// ascending, empty buckets left out.
func encodeDORAHist(h doraHist) []byte {
	keys := make([]int64, 0, len(h))
	for k, c := range h {
		if c.n > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]byte, 0, 6*len(keys))
	var last int64
	for _, k := range keys {
		out = binary.AppendUvarint(out, uint64(k-last))
		out = binary.AppendUvarint(out, uint64(h[k].n))
		out = binary.AppendUvarint(out, uint64(h[k].sum))
		last = k
	}
	return out
}

// eachDORABucket calls f with each bucket, count and sum of the encoded
// histogram b (buckets ascending, each stored as the step from the last).
func eachDORABucket(b []byte, f func(k, n, sum int64)) error {
	var k int64
	for len(b) > 0 {
		var v [3]uint64
		for i := range v {
			x, n := binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("four keys histogram: truncated")
			}
			v[i], b = x, b[n:]
		}
		k += int64(v[0])
		f(k, int64(v[1]), int64(v[2]))
	}
	return nil
}

// doraBuckets is the number of buckets of the encoded histogram b: three
// uvarints each, whose last bytes are those below 0x80.
func doraBuckets(b []byte) int {
	n := 0
	for _, c := range b {
		if c < 0x80 {
			n++
		}
	}
	return n / 3
}

// addDORAHist adds sign × the encoded histogram b to h.
func addDORAHist(h doraHist, b []byte, sign int64) error {
	return eachDORABucket(b, func(k, n, sum int64) {
		c := h[k]
		c.n += sign * n
		c.sum += sign * sum
		if c.n == 0 && c.sum == 0 {
			delete(h, k)
		} else {
			h[k] = c
		}
	})
}

// doraKey is a change's or incident's day, service, team and template.
type doraKey struct{ day, service, owner, template string }

// doraSums are the four keys' sums of a key (or a difference of sums).
type doraSums struct {
	changes, deployments, failed, open int64
	lead, restore                      doraHist
}

func (s *doraSums) add(o *doraSums, sign int64) {
	s.changes += sign * o.changes
	s.deployments += sign * o.deployments
	s.failed += sign * o.failed
	s.open += sign * o.open
	s.lead = addBuckets(s.lead, o.lead, sign)
	s.restore = addBuckets(s.restore, o.restore, sign)
}

func (s *doraSums) zero() bool {
	return s.changes == 0 && s.deployments == 0 && s.failed == 0 && s.open == 0 && len(s.lead) == 0 && len(s.restore) == 0
}

// addBuckets adds sign × o to h, dropping buckets that reach 0.
func addBuckets(h, o doraHist, sign int64) doraHist {
	if len(o) > 0 && h == nil {
		h = doraHist{}
	}
	for k, c := range o {
		x := h[k]
		x.n += sign * c.n
		x.sum += sign * c.sum
		if x.n == 0 && x.sum == 0 {
			delete(h, k)
		} else {
			h[k] = x
		}
	}
	return h
}

// one is the histogram of the value ms.
func one(ms int64) doraHist { return doraHist{doraBucket(ms): {1, max(ms, 0)}} }

// doraChange is what of a devex_deployments row the four keys count.
type doraChange struct {
	key             doraKey
	succeeded       bool
	failure         string
	commit, healthy time.Time
	hasCommit       bool // commit time known (also before it is read)
}

// doraIncident is what of a devex_incidents row the four keys count.
type doraIncident struct {
	key       doraKey
	restoreMS sql.NullInt64
}

// contribution is what the change adds to its key's sums.
func (c doraChange) contribution() *doraSums {
	s := &doraSums{changes: 1}
	if c.succeeded {
		s.deployments = 1
	}
	if !c.succeeded || c.failure != "" {
		s.failed = 1
	}
	if !c.commit.IsZero() && !c.healthy.IsZero() {
		s.lead = one(c.healthy.Sub(c.commit).Milliseconds())
	}
	return s
}

func (i doraIncident) contribution() *doraSums {
	if !i.restoreMS.Valid {
		return &doraSums{open: 1}
	}
	return &doraSums{restore: one(i.restoreMS.Int64)}
}

// doraDeltas gathers differences of contributions per key.
type doraDeltas map[doraKey]*doraSums

func (d doraDeltas) add(k doraKey, s *doraSums, sign int64) {
	x := d[k]
	if x == nil {
		x = &doraSums{}
		d[k] = x
	}
	x.add(s, sign)
}

// changes adds the difference between the changes before and after.
func (d doraDeltas) changes(before, after []doraChange) {
	for _, c := range before {
		d.add(c.key, c.contribution(), -1)
	}
	for _, c := range after {
		d.add(c.key, c.contribution(), 1)
	}
}

func (d doraDeltas) incidents(before, after []doraIncident) {
	for _, i := range before {
		d.add(i.key, i.contribution(), -1)
	}
	for _, i := range after {
		d.add(i.key, i.contribution(), 1)
	}
}

const doraChangeColumns = `day, service, owner, template_ref, succeeded, failure, commit_at, healthy_at`

// scanDORAChange reads doraChangeColumns (then extra).
func scanDORAChange(rows *sql.Rows, extra ...any) (doraChange, error) {
	var c doraChange
	var ok int
	err := rows.Scan(append([]any{&c.key.day, &c.key.service, &c.key.owner, &c.key.template, &ok, &c.failure,
		timeColumn{&c.commit}, timeColumn{&c.healthy}}, extra...)...)
	c.succeeded = ok == 1
	c.hasCommit = !c.commit.IsZero()
	return c, err
}

// appDORA reads the changes and incidents of an app as the four keys count
// them, the changes keyed by deploy id.
func appDORA(ctx context.Context, tx *sql.Tx, d Dialect, app string) (map[string]doraChange, []doraIncident, error) {
	rows, err := tx.QueryContext(ctx, d.Rebind(`SELECT `+doraChangeColumns+`, deploy_id FROM devex_deployments WHERE app_key = ?`), app)
	if err != nil {
		return nil, nil, err
	}
	changes := map[string]doraChange{}
	for rows.Next() {
		var id string
		c, err := scanDORAChange(rows, &id)
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		changes[id] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = tx.QueryContext(ctx, d.Rebind(`SELECT day, service, owner, template_ref, restore_ms FROM devex_incidents WHERE app_key = ?`), app)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var incidents []doraIncident
	for rows.Next() {
		var i doraIncident
		if err := rows.Scan(&i.key.day, &i.key.service, &i.key.owner, &i.key.template, &i.restoreMS); err != nil {
			return nil, nil, err
		}
		incidents = append(incidents, i)
	}
	return changes, incidents, rows.Err()
}

func changeValues(m map[string]doraChange) []doraChange {
	out := make([]doraChange, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	return out
}

// lockDORA serialises the writers of the aggregates (PostgreSQL; SQLite's
// transactions hold the write lock already).
func (db *DB) lockDORA(ctx context.Context, tx *sql.Tx) error {
	if db.dialect.XactLock == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, db.dialect.Rebind(db.dialect.XactLock), int64(doraLockKey))
	return err
}

// doraRow is a row of devex_dora_periods.
type doraRow struct {
	grain, start string
	key          doraKey // day unused
	sums         doraSums
	days         []byte // bitmap of the days of the year (ytd rows)
}

// applyDORA adds deltas to the day rows and to the year-to-date rows of
// their month and every later month of their year. Days before the
// retention floor are left alone: their rows are gone or never read.
func (db *DB) applyDORA(ctx context.Context, tx *sql.Tx, deltas doraDeltas) error {
	keys := make([]doraKey, 0, len(deltas))
	for k, s := range deltas {
		if !s.zero() {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	var floor string
	if err := tx.QueryRowContext(ctx, db.dialect.Rebind(`SELECT value FROM cursors WHERE name = ?`), rollupFloorCursor).Scan(&floor); err != nil && err != sql.ErrNoRows {
		return err
	}
	slices.SortFunc(keys, func(a, b doraKey) int {
		return cmp.Or(strings.Compare(a.day, b.day), strings.Compare(a.service, b.service),
			strings.Compare(a.owner, b.owner), strings.Compare(a.template, b.template))
	})
	// The rows touched, read once: keys of one service may share years.
	type rowID struct {
		grain, start string
		key          doraKey // day unused
	}
	cache := map[rowID]*doraRow{}
	var order []rowID
	read := map[rowID]bool{} // the years (as their ytd January) read
	kept := keys[:0]
	for _, k := range keys {
		if k.day < floor {
			continue
		}
		kept = append(kept, k)
		d := deltas[k]
		month, year := periodStarts(k.day)
		next := fmt.Sprintf("%04d-01-01", atoi4(year)+1)
		nk := doraKey{"", k.service, k.owner, k.template}
		for _, p := range []doraPeriod{{doraYTD, year}, {grainDay, k.day}} {
			if read[rowID{p.grain, p.start, nk}] {
				continue
			}
			read[rowID{p.grain, p.start, nk}] = true
			starts := []string{k.day}
			if p.grain == doraYTD {
				starts = starts[:0]
				for m := year; m < next; m = nextMonth(m) {
					starts = append(starts, m)
				}
			}
			rows, err := db.readDORARows(ctx, tx, nk, p.grain, starts)
			if err != nil {
				return err
			}
			for _, r := range rows {
				cache[rowID{r.grain, r.start, nk}] = r
			}
		}
		get := func(grain, start string) *doraRow {
			id := rowID{grain, start, nk}
			r := cache[id]
			if r == nil {
				r = &doraRow{grain: grain, start: start, key: nk}
				cache[id] = r
			}
			if !slices.Contains(order, id) {
				order = append(order, id)
			}
			return r
		}
		day := get(grainDay, k.day)
		had := day.sums.deployments > 0
		day.sums.add(d, 1)
		has := day.sums.deployments > 0
		doy := dayOfYear(k.day)
		for m := month; m < next; m = nextMonth(m) {
			r := get(doraYTD, m)
			r.sums.add(d, 1)
			if had != has {
				r.days = setDayBit(r.days, doy, has)
			}
		}
	}
	if len(order) == 0 {
		return nil
	}
	if err := db.bumpGeneration(ctx, tx, doraGeneration); err != nil {
		return err
	}
	var write []doraRow
	for _, id := range order {
		r := cache[id]
		if !r.sums.zero() || len(r.days) > 0 {
			write = append(write, *r)
			continue
		}
		if _, err := tx.ExecContext(ctx, db.dialect.Rebind(`DELETE FROM devex_dora_periods
			WHERE grain = ? AND start = ? AND service = ? AND owner = ? AND template_ref = ?`),
			r.grain, r.start, r.key.service, r.key.owner, r.key.template); err != nil {
			return err
		}
	}
	if err := db.writeDORARows(ctx, tx, write); err != nil {
		return err
	}
	return db.applyDORAPacks(ctx, tx, kept, deltas)
}

type doraPeriod struct{ grain, start string }

// readDORARows reads key's rows of grain starting at starts (primary key
// lookups).
func (db *DB) readDORARows(ctx context.Context, tx *sql.Tx, k doraKey, grain string, starts []string) (map[doraPeriod]*doraRow, error) {
	args := []any{grain}
	for _, s := range starts {
		args = append(args, s)
	}
	rows, err := tx.QueryContext(ctx, db.dialect.Rebind(`SELECT grain, start, sums
		FROM devex_dora_periods WHERE grain = ? AND start IN (`+placeholders(len(starts))+`)
		AND service = ? AND owner = ? AND template_ref = ?`), append(args, k.service, k.owner, k.template)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[doraPeriod]*doraRow{}
	for rows.Next() {
		r := &doraRow{key: k}
		var b []byte
		if err := rows.Scan(&r.grain, &r.start, &b); err != nil {
			return nil, err
		}
		var err error
		if r.sums, r.days, err = decodeDORARow(b); err != nil {
			return nil, err
		}
		out[doraPeriod{r.grain, r.start}] = r
	}
	return out, rows.Err()
}

// decodeDORARow decodes a row's sums column (or a pack's group) to be
// changed: the sums and a copy of the days bitmap.
func decodeDORARow(b []byte) (doraSums, []byte, error) {
	e, err := decodeDORASums(b)
	if err != nil {
		return doraSums{}, nil, err
	}
	s := doraSums{changes: e.counts[0], deployments: e.counts[1], failed: e.counts[2], open: e.counts[3], lead: doraHist{}, restore: doraHist{}}
	if err := addDORAHist(s.lead, e.lead, 1); err != nil {
		return s, nil, err
	}
	if err := addDORAHist(s.restore, e.restore, 1); err != nil {
		return s, nil, err
	}
	return s, slices.Clone(e.days), nil
}

// encodedSums is a row's sums column, decoded in place: the counts
// (changes, deployments, failed, open incidents), the days bitmap and the
// two histograms, each a uvarint length then its bytes (the last one
// without a length).
type encodedSums struct {
	counts              [4]int64
	days, lead, restore []byte
}

func encodeDORASums(s *doraSums, days []byte) []byte {
	lead, restore := encodeDORAHist(s.lead), encodeDORAHist(s.restore)
	out := make([]byte, 0, 16+len(days)+len(lead)+len(restore))
	for _, n := range []int64{s.changes, s.deployments, s.failed, s.open} {
		out = binary.AppendUvarint(out, uint64(n))
	}
	out = binary.AppendUvarint(out, uint64(len(days)))
	out = append(out, days...)
	out = binary.AppendUvarint(out, uint64(len(lead)))
	out = append(out, lead...)
	return append(out, restore...)
}

var errDORASumsTruncated = errors.New("four keys sums: truncated")

func decodeDORASums(b []byte) (encodedSums, error) {
	var e encodedSums
	bad := errDORASumsTruncated
	for i := range e.counts {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return e, bad
		}
		e.counts[i], b = int64(v), b[n:]
	}
	for _, part := range []*[]byte{&e.days, &e.lead} {
		v, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < v {
			return e, bad
		}
		*part, b = b[n:n+int(v)], b[n+int(v):]
	}
	e.restore = b
	return e, nil
}

const doraInsert = `INSERT INTO devex_dora_periods (grain, start, service, owner, template_ref, sums) VALUES `

func doraRowArgs(r doraRow) []any {
	return []any{r.grain, r.start, r.key.service, r.key.owner, r.key.template, encodeDORASums(&r.sums, r.days)}
}

// writeDORARows writes rows, replacing those of the same period and key.
func (db *DB) writeDORARows(ctx context.Context, tx *sql.Tx, rows []doraRow) error {
	const width = 6
	args := make([]any, 0, len(rows)*width)
	for _, r := range rows {
		args = append(args, doraRowArgs(r)...)
	}
	return db.insertRows(ctx, tx, doraInsert, ` ON CONFLICT (grain, start, service, owner, template_ref) DO UPDATE SET sums = excluded.sums`, width, args)
}

func atoi4(s string) int {
	n := 0
	for _, c := range s[:4] {
		n = n*10 + int(c-'0')
	}
	return n
}

// nextMonth is the first day of the month after month ("2026-12-01" →
// "2027-01-01").
func nextMonth(month string) string {
	t, _ := time.Parse(time.DateOnly, month)
	return devex.Day(t.AddDate(0, 1, 0))
}

// dayOfYear is day's index in its year, from 0.
func dayOfYear(day string) int {
	t, _ := time.Parse(time.DateOnly, day)
	return t.YearDay() - 1
}

// setDayBit sets or clears bit i of the bitmap b (bytes, least significant
// bit first), without trailing zero bytes.
func setDayBit(b []byte, i int, on bool) []byte {
	for len(b) <= i/8 {
		b = append(b, 0)
	}
	if on {
		b[i/8] |= 1 << (i % 8)
	} else {
		b[i/8] &^= 1 << (i % 8)
	}
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// yearDays is a bitmap of the days of a year.
type yearDays [6]uint64

// or adds the days of b in [from, to) (day-of-year indices).
func (y *yearDays) or(b []byte, from, to int) {
	for i, c := range b {
		for c != 0 {
			bit := bits.TrailingZeros8(c)
			c &^= 1 << bit
			if d := i*8 + bit; d >= from && d < to && d < 384 {
				y[d/64] |= 1 << (d % 64)
			}
		}
	}
}

func (y *yearDays) count() int64 {
	var n int
	for _, w := range y {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// doraAcc accumulates a group's rows.
type doraAcc struct {
	changes, deployments, failed, open int64
	lead, restore                      bucketList
	days                               []yearOf
}

type yearOf struct {
	year int
	days yearDays
}

func (a *doraAcc) year(year int) *yearDays {
	for i := range a.days {
		if a.days[i].year == year {
			return &a.days[i].days
		}
	}
	if a.days == nil {
		a.days = make([]yearOf, 0, 2)
	}
	a.days = append(a.days, yearOf{year: year})
	return &a.days[len(a.days)-1].days
}

// add adds sign × the encoded sums e.
func (a *doraAcc) add(e *encodedSums, sign int64) error {
	a.changes += sign * e.counts[0]
	a.deployments += sign * e.counts[1]
	a.failed += sign * e.counts[2]
	a.open += sign * e.counts[3]
	if err := a.lead.add(e.lead, sign); err != nil {
		return err
	}
	return a.restore.add(e.restore, sign)
}

// row is the acc as the devex package reads it: the histograms' values,
// in order, appended to arena (read only, as long as the answer).
func (a *doraAcc) row(group string, arena *[]int64) devex.KeysRow {
	if arena == nil {
		arena = new([]int64)
	}
	r := devex.KeysRow{Group: group, Deployments: a.deployments, Changes: a.changes,
		FailedChanges: a.failed, OpenIncidents: a.open,
		LeadTimesMS: a.lead.values(arena), RestoresMS: a.restore.values(arena)}
	for i := range a.days {
		r.DeploymentDays += a.days[i].days.count()
	}
	return r
}

func (a *doraAcc) zero() bool {
	return a.changes == 0 && a.deployments == 0 && a.failed == 0 && a.open == 0 && a.lead.empty() && a.restore.empty()
}

// bucketList is a histogram being summed: a short list for a group's, an
// array indexed by bucket for the overall row's (dense).
type bucketList struct {
	b     []bucketCount
	dense bool
	slab  *[]bucketCount // where lists are carved from (carve), or nil
}

// carve returns an empty list of capacity n, cut from slab (a new one when
// it is short) or allocated when slab is nil: a group's lists are small,
// and a read has thousands.
func carve(slab *[]bucketCount, n int) []bucketCount {
	if slab == nil {
		return make([]bucketCount, 0, n)
	}
	if cap(*slab) < n {
		*slab = make([]bucketCount, 0, max(n, 4096))
	}
	out := (*slab)[0:0:n]
	*slab = (*slab)[n:n]
	return out
}

type bucketCount struct{ k, n, sum int64 }

// maxDenseBucket bounds the dense array (doraBucket of 10^11 ms, three
// years, is about 10,300); larger buckets go to the list.
const maxDenseBucket = 1 << 14

// add adds sign × the encoded histogram b.
func (l *bucketList) add(b []byte, sign int64) error {
	if !l.dense {
		// Both ascending: merged into one list, long enough for both.
		merged := carve(l.slab, len(l.b)+doraBuckets(b))
		i := 0
		err := eachDORABucket(b, func(k, n, sum int64) {
			for i < len(l.b) && l.b[i].k < k {
				merged = append(merged, l.b[i])
				i++
			}
			c := bucketCount{k: k}
			if i < len(l.b) && l.b[i].k == k {
				c = l.b[i]
				i++
			}
			c.n += sign * n
			c.sum += sign * sum
			merged = append(merged, c)
		})
		l.b = append(merged, l.b[i:]...)
		return err
	}
	if l.b == nil {
		l.b = make([]bucketCount, maxDenseBucket)
	}
	return eachDORABucket(b, func(k, n, sum int64) {
		i := -1
		if k < maxDenseBucket {
			i = int(k)
			l.b[i].k = k
		} else {
			for j := maxDenseBucket; j < len(l.b); j++ {
				if l.b[j].k == k {
					i = j
					break
				}
			}
		}
		if i < 0 {
			i = len(l.b)
			l.b = append(l.b, bucketCount{k: k})
		}
		l.b[i].n += sign * n
		l.b[i].sum += sign * sum
	})
}

func (l *bucketList) empty() bool {
	for _, c := range l.b {
		if c.n != 0 || c.sum != 0 {
			return false
		}
	}
	return true
}

// count is the number of values of the list.
func (l *bucketList) count() int64 {
	var n int64
	for _, c := range l.b {
		n += max(c.n, 0)
	}
	return n
}

// values lists each bucket's mean as often as it counts, ascending,
// appended to arena.
func (l *bucketList) values(arena *[]int64) []int64 {
	l.b = slices.DeleteFunc(l.b, func(c bucketCount) bool { return c.n <= 0 })
	if !slices.IsSortedFunc(l.b, func(x, y bucketCount) int { return cmp.Compare(x.k, y.k) }) {
		slices.SortFunc(l.b, func(x, y bucketCount) int { return cmp.Compare(x.k, y.k) })
	}
	if *arena == nil {
		*arena = make([]int64, 0, l.count())
	}
	from := len(*arena)
	for _, c := range l.b {
		for range c.n {
			*arena = append(*arena, c.sum/c.n)
		}
	}
	return (*arena)[from:len(*arena):len(*arena)]
}

// doraPiece is how a ytd row counts in a range: added or taken away, and
// the days of its bitmap the range covers.
type doraPiece struct {
	sign     int64
	from, to int // days of the year, [from, to)
}

// FourKeys reads the changes deployed and the incidents begun in f's days,
// per group and overall, from the per-period sums: exact counts, medians of
// the histograms' buckets (within 1 %, tiers exact: doraBucket).
func (db *DB) FourKeys(ctx context.Context, f devex.Filter, groupBy string) ([]devex.KeysRow, devex.KeysRow, error) {
	var overall devex.KeysRow
	col := map[string]string{"service": "service", "team": "owner", "template": "template_ref"}[groupBy]
	if col == "" {
		return nil, overall, paved.Errorf(paved.EInvalid, "groupBy must be one of service, team, template")
	}
	from, err := db.rollupFrom(ctx, f.From)
	if err != nil {
		return nil, overall, fmt.Errorf("four keys: %w", err)
	}
	s := splitRange(from, f.To, true)
	pieces := map[string]doraPiece{}
	// Whole months, a year at a time: the year to date of the last month,
	// less the one of the month before the first.
	whole := func(r dayRange) {
		for r.from < r.to {
			to := min(r.to, fmt.Sprintf("%04d-01-01", atoi4(r.from)+1))
			last := prevMonth(to)
			pieces[last] = doraPiece{sign: 1, from: dayOfYear(r.from), to: dayOfYear(last) + daysIn(last)}
			if r.from[5:7] != "01" {
				pieces[prevMonth(r.from)] = doraPiece{sign: -1}
			}
			r.from = to
		}
	}
	whole(s.months[0])
	whole(s.months[1])
	for y := s.years.from; y < s.years.to; y = fmt.Sprintf("%04d-01-01", atoi4(y)+1) {
		pieces[y[:4]+"-12-01"] = doraPiece{sign: 1, from: 0, to: 366}
	}
	// Without a filter, the packs of the grouping and the overall ones
	// (devex_dora_packs.go); with one, the rows that pass it.
	filter, fargs := ownerTemplateFilter(f)
	packed := f.Owner == "" && f.Template == ""
	head := `SELECT ` + col + `, start, sums FROM devex_dora_periods WHERE grain = `
	byGroup := map[string]*doraAcc{}
	var all doraAcc
	if packed {
		filter, fargs = ` AND grouped_by IN (?, '`+doraPackAll+`')`, []any{groupBy}
		head = `SELECT grouped_by, start, pack FROM devex_dora_packs WHERE grain = `
	} else {
		// The overall histograms gather every group's buckets: arrays.
		all = doraAcc{lead: bucketList{dense: true}, restore: bucketList{dense: true}}
	}
	var slab []doraAcc // the groups' accs, allocated a few at a time
	var buckets []bucketCount
	group := func(g []byte) *doraAcc {
		a := byGroup[string(g)]
		if a == nil {
			if len(slab) == 0 {
				slab = make([]doraAcc, 64)
			}
			a, slab = &slab[0], slab[1:]
			a.lead.slab, a.restore.slab = &buckets, &buckets
			byGroup[string(g)] = a
		}
		return a
	}
	// add adds the encoded sums b of the period starting at st (a day or a
	// year to date) to the accs.
	add := func(b []byte, st string, day bool, accs ...*doraAcc) error {
		e, err := decodeDORASums(b)
		if err != nil {
			return err
		}
		sign, year := int64(1), atoi4(st)
		for _, a := range accs {
			if day {
				if e.counts[1] > 0 {
					doy := dayOfYear(st)
					a.year(year)[doy/64] |= 1 << (doy % 64)
				}
			} else {
				p := pieces[st]
				sign = p.sign
				if sign > 0 {
					a.year(year).or(e.days, p.from, p.to)
				}
			}
			if err := a.add(&e, sign); err != nil {
				return err
			}
		}
		return nil
	}
	// read adds the rows of q: the group (or the pack's grouping), the
	// period's start and the sums (or the pack).
	read := func(q string, args []any, day bool) error {
		rows, err := db.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var g, start, b sql.RawBytes
		for rows.Next() {
			if err := rows.Scan(&g, &start, &b); err != nil {
				return err
			}
			st := string(start)
			switch {
			case !packed:
				err = add(b, st, day, group(g), &all)
			case string(g) == doraPackAll:
				err = decodePack(b, func(_, sums []byte) error { return add(sums, st, day, &all) })
			default:
				err = decodePack(b, func(name, sums []byte) error { return add(sums, st, day, group(name)) })
			}
			if err != nil {
				return err
			}
		}
		return rows.Err()
	}
	var u unionOf
	u.add(head+`'day'`, "start", filter, fargs, s.days[:]...)
	if len(u.branches) > 0 {
		q, args := u.source()
		if err := read(`SELECT * FROM `+q+` x`, args, true); err != nil {
			return nil, overall, fmt.Errorf("four keys: %w", err)
		}
	}
	if len(pieces) > 0 {
		starts := make([]any, 0, len(pieces)+len(fargs))
		for p := range pieces {
			starts = append(starts, p)
		}
		if err := read(head+`'ytd' AND start IN (`+placeholders(len(pieces))+`)`+filter, append(starts, fargs...), false); err != nil {
			return nil, overall, fmt.Errorf("four keys: %w", err)
		}
	}
	// The groups in the answer's order, their values in one array.
	type named struct {
		group string
		acc   *doraAcc
	}
	groups := make([]named, 0, len(byGroup))
	var values int64
	for g, a := range byGroup {
		if a.zero() {
			continue
		}
		groups = append(groups, named{g, a})
		values += a.lead.count() + a.restore.count()
	}
	slices.SortFunc(groups, func(x, y named) int {
		return cmp.Or(cmp.Compare(y.acc.changes, x.acc.changes), strings.Compare(x.group, y.group))
	})
	arena := make([]int64, 0, values)
	out := make([]devex.KeysRow, len(groups))
	for i, g := range groups {
		out[i] = g.acc.row(g.group, &arena)
	}
	overall = all.row("", nil)
	return out, overall, nil
}

// prevMonth is the first day of the month before the one day starts
// ("2026-01-01" → "2025-12-01").
func prevMonth(day string) string {
	t, _ := time.Parse(time.DateOnly, day)
	return devex.Day(time.Date(t.Year(), t.Month()-1, 1, 0, 0, 0, 0, time.UTC))
}

// daysIn is the number of days of month's month.
func daysIn(month string) int {
	t, _ := time.Parse(time.DateOnly, month)
	return time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// backfillDORAPeriods builds devex_dora_periods from the changes and
// incidents the store holds (migration 0020's Go step, in its transaction:
// a kill leaves the migration unapplied).
func backfillDORAPeriods(ctx context.Context, tx *sql.Tx, d Dialect) error {
	return (&DB{dialect: d}).rebuildDORA(ctx, tx)
}

// RebuildDORAPeriods rebuilds the four keys' per-period sums and their
// packs from the changes and incidents the store holds, as migrations 0020
// and 0026 do (for stores written around the store's methods: benchmarks'
// seeds).
func (db *DB) RebuildDORAPeriods(ctx context.Context) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := db.lockDORA(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM devex_dora_periods`); err != nil {
		return err
	}
	if err := db.bumpGeneration(ctx, tx, doraGeneration); err != nil {
		return err
	}
	if err := db.rebuildDORA(ctx, tx); err != nil {
		return err
	}
	if err := db.rebuildDORAPacks(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (db *DB) rebuildDORA(ctx context.Context, tx *sql.Tx) error {
	sums := doraDeltas{}
	rows, err := tx.QueryContext(ctx, `SELECT `+doraChangeColumns+` FROM devex_deployments`)
	if err != nil {
		return err
	}
	for rows.Next() {
		c, err := scanDORAChange(rows)
		if err != nil {
			rows.Close()
			return err
		}
		sums.add(c.key, c.contribution(), 1)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = tx.QueryContext(ctx, `SELECT day, service, owner, template_ref, restore_ms FROM devex_incidents`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var i doraIncident
		if err := rows.Scan(&i.key.day, &i.key.service, &i.key.owner, &i.key.template, &i.restoreMS); err != nil {
			rows.Close()
			return err
		}
		sums.add(i.key, i.contribution(), 1)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Per key and year, the months' sums and days, then their running sums.
	type yearKey struct {
		key  doraKey // day unused
		year string
	}
	type yearAcc struct {
		months [12]doraSums
		days   [12][]byte
		first  int
	}
	years := map[yearKey]*yearAcc{}
	var out []doraRow
	for k, s := range sums {
		if s.zero() {
			continue
		}
		out = append(out, doraRow{grain: grainDay, start: k.day, key: doraKey{"", k.service, k.owner, k.template}, sums: *s})
		yk := yearKey{doraKey{"", k.service, k.owner, k.template}, k.day[:4]}
		y := years[yk]
		if y == nil {
			y = &yearAcc{first: 12}
			years[yk] = y
		}
		m := atoi2(k.day[5:7]) - 1
		y.first = min(y.first, m)
		y.months[m].add(s, 1)
		if s.deployments > 0 {
			y.days[m] = setDayBit(y.days[m], dayOfYear(k.day), true)
		}
	}
	for yk, y := range years {
		var run doraSums
		var days []byte
		for m := y.first; m < 12; m++ {
			run.add(&y.months[m], 1)
			days = orDays(days, y.days[m])
			r := doraRow{grain: doraYTD, start: fmt.Sprintf("%s-%02d-01", yk.year, m+1), key: yk.key, days: slices.Clone(days)}
			r.sums.add(&run, 1)
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b doraRow) int {
		return cmp.Or(strings.Compare(a.grain, b.grain), strings.Compare(a.start, b.start), strings.Compare(a.key.service, b.key.service),
			strings.Compare(a.key.owner, b.key.owner), strings.Compare(a.key.template, b.key.template))
	})
	// Multi-row inserts, without the statement cache (the migration's
	// store has none).
	const width = 6
	for len(out) > 0 {
		n := min(len(out), rowsPerInsert)
		chunk := out[:n]
		out = out[n:]
		args := make([]any, 0, n*width)
		for _, r := range chunk {
			args = append(args, doraRowArgs(r)...)
		}
		if _, err := tx.ExecContext(ctx, db.insertQuery(doraInsert, "", width, n), args...); err != nil {
			return err
		}
	}
	return nil
}

func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }
