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
	"github.com/paved-dev/paved/infra"
)

var _ infra.Store = (*DB)(nil)

const infraResourceColumns = `id, kind, name, driver, owner, created_by, entity_ref, parameters, status,
	git_commit, git_branch, compare_url, details, secret, created_at, updated_at, expires_at`

// CreateInfraResource stores a new resource. Another resource of the same
// kind and name, or the same id, is an EConflict error.
func (db *DB) CreateInfraResource(ctx context.Context, r infra.Resource) error {
	params, details, err := infraJSON(r)
	if err != nil {
		return err
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	res, err := db.exec(ctx, `
		INSERT INTO infra_resources (`+infraResourceColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		r.ID, r.Kind, r.Name, r.Driver, r.Owner, r.CreatedBy, r.EntityRef, params, r.Status,
		r.Commit, r.Branch, r.CompareURL, details, nullBytes(r.Secret),
		db.dialect.Time(r.CreatedAt), db.dialect.Time(r.UpdatedAt), db.dialect.Time(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create infra resource: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create infra resource: %w", err)
	} else if n == 0 {
		return paved.Errorf(paved.EConflict, "%s %q already exists", r.Kind, r.Name)
	}
	return nil
}

// GetInfraResource returns a resource by id, or an ENotFound error.
func (db *DB) GetInfraResource(ctx context.Context, id string) (infra.Resource, error) {
	return db.oneInfraResource(ctx, `WHERE id = ?`, id)
}

// FindInfraResource returns the resource of a kind with a name, or an ENotFound error.
func (db *DB) FindInfraResource(ctx context.Context, kind, name string) (infra.Resource, error) {
	return db.oneInfraResource(ctx, `WHERE kind = ? AND name = ?`, kind, name)
}

func (db *DB) oneInfraResource(ctx context.Context, where string, args ...any) (infra.Resource, error) {
	r, err := scanInfraResource(db.queryRow(ctx, `SELECT `+infraResourceColumns+` FROM infra_resources `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return infra.Resource{}, paved.Errorf(paved.ENotFound, "infrastructure resource not found")
	}
	if err != nil {
		return infra.Resource{}, fmt.Errorf("get infra resource: %w", err)
	}
	return r, nil
}

// UpdateInfraResource saves the mutable fields of a resource: status, where
// its change landed, details, sealed credentials and expiry.
func (db *DB) UpdateInfraResource(ctx context.Context, r infra.Resource) error {
	_, details, err := infraJSON(r)
	if err != nil {
		return err
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now()
	}
	res, err := db.exec(ctx, `
		UPDATE infra_resources SET status = ?, git_commit = ?, git_branch = ?, compare_url = ?,
			details = ?, secret = ?, updated_at = ?, expires_at = ?
		WHERE id = ?`,
		r.Status, r.Commit, r.Branch, r.CompareURL, details, nullBytes(r.Secret),
		db.dialect.Time(r.UpdatedAt), db.dialect.Time(r.ExpiresAt), r.ID)
	if err != nil {
		return fmt.Errorf("update infra resource: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update infra resource: %w", err)
	} else if n == 0 {
		return paved.Errorf(paved.ENotFound, "infrastructure resource %q not found", r.ID)
	}
	return nil
}

// DeleteInfraResource removes a resource; a missing one is not an error.
func (db *DB) DeleteInfraResource(ctx context.Context, id string) error {
	if _, err := db.exec(ctx, `DELETE FROM infra_resources WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete infra resource: %w", err)
	}
	return nil
}

// ExpiredInfraResources returns up to limit resources whose expiry is at or
// before at, the longest expired first.
func (db *DB) ExpiredInfraResources(ctx context.Context, at time.Time, limit int) ([]infra.Resource, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.listInfraResources(ctx, `WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, db.dialect.Time(at), limit)
}

// UnfinishedInfraResources returns up to limit resources still provisioning
// or deprovisioning whose last change is at or before before, oldest first.
func (db *DB) UnfinishedInfraResources(ctx context.Context, before time.Time, limit int) ([]infra.Resource, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.listInfraResources(ctx, `WHERE status <> ? AND updated_at <= ? ORDER BY updated_at, id LIMIT ?`, infra.StatusReady, db.dialect.Time(before), limit)
}

// ListInfraResources returns every resource, by kind and name.
func (db *DB) ListInfraResources(ctx context.Context) ([]infra.Resource, error) {
	return db.listInfraResources(ctx, `ORDER BY kind, name`)
}

func (db *DB) listInfraResources(ctx context.Context, tail string, args ...any) ([]infra.Resource, error) {
	return queryList(ctx, db, "list infra resources", `SELECT `+infraResourceColumns+` FROM infra_resources `+tail, scanInfraResource, args...)
}

func scanInfraResource(row rowScanner) (infra.Resource, error) {
	var r infra.Resource
	var params, details, secret []byte
	err := row.Scan(&r.ID, &r.Kind, &r.Name, &r.Driver, &r.Owner, &r.CreatedBy, &r.EntityRef, &params, &r.Status,
		&r.Commit, &r.Branch, &r.CompareURL, &details, &secret,
		timeColumn{&r.CreatedAt}, timeColumn{&r.UpdatedAt}, timeColumn{&r.ExpiresAt})
	if err != nil {
		return infra.Resource{}, err
	}
	if err := json.Unmarshal(params, &r.Parameters); err != nil {
		return infra.Resource{}, fmt.Errorf("parameters: %w", err)
	}
	if err := json.Unmarshal(details, &r.Details); err != nil {
		return infra.Resource{}, fmt.Errorf("details: %w", err)
	}
	if len(r.Details) == 0 {
		r.Details = nil
	}
	if len(secret) > 0 {
		r.Secret = secret
	}
	return r, nil
}

func infraJSON(r infra.Resource) (string, string, error) {
	var bad []paved.FieldError
	if r.ID == "" {
		bad = append(bad, paved.FieldError{Field: "id", Message: "is required"})
	}
	if r.Kind == "" || r.Name == "" {
		bad = append(bad, paved.FieldError{Field: "name", Message: "kind and name are required"})
	}
	switch r.Status {
	case infra.StatusProvisioning, infra.StatusReady, infra.StatusDeprovisioning:
	default:
		bad = append(bad, paved.FieldError{Field: "status", Message: "must be provisioning, ready or deprovisioning"})
	}
	if len(bad) > 0 {
		return "", "", paved.InvalidFields(bad...)
	}
	params := r.Parameters
	if params == nil {
		params = map[string]any{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return "", "", paved.Errorf(paved.EInvalid, "parameters: %v", err)
	}
	details := r.Details
	if details == nil {
		details = map[string]string{}
	}
	d, err := json.Marshal(details)
	if err != nil {
		return "", "", err
	}
	return string(p), string(d), nil
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// RecordInfraProvisioning appends one entry to the provisioning log.
func (db *DB) RecordInfraProvisioning(ctx context.Context, p infra.Provisioning) error {
	var bad []paved.FieldError
	switch p.Operation {
	case infra.OpProvision, infra.OpDeprovision, infra.OpReap, infra.OpExtend:
	default:
		bad = append(bad, paved.FieldError{Field: "operation", Message: "must be provision, deprovision, reap or extend"})
	}
	if p.Status != paved.StatusSucceeded && p.Status != paved.StatusFailed {
		bad = append(bad, paved.FieldError{Field: "status", Message: "must be succeeded or failed"})
	}
	if p.Duration < 0 {
		bad = append(bad, paved.FieldError{Field: "durationMs", Message: "must not be negative"})
	}
	if len(bad) > 0 {
		return paved.InvalidFields(bad...)
	}
	if p.ID == "" {
		p.ID = newID()
	}
	if p.StartedAt.IsZero() {
		p.StartedAt = now()
	}
	_, err := db.exec(ctx, `
		INSERT INTO infra_provisionings (id, resource_id, kind, name, operation, actor, status, error, started_at, duration_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.ResourceID, p.Kind, p.Name, p.Operation, p.Actor, p.Status, p.Error,
		db.dialect.Time(p.StartedAt), p.Duration.Milliseconds())
	if err != nil {
		return fmt.Errorf("record infra provisioning: %w", err)
	}
	return nil
}

// InfraProvisionings returns the provisioning log, newest first, optionally
// only the entries of one resource.
func (db *DB) InfraProvisionings(ctx context.Context, resourceID string, limit int) ([]infra.Provisioning, error) {
	if limit <= 0 || limit > MaxInvocationLimit {
		limit = DefaultInvocationLimit
	}
	var where []string
	var args []any
	if resourceID != "" {
		where = append(where, "resource_id = ?")
		args = append(args, resourceID)
	}
	q := `SELECT id, resource_id, kind, name, operation, actor, status, error, started_at, duration_ms FROM infra_provisionings`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return queryList(ctx, db, "infra provisionings", q, func(row rowScanner) (infra.Provisioning, error) {
		var p infra.Provisioning
		var ms int64
		err := row.Scan(&p.ID, &p.ResourceID, &p.Kind, &p.Name, &p.Operation, &p.Actor, &p.Status, &p.Error, timeColumn{&p.StartedAt}, &ms)
		p.Duration = time.Duration(ms) * time.Millisecond
		return p, err
	}, args...)
}
