-- Run durations per month and per year (issue 14 item 5): per (period,
-- template, owner), a histogram of the finished runs' durations in
-- logarithmic buckets 2 % wide (sqlstore/devex_durations.go), so that a
-- template's percentiles over years read a row per period instead of every
-- run. grain is 'month' or 'year', start the period's first day. Written by
-- the transaction that stores a run when it becomes final; the runs the
-- store holds are added by this migration's Go step (sqlstore/migrate.go),
-- in the migration's transaction.
CREATE TABLE devex_period_durations (
	grain        TEXT NOT NULL,
	start        TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	owner        TEXT NOT NULL,
	hist         BYTEA NOT NULL,
	PRIMARY KEY (grain, start, template_ref, owner)
);
