package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// SLICounts counts the good and all events of an objective's indicator
// decided in [from, to): runs by the time they finished, apps by the time
// they turned healthy or their threshold ran out, action calls by the time
// they started. Each reads an index over that time (0008_devex_slo.sql), so
// a short burn-rate window costs the events in it.
func (db *DB) SLICounts(ctx context.Context, s devex.SLO, from, to time.Time) (devex.SLICounts, error) {
	var c devex.SLICounts
	var err error
	switch s.SLI {
	case devex.SLIRunSuccess:
		c, err = db.runSuccessCounts(ctx, s.Template, from, to)
	case devex.SLITimeToHealthy:
		c, err = db.timeToHealthyCounts(ctx, s.Template, s.Threshold, from, to)
	case devex.SLIAvailability:
		c, err = db.availabilityCounts(ctx, s.Template, from, to)
	default:
		return c, paved.Errorf(paved.EInvalid, "unknown SLI %q", s.SLI)
	}
	if err != nil {
		return c, fmt.Errorf("SLO %s: %w", s.Name, err)
	}
	return c, nil
}

// templateClause narrows a query to one template when one is set.
func templateClause(template string, args []any) (string, []any) {
	if template == "" {
		return "", args
	}
	return " AND template_ref = ?", append(args, template)
}

func (db *DB) runSuccessCounts(ctx context.Context, template string, from, to time.Time) (devex.SLICounts, error) {
	var c devex.SLICounts
	and, args := templateClause(template, []any{devex.TaskCompleted, db.dialect.Time(from), db.dialect.Time(to),
		devex.TaskCompleted, devex.TaskFailed})
	err := db.queryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0), COUNT(*) FROM devex_runs
		WHERE finished_at >= ? AND finished_at < ? AND status IN (?, ?)`+and, args...).Scan(&c.Good, &c.Total)
	return c, err
}

// timeToHealthyCounts: an app is good once healthy within the threshold
// (decided when it turned healthy) and bad once the threshold ran out
// without (decided then). Apps decided in the window were created at most a
// threshold before it.
func (db *DB) timeToHealthyCounts(ctx context.Context, template string, threshold time.Duration, from, to time.Time) (devex.SLICounts, error) {
	var c devex.SLICounts
	and, args := templateClause(template, []any{db.dialect.Time(from.Add(-threshold)), db.dialect.Time(to)})
	rows, err := db.query(ctx, `SELECT created_at, first_healthy_at, healthy_after_ms FROM devex_apps
		WHERE created_at >= ? AND created_at < ?`+and, args...)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var created, healthyAt time.Time
		var afterMS *int64
		if err := rows.Scan(timeColumn{&created}, timeColumn{&healthyAt}, &afterMS); err != nil {
			return c, err
		}
		good := afterMS != nil && time.Duration(*afterMS)*time.Millisecond <= threshold
		decided := created.Add(threshold)
		if good {
			decided = healthyAt
		}
		if decided.Before(from) || !decided.Before(to) {
			continue
		}
		c.Total++
		if good {
			c.Good++
		}
	}
	return c, rows.Err()
}

func (db *DB) availabilityCounts(ctx context.Context, template string, from, to time.Time) (devex.SLICounts, error) {
	var c devex.SLICounts
	args := []any{paved.StatusFailed}
	for _, code := range devex.UnavailableCodes {
		args = append(args, code)
	}
	args = append(args, db.dialect.Time(from), db.dialect.Time(to))
	and, args := templateClause(template, args)
	var bad int64
	err := db.queryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN status = ? AND error_code IN (?`+
		strings.Repeat(", ?", len(devex.UnavailableCodes)-1)+`) THEN 1 ELSE 0 END), 0), COUNT(*) FROM invocations
		WHERE started_at >= ? AND started_at < ?`+and, args...).Scan(&bad, &c.Total)
	c.Good = c.Total - bad
	return c, err
}

var _ devex.SLOStore = (*DB)(nil)
