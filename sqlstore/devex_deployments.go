package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paved-dev/paved/devex"
)

// The deployments per service and period (devex_deployment_totals,
// migration 0022): succeeded and failed deployments and the days with a
// succeeded one, per service and day, month and year, written with each
// deployment by its transaction (applyDeploymentRollups). All three add up
// over disjoint periods (a day counts once, in its one period). Beside the
// calendar periods, two running ones per month k of a year (February to
// December): 'ytd' holds January to the month before k, 'rest' k to
// December. A range is read as its edge days, the rest of its first year,
// its whole years and the months of its last year up to its end
// (splitDeployments): one row per service and part, however long the range
// (5 years: about two rows per service that deployed).
//
// Retention deletes the raw deployments of the days before a floor; it
// records the floor first (deploymentsFloorCursor) and queries start there,
// so the periods that began before it are never read.

const (
	grainYTD  = "ytd"
	grainRest = "rest"
	// deploymentsFloorCursor names the first day the deployments still hold.
	deploymentsFloorCursor = "devex.deployments.floor"
)

// deploymentKey is a row of devex_deployment_totals.
type deploymentKey struct{ grain, start, service string }

// deploymentCounts are a row's counts.
type deploymentCounts struct{ succeeded, failed, days int64 }

func (c *deploymentCounts) add(d deploymentCounts) {
	c.succeeded += d.succeeded
	c.failed += d.failed
	c.days += d.days
}

func compareDeploymentKeys(a, b deploymentKey) int {
	return cmp.Or(strings.Compare(a.grain, b.grain), strings.Compare(a.start, b.start), strings.Compare(a.service, b.service))
}

// addDeploymentPeriods adds a day's counts of service (d.days: 1 when the
// day got its first succeeded deployment) to the periods holding the day.
func addDeploymentPeriods(sums map[deploymentKey]*deploymentCounts, service, day string, d deploymentCounts) {
	add := func(grain, start string) {
		k := deploymentKey{grain, start, service}
		if sums[k] == nil {
			sums[k] = &deploymentCounts{}
		}
		sums[k].add(d)
	}
	month, year := periodStarts(day)
	add(grainMonth, month)
	add(grainYear, year)
	m := int(monthIndex(day) % 12) // 0 for January
	for k := 1; k < 12; k++ {
		start := fmt.Sprintf("%s-%02d-01", day[:4], k+1)
		if m < k {
			add(grainYTD, start) // January up to the month before k
		} else {
			add(grainRest, start) // k to December
		}
	}
}

// storedDeployment is a deployment row a transaction inserted.
type storedDeployment struct {
	service, day string
	succeeded    bool
}

