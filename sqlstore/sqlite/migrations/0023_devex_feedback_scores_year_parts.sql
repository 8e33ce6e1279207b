-- Satisfaction per template over years: a range split into edge days,
-- months, whole years and months (0015) read every template's row of each
-- month at its ends (5 years from a mid-November: 11 months of 1,000
-- templates). For every team together (owner ''), the answers are now also
-- counted per part of a year: 'rest' (period 2026-03: March to December of
-- 2026) and 'ytd' (period 2026-03: January and February of 2026), so those
-- months are one row per template at each end. An answer of month M counts
-- in the 'rest' rows of months up to M and the 'ytd' rows of the months
-- after M.
DROP TRIGGER devex_feedback_score_changes_add;

CREATE TRIGGER devex_feedback_score_changes_add INSTEAD OF INSERT ON devex_feedback_score_changes BEGIN
	INSERT INTO devex_feedback_scores (grain, owner, period, template_ref, s1, s2, s3, s4, s5)
	SELECT p.grain, k.owner, p.period, k.template_ref,
		NEW.sign * (NEW.score = 1), NEW.sign * (NEW.score = 2), NEW.sign * (NEW.score = 3), NEW.sign * (NEW.score = 4), NEW.sign * (NEW.score = 5)
	FROM (SELECT 'd' AS grain, NEW.day AS period, 1 AS all_owners UNION ALL SELECT 'm', substr(NEW.day, 1, 7), 1 UNION ALL SELECT 'y', substr(NEW.day, 1, 4), 1
		UNION ALL SELECT CASE WHEN n.m <= CAST(substr(NEW.day, 6, 2) AS INTEGER) THEN 'rest' ELSE 'ytd' END,
			substr(NEW.day, 1, 5) || printf('%02d', n.m), 0
		FROM (SELECT 1 AS m UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6
			UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10 UNION ALL SELECT 11 UNION ALL SELECT 12) n) p,
		(SELECT NEW.owner AS owner, NEW.template_ref AS template_ref UNION SELECT NEW.owner, '' UNION SELECT '', NEW.template_ref UNION SELECT '', '') k
	WHERE p.all_owners = 1 OR k.owner = ''
	ON CONFLICT (grain, owner, period, template_ref) DO UPDATE SET
		s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5;
END;

INSERT INTO devex_feedback_scores (grain, owner, period, template_ref, s1, s2, s3, s4, s5)
SELECT CASE WHEN n.m <= CAST(substr(f.day, 6, 2) AS INTEGER) THEN 'rest' ELSE 'ytd' END, '',
	substr(f.day, 1, 5) || printf('%02d', n.m), CASE WHEN a.n = 1 THEN '' ELSE f.template_ref END,
	SUM(f.score = 1), SUM(f.score = 2), SUM(f.score = 3), SUM(f.score = 4), SUM(f.score = 5)
FROM devex_feedback f,
	(SELECT 1 AS m UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6
		UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10 UNION ALL SELECT 11 UNION ALL SELECT 12) n,
	(SELECT 0 AS n UNION ALL SELECT 1) a
WHERE NOT (f.template_ref = '' AND a.n = 0)
GROUP BY 1, 2, 3, 4;
