-- Retries of an approved request's provisioning after a transient error
-- (Argo CD or a driver unreachable): attempts counts the failed ones,
-- retry_at is when the sweep may try again (backing off); past the limit
-- the request fails with the reason. retry_at is INTEGER microseconds since
-- the Unix epoch, UTC, as in 0001_init.sql; NULL: at once.
ALTER TABLE approval_requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE approval_requests ADD COLUMN retry_at INTEGER;
