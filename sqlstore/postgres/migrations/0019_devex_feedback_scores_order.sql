-- Answers given at once for different templates or teams share count rows
-- (the day's, month's and year's overall ones): each writer now takes its
-- rows in the key's order, so two never wait on each other in a cycle
-- (0015's function took them in the order of a hashed UNION, and
-- concurrent answers failed with deadlock detected).
CREATE OR REPLACE FUNCTION devex_feedback_scores_add(a_day TEXT, a_owner TEXT, a_template TEXT, a_score INTEGER, a_sign INTEGER) RETURNS void AS $$
	INSERT INTO devex_feedback_scores AS s (grain, owner, period, template_ref, s1, s2, s3, s4, s5)
	SELECT p.grain, k.owner, p.period, k.template_ref,
		a_sign * (a_score = 1)::int, a_sign * (a_score = 2)::int, a_sign * (a_score = 3)::int, a_sign * (a_score = 4)::int, a_sign * (a_score = 5)::int
	FROM (VALUES ('d', a_day), ('m', substr(a_day, 1, 7)), ('y', substr(a_day, 1, 4))) p (grain, period),
		(SELECT a_owner, a_template UNION SELECT a_owner, '' UNION SELECT '', a_template UNION SELECT '', '') k (owner, template_ref)
	ORDER BY 1, 2, 3, 4
	ON CONFLICT (grain, owner, period, template_ref) DO UPDATE SET
		s1 = s.s1 + excluded.s1, s2 = s.s2 + excluded.s2, s3 = s.s3 + excluded.s3, s4 = s.s4 + excluded.s4, s5 = s.s5 + excluded.s5;
$$ LANGUAGE sql;
