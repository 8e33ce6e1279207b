-- The funnel and satisfaction per funnel stage at scale (issue 14 item 5).
--
-- A run's funnel stages past succeeded depend on facts that change after
-- the run: registered (its entity is in devex_components) and healthy (an
-- app it created, devex_apps.task_id, has a first healthy moment). The run
-- keeps both facts as flags, which the store moves in the transaction that
-- changes the fact (the component sync and its retention, the app
-- recorder) or the run (sqlstore/devex_funnel.go), and with them the run's
-- counts in devex_funnel_periods.
ALTER TABLE devex_runs ADD COLUMN registered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devex_runs ADD COLUMN healthy INTEGER NOT NULL DEFAULT 0;
UPDATE devex_runs SET registered = 1 WHERE entity_ref <> '' AND entity_ref IN (SELECT entity_ref FROM devex_components);
UPDATE devex_runs SET healthy = 1 WHERE task_id IN (SELECT task_id FROM devex_apps WHERE first_healthy_at IS NOT NULL);
-- The runs of an entity, for the component sync.
CREATE INDEX devex_runs_entity ON devex_runs (entity_ref) WHERE entity_ref <> '';

-- The funnel of the raw runs (started, succeeded, and of the succeeded
-- ones registered and healthy) per day, month and year (grain d, m, y;
-- period 2026-11-03, 2026-11, 2026), per team and template, per team
-- (template_ref ''), per template (owner '') and overall (both ''): every
-- filter is one key prefix, and a range reads its edge days, whole months
-- and whole years. Retention's delete of raw runs takes their counts
-- away, as it takes them out of the funnel.
CREATE TABLE devex_funnel_periods (
	owner        TEXT NOT NULL,
	template_ref TEXT NOT NULL,
	grain        TEXT NOT NULL,
	period       TEXT NOT NULL,
	started      INTEGER NOT NULL DEFAULT 0,
	succeeded    INTEGER NOT NULL DEFAULT 0,
	registered   INTEGER NOT NULL DEFAULT 0,
	healthy      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (owner, template_ref, grain, period)
) WITHOUT ROWID;

INSERT INTO devex_funnel_periods (owner, template_ref, grain, period, started, succeeded, registered, healthy)
SELECT CASE WHEN k.n IN (0, 1) THEN r.owner ELSE '' END, CASE WHEN k.n IN (0, 2) THEN r.template_ref ELSE '' END,
	g.grain, substr(r.day, 1, g.len),
	COUNT(*), SUM(r.status = 'completed'), SUM(r.status = 'completed' AND r.registered = 1), SUM(r.status = 'completed' AND r.healthy = 1)
FROM devex_runs r,
	(SELECT 'd' AS grain, 10 AS len UNION ALL SELECT 'm', 7 UNION ALL SELECT 'y', 4) g,
	(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) k
WHERE NOT (r.owner = '' AND k.n IN (0, 1)) AND NOT (r.template_ref = '' AND k.n IN (0, 2))
GROUP BY 1, 2, 3, 4;

-- Each answer keeps the funnel stage its run stopped at (started when it
-- did not succeed, succeeded, registered, healthy; '' when the store holds
-- no run of it), moved by the store with the run's status and flags, and
-- the answers are counted per stage and score per day, month and year by
-- triggers, as devex_feedback_scores counts them per score (0015).
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
	s1           INTEGER NOT NULL DEFAULT 0,
	s2           INTEGER NOT NULL DEFAULT 0,
	s3           INTEGER NOT NULL DEFAULT 0,
	s4           INTEGER NOT NULL DEFAULT 0,
	s5           INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (owner, template_ref, grain, period, stage)
) WITHOUT ROWID;

INSERT INTO devex_feedback_stages (owner, template_ref, grain, period, stage, s1, s2, s3, s4, s5)
SELECT CASE WHEN k.n IN (0, 1) THEN f.owner ELSE '' END, CASE WHEN k.n IN (0, 2) THEN f.template_ref ELSE '' END,
	g.grain, substr(f.day, 1, g.len), f.stage,
	SUM(f.score = 1), SUM(f.score = 2), SUM(f.score = 3), SUM(f.score = 4), SUM(f.score = 5)
FROM devex_feedback f,
	(SELECT 'd' AS grain, 10 AS len UNION ALL SELECT 'm', 7 UNION ALL SELECT 'y', 4) g,
	(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) k
WHERE f.stage <> '' AND NOT (f.owner = '' AND k.n IN (0, 1)) AND NOT (f.template_ref = '' AND k.n IN (0, 2))
GROUP BY 1, 2, 3, 4, 5;

-- Inserting into devex_feedback_stage_changes adds sign answers of score
-- at stage to the rows of one answer's day, team and template (the
-- triggers' one body, as PostgreSQL's function devex_feedback_stages_add).
CREATE VIEW devex_feedback_stage_changes AS SELECT '' AS day, '' AS owner, '' AS template_ref, '' AS stage, 0 AS score, 0 AS sign;

CREATE TRIGGER devex_feedback_stage_changes_add INSTEAD OF INSERT ON devex_feedback_stage_changes WHEN NEW.stage <> '' BEGIN
	INSERT INTO devex_feedback_stages (owner, template_ref, grain, period, stage, s1, s2, s3, s4, s5)
	SELECT k.owner, k.template_ref, p.grain, p.period, NEW.stage,
		NEW.sign * (NEW.score = 1), NEW.sign * (NEW.score = 2), NEW.sign * (NEW.score = 3), NEW.sign * (NEW.score = 4), NEW.sign * (NEW.score = 5)
	FROM (SELECT 'd' AS grain, NEW.day AS period UNION ALL SELECT 'm', substr(NEW.day, 1, 7) UNION ALL SELECT 'y', substr(NEW.day, 1, 4)) p,
		(SELECT NEW.owner AS owner, NEW.template_ref AS template_ref UNION SELECT NEW.owner, '' UNION SELECT '', NEW.template_ref UNION SELECT '', '') k
	WHERE true
	ON CONFLICT (owner, template_ref, grain, period, stage) DO UPDATE SET
		s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5;
END;

CREATE TRIGGER devex_feedback_stages_insert AFTER INSERT ON devex_feedback BEGIN
	INSERT INTO devex_feedback_stage_changes VALUES (NEW.day, NEW.owner, NEW.template_ref, NEW.stage, NEW.score, 1);
END;

CREATE TRIGGER devex_feedback_stages_update AFTER UPDATE OF score, day, owner, template_ref, stage ON devex_feedback BEGIN
	INSERT INTO devex_feedback_stage_changes VALUES (OLD.day, OLD.owner, OLD.template_ref, OLD.stage, OLD.score, -1);
	INSERT INTO devex_feedback_stage_changes VALUES (NEW.day, NEW.owner, NEW.template_ref, NEW.stage, NEW.score, 1);
END;

CREATE TRIGGER devex_feedback_stages_delete AFTER DELETE ON devex_feedback BEGIN
	INSERT INTO devex_feedback_stage_changes VALUES (OLD.day, OLD.owner, OLD.template_ref, OLD.stage, OLD.score, -1);
END;
