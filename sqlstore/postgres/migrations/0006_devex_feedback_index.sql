-- The satisfaction queries read day, template, owner and score of every
-- answer in a range: an index holding all four answers them without
-- touching the table.
DROP INDEX devex_feedback_day;
CREATE INDEX devex_feedback_day ON devex_feedback (day, template_ref, owner, score);
