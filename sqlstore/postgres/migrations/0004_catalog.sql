-- The catalog's entities and change log; the same tables as SQLite's
-- 0004_catalog.sql. Bodies are TEXT, not JSONB: JSONB reorders keys, and every
-- replica must serve the same bytes to compute the same ETag.

CREATE TABLE catalog_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	epoch      TEXT NOT NULL,
	seq        BIGINT NOT NULL,
	pruned_seq BIGINT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE catalog_entities (
	entity_ref   TEXT PRIMARY KEY,
	location_key TEXT NOT NULL,
	body         TEXT NOT NULL,
	seq          BIGINT NOT NULL
);

CREATE TABLE catalog_changes (
	seq          BIGINT PRIMARY KEY,
	op           TEXT NOT NULL CHECK (op IN ('added', 'updated', 'removed')),
	entity_ref   TEXT NOT NULL,
	location_key TEXT NOT NULL,
	body         TEXT,
	changed_at   TIMESTAMPTZ NOT NULL
);
