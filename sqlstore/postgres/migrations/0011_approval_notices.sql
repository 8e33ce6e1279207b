-- The notifications of approval requests, kept as an outbox; the same table
-- as SQLite's 0011_approval_notices.sql.
CREATE TABLE approval_notices (
	id           TEXT PRIMARY KEY,
	request_id   TEXT NOT NULL,
	notification JSONB NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	claimed_at   TIMESTAMPTZ,
	attempts     INTEGER NOT NULL DEFAULT 0,
	done_at      TIMESTAMPTZ
);
CREATE INDEX approval_notices_open ON approval_notices (created_at) WHERE done_at IS NULL;
