package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
)

// The four keys' sums packed per grouping (devex_dora_packs, migration
// 0026). Five years per service read two year-to-date rows per service and
// part of a year, about 10,000 rows of devex_dora_periods; without a team or
// template filter FourKeys reads instead the packs of the grouping and of
// 'all': per (grouping, period, part), every group's sums over the rows of
// the period, in devex_dora_periods' encoding (encodeDORASums), packed as
// the templates' figures are (encodePack: groups in byte order). The
// grouping 'all' has one group, '', the overall row's sums.
//
// A group's sums are the sum of its rows' (counts and histograms), its days
// bitmap their OR: a day counts for the group when one of its rows
// deployed that day, which is when the group's day entry has deployments.
// The writes keep the packs as they keep the rows (applyDORAPacks: the same
// deltas, keyed by group); rebuildDORAPacks packs the rows afresh. Packs
// are read and rewritten whole under the writers' serialisation (the four
// keys' XactLock on PostgreSQL, SQLite's one writer): no update is lost.
// Each grouping's groups are spread over doraPackParts rows by a hash of
// their name, so that a write rewrites a part of a period, not all of it.

// doraPackParts is the number of rows a grouping's period is spread over.
const doraPackParts = 8

// doraPackAll is the grouping of the overall sums.
const doraPackAll = "all"

// doraPackGroupings are the packs' groupings and the group of a key in each.
var doraPackGroupings = []struct {
	name  string
	group func(doraKey) string
}{
	{"service", func(k doraKey) string { return k.service }},
	{"team", func(k doraKey) string { return k.owner }},
	{"template", func(k doraKey) string { return k.template }},
	{doraPackAll, func(doraKey) string { return "" }},
}

// doraPart is the part of group's entries.
func doraPart(group string) int {
	h := fnv.New32a()
	h.Write([]byte(group))
	return int(h.Sum32() % doraPackParts)
}

type doraPackID struct {
	grouping, grain, start string
	part                   int
}

func compareDORAPackIDs(a, b doraPackID) int {
	return cmp.Or(strings.Compare(a.grouping, b.grouping), strings.Compare(a.grain, b.grain),
		strings.Compare(a.start, b.start), cmp.Compare(a.part, b.part))
}

// doraPack is a pack being changed: the pack as stored, and the groups
// being changed, decoded.
type doraPack struct {
	stored  []byte
	changed map[string]*doraRow
}

// doraPacks are the packs a transaction changes, read once.
type doraPacks map[doraPackID]*doraPack

// entry returns group's sums in the pack id, reading the pack first.
func (p doraPacks) entry(ctx context.Context, tx *sql.Tx, d Dialect, id doraPackID, group string) (*doraRow, error) {
	pk := p[id]
	if pk == nil {
		pk = &doraPack{changed: map[string]*doraRow{}}
		err := tx.QueryRowContext(ctx, d.Rebind(`SELECT pack FROM devex_dora_packs WHERE grouped_by = ? AND grain = ? AND start = ? AND part = ?`),
			id.grouping, id.grain, id.start, id.part).Scan(&pk.stored)
		if err != nil && err != sql.ErrNoRows {
			return nil, err
		}
		p[id] = pk
	}
	r := pk.changed[group]
	if r != nil {
		return r, nil
	}
	r = &doraRow{}
	err := decodePack(pk.stored, func(g, b []byte) error {
		if string(g) != group {
			return nil
		}
		var err error
		if r.sums, r.days, err = decodeDORARow(b); err != nil {
			return err
		}
		return errPackEntryFound
	})
	if err != nil && err != errPackEntryFound {
		return nil, err
	}
	pk.changed[group] = r
	return r, nil
}

// errPackEntryFound stops decodePack at the entry looked for.
var errPackEntryFound = errors.New("pack entry found")

// pack is the stored pack with the changed groups in their place (groups
// in byte order, as encodePack), those left empty out.
func (pk *doraPack) pack() ([]byte, error) {
	names := sortedKeys(pk.changed, strings.Compare)
	out := make([]byte, 0, len(pk.stored)+64*len(names))
	changed := func(g string) {
		if r := pk.changed[g]; !r.sums.zero() || len(r.days) > 0 {
			out = appendPackEntry(out, g, encodeDORASums(&r.sums, r.days))
		}
	}
	err := decodePack(pk.stored, func(g, b []byte) error {
		for len(names) > 0 && names[0] < string(g) {
			changed(names[0])
			names = names[1:]
		}
		if len(names) > 0 && names[0] == string(g) {
			changed(names[0])
			names = names[1:]
			return nil
		}
		out = appendPackEntry(out, string(g), b)
		return nil
	})
	for _, g := range names {
		changed(g)
	}
	return out, err
}

