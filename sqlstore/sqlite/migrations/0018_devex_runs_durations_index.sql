-- The templates' durations of the days at a range's edges read the raw runs
-- (sqlstore/devex_durations.go): an index holding the duration answers them
-- from the index alone, without a lookup of each run. It starts with the
-- columns of devex_runs_day, which it replaces (the funnel reads runs by day
-- and template through it), so a run costs no more index writes than before.
CREATE INDEX IF NOT EXISTS devex_runs_durations ON devex_runs (day, template_ref, owner, duration_ms);
DROP INDEX devex_runs_day;
