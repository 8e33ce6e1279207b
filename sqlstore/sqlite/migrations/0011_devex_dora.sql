-- The four keys (DORA) from the Argo CD applications paved created. A change
-- is a row of devex_deployments (a sync of the history, or a failed sync
-- operation); it gains the team and template it belongs to, its commit time
-- (Argo CD's revision metadata), the moment the app was Healthy on it, and
-- why it failed ('' while it has not).
ALTER TABLE devex_deployments ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE devex_deployments ADD COLUMN template_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE devex_deployments ADD COLUMN commit_at INTEGER;
ALTER TABLE devex_deployments ADD COLUMN healthy_at INTEGER;
ALTER TABLE devex_deployments ADD COLUMN failure TEXT NOT NULL DEFAULT '';

-- An application Degraded, until it is Healthy again. incident_id is the
-- same for every look at one degradation (the deployed change and Argo CD's
-- transition time), so replicas following the same watch stream, or one
-- restarted, record it once; at most one incident per app is open.
CREATE TABLE devex_incidents (
	app_key      TEXT NOT NULL,
	incident_id  TEXT NOT NULL,
	deploy_id    TEXT NOT NULL,
	revision     TEXT NOT NULL DEFAULT '',
	service      TEXT NOT NULL,
	owner        TEXT NOT NULL DEFAULT '',
	template_ref TEXT NOT NULL DEFAULT '',
	environment  TEXT NOT NULL DEFAULT '',
	degraded_at  INTEGER NOT NULL,
	day          TEXT NOT NULL,
	restored_at  INTEGER,
	restore_ms   INTEGER,
	PRIMARY KEY (app_key, incident_id)
);
CREATE UNIQUE INDEX devex_incidents_open ON devex_incidents (app_key) WHERE restored_at IS NULL;
CREATE INDEX devex_incidents_day ON devex_incidents (day);
