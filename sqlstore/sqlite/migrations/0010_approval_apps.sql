-- Requests for Argo CD applications (approval.KindArgoCDApp): app is the
-- application to create once approved, as JSON (paved.AppRequest); '' for an
-- infrastructure request. Old replicas ignore the column: they never see such
-- a request until they are upgraded, since only new replicas create them.
ALTER TABLE approval_requests ADD COLUMN app TEXT NOT NULL DEFAULT '';
