-- The users of each month ('month') and year ('year') as one bitmap, the OR
-- of its days' (devex_day_users: bit n set when the user numbered n started
-- a run). Distinct users of a range without a filter OR its edge days' and
-- its whole months' and years' bitmaps: 5 years read about 70 rows instead
-- of 1,825. Kept by the transaction that writes the days' bitmaps
-- (sqlstore/devex_rollups.go), backfilled from them by the migration's Go
-- step, in its transaction.
CREATE TABLE devex_period_users (
	grain TEXT NOT NULL,
	start TEXT NOT NULL,
	bits  BYTEA NOT NULL,
	PRIMARY KEY (grain, start)
);
