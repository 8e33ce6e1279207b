package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/paved-dev/paved/devex"
)

// The satisfaction per template packed per period (devex_feedback_packs,
// migration 0025). Without a filter, the page's satisfaction per template
// read one row of devex_feedback_scores per template and edge day, part of
// a year and whole year: 5 years of 1,000 templates about 9,000 rows, 28
// days about 2,800. A pack holds instead every template's answers of one
// period (grain 'd', 'm', 'y', 'rest', 'ytd' and period as in
// devex_feedback_scores, every team together), so the same answer reads one
// row per period: about 35 for 5 years, 28 for 28 days.
//
// A pack is encodePack's: its templates in byte order, each with its
// counts of scores 1 to 5 as varints; a template whose counts are all zero
// is left out, a pack of none deleted. It is read, added to and written
// back whole by the transactions that write answers (PutFeedback, the
// retention's delete), which take Dialect.XactLock on feedbackPackLockKey
// first on PostgreSQL, so that writers on every replica run one after the
// other and none loses another's update; SQLite's transactions hold the
// write lock from their start. The changes of an answer's stage do not
// change its template's counts. Writes around the store's methods (the
// benchmarks' seeds) rebuild the packs with RebuildFeedbackPacks.

// feedbackPackLockKey is the advisory lock of the packs' writers (any
// fixed number, the same on every replica).
const feedbackPackLockKey = 7061766567

// scoreDelta is what a transaction adds to the packs: per (grain, period),
// per template, the change of each score's count.
type scoreDelta map[[2]string]map[string]*[5]int64

// add counts n answers of score about template on day in every period they
// fall in: the day, its month, its year, and the parts of its year (the
// 'rest' rows of its month and those before, the 'ytd' rows of the months
// after), as devex_feedback_scores' triggers count them for every team.
func (d scoreDelta) add(day, template string, score int, n int64) {
	if template == "" || score < 1 || score > 5 || n == 0 {
		return
	}
	month := day[:7]
	periods := [][2]string{{"d", day}, {"m", month}, {"y", day[:4]}}
	for m := 1; m <= 12; m++ {
		p := fmt.Sprintf("%s-%02d", day[:4], m)
		grain := "ytd"
		if p <= month {
			grain = "rest"
		}
		periods = append(periods, [2]string{grain, p})
	}
	for _, k := range periods {
		byTemplate := d[k]
		if byTemplate == nil {
			byTemplate = map[string]*[5]int64{}
			d[k] = byTemplate
		}
		c := byTemplate[template]
		if c == nil {
			c = &[5]int64{}
			byTemplate[template] = c
		}
		c[score-1] += n
	}
}

func encodeScores(c [5]int64) []byte {
	out := make([]byte, 0, 5)
	for _, v := range c {
		out = binary.AppendVarint(out, v)
	}
	return out
}

// addScores adds the counts b encodes to c.
func addScores(c *[5]int64, b []byte) error {
	for i := range c {
		v, n := binary.Varint(b)
		if n <= 0 {
			return fmt.Errorf("feedback pack: bad counts")
		}
		c[i] += v
		b = b[n:]
	}
	return nil
}

// lockFeedbackPacks serialises the packs' writers (PostgreSQL; SQLite's
// transactions hold the write lock already).
func (db *DB) lockFeedbackPacks(ctx context.Context, tx *sql.Tx) error {
	if db.dialect.XactLock == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, db.dialect.Rebind(db.dialect.XactLock), int64(feedbackPackLockKey))
	return err
}

