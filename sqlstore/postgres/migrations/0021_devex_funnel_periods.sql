-- The funnel and satisfaction per funnel stage at scale: the same columns,
-- tables and backfill as SQLite's 0021_devex_funnel_periods.sql; the
-- answers' per-stage counts kept by a trigger taking its rows in the key's
-- order (as 0019 does for the per-score counts).
ALTER TABLE devex_runs ADD COLUMN registered SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE devex_runs ADD COLUMN healthy SMALLINT NOT NULL DEFAULT 0;
UPDATE devex_runs SET registered = 1 WHERE entity_ref <> '' AND entity_ref IN (SELECT entity_ref FROM devex_components);
UPDATE devex_runs SET healthy = 1 WHERE task_id IN (SELECT task_id FROM devex_apps WHERE first_healthy_at IS NOT NULL);
CREATE INDEX devex_runs_entity ON devex_runs (entity_ref) WHERE entity_ref <> '';

CREATE TABLE devex_funnel_periods (
	owner        TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	grain        TEXT NOT NULL,
	period       TEXT NOT NULL,
	started      BIGINT NOT NULL DEFAULT 0,
	succeeded    BIGINT NOT NULL DEFAULT 0,
	registered   BIGINT NOT NULL DEFAULT 0,
	healthy      BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (owner, template_ref, grain, period)
);

INSERT INTO devex_funnel_periods (owner, template_ref, grain, period, started, succeeded, registered, healthy)
SELECT CASE WHEN k.n IN (0, 1) THEN r.owner ELSE '' END, CASE WHEN k.n IN (0, 2) THEN r.template_ref ELSE '' END,
	g.grain, substr(r.day, 1, g.len),
	COUNT(*), COUNT(*) FILTER (WHERE r.status = 'completed'),
	COUNT(*) FILTER (WHERE r.status = 'completed' AND r.registered = 1), COUNT(*) FILTER (WHERE r.status = 'completed' AND r.healthy = 1)
FROM devex_runs r,
	(VALUES ('d', 10), ('m', 7), ('y', 4)) g (grain, len),
	(VALUES (0), (1), (2), (3)) k (n)
WHERE NOT (r.owner = '' AND k.n IN (0, 1)) AND NOT (r.template_ref = '' AND k.n IN (0, 2))
GROUP BY 1, 2, 3, 4;

ALTER TABLE devex_feedback ADD COLUMN stage TEXT NOT NULL DEFAULT '';
UPDATE devex_feedback SET stage = COALESCE((SELECT CASE WHEN r.status <> 'completed' THEN 'started'
		WHEN r.healthy = 1 THEN 'healthy' WHEN r.registered = 1 THEN 'registered' ELSE 'succeeded' END
	FROM devex_runs r WHERE r.task_id = devex_feedback.task_id), '');

CREATE TABLE devex_feedback_stages (
	owner        TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	grain        TEXT NOT NULL,
	period       TEXT NOT NULL,
	stage        TEXT NOT NULL,
	s1           BIGINT NOT NULL DEFAULT 0,
	s2           BIGINT NOT NULL DEFAULT 0,
	s3           BIGINT NOT NULL DEFAULT 0,
	s4           BIGINT NOT NULL DEFAULT 0,
	s5           BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (owner, template_ref, grain, period, stage)
);

INSERT INTO devex_feedback_stages (owner, template_ref, grain, period, stage, s1, s2, s3, s4, s5)
SELECT CASE WHEN k.n IN (0, 1) THEN f.owner ELSE '' END, CASE WHEN k.n IN (0, 2) THEN f.template_ref ELSE '' END,
	g.grain, substr(f.day, 1, g.len), f.stage,
	COUNT(*) FILTER (WHERE f.score = 1), COUNT(*) FILTER (WHERE f.score = 2), COUNT(*) FILTER (WHERE f.score = 3),
	COUNT(*) FILTER (WHERE f.score = 4), COUNT(*) FILTER (WHERE f.score = 5)
FROM devex_feedback f,
	(VALUES ('d', 10), ('m', 7), ('y', 4)) g (grain, len),
	(VALUES (0), (1), (2), (3)) k (n)
WHERE f.stage <> '' AND NOT (f.owner = '' AND k.n IN (0, 1)) AND NOT (f.template_ref = '' AND k.n IN (0, 2))
GROUP BY 1, 2, 3, 4, 5;

-- devex_feedback_stages_add adds a_sign answers of a_score at a_stage to
-- the rows of one answer's day, team and template, in the key's order.
CREATE FUNCTION devex_feedback_stages_add(a_day TEXT, a_owner TEXT, a_template TEXT, a_stage TEXT, a_score INTEGER, a_sign INTEGER) RETURNS void AS $$
	INSERT INTO devex_feedback_stages AS s (owner, template_ref, grain, period, stage, s1, s2, s3, s4, s5)
	SELECT k.owner, k.template_ref, p.grain, p.period, a_stage,
		a_sign * (a_score = 1)::int, a_sign * (a_score = 2)::int, a_sign * (a_score = 3)::int, a_sign * (a_score = 4)::int, a_sign * (a_score = 5)::int
	FROM (VALUES ('d', a_day), ('m', substr(a_day, 1, 7)), ('y', substr(a_day, 1, 4))) p (grain, period),
		(SELECT a_owner, a_template UNION SELECT a_owner, '' UNION SELECT '', a_template UNION SELECT '', '') k (owner, template_ref)
	WHERE a_stage <> ''
	ORDER BY 1, 2, 3, 4
	ON CONFLICT (owner, template_ref, grain, period, stage) DO UPDATE SET
		s1 = s.s1 + excluded.s1, s2 = s.s2 + excluded.s2, s3 = s.s3 + excluded.s3, s4 = s.s4 + excluded.s4, s5 = s.s5 + excluded.s5;
$$ LANGUAGE sql;

CREATE FUNCTION devex_feedback_stages_keep() RETURNS trigger AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		PERFORM devex_feedback_stages_add(OLD.day, OLD.owner, OLD.template_ref, OLD.stage, OLD.score, -1);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		PERFORM devex_feedback_stages_add(NEW.day, NEW.owner, NEW.template_ref, NEW.stage, NEW.score, 1);
	END IF;
	RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER devex_feedback_stages_keep AFTER INSERT OR DELETE OR UPDATE OF score, day, owner, template_ref, stage ON devex_feedback
	FOR EACH ROW EXECUTE FUNCTION devex_feedback_stages_keep();
