package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
)

var _ approval.Store = (*DB)(nil)

const approvalColumns = `id, kind, name, owner, parameters, ttl_seconds, entity_ref, requester, approvers, reason, state,
	decided_by, comment, resource_id, error, created_at, updated_at, expires_at, app, attempts`

// CreateApproval stores a new pending request, its first audit event and
// its notices in one transaction. An open request for the same kind and
// name (or the same id) is an EConflict error.
func (db *DB) CreateApproval(ctx context.Context, r approval.Request, notices ...approval.Notice) error {
	var bad []paved.FieldError
	if r.ID == "" || r.Kind == "" || r.Name == "" {
		bad = append(bad, paved.FieldError{Field: "id", Message: "id, kind and name are required"})
	}
	if r.Requester == "" || r.Approvers == "" {
		bad = append(bad, paved.FieldError{Field: "requester", Message: "requester and approvers are required"})
	}
	if r.State != approval.StatePending {
		bad = append(bad, paved.FieldError{Field: "state", Message: "a new request is pending"})
	}
	if r.ExpiresAt.IsZero() {
		bad = append(bad, paved.FieldError{Field: "expiresAt", Message: "is required"})
	}
	if len(bad) > 0 {
		return paved.InvalidFields(bad...)
	}
	params := r.Parameters
	if params == nil {
		params = map[string]any{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return paved.Errorf(paved.EInvalid, "parameters: %v", err)
	}
	app := ""
	if r.App != nil {
		b, err := json.Marshal(r.App)
		if err != nil {
			return paved.Errorf(paved.EInvalid, "app: %v", err)
		}
		app = string(b)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	return db.inTx(ctx, "create approval", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.dialect.Rebind(`
			INSERT INTO approval_requests (`+approvalColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '', '', ?, ?, ?, ?, 0)
			ON CONFLICT DO NOTHING`),
			r.ID, r.Kind, r.Name, r.Owner, string(p), int64(r.TTL/time.Second), r.EntityRef, r.Requester, r.Approvers, r.Reason, r.State,
			db.dialect.Time(r.CreatedAt), db.dialect.Time(r.UpdatedAt), db.dialect.Time(r.ExpiresAt), app)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return paved.Errorf(paved.EConflict, "%s %q already has an open request", r.Kind, r.Name)
		}
		if err := db.appendApprovalEvent(ctx, tx, approval.Event{RequestID: r.ID, State: r.State, Actor: r.Requester, Comment: r.Reason, At: r.CreatedAt}); err != nil {
			return err
		}
		return db.recordApprovalNotices(ctx, tx, notices)
	})
}

// GetApproval returns a request by id, or an ENotFound error.
func (db *DB) GetApproval(ctx context.Context, id string) (approval.Request, error) {
	return db.oneApproval(ctx, `WHERE id = ?`, id)
}

// FindOpenApproval returns the open request for kind and name, or ENotFound.
func (db *DB) FindOpenApproval(ctx context.Context, kind, name string) (approval.Request, error) {
	return db.oneApproval(ctx, `WHERE kind = ? AND name = ? AND state IN (?, ?, ?)`, kind, name,
		approval.StatePending, approval.StateApproved, approval.StateProvisioning)
}

func (db *DB) oneApproval(ctx context.Context, where string, args ...any) (approval.Request, error) {
	r, err := scanApproval(db.queryRow(ctx, `SELECT `+approvalColumns+` FROM approval_requests `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return approval.Request{}, paved.Errorf(paved.ENotFound, "approval request not found")
	}
	if err != nil {
		return approval.Request{}, fmt.Errorf("get approval: %w", err)
	}
	return r, nil
}

// MaxApprovalLimit bounds a list of requests.
const MaxApprovalLimit = 200

// ListApprovals returns requests, newest first.
func (db *DB) ListApprovals(ctx context.Context, f approval.Filter) ([]approval.Request, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxApprovalLimit {
		limit = MaxApprovalLimit
	}
	if f.State != "" {
		return db.listApprovals(ctx, `WHERE state = ? ORDER BY created_at DESC, id DESC LIMIT ?`, f.State, limit)
	}
	return db.listApprovals(ctx, `ORDER BY created_at DESC, id DESC LIMIT ?`, limit)
}

// ExpiredApprovals returns pending requests whose expiry is at or before at,
// the longest expired first.
func (db *DB) ExpiredApprovals(ctx context.Context, at time.Time, limit int) ([]approval.Request, error) {
	if limit <= 0 || limit > MaxApprovalLimit {
		limit = MaxApprovalLimit
	}
	return db.listApprovals(ctx, `WHERE state = ? AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`,
		approval.StatePending, db.dialect.Time(at), limit)
}

// StalledApprovals returns approved or provisioning requests last changed at
// or before before whose retry, if any, is due at now; oldest first.
func (db *DB) StalledApprovals(ctx context.Context, before, now time.Time, limit int) ([]approval.Request, error) {
	if limit <= 0 || limit > MaxApprovalLimit {
		limit = MaxApprovalLimit
	}
	return db.listApprovals(ctx, `WHERE state IN (?, ?) AND updated_at <= ? AND (retry_at IS NULL OR retry_at <= ?) ORDER BY updated_at, id LIMIT ?`,
		approval.StateApproved, approval.StateProvisioning, db.dialect.Time(before), db.dialect.Time(now), limit)
}

// RetryApproval counts a failed attempt of a provisioning request, sets
// when to try again, and appends the reason to its audit trail, in one
// transaction; it returns the attempts so far.
func (db *DB) RetryApproval(ctx context.Context, id string, at, retryAt time.Time, reason string) (int, error) {
	attempts := 0
	err := db.inTx(ctx, "retry approval", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.dialect.Rebind(`UPDATE approval_requests SET attempts = attempts + 1, retry_at = ? WHERE id = ? AND state = ?`),
			db.dialect.Time(retryAt), id, approval.StateProvisioning)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return paved.Errorf(paved.EConflict, "request %s is no longer provisioning", id)
		}
		if err := tx.QueryRowContext(ctx, db.dialect.Rebind(`SELECT attempts FROM approval_requests WHERE id = ?`), id).Scan(&attempts); err != nil {
			return err
		}
		return db.appendApprovalEvent(ctx, tx, approval.Event{RequestID: id, State: approval.StateProvisioning, Actor: "paved",
			Comment: fmt.Sprintf("attempt %d failed: %s; retrying after %s", attempts, reason, retryAt.UTC().Format(time.RFC3339)), At: at})
	})
	return attempts, err
}

func (db *DB) listApprovals(ctx context.Context, tail string, args ...any) ([]approval.Request, error) {
	return queryList(ctx, db, "list approvals", `SELECT `+approvalColumns+` FROM approval_requests `+tail, scanApproval, args...)
}

func scanApproval(row rowScanner) (approval.Request, error) {
	var r approval.Request
	var params []byte
	var ttl int64
	var app string
	err := row.Scan(&r.ID, &r.Kind, &r.Name, &r.Owner, &params, &ttl, &r.EntityRef, &r.Requester, &r.Approvers, &r.Reason, &r.State,
		&r.DecidedBy, &r.Comment, &r.ResourceID, &r.Error,
		timeColumn{&r.CreatedAt}, timeColumn{&r.UpdatedAt}, timeColumn{&r.ExpiresAt}, &app, &r.Attempts)
	if err != nil {
		return approval.Request{}, err
	}
	r.TTL = time.Duration(ttl) * time.Second
	if err := json.Unmarshal(params, &r.Parameters); err != nil {
		return approval.Request{}, fmt.Errorf("parameters: %w", err)
	}
	if app != "" {
		r.App = new(paved.AppRequest)
		if err := json.Unmarshal([]byte(app), r.App); err != nil {
			return approval.Request{}, fmt.Errorf("app: %w", err)
		}
	}
	return r, nil
}

// ChangeApproval moves a request from c.From to c.To, if it is still in
// c.From, and appends the audit event in the same transaction; false when
// it was not (another decision, replica or sweep went first). A decision
// (approved, rejected) records its actor and comment; done its resource;
// failed its error.
func (db *DB) ChangeApproval(ctx context.Context, c approval.Change) (bool, error) {
	if !validTransition(c.From, c.To) {
		return false, paved.InvalidFields(paved.FieldError{Field: "state", Message: fmt.Sprintf("%s cannot become %s", c.From, c.To)})
	}
	if c.At.IsZero() {
		c.At = now()
	}
	set := []string{"state = ?", "updated_at = ?"}
	args := []any{c.To, db.dialect.Time(c.At)}
	switch c.To {
	case approval.StateApproved, approval.StateRejected:
		set = append(set, "decided_by = ?", "comment = ?")
		args = append(args, c.Actor, c.Comment)
	case approval.StateDone:
		set = append(set, "resource_id = ?")
		args = append(args, c.ResourceID)
	case approval.StateFailed:
		set = append(set, "error = ?")
		args = append(args, c.Error)
	}
	args = append(args, c.ID, c.From)
	changed := false
	err := db.inTx(ctx, "change approval", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.dialect.Rebind(`UPDATE approval_requests SET `+strings.Join(set, ", ")+` WHERE id = ? AND state = ?`), args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		changed = true
		comment := c.Comment
		if c.To == approval.StateFailed {
			comment = c.Error
		}
		if err := db.appendApprovalEvent(ctx, tx, approval.Event{RequestID: c.ID, State: c.To, Actor: c.Actor, Comment: comment, At: c.At}); err != nil {
			return err
		}
		return db.recordApprovalNotices(ctx, tx, c.Notices)
	})
	return changed, err
}

// validTransition is the state machine of a request.
func validTransition(from, to string) bool {
	switch from {
	case approval.StatePending:
		return to == approval.StateApproved || to == approval.StateRejected || to == approval.StateExpired
	case approval.StateApproved:
		return to == approval.StateProvisioning
	case approval.StateProvisioning:
		return to == approval.StateDone || to == approval.StateFailed
	}
	return false
}

func (db *DB) appendApprovalEvent(ctx context.Context, tx *sql.Tx, e approval.Event) error {
	_, err := tx.ExecContext(ctx, db.dialect.Rebind(`INSERT INTO approval_events (request_id, state, actor, comment, at) VALUES (?, ?, ?, ?, ?)`),
		e.RequestID, e.State, e.Actor, e.Comment, db.dialect.Time(e.At))
	return err
}

// recordApprovalNotices adds notices to the outbox in tx.
func (db *DB) recordApprovalNotices(ctx context.Context, tx *sql.Tx, notices []approval.Notice) error {
	for _, n := range notices {
		if n.ID == "" || n.RequestID == "" {
			return paved.InvalidFields(paved.FieldError{Field: "notices", Message: "a notice needs an id and a request id"})
		}
		b, err := json.Marshal(n.Notification)
		if err != nil {
			return paved.Errorf(paved.EInvalid, "notices: %v", err)
		}
		if n.CreatedAt.IsZero() {
			n.CreatedAt = now()
		}
		if _, err := tx.ExecContext(ctx, db.dialect.Rebind(`INSERT INTO approval_notices (id, request_id, notification, created_at) VALUES (?, ?, ?, ?)`),
			n.ID, n.RequestID, string(b), db.dialect.Time(n.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// DueApprovalNotices returns up to limit notices not done and not claimed
// after claimedBefore, oldest first.
func (db *DB) DueApprovalNotices(ctx context.Context, claimedBefore time.Time, limit int) ([]approval.Notice, error) {
	if limit <= 0 || limit > MaxApprovalLimit {
		limit = MaxApprovalLimit
	}
	return queryList(ctx, db, "due approval notices", `SELECT id, request_id, notification, created_at, attempts FROM approval_notices
		WHERE done_at IS NULL AND (claimed_at IS NULL OR claimed_at <= ?) ORDER BY created_at, id LIMIT ?`,
		func(row rowScanner) (approval.Notice, error) {
			var n approval.Notice
			var msg []byte
			if err := row.Scan(&n.ID, &n.RequestID, &msg, timeColumn{&n.CreatedAt}, &n.Attempts); err != nil {
				return n, err
			}
			return n, json.Unmarshal(msg, &n.Notification)
		}, db.dialect.Time(claimedBefore), limit)
}

// ClaimApprovalNotice takes a notice for sending at at, unless it is done
// or another sender claimed it after claimedBefore: of senders on several
// replicas, one wins.
func (db *DB) ClaimApprovalNotice(ctx context.Context, id string, at, claimedBefore time.Time) (bool, error) {
	return db.claimOutbox(ctx, "approval_notices", id, at, claimedBefore)
}

// FinishApprovalNotice marks a notice sent.
func (db *DB) FinishApprovalNotice(ctx context.Context, id string, at time.Time) error {
	return db.finishOutbox(ctx, "approval_notices", id, at)
}

// PruneApprovalNotices removes the notices sent at or before before; it
// returns how many.
func (db *DB) PruneApprovalNotices(ctx context.Context, before time.Time) (int, error) {
	res, err := db.exec(ctx, `DELETE FROM approval_notices WHERE done_at IS NOT NULL AND done_at <= ?`, db.dialect.Time(before))
	if err != nil {
		return 0, fmt.Errorf("prune approval notices: %w", err)
	}
	c, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune approval notices: %w", err)
	}
	return int(c), nil
}

// ApprovalEvents returns the audit trail of a request, oldest first.
func (db *DB) ApprovalEvents(ctx context.Context, id string) ([]approval.Event, error) {
	return queryList(ctx, db, "approval events", `SELECT request_id, state, actor, comment, at FROM approval_events WHERE request_id = ? ORDER BY seq`,
		func(row rowScanner) (approval.Event, error) {
			var e approval.Event
			err := row.Scan(&e.RequestID, &e.State, &e.Actor, &e.Comment, timeColumn{&e.At})
			return e, err
		}, id)
}

// inTx runs f in a transaction, committed when f returns nil. A paved
// error from f is returned as it is; others are wrapped with what.
func (db *DB) inTx(ctx context.Context, what string, f func(tx *sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		if paved.ErrorCode(err) != paved.EInternal {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
