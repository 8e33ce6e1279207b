-- Satisfaction per template over years: the answers of every team together
-- (owner '') also counted per part of a year, 'rest' (period 2026-03: March
-- to December of 2026) and 'ytd' (period 2026-03: January and February), as
-- SQLite's 0023_devex_feedback_scores_year_parts.sql; rows still taken in
-- the key's order (0019).
CREATE OR REPLACE FUNCTION devex_feedback_scores_add(a_day TEXT, a_owner TEXT, a_template TEXT, a_score INTEGER, a_sign INTEGER) RETURNS void AS $$
	INSERT INTO devex_feedback_scores AS s (grain, owner, period, template_ref, s1, s2, s3, s4, s5)
	SELECT p.grain, k.owner, p.period, k.template_ref,
		a_sign * (a_score = 1)::int, a_sign * (a_score = 2)::int, a_sign * (a_score = 3)::int, a_sign * (a_score = 4)::int, a_sign * (a_score = 5)::int
	FROM (SELECT * FROM (VALUES ('d', a_day, true), ('m', substr(a_day, 1, 7), true), ('y', substr(a_day, 1, 4), true)) v (grain, period, all_owners)
		UNION ALL SELECT CASE WHEN n.m <= substr(a_day, 6, 2)::int THEN 'rest' ELSE 'ytd' END, substr(a_day, 1, 5) || lpad(n.m::text, 2, '0'), false
		FROM generate_series(1, 12) n (m)) p,
		(SELECT a_owner, a_template UNION SELECT a_owner, '' UNION SELECT '', a_template UNION SELECT '', '') k (owner, template_ref)
	WHERE p.all_owners OR k.owner = ''
	ORDER BY 1, 2, 3, 4
	ON CONFLICT (grain, owner, period, template_ref) DO UPDATE SET
		s1 = s.s1 + excluded.s1, s2 = s.s2 + excluded.s2, s3 = s.s3 + excluded.s3, s4 = s.s4 + excluded.s4, s5 = s.s5 + excluded.s5;
$$ LANGUAGE sql;

INSERT INTO devex_feedback_scores (grain, owner, period, template_ref, s1, s2, s3, s4, s5)
SELECT CASE WHEN n.m <= substr(f.day, 6, 2)::int THEN 'rest' ELSE 'ytd' END, '',
	substr(f.day, 1, 5) || lpad(n.m::text, 2, '0'), CASE WHEN a.n = 1 THEN '' ELSE f.template_ref END,
	COUNT(*) FILTER (WHERE f.score = 1), COUNT(*) FILTER (WHERE f.score = 2), COUNT(*) FILTER (WHERE f.score = 3),
	COUNT(*) FILTER (WHERE f.score = 4), COUNT(*) FILTER (WHERE f.score = 5)
FROM devex_feedback f, generate_series(1, 12) n (m), (VALUES (0), (1)) a (n)
WHERE NOT (f.template_ref = '' AND a.n = 0)
GROUP BY 1, 2, 3, 4;
