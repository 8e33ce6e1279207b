-- The notifications of approval requests (to approvers, to the requester),
-- kept as an outbox as infra_notices are: recorded in the transaction of the
-- change they tell of, then sent, then marked done, so a kill between the
-- change and the send loses nothing. notification is the message as JSON
-- (approval.Notification). claimed_at is when a sender took it (senders on
-- other replicas leave it alone until the claim is stale). Times are INTEGER
-- microseconds since the Unix epoch, UTC, as in 0001_init.sql.
CREATE TABLE approval_notices (
	id           TEXT PRIMARY KEY,
	request_id   TEXT NOT NULL,
	notification TEXT NOT NULL CHECK (json_valid(notification)),
	created_at   INTEGER NOT NULL,
	claimed_at   INTEGER,
	attempts     INTEGER NOT NULL DEFAULT 0,
	done_at      INTEGER
);
CREATE INDEX approval_notices_open ON approval_notices (created_at) WHERE done_at IS NULL;
