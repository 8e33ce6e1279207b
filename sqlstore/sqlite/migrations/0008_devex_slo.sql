-- Service level objectives count the events of a burn-rate window (5 minutes
-- to 30 days) by the time they were decided: runs by when they finished,
-- apps by their creation (the threshold after it), action calls by when
-- they started (invocations_started_at). Indexes over those times keep a
-- short window's count to the events in it.
CREATE INDEX devex_runs_finished ON devex_runs (finished_at, status, template_ref) WHERE finished_at IS NOT NULL;
CREATE INDEX devex_apps_created ON devex_apps (created_at, template_ref);
