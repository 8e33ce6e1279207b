-- The adoption counts of every template and owner together, per day, month
-- and year (grain 'day', 'month' or 'year'; start the period's first day):
-- the page's default view has no filter, and reads one row per period here
-- instead of one per template and owner. Kept by the transaction that
-- writes devex_daily (sqlstore/devex_periods.go), backfilled below in the
-- migration's own transaction.
CREATE TABLE devex_totals (
	grain        TEXT NOT NULL,
	start        TEXT NOT NULL,
	started      BIGINT NOT NULL DEFAULT 0,
	succeeded    BIGINT NOT NULL DEFAULT 0,
	failed       BIGINT NOT NULL DEFAULT 0,
	cancelled    BIGINT NOT NULL DEFAULT 0,
	duration_ms  BIGINT NOT NULL DEFAULT 0,
	time_saved_s BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (grain, start)
);

INSERT INTO devex_totals (grain, start, started, succeeded, failed, cancelled, duration_ms, time_saved_s)
SELECT 'day', day, SUM(started), SUM(succeeded), SUM(failed), SUM(cancelled), SUM(duration_ms), SUM(time_saved_s)
FROM devex_daily GROUP BY day;
INSERT INTO devex_totals (grain, start, started, succeeded, failed, cancelled, duration_ms, time_saved_s)
SELECT grain, start, SUM(started), SUM(succeeded), SUM(failed), SUM(cancelled), SUM(duration_ms), SUM(time_saved_s)
FROM devex_period_totals GROUP BY grain, start;
