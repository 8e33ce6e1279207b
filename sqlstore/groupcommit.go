package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
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
// (a duplicate id) fails alone; a failed transaction fails the whole batch.
func (w *groupWriter) commit(batch []*pendingRecord) {
	errs := make([]error, len(batch))
	// The leader's context must not cancel the others' records.
	ctx := context.WithoutCancel(batch[0].ctx)
	err := func() error {
		tx, err := w.db.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		stmt, err := tx.PrepareContext(ctx, w.db.dialect.Rebind(insertInvocation))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, r := range batch {
			errs[i] = insertOne(ctx, stmt, w.db.dialect, r)
		}
		return tx.Commit()
	}()
	for i, r := range batch {
		if err != nil {
			r.done <- fmt.Errorf("record invocation: %w", err)
			continue
		}
		r.done <- errs[i]
	}
}

const insertInvocation = `
	INSERT INTO invocations (id, action_id, caller_kind, caller_plugin, user_ref, entity_ref,
		template_ref, task_id, status, error_code, error, started_at, duration_ms, output)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO NOTHING`

func insertOne(ctx context.Context, stmt *sql.Stmt, d Dialect, r *pendingRecord) error {
	inv := r.inv
	res, err := stmt.ExecContext(ctx,
		inv.ID, inv.ActionID, string(inv.CallerKind), inv.CallerPlugin, inv.UserRef, inv.EntityRef,
		inv.TemplateRef, inv.TaskID, inv.Status, string(inv.ErrorCode), inv.Error,
		d.Time(inv.StartedAt), inv.Duration.Milliseconds(), r.output)
	if err != nil {
		return fmt.Errorf("record invocation: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record invocation: %w", err)
	} else if n == 0 {
		return paved.Errorf(paved.EConflict, "invocation %q already exists", inv.ID)
	}
	return nil
}
