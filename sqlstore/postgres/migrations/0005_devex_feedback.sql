-- Developers' answers about their golden-path runs; the same table as
-- SQLite's 0005_devex_feedback.sql.
CREATE TABLE devex_feedback (
	task_id      TEXT NOT NULL,
	user_ref     TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	owner        TEXT NOT NULL DEFAULT '',
	score        INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
	comment      TEXT NOT NULL DEFAULT '',
	day          TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	updated_at   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (task_id, user_ref)
);
CREATE INDEX devex_feedback_day ON devex_feedback (day, template_ref);
CREATE INDEX devex_feedback_user ON devex_feedback (user_ref);
CREATE INDEX devex_runs_user ON devex_runs (user_ref, created_at);
