-- Developers' answers about their golden-path runs: one per user per run,
-- a score from 1 to 5 and an optional comment. day is the UTC day of the
-- first answer, the day the answer counts for; template_ref and owner are
-- the run's, copied so that answers outlive the raw runs' retention.
CREATE TABLE devex_feedback (
	task_id      TEXT NOT NULL,
	user_ref     TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	owner        TEXT NOT NULL DEFAULT '',
	score        INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
	comment      TEXT NOT NULL DEFAULT '',
	day          TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (task_id, user_ref)
) WITHOUT ROWID;
CREATE INDEX devex_feedback_day ON devex_feedback (day, template_ref);
CREATE INDEX devex_feedback_user ON devex_feedback (user_ref);
CREATE INDEX devex_runs_user ON devex_runs (user_ref, created_at);
