package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paved-dev/paved"
)

// Limits of ListInvocations.
const (
	DefaultInvocationLimit = 100
	MaxInvocationLimit     = 1000
)

// RecordInvocation appends inv to the audit log and returns it as stored: with
// a random ID when inv had none, StartedAt now when it was zero, and times and
// durations cut to what the store keeps (microseconds, milliseconds).
func (db *DB) RecordInvocation(ctx context.Context, inv paved.Invocation) (paved.Invocation, error) {
	var bad []paved.FieldError
	if inv.ActionID == "" {
		bad = append(bad, paved.FieldError{Field: "actionId", Message: "is required"})
	}
	if inv.Status != paved.StatusSucceeded && inv.Status != paved.StatusFailed {
		bad = append(bad, paved.FieldError{Field: "status", Message: fmt.Sprintf("must be %q or %q", paved.StatusSucceeded, paved.StatusFailed)})
	}
	if len(inv.Output) > 0 && !json.Valid(inv.Output) {
		bad = append(bad, paved.FieldError{Field: "output", Message: "is not valid JSON"})
	}
	if inv.Duration < 0 {
		bad = append(bad, paved.FieldError{Field: "durationMs", Message: "must not be negative"})
	}
	if len(bad) > 0 {
		return paved.Invocation{}, paved.InvalidFields(bad...)
	}
	if inv.ID == "" {
		inv.ID = newID()
	}
	if inv.StartedAt.IsZero() {
		inv.StartedAt = now()
	}
	inv.StartedAt = inv.StartedAt.UTC().Truncate(time.Microsecond)
	inv.Duration = inv.Duration.Truncate(time.Millisecond)
	var output any // NULL when there is none
	if len(inv.Output) > 0 {
		output = string(inv.Output)
	}

	if err := db.invocationWriter().write(ctx, inv, output); err != nil {
		return paved.Invocation{}, err
	}
	return inv, nil
}

const invocationColumns = `id, action_id, caller_kind, caller_plugin, user_ref, entity_ref,
	template_ref, task_id, status, error_code, error, started_at, duration_ms, output`

// ListInvocations returns the invocations f selects, newest first: those of
// f.ActionID, f.UserRef and f.Status when set, started at or after f.Since
// and before f.Until when set, after f.After when set, at most f.Limit
// (DefaultInvocationLimit when not positive, never more than
// MaxInvocationLimit).
func (db *DB) ListInvocations(ctx context.Context, f paved.InvocationFilter) ([]paved.Invocation, error) {
	var where []string
	var args []any
	if f.ActionID != "" {
		where = append(where, "action_id = ?")
		args = append(args, f.ActionID)
	}
	if !f.Since.IsZero() {
		where = append(where, "started_at >= ?")
		args = append(args, db.dialect.Time(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "started_at < ?")
		args = append(args, db.dialect.Time(f.Until))
	}
	if f.UserRef != "" {
		where = append(where, "user_ref = ?")
		args = append(args, f.UserRef)
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.After != nil {
		at := db.dialect.Time(f.After.StartedAt.UTC().Truncate(time.Microsecond))
		where = append(where, "(started_at < ? OR (started_at = ? AND id < ?))")
		args = append(args, at, at, f.After.ID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultInvocationLimit
	}
	limit = min(limit, MaxInvocationLimit)

	q := `SELECT ` + invocationColumns + ` FROM invocations`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)

	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list invocations: %w", err)
	}
	defer rows.Close()
	invs := []paved.Invocation{}
	for rows.Next() {
		inv, err := scanInvocation(rows)
		if err != nil {
			return nil, fmt.Errorf("list invocations: %w", err)
		}
		invs = append(invs, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invocations: %w", err)
	}
	return invs, nil
}

// DeleteInvocationsBefore deletes at most batch invocations started before
// before, the oldest first, and returns how many it deleted: retention in
// short statements, so recording goes on meanwhile.
func (db *DB) DeleteInvocationsBefore(ctx context.Context, before time.Time, batch int) (int64, error) {
	res, err := db.exec(ctx, `DELETE FROM invocations WHERE id IN (
		SELECT id FROM invocations WHERE started_at < ? ORDER BY started_at LIMIT ?)`,
		db.dialect.Time(before.UTC()), batch)
	if err != nil {
		return 0, fmt.Errorf("delete invocations: %w", err)
	}
	return res.RowsAffected()
}

// GetInvocation returns the invocation with the given ID, or an ENotFound error.
func (db *DB) GetInvocation(ctx context.Context, id string) (paved.Invocation, error) {
	row := db.queryRow(ctx, `SELECT `+invocationColumns+` FROM invocations WHERE id = ?`, id)
	inv, err := scanInvocation(row)
	if errors.Is(err, sql.ErrNoRows) {
		return paved.Invocation{}, paved.Errorf(paved.ENotFound, "invocation %q not found", id)
	}
	if err != nil {
		return paved.Invocation{}, fmt.Errorf("get invocation: %w", err)
	}
	return inv, nil
}

func scanInvocation(row interface{ Scan(...any) error }) (paved.Invocation, error) {
	var inv paved.Invocation
	var callerKind, errorCode string
	var durationMS int64
	var output []byte
	err := row.Scan(&inv.ID, &inv.ActionID, &callerKind, &inv.CallerPlugin, &inv.UserRef, &inv.EntityRef,
		&inv.TemplateRef, &inv.TaskID, &inv.Status, &errorCode, &inv.Error, timeColumn{&inv.StartedAt},
		&durationMS, &output)
	if err != nil {
		return paved.Invocation{}, err
	}
	inv.CallerKind = paved.PrincipalKind(callerKind)
	inv.ErrorCode = paved.Code(errorCode)
	inv.Duration = time.Duration(durationMS) * time.Millisecond
	if len(output) > 0 {
		inv.Output = json.RawMessage(output)
	}
	return inv, nil
}

// newID returns a random (version 4) UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand panics rather than return an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