// mergeScores returns the pack stored plus the counts of change: one pass
// over the stored templates, in their byte order, beside change's sorted
// (an answer changes one template of a pack of a thousand: the others'
// bytes are copied as they are).
func mergeScores(stored []byte, change map[string]*[5]int64) ([]byte, error) {
	templates := sortedKeys(change, strings.Compare)
	out := make([]byte, 0, len(stored)+len(templates)*48)
	put := func(t string, c [5]int64) {
		if c == ([5]int64{}) {
			return // no answers left: the template leaves the pack
		}
		f := encodeScores(c)
		out = binary.AppendUvarint(out, uint64(len(t)))
		out = append(out, t...)
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
	}
	next := 0 // templates[next] is the first of change not yet written
	err := decodePack(stored, func(t, f []byte) error {
		for ; next < len(templates) && templates[next] < string(t); next++ {
			put(templates[next], *change[templates[next]])
		}
		if next < len(templates) && templates[next] == string(t) {
			sum := *change[templates[next]]
			if err := addScores(&sum, f); err != nil {
				return err
			}
			put(templates[next], sum)
			next++
			return nil
		}
		out = binary.AppendUvarint(out, uint64(len(t)))
		out = append(out, t...)
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for ; next < len(templates); next++ {
		put(templates[next], *change[templates[next]])
	}
	return out, nil
}

// feedbackPacksBatch is the number of packs read or written per statement.
const feedbackPacksBatch = 100

// applyFeedbackPacks adds d to the stored packs, in the transaction that
// wrote the answers d counts, after lockFeedbackPacks: the packs of an
// answer (15) in one read and one write.
func applyFeedbackPacks(ctx context.Context, tx *sql.Tx, dialect Dialect, d scoreDelta) error {
	keys := sortedKeys(d, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for len(keys) > 0 {
		batch := keys[:min(feedbackPacksBatch, len(keys))]
		keys = keys[len(batch):]
		args := make([]any, 0, 3*len(batch))
		for _, k := range batch {
			args = append(args, k[0], k[1])
		}
		rows, err := tx.QueryContext(ctx, dialect.Rebind(`SELECT grain, period, pack FROM devex_feedback_packs
			WHERE `+strings.TrimSuffix(strings.Repeat(`(grain = ? AND period = ?) OR `, len(batch)), ` OR `)), args...)
		if err != nil {
			return fmt.Errorf("feedback packs: %w", err)
		}
		stored := map[[2]string][]byte{}
		for rows.Next() {
			var k [2]string
			var pack []byte
			if err := rows.Scan(&k[0], &k[1], &pack); err != nil {
				rows.Close()
				return fmt.Errorf("feedback packs: %w", err)
			}
			stored[k] = pack
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("feedback packs: %w", err)
		}
		args, tuples := args[:0], []string{}
		for _, k := range batch {
			pack, err := mergeScores(stored[k], d[k])
			if err != nil {
				return err
			}
			if len(pack) == 0 { // no answers left in the period
				if _, err := tx.ExecContext(ctx, dialect.Rebind(`DELETE FROM devex_feedback_packs WHERE grain = ? AND period = ?`), k[0], k[1]); err != nil {
					return fmt.Errorf("feedback packs: %w", err)
				}
				continue
			}
			args, tuples = append(args, k[0], k[1], pack), append(tuples, `(?, ?, ?)`)
		}
		if len(tuples) == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, dialect.Rebind(`INSERT INTO devex_feedback_packs (grain, period, pack) VALUES `+strings.Join(tuples, `, `)+`
			ON CONFLICT (grain, period) DO UPDATE SET pack = excluded.pack`), args...); err != nil {
			return fmt.Errorf("feedback packs: %w", err)
		}
	}
	return nil
}

// backfillFeedbackPacks is migration 0025's Go step: the packs of the
// stored answers, as the writes would have kept them.
func backfillFeedbackPacks(ctx context.Context, tx *sql.Tx, d Dialect) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM devex_feedback_packs`); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT day, template_ref, score, COUNT(*) FROM devex_feedback
		WHERE template_ref <> '' GROUP BY day, template_ref, score`)
	if err != nil {
		return err
	}
	delta := scoreDelta{}
	for rows.Next() {
		var day, template string
		var score int
		var n int64
		if err := rows.Scan(&day, &template, &score, &n); err != nil {
			rows.Close()
			return err
		}
		delta.add(day, template, score, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return applyFeedbackPacks(ctx, tx, d, delta)
}

// RebuildFeedbackPacks rebuilds the satisfaction packs from the answers, as
// migration 0025 builds them: for answers written around the store's
// methods (the benchmarks' seeds).
func (db *DB) RebuildFeedbackPacks(ctx context.Context) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := db.lockFeedbackPacks(ctx, tx); err != nil {
		return err
	}
	if err := backfillFeedbackPacks(ctx, tx, db.dialect); err != nil {
		return fmt.Errorf("rebuild feedback packs: %w", err)
	}
	return tx.Commit()
}

// packedScoresByTemplate is ScoresByTemplate without a filter: the packs of
// the range's parts (periodRanges with the parts of years), in one query.
func (db *DB) packedScoresByTemplate(ctx context.Context, f devex.Filter) ([]devex.TemplateScores, error) {
	ranges := yearParts(periodRanges(f.From, f.To, 'y'))
	if len(ranges) == 0 {
		return []devex.TemplateScores{}, nil
	}
	branches := make([]string, len(ranges))
	args := make([]any, 0, 3*len(ranges))
	for i, r := range ranges {
		branches[i] = `SELECT pack FROM devex_feedback_packs WHERE grain = ? AND period >= ? AND period < ?`
		args = append(args, r.Grain, r.From, r.To)
	}
	rows, err := db.query(ctx, strings.Join(branches, ` UNION ALL `), args...)
	if err != nil {
		return nil, fmt.Errorf("scores by template: %w", err)
	}
	defer rows.Close()
	sums := map[string]*[5]int64{}
	for rows.Next() {
		var pack sql.RawBytes
		if err := rows.Scan(&pack); err != nil {
			return nil, fmt.Errorf("scores by template: %w", err)
		}
		err := decodePack(pack, func(t, b []byte) error {
			c := sums[string(t)]
			if c == nil {
				c = &[5]int64{}
				sums[string(t)] = c
			}
			return addScores(c, b)
		})
		if err != nil {
			return nil, fmt.Errorf("scores by template: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scores by template: %w", err)
	}
	out := make([]devex.TemplateScores, 0, len(sums))
	for t, c := range sums {
		if c[0]+c[1]+c[2]+c[3]+c[4] > 0 {
			out = append(out, devex.TemplateScores{TemplateRef: t, ScoreCounts: devex.ScoreCounts{Counts: *c}})
		}
	}
	slices.SortFunc(out, func(a, b devex.TemplateScores) int { return strings.Compare(a.TemplateRef, b.TemplateRef) })
	return out, nil
}
