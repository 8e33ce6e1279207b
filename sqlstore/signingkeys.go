package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/paved-dev/paved"
)

// AddSigningKey stores k; CreatedAt is now when it is zero. A key whose KID is
// taken is an EConflict error.
func (db *DB) AddSigningKey(ctx context.Context, k paved.SigningKey) error {
	var bad []paved.FieldError
	if k.KID == "" {
		bad = append(bad, paved.FieldError{Field: "kid", Message: "is required"})
	}
	if len(k.PrivateKeyPEM) == 0 {
		bad = append(bad, paved.FieldError{Field: "privateKeyPem", Message: "is required"})
	}
	if len(bad) > 0 {
		return paved.InvalidFields(bad...)
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	res, err := db.exec(ctx, `
		INSERT INTO signing_keys (kid, private_key_pem, created_at, retired_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (kid) DO NOTHING`,
		k.KID, k.PrivateKeyPEM, db.dialect.Time(k.CreatedAt), db.dialect.Time(k.RetiredAt))
	if err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("add signing key: %w", err)
	} else if n == 0 {
		return paved.Errorf(paved.EConflict, "signing key %q already exists", k.KID)
	}
	return nil
}

// SigningKeys returns every stored key, newest first.
func (db *DB) SigningKeys(ctx context.Context) ([]paved.SigningKey, error) {
	rows, err := db.query(ctx, `
		SELECT kid, private_key_pem, created_at, retired_at
		FROM signing_keys
		ORDER BY created_at DESC, kid DESC`)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	defer rows.Close()
	keys := []paved.SigningKey{}
	for rows.Next() {
		var k paved.SigningKey
		if err := rows.Scan(&k.KID, &k.PrivateKeyPEM, timeColumn{&k.CreatedAt}, timeColumn{&k.RetiredAt}); err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

// RetireSigningKeys marks the keys created before exceptKID (the new key of
// a rotation) retired at the given time, leaving the retirement time of keys
// retired earlier as it was. Keys created after it stay: of rotations racing
// on two replicas, each retiring all but its own key would leave none active;
// this way the newest key stays active.
func (db *DB) RetireSigningKeys(ctx context.Context, exceptKID string, at time.Time) error {
	if at.IsZero() {
		return paved.Errorf(paved.EInvalid, "retire signing keys: the retirement time is required")
	}
	_, err := db.exec(ctx, `
		UPDATE signing_keys SET retired_at = ?
		WHERE retired_at IS NULL AND (created_at, kid) < (SELECT created_at, kid FROM signing_keys WHERE kid = ?)`,
		db.dialect.Time(at), exceptKID)
	if err != nil {
		return fmt.Errorf("retire signing keys: %w", err)
	}
	return nil
}

// DeleteSigningKeysRetiredBefore deletes the keys retired before t and returns
// how many it deleted. Keys still in use are never deleted.
func (db *DB) DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := db.exec(ctx, `
		DELETE FROM signing_keys
		WHERE retired_at IS NOT NULL AND retired_at < ?`,
		db.dialect.Time(t))
	if err != nil {
		return 0, fmt.Errorf("delete retired signing keys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete retired signing keys: %w", err)
	}
	return int(n), nil
}

// ReplaceSigningKeyPrivate sets the private key of kid to next when it is
// still prev (sealing a key stored in clear), and reports whether it did.
func (db *DB) ReplaceSigningKeyPrivate(ctx context.Context, kid string, prev, next []byte) (bool, error) {
	res, err := db.exec(ctx, `UPDATE signing_keys SET private_key_pem = ? WHERE kid = ? AND private_key_pem = ?`, next, kid, prev)
	if err != nil {
		return false, fmt.Errorf("replace signing key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("replace signing key: %w", err)
	}
	return n == 1, nil
}
