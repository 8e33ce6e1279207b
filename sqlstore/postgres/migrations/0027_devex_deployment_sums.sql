-- Every service's deployments together per period: the succeeded and
-- failed deployments of devex_deployment_totals summed over services, per
-- day, month, year, 'ytd' and 'rest' (the same periods and starts). The
-- summary's deployment count reads a few rows however many services
-- deployed (it read one row per service and part of the range: 5 years,
-- about 10,000). Kept by the transactions that store deployments, from the
-- same increments (sqlstore/devex_deployments.go); backfilled here from the
-- rows it sums, in the migration's transaction.
CREATE TABLE devex_deployment_sums (
	grain     TEXT NOT NULL,
	start     TEXT NOT NULL,
	succeeded BIGINT NOT NULL DEFAULT 0,
	failed    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (grain, start)
);

INSERT INTO devex_deployment_sums (grain, start, succeeded, failed)
	SELECT grain, start, SUM(succeeded), SUM(failed) FROM devex_deployment_totals GROUP BY grain, start;
