-- Infrastructure requests sent for approval; the same tables as SQLite's 0008_approvals.sql.
CREATE TABLE approval_requests (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL,
	owner       TEXT NOT NULL,
	parameters  JSONB NOT NULL,
	ttl_seconds BIGINT NOT NULL DEFAULT 0,
	entity_ref  TEXT NOT NULL DEFAULT '',
	requester   TEXT NOT NULL,
	approvers   TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'provisioning', 'done', 'rejected', 'expired', 'failed')),
	decided_by  TEXT NOT NULL DEFAULT '',
	comment     TEXT NOT NULL DEFAULT '',
	resource_id TEXT NOT NULL DEFAULT '',
	error       TEXT NOT NULL DEFAULT '',
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	expires_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX approval_requests_open ON approval_requests (kind, name) WHERE state IN ('pending', 'approved', 'provisioning');
CREATE INDEX approval_requests_state ON approval_requests (state, expires_at);
CREATE INDEX approval_requests_created_at ON approval_requests (created_at DESC, id DESC);

CREATE TABLE approval_events (
	seq        BIGSERIAL PRIMARY KEY,
	request_id TEXT NOT NULL,
	state      TEXT NOT NULL,
	actor      TEXT NOT NULL DEFAULT '',
	comment    TEXT NOT NULL DEFAULT '',
	at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX approval_events_request ON approval_events (request_id, seq);
