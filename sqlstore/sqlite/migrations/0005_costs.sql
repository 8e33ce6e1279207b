-- Cost of golden paths. infra_costs is the cost ledger: one
-- row per resource from the moment it is claimed until it is torn down
-- (ended_at), kept afterwards so that spend over past periods can be
-- prorated. Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE infra_costs (
	resource_id TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL,
	team        TEXT NOT NULL,
	monthly     REAL NOT NULL CHECK (monthly >= 0),
	currency    TEXT NOT NULL,
	started_at  INTEGER NOT NULL,
	ended_at    INTEGER
);
CREATE INDEX infra_costs_open ON infra_costs (team) WHERE ended_at IS NULL;
CREATE INDEX infra_costs_period ON infra_costs (started_at, ended_at);
