-- The deployments per service and period: succeeded and failed deployments
-- and the days with a succeeded one, per service and day ('day'), month
-- ('month'), year ('year'), January up to the month before start ('ytd')
-- and start's month to December ('rest'); start is the period's first day.
-- The page's deployments and the summary's count read a few rows per
-- service instead of every deployment of the range. Kept by the
-- transactions that store deployments (sqlstore/devex_deployments.go),
-- backfilled from the deployments by the migration's Go step, in its
-- transaction.
CREATE TABLE devex_deployment_totals (
	grain     TEXT NOT NULL,
	start     TEXT NOT NULL,
	service   TEXT NOT NULL,
	succeeded INTEGER NOT NULL DEFAULT 0,
	failed    INTEGER NOT NULL DEFAULT 0,
	days      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (grain, start, service)
) WITHOUT ROWID;

-- The templates' figures packed per period, every template in one row per
-- kind and period: 't' run counts (day, month, year), 'u' users (day), 'r'
-- exact durations of finished runs (day, as long as the raw runs), 'd'
-- durations histograms (month, year). The page's templates list without a
-- filter reads a few rows instead of one per period, template and owner.
-- Kept by the transaction that writes the rows they sum
-- (sqlstore/devex_packs.go), backfilled from those rows by the migration's
-- Go step.
CREATE TABLE devex_template_packs (
	kind  TEXT NOT NULL,
	grain TEXT NOT NULL,
	start TEXT NOT NULL,
	pack  BLOB NOT NULL,
	PRIMARY KEY (kind, grain, start)
) WITHOUT ROWID;
