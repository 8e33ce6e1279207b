-- Satisfaction at scale: the answers counted by score per day, month and
-- year; the same table, triggers and backfill as SQLite's
-- 0015_devex_feedback_scores.sql.
CREATE TABLE devex_feedback_scores (
	grain        TEXT NOT NULL,
	owner        TEXT NOT NULL,
	period       TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	s1           BIGINT NOT NULL DEFAULT 0,
	s2           BIGINT NOT NULL DEFAULT 0,
	s3           BIGINT NOT NULL DEFAULT 0,
	s4           BIGINT NOT NULL DEFAULT 0,
	s5           BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (grain, owner, period, template_ref)
);

-- devex_feedback_scores_add adds a_sign answers of a_score to the rows of
-- one answer's day, team and template.
CREATE FUNCTION devex_feedback_scores_add(a_day TEXT, a_owner TEXT, a_template TEXT, a_score INTEGER, a_sign INTEGER) RETURNS void AS $$
	INSERT INTO devex_feedback_scores AS s (grain, owner, period, template_ref, s1, s2, s3, s4, s5)
	SELECT p.grain, k.owner, p.period, k.template_ref,
		a_sign * (a_score = 1)::int, a_sign * (a_score = 2)::int, a_sign * (a_score = 3)::int, a_sign * (a_score = 4)::int, a_sign * (a_score = 5)::int
	FROM (VALUES ('d', a_day), ('m', substr(a_day, 1, 7)), ('y', substr(a_day, 1, 4))) p (grain, period),
		(SELECT a_owner, a_template UNION SELECT a_owner, '' UNION SELECT '', a_template UNION SELECT '', '') k (owner, template_ref)
	ON CONFLICT (grain, owner, period, template_ref) DO UPDATE SET
		s1 = s.s1 + excluded.s1, s2 = s.s2 + excluded.s2, s3 = s.s3 + excluded.s3, s4 = s.s4 + excluded.s4, s5 = s.s5 + excluded.s5;
$$ LANGUAGE sql;

CREATE FUNCTION devex_feedback_scores_keep() RETURNS trigger AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		PERFORM devex_feedback_scores_add(OLD.day, OLD.owner, OLD.template_ref, OLD.score, -1);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		PERFORM devex_feedback_scores_add(NEW.day, NEW.owner, NEW.template_ref, NEW.score, 1);
	END IF;
	RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER devex_feedback_scores_keep AFTER INSERT OR DELETE OR UPDATE OF score, day, owner, template_ref ON devex_feedback
	FOR EACH ROW EXECUTE FUNCTION devex_feedback_scores_keep();

INSERT INTO devex_feedback_scores (grain, owner, period, template_ref, s1, s2, s3, s4, s5)
SELECT g.grain, CASE WHEN k.n IN (0, 1) THEN f.owner ELSE '' END, substr(f.day, 1, g.len), CASE WHEN k.n IN (0, 2) THEN f.template_ref ELSE '' END,
	COUNT(*) FILTER (WHERE f.score = 1), COUNT(*) FILTER (WHERE f.score = 2), COUNT(*) FILTER (WHERE f.score = 3),
	COUNT(*) FILTER (WHERE f.score = 4), COUNT(*) FILTER (WHERE f.score = 5)
FROM devex_feedback f,
	(VALUES ('d', 10), ('m', 7), ('y', 4)) g (grain, len),
	(VALUES (0), (1), (2), (3)) k (n)
WHERE NOT (f.owner = '' AND k.n IN (0, 1)) AND NOT (f.template_ref = '' AND k.n IN (0, 2))
GROUP BY 1, 2, 3, 4;
