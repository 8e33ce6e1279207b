-- Requests for Argo CD applications; the same column as SQLite's 0010_approval_apps.sql.
ALTER TABLE approval_requests ADD COLUMN app TEXT NOT NULL DEFAULT '';
