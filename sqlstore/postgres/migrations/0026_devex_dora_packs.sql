-- The four keys' per-period sums packed per grouping (issue 14 item 5):
-- one row per (grouping, period, part) holds the sums of every service
-- (grouped_by 'service'), team ('team'), template ('template') or of all
-- of them ('all', one entry named '') over devex_dora_periods' rows of that
-- period, so that a read without a team or template filter decodes a few
-- rows instead of one row per service and period
-- (sqlstore/devex_dora_packs.go). Periods are those of devex_dora_periods
-- (grain 'day' and 'ytd'); part spreads a grouping's groups over a few rows
-- (a hash of the group's name) so that a write rewrites a fraction of them.
-- Kept by the transactions that write devex_dora_periods; what the store
-- holds is packed by this migration's Go step (sqlstore/migrate.go), in the
-- migration's transaction.
CREATE TABLE devex_dora_packs (
	grouped_by     TEXT NOT NULL,
	grain          TEXT NOT NULL,
	start          TEXT NOT NULL,
	part           INTEGER NOT NULL,
	pack           BYTEA NOT NULL,
	PRIMARY KEY (grouped_by, grain, start, part)
);

-- Packs stored as they are (TOAST without compression): a write of the
-- four keys in January rewrites a dozen packs per grouping, and pglz's
-- compression was most of it (12 packs of about 60 kB rewritten in 15 to
-- 19 ms compressed, 3 to 6 ms not).
ALTER TABLE devex_dora_packs ALTER COLUMN pack SET STORAGE EXTERNAL;
