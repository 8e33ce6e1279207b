-- Adoption (DevEx) metrics: scaffolder runs with their daily rollups, the
-- catalog's components, and the Argo CD applications paved created with their
-- deployments. Timestamps are INTEGER microseconds (see 0001_init.sql); days
-- are UTC dates as TEXT ('2026-11-01'), which both engines compare and group
-- the same way. The tables written once per event are WITHOUT ROWID: their
-- primary key is the table, which halves the B-trees an insert touches.

-- One row per Backstage scaffolder task, upserted as it progresses.
CREATE TABLE devex_runs (
	task_id      TEXT PRIMARY KEY,
	template_ref TEXT NOT NULL,
	owner        TEXT NOT NULL DEFAULT '',
	user_ref     TEXT NOT NULL DEFAULT '',
	entity_ref   TEXT NOT NULL DEFAULT '',
	status       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	day          TEXT NOT NULL,
	heartbeat_at INTEGER,
	finished_at  INTEGER,
	duration_ms  INTEGER,
	time_saved_s INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX devex_runs_day ON devex_runs (day, template_ref);
CREATE INDEX devex_runs_unfinished ON devex_runs (status) WHERE status IN ('open', 'processing');

-- Daily counts per template and owner, kept in step with devex_runs by the
-- same transaction that changes a run.
CREATE TABLE devex_daily (
	day          TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	owner        TEXT NOT NULL,
	started      INTEGER NOT NULL DEFAULT 0,
	succeeded    INTEGER NOT NULL DEFAULT 0,
	failed       INTEGER NOT NULL DEFAULT 0,
	cancelled    INTEGER NOT NULL DEFAULT 0,
	duration_ms  INTEGER NOT NULL DEFAULT 0,
	time_saved_s INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (day, template_ref, owner)
) WITHOUT ROWID;

-- Who ran a template on a day, for distinct users over any range.
CREATE TABLE devex_daily_users (
	day          TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	owner        TEXT NOT NULL,
	user_ref     TEXT NOT NULL,
	PRIMARY KEY (day, template_ref, owner, user_ref)
) WITHOUT ROWID;

-- Every user who ever started a run, numbered for the daily bitmaps.
CREATE TABLE devex_users (
	user_ref TEXT PRIMARY KEY,
	ordinal  INTEGER NOT NULL UNIQUE
);

-- Per day, a bitmap of the ordinals of the users who started a run: the
-- distinct users of any range are the OR of its days, whatever the number
-- of runs.
CREATE TABLE devex_day_users (
	day  TEXT PRIMARY KEY,
	bits BLOB NOT NULL
) WITHOUT ROWID;

-- Catalog components as the last catalog read saw them.
CREATE TABLE devex_components (
	entity_ref      TEXT PRIMARY KEY,
	kind            TEXT NOT NULL,
	owner           TEXT NOT NULL DEFAULT '',
	source_template TEXT NOT NULL DEFAULT '',
	first_seen_at   INTEGER NOT NULL,
	last_seen_at    INTEGER NOT NULL,
	removed_at      INTEGER
);

-- Argo CD applications paved created.
CREATE TABLE devex_apps (
	app_key          TEXT PRIMARY KEY,
	service          TEXT NOT NULL,
	environment      TEXT NOT NULL DEFAULT '',
	template_ref     TEXT NOT NULL DEFAULT '',
	task_id          TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	first_healthy_at INTEGER,
	healthy_after_ms INTEGER
);

-- Syncs of those applications: history entries and failed operations.
CREATE TABLE devex_deployments (
	app_key     TEXT NOT NULL,
	deploy_id   TEXT NOT NULL,
	service     TEXT NOT NULL,
	environment TEXT NOT NULL DEFAULT '',
	revision    TEXT NOT NULL DEFAULT '',
	succeeded   INTEGER NOT NULL,
	deployed_at INTEGER NOT NULL,
	day         TEXT NOT NULL,
	PRIMARY KEY (app_key, deploy_id)
);
CREATE INDEX devex_deployments_day ON devex_deployments (day);
