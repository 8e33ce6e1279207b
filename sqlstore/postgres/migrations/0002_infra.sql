-- Infrastructure golden paths on PostgreSQL; the same tables as SQLite's 0002_infra.sql.

CREATE TABLE infra_resources (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL,
	driver      TEXT NOT NULL,
	owner       TEXT NOT NULL,
	created_by  TEXT NOT NULL DEFAULT '',
	entity_ref  TEXT NOT NULL DEFAULT '',
	parameters  JSONB NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('provisioning', 'ready', 'deprovisioning')),
	git_commit  TEXT NOT NULL DEFAULT '',
	git_branch  TEXT NOT NULL DEFAULT '',
	compare_url TEXT NOT NULL DEFAULT '',
	details     JSONB NOT NULL DEFAULT '{}',
	secret      BYTEA, -- AES-GCM sealed credentials, never plain text
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	expires_at  TIMESTAMPTZ,
	UNIQUE (kind, name)
);
CREATE INDEX infra_resources_expires_at ON infra_resources (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE infra_provisionings (
	id          TEXT PRIMARY KEY,
	resource_id TEXT NOT NULL,
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL,
	operation   TEXT NOT NULL CHECK (operation IN ('provision', 'deprovision', 'reap')),
	actor       TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
	error       TEXT NOT NULL DEFAULT '',
	started_at  TIMESTAMPTZ NOT NULL,
	duration_ms BIGINT NOT NULL
);
CREATE INDEX infra_provisionings_started_at ON infra_provisionings (started_at DESC, id DESC);
