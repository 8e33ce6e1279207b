package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/paved-dev/paved/devex"
)

// The templates' figures packed per period (devex_template_packs, migration
// 0022). With a thousand templates active every day, the rows per (period,
// template, owner) are the data itself: 28 days are 14,000 rows of totals,
// as many of users and of durations. Without a filter the page's templates
// list reads instead one row per period and kind, holding every template's
// figures across owners:
//
//   - 't' (day, month, year): the run counts of each template, the sums of
//     devex_daily's and devex_period_totals' rows;
//   - 'u' (day): the users of each template, devex_daily_users' (whole
//     months still come from devex_user_months' bits, per template);
//   - 'r' (day): the exact durations of each template's finished runs, the
//     raw runs' (kept as long as the raw runs: the edge days of a range are
//     exact, and none once retention deleted the runs);
//   - 'd' (month, year): each template's durations histogram, the sum of
//     devex_period_durations';
//   - 'm' (block of 48 months): each template's users with their month
//     bits, devex_user_months' ORed over owners.
//
// A pack is its templates in byte order, each as its length, its bytes, its
// figures' length and its figures. Written by the transaction that writes
// the rows it sums (applyTemplatePacks), read and rewritten whole: one
// collector writes at a time (its lease), as for the day bitmaps, and
// UpsertRuns's transactions run one at a time anyway (PostgreSQL: the stage
// lock, taken first; SQLite: its one writer).

const (
	packTotals    = "t"
	packUsers     = "u"
	packRaw       = "r"
	packDurations = "d"
	packMonths    = "m"
	// grainBlock is the grain of the month bits' packs: start is the
	// block's number (monthBits months), six digits.
	grainBlock = "block"
)

// blockStart is the start of block k's pack.
func blockStart(k int64) string { return fmt.Sprintf("%06d", k) }

type packKey struct{ kind, grain, start string }

// encodePack writes the figures of each template, templates in byte order.
func encodePack(figures map[string][]byte) []byte {
	var out []byte
	for _, t := range sortedKeys(figures, strings.Compare) {
		out = appendPackEntry(out, t, figures[t])
	}
	return out
}

// appendPackEntry appends a pack's entry: the name's length, the name,
// the figures' length and the figures.
func appendPackEntry(out []byte, name string, figures []byte) []byte {
	out = binary.AppendUvarint(out, uint64(len(name)))
	out = append(out, name...)
	out = binary.AppendUvarint(out, uint64(len(figures)))
	return append(out, figures...)
}

// decodePack calls each with every template of a pack (its bytes, valid
// during the call) and its figures.
func decodePack(b []byte, each func(template, figures []byte) error) error {
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, fmt.Errorf("template pack: truncated")
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, nil
	}
	for len(b) > 0 {
		t, err := next()
		if err != nil {
			return err
		}
		f, err := next()
		if err != nil {
			return err
		}
		if err := each(t, f); err != nil {
			return err
		}
	}
	return nil
}

func encodeTotals(t devex.Totals) []byte {
	out := make([]byte, 0, 24)
	for _, v := range []int64{t.Started, t.Succeeded, t.Failed, t.Cancelled, t.DurationMS, t.TimeSavedSeconds} {
		out = binary.AppendVarint(out, v)
	}
	return out
}

func decodeTotals(b []byte) (devex.Totals, error) {
	var t devex.Totals
	for _, p := range []*int64{&t.Started, &t.Succeeded, &t.Failed, &t.Cancelled, &t.DurationMS, &t.TimeSavedSeconds} {
		v, n := binary.Varint(b)
		if n <= 0 {
			return t, fmt.Errorf("template pack: bad totals")
		}
		*p, b = v, b[n:]
	}
	return t, nil
}

func encodeUsers(users map[string]bool) []byte {
	var out []byte
	for _, u := range sortedKeys(users, strings.Compare) {
		out = binary.AppendUvarint(out, uint64(len(u)))
		out = append(out, u...)
	}
	return out
}