// applyDeploymentRollups adds the deployments the transaction inserted to
// their service's days and periods, by increments in SQL, rows in key
// order. A day's row says whether this transaction gave it its first
// succeeded deployment, and only then do the periods count the day.
func (db *DB) applyDeploymentRollups(ctx context.Context, tx *sql.Tx, stored []storedDeployment) error {
	days := map[deploymentKey]*deploymentCounts{}
	for _, d := range stored {
		k := deploymentKey{grainDay, d.day, d.service}
		if days[k] == nil {
			days[k] = &deploymentCounts{}
		}
		if d.succeeded {
			days[k].succeeded++
		} else {
			days[k].failed++
		}
	}
	upsertDay := db.dialect.Rebind(`INSERT INTO devex_deployment_totals (grain, start, service, succeeded, failed, days)
		VALUES ('day', ?, ?, ?, ?, ?) ON CONFLICT (grain, start, service) DO UPDATE SET
			succeeded = devex_deployment_totals.succeeded + excluded.succeeded,
			failed = devex_deployment_totals.failed + excluded.failed,
			days = CASE WHEN devex_deployment_totals.succeeded + excluded.succeeded > 0 THEN 1 ELSE 0 END
		RETURNING succeeded`)
	periods := map[deploymentKey]*deploymentCounts{}
	for _, k := range sortedKeys(days, compareDeploymentKeys) {
		d := *days[k]
		var succeeded int64
		if err := tx.QueryRowContext(ctx, upsertDay, k.start, k.service, d.succeeded, d.failed, min(d.succeeded, 1)).Scan(&succeeded); err != nil {
			return fmt.Errorf("deployment rollups: %w", err)
		}
		// The day had none before: this transaction's are its first.
		d.days = 0
		if d.succeeded > 0 && succeeded == d.succeeded {
			d.days = 1
		}
		addDeploymentPeriods(periods, k.service, k.start, d)
	}
	const width = 6
	args := make([]any, 0, len(periods)*width)
	for _, k := range sortedKeys(periods, compareDeploymentKeys) {
		c := periods[k]
		args = append(args, k.grain, k.start, k.service, c.succeeded, c.failed, c.days)
	}
	if err := db.insertRows(ctx, tx, `INSERT INTO devex_deployment_totals (grain, start, service, succeeded, failed, days) VALUES `, `
		ON CONFLICT (grain, start, service) DO UPDATE SET
			succeeded = devex_deployment_totals.succeeded + excluded.succeeded,
			failed = devex_deployment_totals.failed + excluded.failed,
			days = devex_deployment_totals.days + excluded.days`, width, args); err != nil {
		return fmt.Errorf("deployment rollups: %w", err)
	}
	// Every service together: the same increments summed per period, after
	// the services' rows (every writer takes the rows in the same order).
	all := map[deploymentKey]*deploymentCounts{}
	for _, m := range []map[deploymentKey]*deploymentCounts{days, periods} {
		for k, c := range m {
			k.service = ""
			if all[k] == nil {
				all[k] = &deploymentCounts{}
			}
			all[k].add(deploymentCounts{succeeded: c.succeeded, failed: c.failed})
		}
	}
	args = args[:0]
	for _, k := range sortedKeys(all, compareDeploymentKeys) {
		args = append(args, k.grain, k.start, all[k].succeeded, all[k].failed)
	}
	if err := db.insertRows(ctx, tx, `INSERT INTO devex_deployment_sums (grain, start, succeeded, failed) VALUES `, `
		ON CONFLICT (grain, start) DO UPDATE SET
			succeeded = devex_deployment_sums.succeeded + excluded.succeeded,
			failed = devex_deployment_sums.failed + excluded.failed`, 4, args); err != nil {
		return fmt.Errorf("deployment rollups: %w", err)
	}
	return nil
}

