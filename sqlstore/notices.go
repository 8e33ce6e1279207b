package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/ttlnotice"
)

var _ ttlnotice.Store = (*DB)(nil)

const infraNoticeColumns = `id, resource_id, kind, name, owner, notice, expires_at, created_at, attempts`

// RecordInfraNotice stores n unless a notice of its type for the same
// resource and TTL exists (sent or not); it reports whether it stored it.
func (db *DB) RecordInfraNotice(ctx context.Context, n infra.Notice) (bool, error) {
	var bad []paved.FieldError
	if n.ID == "" || n.ResourceID == "" {
		bad = append(bad, paved.FieldError{Field: "id", Message: "id and resource id are required"})
	}
	if n.Notice != infra.NoticeExpiring && n.Notice != infra.NoticeTornDown {
		bad = append(bad, paved.FieldError{Field: "notice", Message: "must be expiring or torn-down"})
	}
	if n.ExpiresAt.IsZero() {
		bad = append(bad, paved.FieldError{Field: "expiresAt", Message: "is required"})
	}
	if len(bad) > 0 {
		return false, paved.InvalidFields(bad...)
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now()
	}
	res, err := db.exec(ctx, `
		INSERT INTO infra_notices (`+infraNoticeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)
		ON CONFLICT DO NOTHING`,
		n.ID, n.ResourceID, n.Kind, n.Name, n.Owner, n.Notice, db.dialect.Time(n.ExpiresAt), db.dialect.Time(n.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("record infra notice: %w", err)
	}
	c, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record infra notice: %w", err)
	}
	return c == 1, nil
}

// DropInfraNotices removes the unsent notices of a type of a resource.
func (db *DB) DropInfraNotices(ctx context.Context, resourceID, notice string) error {
	if _, err := db.exec(ctx, `DELETE FROM infra_notices WHERE resource_id = ? AND notice = ? AND done_at IS NULL`, resourceID, notice); err != nil {
		return fmt.Errorf("drop infra notices: %w", err)
	}
	return nil
}

// ExpiringInfraResources returns up to limit ready resources whose TTL ends
// after now and at or before before, and that have no expiring notice for
// that TTL yet; the soonest first.
func (db *DB) ExpiringInfraResources(ctx context.Context, now, before time.Time, limit int) ([]infra.Resource, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.listInfraResources(ctx, `
		WHERE status = ? AND expires_at IS NOT NULL AND expires_at > ? AND expires_at <= ?
		AND NOT EXISTS (SELECT 1 FROM infra_notices n
			WHERE n.resource_id = infra_resources.id AND n.notice = ? AND n.expires_at = infra_resources.expires_at)
		ORDER BY expires_at, id LIMIT ?`,
		infra.StatusReady, db.dialect.Time(now), db.dialect.Time(before), infra.NoticeExpiring, limit)
}

// DueInfraNotices returns up to limit notices not done and not claimed
// after claimedBefore, oldest first. A torn-down notice is due only once its
// resource is gone: it is recorded before the teardown starts.
func (db *DB) DueInfraNotices(ctx context.Context, claimedBefore time.Time, limit int) ([]infra.Notice, error) {
	if limit <= 0 {
		limit = 100
	}
	return queryList(ctx, db, "due infra notices", `SELECT `+infraNoticeColumns+` FROM infra_notices
		WHERE done_at IS NULL AND (claimed_at IS NULL OR claimed_at <= ?)
		AND (notice = ? OR NOT EXISTS (SELECT 1 FROM infra_resources r WHERE r.id = infra_notices.resource_id))
		ORDER BY created_at, id LIMIT ?`,
		func(row rowScanner) (infra.Notice, error) {
			var n infra.Notice
			err := row.Scan(&n.ID, &n.ResourceID, &n.Kind, &n.Name, &n.Owner, &n.Notice,
				timeColumn{&n.ExpiresAt}, timeColumn{&n.CreatedAt}, &n.Attempts)
			return n, err
		}, db.dialect.Time(claimedBefore), infra.NoticeExpiring, limit)
}

// ClaimInfraNotice takes a notice for sending at at, unless it is done or
// another sender claimed it after claimedBefore: of senders on several
// replicas, one wins.
func (db *DB) ClaimInfraNotice(ctx context.Context, id string, at, claimedBefore time.Time) (bool, error) {
	return db.claimOutbox(ctx, "infra_notices", id, at, claimedBefore)
}

// FinishInfraNotice marks a notice done (sent, or no longer worth sending).
func (db *DB) FinishInfraNotice(ctx context.Context, id string, at time.Time) error {
	return db.finishOutbox(ctx, "infra_notices", id, at)
}

// claimOutbox claims row id of an outbox table (infra_notices,
// approval_notices: claimed_at, attempts, done_at) at at, unless it is done
// or claimed after claimedBefore.
func (db *DB) claimOutbox(ctx context.Context, table, id string, at, claimedBefore time.Time) (bool, error) {
	res, err := db.exec(ctx, `
		UPDATE `+table+` SET claimed_at = ?, attempts = attempts + 1
		WHERE id = ? AND done_at IS NULL AND (claimed_at IS NULL OR claimed_at <= ?)`,
		db.dialect.Time(at), id, db.dialect.Time(claimedBefore))
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", table, err)
	}
	c, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", table, err)
	}
	return c == 1, nil
}

// finishOutbox marks row id of an outbox table done.
func (db *DB) finishOutbox(ctx context.Context, table, id string, at time.Time) error {
	if _, err := db.exec(ctx, `UPDATE `+table+` SET done_at = ? WHERE id = ?`, db.dialect.Time(at), id); err != nil {
		return fmt.Errorf("finish %s: %w", table, err)
	}
	return nil
}

// PruneInfraNotices removes the notices done at or before before whose
// resource is gone (a live resource's keep its TTL from being noticed
// twice); it returns how many.
func (db *DB) PruneInfraNotices(ctx context.Context, before time.Time) (int, error) {
	res, err := db.exec(ctx, `DELETE FROM infra_notices WHERE done_at IS NOT NULL AND done_at <= ?
		AND NOT EXISTS (SELECT 1 FROM infra_resources r WHERE r.id = infra_notices.resource_id)`, db.dialect.Time(before))
	if err != nil {
		return 0, fmt.Errorf("prune infra notices: %w", err)
	}
	c, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune infra notices: %w", err)
	}
	return int(c), nil
}
