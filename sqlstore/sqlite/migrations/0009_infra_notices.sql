-- TTL notices to the owners of infrastructure resources (package ttlnotice),
-- kept as an outbox: a notice is recorded, then sent, then marked done. One
-- notice of each type per resource and TTL (expires_at): an extension that
-- moves the TTL makes a new one due. claimed_at is when a sender took it
-- (senders on other replicas leave it alone until the claim is stale).
-- Times are INTEGER microseconds since the Unix epoch, UTC, as in 0001_init.sql.
CREATE TABLE infra_notices (
	id          TEXT PRIMARY KEY,
	resource_id TEXT NOT NULL,
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL,
	owner       TEXT NOT NULL,
	notice      TEXT NOT NULL CHECK (notice IN ('expiring', 'torn-down')),
	expires_at  INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	claimed_at  INTEGER,
	attempts    INTEGER NOT NULL DEFAULT 0,
	done_at     INTEGER
);
CREATE UNIQUE INDEX infra_notices_once ON infra_notices (resource_id, notice, expires_at);
CREATE INDEX infra_notices_open ON infra_notices (created_at) WHERE done_at IS NULL;
