-- The four keys per day and per year-to-date (issue 14 item 5): per
-- (period, service, team, template), sums: the changes, successful
-- deployments, failed changes and incidents still open, a bitmap of the
-- days with a successful deployment, and histograms of the lead times and
-- of the times to restore, in one column (sqlstore/devex_dora_periods.go),
-- so that five years read a few rows per service instead of every change.
-- grain 'day' holds one day (start); grain 'ytd' holds January 1 to the
-- end of start's month, so a range of whole months of one year is one row,
-- or the difference of two.
-- Kept by the transactions that write devex_deployments and
-- devex_incidents; what the store holds is added by this migration's Go
-- step (sqlstore/migrate.go), in the migration's transaction.
CREATE TABLE devex_dora_periods (
	grain          TEXT NOT NULL,
	start          TEXT NOT NULL,
	service        TEXT NOT NULL,
	owner          TEXT NOT NULL,
	template_ref   TEXT NOT NULL,
	sums           BYTEA NOT NULL,
	PRIMARY KEY (grain, start, service, owner, template_ref)
);

-- Changes and incidents stored without their team or template take them
-- from the catalog component and the app now, as the four keys read them
-- until now; from here on the writes fill them in (sqlstore/devex_dora.go).
UPDATE devex_deployments SET owner = COALESCE((SELECT c.owner FROM devex_components c
	WHERE c.entity_ref = devex_deployments.service), '') WHERE owner = '';
UPDATE devex_deployments SET template_ref = COALESCE((SELECT a.template_ref FROM devex_apps a
	WHERE a.app_key = devex_deployments.app_key), '') WHERE template_ref = '';
UPDATE devex_incidents SET owner = COALESCE((SELECT c.owner FROM devex_components c
	WHERE c.entity_ref = devex_incidents.service), '') WHERE owner = '';
UPDATE devex_incidents SET template_ref = COALESCE((SELECT a.template_ref FROM devex_apps a
	WHERE a.app_key = devex_incidents.app_key), '') WHERE template_ref = '';
