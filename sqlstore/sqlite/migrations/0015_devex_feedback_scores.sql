-- Satisfaction at scale: the answers counted by score per day, month and
-- year (grain d, m, y; period 2026-11-03, 2026-11, 2026), per template and
-- team, per template (owner ''), per team (template_ref '') and overall
-- (both ''), so that 5 years read a few thousand rows instead of every
-- answer. Triggers keep the counts with each answer in the same
-- transaction, whatever writes it (an edit moves its count from the old
-- score, template, team or day to the new one; retention's delete takes it
-- away), and the counts of the answers already given are written here.
CREATE TABLE devex_feedback_scores (
	grain        TEXT NOT NULL,
	owner        TEXT NOT NULL,
	period       TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	s1           INTEGER NOT NULL DEFAULT 0,
	s2           INTEGER NOT NULL DEFAULT 0,
	s3           INTEGER NOT NULL DEFAULT 0,
	s4           INTEGER NOT NULL DEFAULT 0,
	s5           INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (grain, owner, period, template_ref)
) WITHOUT ROWID;

-- Inserting into devex_feedback_score_changes adds sign answers of score
-- to the rows of one answer's day, team and template (the triggers' one
-- body, as PostgreSQL's function devex_feedback_scores_add).
CREATE VIEW devex_feedback_score_changes AS SELECT '' AS day, '' AS owner, '' AS template_ref, 0 AS score, 0 AS sign;

CREATE TRIGGER devex_feedback_score_changes_add INSTEAD OF INSERT ON devex_feedback_score_changes BEGIN
	INSERT INTO devex_feedback_scores (grain, owner, period, template_ref, s1, s2, s3, s4, s5)
	SELECT p.grain, k.owner, p.period, k.template_ref,
		NEW.sign * (NEW.score = 1), NEW.sign * (NEW.score = 2), NEW.sign * (NEW.score = 3), NEW.sign * (NEW.score = 4), NEW.sign * (NEW.score = 5)
	FROM (SELECT 'd' AS grain, NEW.day AS period UNION ALL SELECT 'm', substr(NEW.day, 1, 7) UNION ALL SELECT 'y', substr(NEW.day, 1, 4)) p,
		(SELECT NEW.owner AS owner, NEW.template_ref AS template_ref UNION SELECT NEW.owner, '' UNION SELECT '', NEW.template_ref UNION SELECT '', '') k
	WHERE true
	ON CONFLICT (grain, owner, period, template_ref) DO UPDATE SET
		s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5;
END;

CREATE TRIGGER devex_feedback_scores_insert AFTER INSERT ON devex_feedback BEGIN
	INSERT INTO devex_feedback_score_changes VALUES (NEW.day, NEW.owner, NEW.template_ref, NEW.score, 1);
END;

CREATE TRIGGER devex_feedback_scores_update AFTER UPDATE OF score, day, owner, template_ref ON devex_feedback BEGIN
	INSERT INTO devex_feedback_score_changes VALUES (OLD.day, OLD.owner, OLD.template_ref, OLD.score, -1);
	INSERT INTO devex_feedback_score_changes VALUES (NEW.day, NEW.owner, NEW.template_ref, NEW.score, 1);
END;

CREATE TRIGGER devex_feedback_scores_delete AFTER DELETE ON devex_feedback BEGIN
	INSERT INTO devex_feedback_score_changes VALUES (OLD.day, OLD.owner, OLD.template_ref, OLD.score, -1);
END;

INSERT INTO devex_feedback_scores (grain, owner, period, template_ref, s1, s2, s3, s4, s5)
SELECT g.grain, CASE WHEN k.n IN (0, 1) THEN f.owner ELSE '' END, substr(f.day, 1, g.len), CASE WHEN k.n IN (0, 2) THEN f.template_ref ELSE '' END,
	SUM(f.score = 1), SUM(f.score = 2), SUM(f.score = 3), SUM(f.score = 4), SUM(f.score = 5)
FROM devex_feedback f,
	(SELECT 'd' AS grain, 10 AS len UNION ALL SELECT 'm', 7 UNION ALL SELECT 'y', 4) g,
	(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) k
WHERE NOT (f.owner = '' AND k.n IN (0, 1)) AND NOT (f.template_ref = '' AND k.n IN (0, 2))
GROUP BY 1, 2, 3, 4;
