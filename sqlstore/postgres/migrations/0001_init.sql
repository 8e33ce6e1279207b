-- paved's first schema on PostgreSQL; the same tables as SQLite's 0001_init.sql.

-- The audit log of action invocations, and the raw data of adoption metrics.
CREATE TABLE invocations (
	id            TEXT PRIMARY KEY,
	action_id     TEXT NOT NULL,
	caller_kind   TEXT NOT NULL,
	caller_plugin TEXT NOT NULL,
	user_ref      TEXT NOT NULL DEFAULT '',
	entity_ref    TEXT NOT NULL DEFAULT '',
	template_ref  TEXT NOT NULL DEFAULT '',
	task_id       TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
	error_code    TEXT NOT NULL DEFAULT '',
	error         TEXT NOT NULL DEFAULT '',
	started_at    TIMESTAMPTZ NOT NULL,
	duration_ms   BIGINT NOT NULL,
	output        JSONB
);
CREATE INDEX invocations_started_at ON invocations (started_at DESC, id DESC);
CREATE INDEX invocations_action_started_at ON invocations (action_id, started_at DESC, id DESC);

-- paved's own ES256 keys for the plugin tokens it signs.
CREATE TABLE signing_keys (
	kid             TEXT PRIMARY KEY,
	private_key_pem BYTEA NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	retired_at      TIMESTAMPTZ
);

-- Leases make background work run on one replica at a time.
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);

-- Where each background collector stopped.
CREATE TABLE cursors (
	name       TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
