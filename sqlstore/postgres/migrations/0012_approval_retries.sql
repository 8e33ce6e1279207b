-- Retries of an approved request's provisioning; the same columns as
-- SQLite's 0012_approval_retries.sql.
ALTER TABLE approval_requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE approval_requests ADD COLUMN retry_at TIMESTAMPTZ;