func decodeUsers(b []byte, each func(user []byte)) error {
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return fmt.Errorf("template pack: bad users")
		}
		each(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	return nil
}

// encodeMonths writes users with their month bits, users in byte order.
func encodeMonths(bits map[string]int64) []byte {
	var out []byte
	for _, u := range sortedKeys(bits, strings.Compare) {
		out = binary.AppendUvarint(out, uint64(len(u)))
		out = append(out, u...)
		out = binary.AppendUvarint(out, uint64(bits[u]))
	}
	return out
}

func decodeMonths(b []byte, each func(user []byte, bits int64)) error {
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return fmt.Errorf("template pack: bad month bits")
		}
		u := b[k : k+int(n)]
		b = b[k+int(n):]
		bits, m := binary.Uvarint(b)
		if m <= 0 {
			return fmt.Errorf("template pack: bad month bits")
		}
		b = b[m:]
		each(u, int64(bits))
	}
	return nil
}

// packChange is what a transaction adds to a pack, per template.
type packChange struct {
	totals map[string]*devex.Totals
	users  map[string]map[string]bool
	hists  map[string]histogram
	months map[string]map[string]int64
}

// templatePacks collects a transaction's changes to the packs.
type templatePacks map[packKey]*packChange

func (p templatePacks) get(k packKey) *packChange {
	c := p[k]
	if c == nil {
		c = &packChange{totals: map[string]*devex.Totals{}, users: map[string]map[string]bool{}, hists: map[string]histogram{},
			months: map[string]map[string]int64{}}
		p[k] = c
	}
	return c
}

func (p templatePacks) addTotals(k packKey, template string, d devex.Totals) {
	c := p.get(k)
	if c.totals[template] == nil {
		c.totals[template] = &devex.Totals{}
	}
	c.totals[template].Add(d)
}

func (p templatePacks) addUser(day, template, user string) {
	c := p.get(packKey{packUsers, grainDay, day})
	if c.users[template] == nil {
		c.users[template] = map[string]bool{}
	}
	c.users[template][user] = true
}

// addMonths sets a user's bits of a template in a block.
func (p templatePacks) addMonths(block int64, template, user string, bits int64) {
	c := p.get(packKey{packMonths, grainBlock, blockStart(block)})
	if c.months[template] == nil {
		c.months[template] = map[string]int64{}
	}
	c.months[template][user] |= bits
}

func (p templatePacks) addHist(k packKey, template string, value, n int64) {
	c := p.get(k)
	if c.hists[template] == nil {
		c.hists[template] = histogram{}
	}
	c.hists[template][value] += n
}

// addDuration counts a finished run's duration: exact in its day, in
// buckets in its month and year.
func (p templatePacks) addDuration(day, template string, ms int64) {
	month, year := periodStarts(day)
	p.addHist(packKey{packRaw, grainDay, day}, template, ms, 1)
	b := durationBucket(ms)
	p.addHist(packKey{packDurations, grainMonth, month}, template, b, 1)
	p.addHist(packKey{packDurations, grainYear, year}, template, b, 1)
}

// merge adds c to the figures of a stored pack (templates c does not
// change keep their bytes).
func (c *packChange) merge(figures map[string][]byte) error {
	for t, d := range c.totals {
		old := devex.Totals{}
		if b, ok := figures[t]; ok {
			var err error
			if old, err = decodeTotals(b); err != nil {
				return err
			}
		}
		old.Add(*d)
		figures[t] = encodeTotals(old)
	}
	for t, us := range c.users {
		if err := decodeUsers(figures[t], func(u []byte) { us[string(u)] = true }); err != nil {
			return err
		}
		figures[t] = encodeUsers(us)
	}
	for t, us := range c.months {
		if err := decodeMonths(figures[t], func(u []byte, bits int64) { us[string(u)] |= bits }); err != nil {
			return err
		}
		figures[t] = encodeMonths(us)
	}
	for t, h := range c.hists {
		if err := addHistogram(h, figures[t]); err != nil {
			return err
		}
		figures[t] = encodeHistogram(h)
	}
	return nil
}

