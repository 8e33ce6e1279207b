package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/paved-dev/paved"
)

// groupWriter commits concurrent audit records together: the first caller to
// arrive writes everything pending in one transaction while the others wait
// for that commit. Every caller still returns only once its own record is
// committed, but under load the store takes one write lock per batch instead of
// one per record (SQLite's busy back-off otherwise dominates the latency).
type groupWriter struct {
	db      *DB
	mu      sync.Mutex
	pending []*pendingRecord
	leader  bool
}

type pendingRecord struct {
	ctx    context.Context
	inv    paved.Invocation
	output any
	done   chan error
}

// maxGroup bounds one transaction so a burst cannot hold the write lock long.
const maxGroup = 512

func (db *DB) invocationWriter() *groupWriter {
	db.writerOnce.Do(func() { db.writer = &groupWriter{db: db} })
	return db.writer
}

func (w *groupWriter) write(ctx context.Context, inv paved.Invocation, output any) error {
	rec := &pendingRecord{ctx: ctx, inv: inv, output: output, done: make(chan error, 1)}
	w.mu.Lock()
	w.pending = append(w.pending, rec)
	if w.leader {
		w.mu.Unlock()
		select {
		case err := <-rec.done:
			return err
		case <-ctx.Done():
			// The record may still be committed by the leader; the caller gave up waiting.
			return ctx.Err()
		}
	}
	w.leader = true
	w.mu.Unlock()
	// Requests running at the same time reach their own record during this
	// yield and join the batch, so a commit serves many records under load;
	// with nothing else to run it returns at once.
	runtime.Gosched()
	w.mu.Lock()
	for len(w.pending) > 0 {
		batch := w.pending
		if len(batch) > maxGroup {
			batch = batch[:maxGroup]
		}
		w.pending = w.pending[len(batch):]
		w.mu.Unlock()
		w.commit(batch)
		w.mu.Lock()
	}
	w.leader = false
	w.mu.Unlock()
	return <-rec.done
}

// commit inserts the batch in one transaction. A record that fails on its own
// (a duplicate id) fails alone. When the transaction fails, each record is
// tried again in a transaction of its own: a record the engine refuses (text
// PostgreSQL cannot store) must not cost the records that shared its batch.
func (w *groupWriter) commit(batch []*pendingRecord) {
	errs := make([]error, len(batch))
	// The leader's context must not cancel the others' records.
	ctx := context.WithoutCancel(batch[0].ctx)
	err := func() error {
		tx, done, err := w.db.beginBatch(ctx)
		if err != nil {
			return err
		}
		defer done()
		for start := 0; start < len(batch); start += rowsPerRecordInsert {
			end := min(start+rowsPerRecordInsert, len(batch))
			if err := w.insert(ctx, tx, batch[start:end], errs[start:end]); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			w.commit([]*pendingRecord{r})
		}
		return
	}
	for i, r := range batch {
		if err != nil {
			r.done <- fmt.Errorf("record invocation: %w", err)
			continue
		}
		r.done <- errs[i]
	}
}

// rowsPerRecordInsert bounds one multi-row INSERT of audit records (14
// values a row, far under both engines' parameter limits); each row count
// up to it is a statement of its own, prepared once per connection.
const rowsPerRecordInsert = 64

// insert stores records with one statement and sets errs[i] for each
// record the store already had. Rows that did conflict are the ones the
// statement does not return.
func (w *groupWriter) insert(ctx context.Context, tx *sql.Tx, records []*pendingRecord, errs []error) error {
	st, err := w.db.cachedStmt(ctx, w.db.dialect.Rebind(insertInvocations(len(records))))
	if err != nil {
		return err
	}
	d := w.db.dialect
	args := make([]any, 0, len(records)*invocationValues)
	for _, r := range records {
		inv := r.inv
		args = append(args, inv.ID, inv.ActionID, string(inv.CallerKind), inv.CallerPlugin, inv.UserRef, inv.EntityRef,
			inv.TemplateRef, inv.TaskID, inv.Status, string(inv.ErrorCode), inv.Error,
			d.Time(inv.StartedAt), inv.Duration.Milliseconds(), r.output)
	}
	rows, err := tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	inserted := make(map[string]bool, len(records))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, r := range records {
		// Of two records with one id in a batch, the first is stored.
		if !inserted[r.inv.ID] {
			errs[i] = paved.Errorf(paved.EConflict, "invocation %q already exists", r.inv.ID)
		}
		delete(inserted, r.inv.ID)
	}
	return nil
}

const invocationValues = 14

// insertInvocations is the INSERT of n records; it returns the ids it stored.
func insertInvocations(n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO invocations (id, action_id, caller_kind, caller_plugin, user_ref, entity_ref,
		template_ref, task_id, status, error_code, error, started_at, duration_ms, output) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(" + placeholders(invocationValues) + ")")
	}
	q.WriteString(` ON CONFLICT (id) DO NOTHING RETURNING id`)
	return q.String()
}
