-- Infrastructure requests sent for approval (package approval) and the audit
-- trail of every change of their state. At most one open request (pending,
-- approved, provisioning) per kind and name. Times are INTEGER microseconds
-- since the Unix epoch, UTC, as in 0001_init.sql.
CREATE TABLE approval_requests (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL,
	owner       TEXT NOT NULL,
	parameters  TEXT NOT NULL CHECK (json_valid(parameters)),
	ttl_seconds INTEGER NOT NULL DEFAULT 0,
	entity_ref  TEXT NOT NULL DEFAULT '',
	requester   TEXT NOT NULL,
	approvers   TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'provisioning', 'done', 'rejected', 'expired', 'failed')),
	decided_by  TEXT NOT NULL DEFAULT '',
	comment     TEXT NOT NULL DEFAULT '',
	resource_id TEXT NOT NULL DEFAULT '',
	error       TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX approval_requests_open ON approval_requests (kind, name) WHERE state IN ('pending', 'approved', 'provisioning');
CREATE INDEX approval_requests_state ON approval_requests (state, expires_at);
CREATE INDEX approval_requests_created_at ON approval_requests (created_at DESC, id DESC);

CREATE TABLE approval_events (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	request_id TEXT NOT NULL,
	state      TEXT NOT NULL,
	actor      TEXT NOT NULL DEFAULT '',
	comment    TEXT NOT NULL DEFAULT '',
	at         INTEGER NOT NULL
);
CREATE INDEX approval_events_request ON approval_events (request_id, seq);