// applyTemplatePacks adds a transaction's runs to the packs: the same
// deltas, users and finished runs as the rows it writes (applyRollupDeltas,
// applyDurations), so each pack holds the sums of those rows.
func (db *DB) applyTemplatePacks(ctx context.Context, tx *sql.Tx, deltas map[rollupKey]*devex.Totals, users map[userKey]struct{}, finished []devex.Run) error {
	packs := templatePacks{}
	type periodKey struct{ grain, start, template, owner string }
	periods := map[periodKey]*devex.Totals{}
	for k, d := range deltas {
		if *d == (devex.Totals{}) {
			continue // no row of devex_daily is written
		}
		packs.addTotals(packKey{packTotals, grainDay, k.day}, k.template, *d)
		month, year := periodStarts(k.day)
		for _, p := range []periodKey{{grainMonth, month, k.template, k.owner}, {grainYear, year, k.template, k.owner}} {
			if periods[p] == nil {
				periods[p] = &devex.Totals{}
			}
			periods[p].Add(*d)
		}
	}
	for p, s := range periods {
		if *s != (devex.Totals{}) { // as applyPeriodDeltas: only then is the row written
			packs.addTotals(packKey{packTotals, p.grain, p.start}, p.template, *s)
		}
	}
	for u := range users {
		packs.addUser(u.day, u.template, u.user)
		m := monthIndex(u.day)
		packs.addMonths(m/monthBits, u.template, u.user, 1<<(m%monthBits))
	}
	for _, r := range finished {
		packs.addDuration(devex.Day(r.CreatedAt), r.TemplateRef, r.Duration().Milliseconds())
	}
	if len(packs) == 0 {
		return nil
	}
	read := db.dialect.Rebind(`SELECT pack FROM devex_template_packs WHERE kind = ? AND grain = ? AND start = ?`)
	const width = 4
	args := make([]any, 0, len(packs)*width)
	for _, k := range sortedKeys(packs, comparePackKeys) {
		var stored []byte
		if err := tx.QueryRowContext(ctx, read, k.kind, k.grain, k.start).Scan(&stored); err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("template packs: %w", err)
		}
		figures := map[string][]byte{}
		if err := decodePack(stored, func(t, f []byte) error { figures[string(t)] = f; return nil }); err != nil {
			return err
		}
		if err := packs[k].merge(figures); err != nil {
			return err
		}
		args = append(args, k.kind, k.grain, k.start, encodePack(figures))
	}
	return db.insertRows(ctx, tx, `INSERT INTO devex_template_packs (kind, grain, start, pack) VALUES `,
		` ON CONFLICT (kind, grain, start) DO UPDATE SET pack = excluded.pack`, width, args)
}

func comparePackKeys(a, b packKey) int {
	return cmp.Or(strings.Compare(a.kind, b.kind), strings.Compare(a.grain, b.grain), strings.Compare(a.start, b.start))
}

// backfillTemplatesDeployments is migration 0022's Go step: the
// deployments' rollups and the templates' packs.
func backfillTemplatesDeployments(ctx context.Context, tx *sql.Tx, d Dialect) error {
	if err := backfillDeploymentRollups(ctx, tx, d); err != nil {
		return err
	}
	return backfillTemplatePacks(ctx, tx, d)
}

