-- Satisfaction per template without a filter: every template's answers of
-- a period in one row (sqlstore/feedback_packs.go), grains and periods as
-- devex_feedback_scores' for every team; as SQLite's
-- 0025_devex_feedback_packs.sql. Filled by the migration's Go step
-- (backfillFeedbackPacks), kept by the transactions that write answers.
CREATE TABLE devex_feedback_packs (
	grain  TEXT NOT NULL,
	period TEXT NOT NULL,
	pack   BYTEA NOT NULL,
	PRIMARY KEY (grain, period)
);
