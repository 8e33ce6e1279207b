-- The adoption rollups per month and per year (issue 14 item 5): the same
-- counts as devex_daily per (period, template, owner), kept by the same
-- transaction that changes the daily rows, so that a 5-year question reads
-- a few rows per template and period instead of one per day. grain is
-- 'month' or 'year'; start is the period's first day ('2026-11-01',
-- '2026-01-01'). Queries split a range into edge days (devex_daily), whole
-- months and whole years (sqlstore/devex_periods.go).
CREATE TABLE devex_period_totals (
	grain        TEXT NOT NULL,
	start        TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	owner        TEXT NOT NULL,
	started      BIGINT NOT NULL DEFAULT 0,
	succeeded    BIGINT NOT NULL DEFAULT 0,
	failed       BIGINT NOT NULL DEFAULT 0,
	cancelled    BIGINT NOT NULL DEFAULT 0,
	duration_ms  BIGINT NOT NULL DEFAULT 0,
	time_saved_s BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (grain, start, template_ref, owner)
);

-- Existing days, rolled up in the migration's own transaction: a kill
-- leaves the migration unapplied, the next start does it all again.
INSERT INTO devex_period_totals (grain, start, template_ref, owner, started, succeeded, failed, cancelled, duration_ms, time_saved_s)
SELECT 'month', substr(day, 1, 7) || '-01', template_ref, owner, SUM(started), SUM(succeeded), SUM(failed),
	SUM(cancelled), SUM(duration_ms), SUM(time_saved_s)
FROM devex_daily GROUP BY substr(day, 1, 7) || '-01', template_ref, owner;
INSERT INTO devex_period_totals (grain, start, template_ref, owner, started, succeeded, failed, cancelled, duration_ms, time_saved_s)
SELECT 'year', substr(day, 1, 4) || '-01-01', template_ref, owner, SUM(started), SUM(succeeded), SUM(failed),
	SUM(cancelled), SUM(duration_ms), SUM(time_saved_s)
FROM devex_daily GROUP BY substr(day, 1, 4) || '-01-01', template_ref, owner;

-- The months in which a user started a run of a template for an owner: bit
-- m % 48 of months in the row of block m / 48 is set when the user did in
-- month m (months counted from January 1970). Distinct users of whole months
-- read one row per (template, owner, user) instead of one per day; setting
-- a bit is an OR in SQL, so concurrent writers and the backfill below never
-- undo each other's bits.
CREATE TABLE devex_user_months (
	template_ref TEXT NOT NULL,
	owner        TEXT NOT NULL,
	user_ref     TEXT NOT NULL,
	block        BIGINT NOT NULL,
	months       BIGINT NOT NULL,
	PRIMARY KEY (template_ref, owner, user_ref, block)
);

-- The sum of distinct powers of two is their OR.
INSERT INTO devex_user_months (template_ref, owner, user_ref, block, months)
SELECT template_ref, owner, user_ref, m / 48, SUM(CAST(1 AS BIGINT) << (m % 48))
FROM (SELECT DISTINCT template_ref, owner, user_ref,
		(CAST(substr(day, 1, 4) AS INTEGER) - 1970) * 12 + CAST(substr(day, 6, 2) AS INTEGER) - 1 AS m
	FROM devex_daily_users) u
GROUP BY template_ref, owner, user_ref, m / 48;