// backfillTemplatePacks builds the packs from the rows they sum (migration
// 0022), as the writes would have.
func backfillTemplatePacks(ctx context.Context, tx *sql.Tx, d Dialect) error {
	packs := templatePacks{}
	scan := func(q string, row func(rows *sql.Rows) error) error {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := row(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	totals := func(grain string) func(rows *sql.Rows) error {
		return func(rows *sql.Rows) error {
			var start, tpl string
			var t devex.Totals
			if err := rows.Scan(append([]any{&start, &tpl}, scanTotals(&t)...)...); err != nil {
				return err
			}
			packs.addTotals(packKey{packTotals, grain, start}, tpl, t)
			return nil
		}
	}
	if err := scan(`SELECT day, template_ref, `+totalsColumns+` FROM devex_daily GROUP BY day, template_ref`, totals(grainDay)); err != nil {
		return err
	}
	for _, grain := range []string{grainMonth, grainYear} {
		if err := scan(`SELECT start, template_ref, `+totalsColumns+` FROM devex_period_totals WHERE grain = '`+grain+`'
			GROUP BY start, template_ref`, totals(grain)); err != nil {
			return err
		}
	}
	if err := scan(`SELECT day, template_ref, user_ref FROM devex_daily_users`, func(rows *sql.Rows) error {
		var day, tpl, user string
		if err := rows.Scan(&day, &tpl, &user); err != nil {
			return err
		}
		packs.addUser(day, tpl, user)
		return nil
	}); err != nil {
		return err
	}
	if err := scan(`SELECT template_ref, user_ref, block, months FROM devex_user_months`, func(rows *sql.Rows) error {
		var tpl, user string
		var block, months int64
		if err := rows.Scan(&tpl, &user, &block, &months); err != nil {
			return err
		}
		packs.addMonths(block, tpl, user, months)
		return nil
	}); err != nil {
		return err
	}
	if err := scan(`SELECT day, template_ref, duration_ms FROM devex_runs WHERE duration_ms IS NOT NULL`, func(rows *sql.Rows) error {
		var day, tpl string
		var ms int64
		if err := rows.Scan(&day, &tpl, &ms); err != nil {
			return err
		}
		packs.addHist(packKey{packRaw, grainDay, day}, tpl, ms, 1)
		return nil
	}); err != nil {
		return err
	}
	if err := scan(`SELECT grain, start, template_ref, hist FROM devex_period_durations`, func(rows *sql.Rows) error {
		var grain, start, tpl string
		var b []byte
		if err := rows.Scan(&grain, &start, &tpl, &b); err != nil {
			return err
		}
		h := histogram{}
		if err := addHistogram(h, b); err != nil {
			return err
		}
		for k, n := range h {
			packs.addHist(packKey{packDurations, grain, start}, tpl, k, n)
		}
		return nil
	}); err != nil {
		return err
	}
	st, err := tx.PrepareContext(ctx, d.Rebind(`INSERT INTO devex_template_packs (kind, grain, start, pack) VALUES (?, ?, ?, ?)`))
	if err != nil {
		return err
	}
	defer st.Close()
	for _, k := range sortedKeys(packs, comparePackKeys) {
		figures := map[string][]byte{}
		if err := packs[k].merge(figures); err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, k.kind, k.grain, k.start, encodePack(figures)); err != nil {
			return err
		}
	}
	return nil
}

// readPacks decodes the packs of kind in the split's parts (grains with
// their ranges), calling each with the pack's grain and every template's
// figures.
func (db *DB) readPacks(ctx context.Context, kind string, parts map[string][]dayRange, each func(template, figures []byte) error) error {
	var u unionOf
	for _, grain := range sortedKeys(parts, strings.Compare) {
		u.add(`SELECT pack FROM devex_template_packs WHERE kind = '`+kind+`' AND grain = '`+grain+`'`, "start", "", nil, parts[grain]...)
	}
	q, args := u.source()
	rows, err := db.query(ctx, `SELECT pack FROM `+q+` p`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pack sql.RawBytes
		if err := rows.Scan(&pack); err != nil {
			return err
		}
		if err := decodePack(pack, each); err != nil {
			return err
		}
	}
	return rows.Err()
}

// packedTotalsByTemplate is RunTotalsByTemplate without a filter.
func (db *DB) packedTotalsByTemplate(ctx context.Context, f devex.Filter) ([]devex.TemplateTotals, error) {
	from, err := db.rollupFrom(ctx, f.From)
	if err != nil {
		return nil, err
	}
	s := splitRange(from, f.To, true)
	sums := map[string]*devex.Totals{}
	err = db.readPacks(ctx, packTotals, map[string][]dayRange{grainDay: s.days[:], grainMonth: s.months[:], grainYear: {s.years}},
		func(t, b []byte) error {
			d, err := decodeTotals(b)
			if err != nil {
				return err
			}
			s := sums[string(t)]
			if s == nil {
				s = &devex.Totals{}
				sums[string(t)] = s
			}
			s.Add(d)
			return nil
		})
	if err != nil {
		return nil, err
	}
	out := make([]devex.TemplateTotals, 0, len(sums))
	for t, s := range sums {
		out = append(out, devex.TemplateTotals{TemplateRef: t, Totals: *s})
	}
	slices.SortFunc(out, func(a, b devex.TemplateTotals) int {
		return cmp.Or(cmp.Compare(b.Started, a.Started), strings.Compare(a.TemplateRef, b.TemplateRef))
	})
	return out, nil
}

// packedUsersByTemplate is ActiveUsersByTemplate without a filter: the edge
// days' users from the packs, the whole months' from the month bits.
func (db *DB) packedUsersByTemplate(ctx context.Context, f devex.Filter) (map[string]int64, error) {
	from, err := db.rollupFrom(ctx, f.From)
	if err != nil {
		return nil, err
	}
	s := splitRange(from, f.To, false)
	seen := map[string]map[string]struct{}{}
	add := func(t, u []byte) {
		us := seen[string(t)]
		if us == nil {
			us = map[string]struct{}{}
			seen[string(t)] = us
		}
		if _, ok := us[string(u)]; !ok {
			us[string(u)] = struct{}{}
		}
	}
	err = db.readPacks(ctx, packUsers, map[string][]dayRange{grainDay: s.days[:]}, func(t, b []byte) error {
		return decodeUsers(b, func(u []byte) { add(t, u) })
	})
	if err != nil {
		return nil, err
	}
	// The whole months [a, b): the users with a bit of them, per block.
	if a, b := monthIndex(s.months[0].from), monthIndex(s.months[0].to); a < b {
		for k := a / monthBits; k <= (b-1)/monthBits; k++ {
			lo, hi := max(a, k*monthBits)-k*monthBits, min(b, (k+1)*monthBits)-k*monthBits
			mask := int64(1)<<hi - int64(1)<<lo
			var pack []byte
			err := db.queryRow(ctx, `SELECT pack FROM devex_template_packs WHERE kind = 'm' AND grain = 'block' AND start = ?`, blockStart(k)).Scan(&pack)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return nil, err
			}
			err = decodePack(pack, func(t, f []byte) error {
				return decodeMonths(f, func(u []byte, bits int64) {
					if bits&mask != 0 {
						add(t, u)
					}
				})
			})
			if err != nil {
				return nil, err
			}
		}
	}
	out := make(map[string]int64, len(seen))
	for t, us := range seen {
		out[t] = int64(len(us))
	}
	return out, nil
}

// packedDurationCounts is durationCounts without a filter.
func (db *DB) packedDurationCounts(ctx context.Context, s rangeSplit) (map[string]histogram, error) {
	out := map[string]histogram{}
	get := func(t []byte) histogram {
		h := out[string(t)]
		if h == nil {
			h = histogram{}
			out[string(t)] = h
		}
		return h
	}
	if err := db.readPacks(ctx, packRaw, map[string][]dayRange{grainDay: s.days[:]}, func(t, b []byte) error {
		return addHistogram(get(t), b)
	}); err != nil {
		return nil, err
	}
	// Each bucket at its value (durationOfBucket), computed once per bucket.
	values := map[int64]int64{}
	err := db.readPacks(ctx, packDurations, map[string][]dayRange{grainMonth: s.months[:], grainYear: {s.years}}, func(t, b []byte) error {
		h := get(t)
		return eachBucket(b, func(k, c int64) {
			v, ok := values[k]
			if !ok {
				v = durationOfBucket(k)
				values[k] = v
			}
			h[v] += c
		})
	})
	return out, err
}
