package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/paved-dev/paved"
)

// AcquireLease takes the lease name for holder until ttl from now, by the
// database's clock, and reports whether holder has it. It succeeds when the
// lease is free, expired, or already held by holder (a renewal, which moves
// the expiry). One statement decides, so of replicas racing for a lease
// exactly one wins.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if name == "" || holder == "" {
		return false, paved.Errorf(paved.EInvalid, "acquire lease: name and holder are required")
	}
	if ttl <= 0 {
		return false, paved.Errorf(paved.EInvalid, "acquire lease %q: the ttl must be positive", name)
	}
	d := db.dialect
	// The conflict update's WHERE keeps a lease held by another, unexpired
	// holder as it is; the statement then changes no row.
	res, err := db.exec(ctx, `
		INSERT INTO leases (name, holder, expires_at)
		VALUES (?, ?, `+d.NowPlusMicros+`)
		ON CONFLICT (name) DO UPDATE
		SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= `+d.Now,
		name, holder, ttl.Microseconds())
	if err != nil {
		return false, fmt.Errorf("acquire lease %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lease %q: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up if holder has it, so another replica can
// take it without waiting for it to expire.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("release lease %q: %w", name, err)
	}
	return nil
}
