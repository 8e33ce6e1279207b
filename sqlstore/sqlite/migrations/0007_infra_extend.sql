-- The provisioning log records the extensions of a resource's lifetime
-- (POST infra/v1/resources/:id/extend) beside provisions, deprovisions and
-- reaps. SQLite cannot change a CHECK: the table is rebuilt.
CREATE TABLE infra_provisionings_new (
	id          TEXT PRIMARY KEY,
	resource_id TEXT NOT NULL,
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL,
	operation   TEXT NOT NULL CHECK (operation IN ('provision', 'deprovision', 'reap', 'extend')),
	actor       TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
	error       TEXT NOT NULL DEFAULT '',
	started_at  INTEGER NOT NULL,
	duration_ms INTEGER NOT NULL
);
INSERT INTO infra_provisionings_new (id, resource_id, kind, name, operation, actor, status, error, started_at, duration_ms)
	SELECT id, resource_id, kind, name, operation, actor, status, error, started_at, duration_ms FROM infra_provisionings;
DROP TABLE infra_provisionings;
ALTER TABLE infra_provisionings_new RENAME TO infra_provisionings;
CREATE INDEX infra_provisionings_started_at ON infra_provisionings (started_at DESC, id DESC);
