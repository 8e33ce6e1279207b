package scaffolder

import (
	"context"
	"log/slog"
	"time"
)

// AuditPruner is the store's audit log and leases, for retention.
type AuditPruner interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	DeleteInvocationsBefore(ctx context.Context, before time.Time, batch int) (int64, error)
}

// AuditRetentionLease names the lease of the audit log's pruning, so that
// of several replicas one prunes.
const AuditRetentionLease = "audit-retention"

const auditPruneBatch = 1000

// RunAuditRetention deletes invocations older than retention at start and
// then every interval until ctx ends, on the one replica that holds the
// lease; holder names this replica. A replica killed mid-way leaves whole
// batches deleted and the rest for the next round.
func RunAuditRetention(ctx context.Context, store AuditPruner, holder string, retention, interval time.Duration, logger *slog.Logger, now func() time.Time) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = store.ReleaseLease(rctx, AuditRetentionLease, holder)
	}()
	for {
		PruneAuditOnce(ctx, store, holder, retention, interval, logger, now)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PruneAuditOnce is one round of RunAuditRetention; it returns how many
// invocations it deleted (0 when another replica holds the lease).
func PruneAuditOnce(ctx context.Context, store AuditPruner, holder string, retention, interval time.Duration, logger *slog.Logger, now func() time.Time) int64 {
	ok, err := store.AcquireLease(ctx, AuditRetentionLease, holder, 3*interval)
	if err != nil {
		logger.WarnContext(ctx, "audit retention: taking the lease failed", "error", err)
		return 0
	}
	if !ok {
		return 0
	}
	before := now().Add(-retention)
	var total int64
	for ctx.Err() == nil {
		n, err := store.DeleteInvocationsBefore(ctx, before, auditPruneBatch)
		if err != nil {
			if ctx.Err() == nil {
				logger.WarnContext(ctx, "audit retention: deleting old invocations failed; will retry", "error", err)
			}
			break
		}
		total += n
		if n < auditPruneBatch {
			break
		}
	}
	if total > 0 {
		logger.InfoContext(ctx, "audit retention: deleted old invocations", "count", total, "before", before.UTC().Format(time.RFC3339))
	}
	return total
}
