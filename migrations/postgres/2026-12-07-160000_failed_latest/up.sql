-- The failures page and the rollout page read maintained figures instead of walking actions
-- (issue 19: each console page <= 20 ms at 100,000 devices).
--
-- actions.latest marks each target's latest started action: the one that most recently was
-- created or left SCHEDULED (a rollout's actions of groups not started yet are no attempt: a
-- device in error with such an action is still failed). actions.latest_failed marks that action
-- when it failed and its target is in error: the failures page groups those rows from the partial
-- index below instead of looking up each failed device's newest action. Triggers keep both on
-- every write, whatever path made it (feedback, assignment, rollout start, cancel, action cleanup,
-- imports).
ALTER TABLE actions ADD COLUMN latest BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE actions ADD COLUMN latest_failed BOOLEAN NOT NULL DEFAULT false;
UPDATE actions SET latest = true WHERE id IN (
    SELECT max(id) FROM actions WHERE status <> 'scheduled' GROUP BY target_id);
UPDATE actions SET latest_failed = true WHERE latest AND status = 'error'
    AND target_id IN (SELECT id FROM targets WHERE update_status = 'error');
-- At most one latest action per target, and the triggers' way to it.
CREATE UNIQUE INDEX actions_latest ON actions (target_id) WHERE latest;
-- The failures page's GROUP BY (and a group's count) from this index alone.
CREATE INDEX actions_latest_failed ON actions (tenant, last_message, ds_id, rollout_id, target_id) WHERE latest_failed;

-- An action that starts (created started, or leaving SCHEDULED) becomes its target's latest. The
-- target's row is locked first, so two transactions starting actions of one device take turns
-- (each sees the other's latest once it committed) instead of both keeping theirs.
CREATE FUNCTION actions_latest_start() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM targets WHERE id = NEW.target_id FOR NO KEY UPDATE;
    UPDATE actions SET latest = false, latest_failed = false
    WHERE target_id = NEW.target_id AND latest AND id <> NEW.id;
    UPDATE actions SET latest = true, latest_failed = (NEW.status = 'error'
        AND EXISTS (SELECT 1 FROM targets t WHERE t.id = NEW.target_id AND t.update_status = 'error'))
    WHERE id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER actions_latest_insert AFTER INSERT ON actions FOR EACH ROW
    WHEN (NEW.status <> 'scheduled') EXECUTE FUNCTION actions_latest_start();
CREATE TRIGGER actions_latest_status AFTER UPDATE OF status ON actions FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status AND (NEW.latest OR OLD.status = 'scheduled'))
    EXECUTE FUNCTION actions_latest_start();
-- When the latest goes (action cleanup), the target's newest remaining started action takes over.
CREATE FUNCTION actions_latest_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE actions SET latest = true, latest_failed = (status = 'error'
        AND EXISTS (SELECT 1 FROM targets t WHERE t.id = OLD.target_id AND t.update_status = 'error'))
    WHERE id = (SELECT max(id) FROM actions WHERE target_id = OLD.target_id AND status <> 'scheduled');
    RETURN NULL;
END
$$;
CREATE TRIGGER actions_latest_delete AFTER DELETE ON actions FOR EACH ROW
    WHEN (OLD.latest) EXECUTE FUNCTION actions_latest_deleted();
-- A target entering or leaving error (fail_action sets the action's status first, then the target's).
CREATE FUNCTION actions_latest_target() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE actions SET latest_failed = (status = 'error' AND NEW.update_status = 'error')
    WHERE target_id = NEW.id AND latest;
    RETURN NULL;
END
$$;
CREATE TRIGGER actions_latest_target AFTER UPDATE OF update_status ON targets FOR EACH ROW
    WHEN (OLD.update_status IS DISTINCT FROM NEW.update_status) EXECUTE FUNCTION actions_latest_target();

-- Actions per rollout group and status, kept by triggers: the rollout page's totals read a few
-- rows instead of counting every action of a big rollout. As with target_counts, the triggers
-- append a -1 and a +1 row rather than update one row per key (concurrent feedback would queue on
-- the hot counter rows), and the scheduler folds them (store::target_counts::merge).
CREATE TABLE rollout_group_counts (
    rollout_group_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    actions BIGINT NOT NULL
);
CREATE INDEX rollout_group_counts_group ON rollout_group_counts (rollout_group_id, status);
INSERT INTO rollout_group_counts (rollout_group_id, status, actions)
SELECT rollout_group_id, status, COUNT(*) FROM actions WHERE rollout_group_id IS NOT NULL
GROUP BY rollout_group_id, status;
CREATE FUNCTION rollout_group_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.rollout_group_id IS NOT NULL THEN
        INSERT INTO rollout_group_counts (rollout_group_id, status, actions) VALUES (OLD.rollout_group_id, OLD.status, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.rollout_group_id IS NOT NULL THEN
        INSERT INTO rollout_group_counts (rollout_group_id, status, actions) VALUES (NEW.rollout_group_id, NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER rollout_group_counts_insert_delete AFTER INSERT OR DELETE ON actions
    FOR EACH ROW EXECUTE FUNCTION rollout_group_counts_track();
-- (A deleted group sets its actions' rollout_group_id to NULL, which this trigger sees too.)
CREATE TRIGGER rollout_group_counts_update AFTER UPDATE OF status, rollout_group_id ON actions
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.rollout_group_id IS DISTINCT FROM NEW.rollout_group_id)
    EXECUTE FUNCTION rollout_group_counts_track();