// backfillDeploymentRollups builds devex_deployment_totals from the raw
// deployments (migration 0022), as the writes would have.
func backfillDeploymentRollups(ctx context.Context, tx *sql.Tx, d Dialect) error {
	rows, err := tx.QueryContext(ctx, `SELECT service, day,
			SUM(CASE WHEN succeeded = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN succeeded = 0 THEN 1 ELSE 0 END)
		FROM devex_deployments GROUP BY service, day`)
	if err != nil {
		return err
	}
	sums := map[deploymentKey]*deploymentCounts{}
	for rows.Next() {
		var service, day string
		var c deploymentCounts
		if err := rows.Scan(&service, &day, &c.succeeded, &c.failed); err != nil {
			rows.Close()
			return err
		}
		c.days = min(c.succeeded, 1)
		sums[deploymentKey{grainDay, day, service}] = &c
		addDeploymentPeriods(sums, service, day, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	const width, chunk = 6, 200
	keys := sortedKeys(sums, compareDeploymentKeys)
	for len(keys) > 0 {
		n := min(chunk, len(keys))
		args := make([]any, 0, n*width)
		for _, k := range keys[:n] {
			c := sums[k]
			args = append(args, k.grain, k.start, k.service, c.succeeded, c.failed, c.days)
		}
		tuples := strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?), `, n), `, `)
		if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO devex_deployment_totals (grain, start, service, succeeded, failed, days) VALUES `+tuples), args...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// deploymentSplit is a range of days as devex_deployment_totals answers it:
// its edge days, its whole months within one year, or else the rest of its
// first year (from the month rest), its whole years and the months of its
// last year (up to the month ytd). Each part may be empty.
type deploymentSplit struct {
	days      [2]dayRange
	months    dayRange
	years     dayRange
	rest, ytd string
}

// splitDeployments splits [from, to) (UTC midnights).
func splitDeployments(from, to time.Time) deploymentSplit {
	s := splitRange(from, to, false)
	out := deploymentSplit{days: s.days}
	m := s.months[0]
	if m.from >= m.to {
		return out
	}
	mFrom, _ := time.Parse(time.DateOnly, m.from)
	mTo, _ := time.Parse(time.DateOnly, m.to)
	yFrom := time.Date(mFrom.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	if yFrom.Before(mFrom) {
		yFrom = yFrom.AddDate(1, 0, 0)
	}
	yTo := time.Date(mTo.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	if yFrom.After(yTo) { // within one year
		out.months = m
		return out
	}
	if mFrom.Before(yFrom) {
		out.rest = m.from
	}
	out.years = dayRange{devex.Day(yFrom), devex.Day(yTo)}
	if yTo.Before(mTo) {
		out.ytd = m.to
	}
	return out
}

// The heads of deploymentRollups' parts: per service (columns service,
// succeeded, failed and days), every service together (succeeded).
const (
	deploymentsPerService = `SELECT service, succeeded, failed, days FROM devex_deployment_totals WHERE grain = `
	deploymentsAll        = `SELECT succeeded FROM devex_deployment_sums WHERE grain = `
)

// deploymentRollups is a FROM source (with its arguments) of the rows that
// sum to the deployments of f's days, each part of the range read as
// head + the part's grain: head selects from devex_deployment_totals
// (deploymentsPerService) or devex_deployment_sums (deploymentsAll). f's
// filters are not applied.
func (db *DB) deploymentRollups(ctx context.Context, f devex.Filter, head string) (string, []any, error) {
	from, err := time.Parse(time.DateOnly, f.FromDay())
	if err != nil {
		return "", nil, err
	}
	to, err := time.Parse(time.DateOnly, f.ToDay())
	if err != nil {
		return "", nil, err
	}
	if from, err = db.floorFrom(ctx, deploymentsFloorCursor, from); err != nil {
		return "", nil, err
	}
	s := splitDeployments(from, to)
	one := func(start string) dayRange {
		if start == "" {
			return dayRange{}
		}
		t, _ := time.Parse(time.DateOnly, start)
		return dayRange{start, devex.Day(t.AddDate(0, 0, 1))} // the one start
	}
	var u unionOf
	u.add(head+`'day'`, "start", "", nil, s.days[:]...)
	u.add(head+`'month'`, "start", "", nil, s.months)
	u.add(head+`'rest'`, "start", "", nil, one(s.rest))
	u.add(head+`'year'`, "start", "", nil, s.years)
	u.add(head+`'ytd'`, "start", "", nil, one(s.ytd))
	q, args := u.source()
	return q + ` r`, args, nil
}

// deploymentsFromRollups sums per service the rollup rows of f's days, most
// succeeded first, then by service in byte order (SQLite's and the C
// collation's order, as the raw query gives them): summed and sorted here,
// which costs less than SQL's grouping and sorting of the rows.
func (db *DB) deploymentsFromRollups(ctx context.Context, f devex.Filter) ([]devex.DeploymentRow, error) {
	src, args, err := db.deploymentRollups(ctx, f, deploymentsPerService)
	if err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, `SELECT r.service, r.succeeded, r.failed, r.days FROM `+src, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	sums := map[string]*devex.DeploymentRow{}
	for rows.Next() {
		var service sql.RawBytes
		var c deploymentCounts
		if err := rows.Scan(&service, &c.succeeded, &c.failed, &c.days); err != nil {
			return nil, err
		}
		d := sums[string(service)]
		if d == nil {
			d = &devex.DeploymentRow{Service: string(service)}
			sums[d.Service] = d
		}
		d.Succeeded += c.succeeded
		d.Failed += c.failed
		d.DeploymentDays += c.days
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]devex.DeploymentRow, 0, len(sums))
	for _, d := range sums {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b devex.DeploymentRow) int {
		return cmp.Or(cmp.Compare(b.Succeeded, a.Succeeded), strings.Compare(a.Service, b.Service))
	})
	return out, nil
}
