-- The page's latest comments: newest change first, at most a few. An index
-- in that order over the answers with a comment lets the query stop after
-- them instead of sorting every comment of the range (5 years: 45,000).
CREATE INDEX devex_feedback_comments ON devex_feedback (updated_at DESC, task_id) WHERE comment <> '';
