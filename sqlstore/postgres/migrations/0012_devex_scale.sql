-- The funnel and satisfaction per stage ask, for each run, whether an app it
-- created became healthy: without an index on the task, that is a scan of
-- every app per run (14 s for 28 days of 500 runs a day over 5,000 apps).
CREATE INDEX devex_apps_task ON devex_apps (task_id);

-- Generations of derived answers: bumped by the transaction that changes
-- what they derive from, so a replica's cached answer is reused exactly
-- while its generation is unchanged (freshness: service and template
-- versions, catalog components).
CREATE TABLE devex_generations (
	name TEXT PRIMARY KEY,
	gen  BIGINT NOT NULL
);
