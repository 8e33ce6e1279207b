-- Satisfaction per template without a filter: every template's answers of
-- a period in one row (sqlstore/feedback_packs.go), grains and periods as
-- devex_feedback_scores' for every team. Filled by the migration's Go step
-- (backfillFeedbackPacks), kept by the transactions that write answers. A
-- table with rowids: its rows are packs of up to tens of kilobytes, which
-- a WITHOUT ROWID table keeps in its key's b-tree.
CREATE TABLE devex_feedback_packs (
	grain  TEXT NOT NULL,
	period TEXT NOT NULL,
	pack   BLOB NOT NULL,
	PRIMARY KEY (grain, period)
);