// applyDORAPacks adds the deltas of keys (days from the retention floor
// on) to the packs of their groups, as applyDORA to the rows.
func (db *DB) applyDORAPacks(ctx context.Context, tx *sql.Tx, keys []doraKey, deltas doraDeltas) error {
	packs := doraPacks{}
	for _, k := range keys {
		d := deltas[k]
		month, year := periodStarts(k.day)
		next := fmt.Sprintf("%04d-01-01", atoi4(year)+1)
		for _, g := range doraPackGroupings {
			group := g.group(k)
			part := doraPart(group)
			day, err := packs.entry(ctx, tx, db.dialect, doraPackID{g.name, grainDay, k.day, part}, group)
			if err != nil {
				return err
			}
			had := day.sums.deployments > 0
			day.sums.add(d, 1)
			has := day.sums.deployments > 0
			for m := month; m < next; m = nextMonth(m) {
				r, err := packs.entry(ctx, tx, db.dialect, doraPackID{g.name, doraYTD, m, part}, group)
				if err != nil {
					return err
				}
				r.sums.add(d, 1)
				if had != has {
					r.days = setDayBit(r.days, dayOfYear(k.day), has)
				}
			}
		}
	}
	return db.writeDORAPacks(ctx, tx, packs)
}

// writeDORAPacks writes the changed packs, deleting those left empty.
func (db *DB) writeDORAPacks(ctx context.Context, tx *sql.Tx, packs doraPacks) error {
	const width = 5
	var args []any
	for _, id := range sortedKeys(packs, compareDORAPackIDs) {
		b, err := packs[id].pack()
		if err != nil {
			return err
		}
		if len(b) > 0 {
			args = append(args, id.grouping, id.grain, id.start, id.part, b)
			continue
		}
		if _, err := tx.ExecContext(ctx, db.dialect.Rebind(`DELETE FROM devex_dora_packs
			WHERE grouped_by = ? AND grain = ? AND start = ? AND part = ?`), id.grouping, id.grain, id.start, id.part); err != nil {
			return err
		}
	}
	return db.insertRows(ctx, tx, doraPackInsert, ` ON CONFLICT (grouped_by, grain, start, part) DO UPDATE SET pack = excluded.pack`, width, args)
}

const doraPackInsert = `INSERT INTO devex_dora_packs (grouped_by, grain, start, part, pack) VALUES `

// backfillDORAPacks is migration 0026's Go step.
func backfillDORAPacks(ctx context.Context, tx *sql.Tx, d Dialect) error {
	return (&DB{dialect: d}).rebuildDORAPacks(ctx, tx)
}

// rebuildDORAPacks packs devex_dora_periods' rows afresh.
func (db *DB) rebuildDORAPacks(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM devex_dora_packs`); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT grain, start, service, owner, template_ref, sums FROM devex_dora_periods`)
	if err != nil {
		return err
	}
	packs := map[doraPackID]map[string]*doraRow{}
	for rows.Next() {
		var grain, start string
		var k doraKey
		var b []byte
		if err := rows.Scan(&grain, &start, &k.service, &k.owner, &k.template, &b); err != nil {
			rows.Close()
			return err
		}
		sums, days, err := decodeDORARow(b)
		if err != nil {
			rows.Close()
			return err
		}
		for _, g := range doraPackGroupings {
			group := g.group(k)
			id := doraPackID{g.name, grain, start, doraPart(group)}
			if packs[id] == nil {
				packs[id] = map[string]*doraRow{}
			}
			r := packs[id][group]
			if r == nil {
				r = &doraRow{}
				packs[id][group] = r
			}
			r.sums.add(&sums, 1)
			r.days = orDays(r.days, days)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Multi-row inserts, without the statement cache (the migration's
	// store has none).
	const width = 5
	ids := sortedKeys(packs, compareDORAPackIDs)
	for len(ids) > 0 {
		n := min(len(ids), rowsPerInsert)
		args := make([]any, 0, n*width)
		for _, id := range ids[:n] {
			stored := map[string][]byte{}
			for g, r := range packs[id] {
				stored[g] = encodeDORASums(&r.sums, r.days)
			}
			args = append(args, id.grouping, id.grain, id.start, id.part, encodePack(stored))
		}
		ids = ids[n:]
		if _, err := tx.ExecContext(ctx, db.insertQuery(doraPackInsert, "", width, n), args...); err != nil {
			return err
		}
	}
	return nil
}

// orDays is the bitmap of the days of a or b.
func orDays(a, b []byte) []byte {
	for i, c := range b {
		for len(a) <= i {
			a = append(a, 0)
		}
		a[i] |= c
	}
	return a
}
