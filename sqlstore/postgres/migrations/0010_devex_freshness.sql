-- Golden-path freshness (devex/freshness.go): the versions of each template
-- paved saw, the one the catalog lists now, and the version each service was
-- created from. Template refs are lower-cased, as Backstage compares them.

-- Every version of a template, first seen in a run or in the catalog.
CREATE TABLE devex_template_versions (
	template_ref  TEXT NOT NULL,
	version       TEXT NOT NULL,
	first_seen_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (template_ref, version)
);

-- The version of each template at the catalog's last look.
CREATE TABLE devex_template_current (
	template_ref TEXT PRIMARY KEY,
	version      TEXT NOT NULL,
	seen_at      TIMESTAMPTZ NOT NULL
);

-- The version of its template each service was created from: the latest
-- succeeded run that registered it. Kept while the service is in the catalog
-- (raw runs are not, past their retention).
CREATE TABLE devex_service_versions (
	entity_ref   TEXT PRIMARY KEY,
	template_ref TEXT NOT NULL,
	owner        TEXT NOT NULL DEFAULT '',
	version      TEXT NOT NULL,
	task_id      TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX devex_service_versions_template ON devex_service_versions (template_ref, owner);
