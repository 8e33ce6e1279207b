-- The catalog's entities and change log, shared by every replica: the one
-- holding the catalog-refresh lease writes, the others follow. Entity bodies
-- are kept as the exact JSON bytes paved serves (TEXT, not a JSON type that
-- would reorder keys), so every replica computes the same ETag.

-- The head of the change log: one row. epoch is random per database, so a
-- cursor from another database never matches; changes up to pruned_seq are
-- gone and older cursors get a reset.
CREATE TABLE catalog_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	epoch      TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	pruned_seq INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- The current entities.
CREATE TABLE catalog_entities (
	entity_ref   TEXT PRIMARY KEY,
	location_key TEXT NOT NULL,
	body         TEXT NOT NULL,
	seq          INTEGER NOT NULL
);

-- Every change, in order; body is the entity after the change (NULL when removed).
CREATE TABLE catalog_changes (
	seq          INTEGER PRIMARY KEY,
	op           TEXT NOT NULL CHECK (op IN ('added', 'updated', 'removed')),
	entity_ref   TEXT NOT NULL,
	location_key TEXT NOT NULL,
	body         TEXT,
	changed_at   INTEGER NOT NULL
);
