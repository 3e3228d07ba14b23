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
ALTER TABLE actions ADD COLUMN latest BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE actions ADD COLUMN latest_failed BOOLEAN NOT NULL DEFAULT 0;
UPDATE actions SET latest = 1 WHERE id IN (
    SELECT max(id) FROM actions WHERE status <> 'scheduled' GROUP BY target_id);
UPDATE actions SET latest_failed = 1 WHERE latest AND status = 'error'
    AND target_id IN (SELECT id FROM targets WHERE update_status = 'error');
-- At most one latest action per target, and the triggers' way to it.
CREATE UNIQUE INDEX actions_latest ON actions (target_id) WHERE latest;
-- The failures page's GROUP BY (and a group's count) from this index alone.
CREATE INDEX actions_latest_failed ON actions (tenant, last_message, ds_id, rollout_id, target_id) WHERE latest_failed;

-- An action that starts (created started, or leaving SCHEDULED) becomes its target's latest.
CREATE TRIGGER actions_latest_insert AFTER INSERT ON actions WHEN NEW.status <> 'scheduled' BEGIN
    UPDATE actions SET latest = 0, latest_failed = 0 WHERE target_id = NEW.target_id AND latest AND id <> NEW.id;
    UPDATE actions SET latest = 1, latest_failed = (NEW.status = 'error'
        AND EXISTS (SELECT 1 FROM targets t WHERE t.id = NEW.target_id AND t.update_status = 'error'))
    WHERE id = NEW.id;
END;
CREATE TRIGGER actions_latest_status AFTER UPDATE OF status ON actions
WHEN OLD.status IS NOT NEW.status AND (NEW.latest OR OLD.status = 'scheduled') BEGIN
    UPDATE actions SET latest = 0, latest_failed = 0 WHERE target_id = NEW.target_id AND latest AND id <> NEW.id;
    UPDATE actions SET latest = 1, latest_failed = (NEW.status = 'error'
        AND EXISTS (SELECT 1 FROM targets t WHERE t.id = NEW.target_id AND t.update_status = 'error'))
    WHERE id = NEW.id;
END;
-- When the latest goes (action cleanup), the target's newest remaining started action takes over.
CREATE TRIGGER actions_latest_delete AFTER DELETE ON actions WHEN OLD.latest BEGIN
    UPDATE actions SET latest = 1, latest_failed = (status = 'error'
        AND EXISTS (SELECT 1 FROM targets t WHERE t.id = OLD.target_id AND t.update_status = 'error'))
    WHERE id = (SELECT max(id) FROM actions WHERE target_id = OLD.target_id AND status <> 'scheduled');
END;
-- A target entering or leaving error (fail_action sets the action's status first, then the target's).
CREATE TRIGGER actions_latest_target AFTER UPDATE OF update_status ON targets
WHEN OLD.update_status IS NOT NEW.update_status BEGIN
    UPDATE actions SET latest_failed = (status = 'error' AND NEW.update_status = 'error')
    WHERE target_id = NEW.id AND latest;
END;

-- Actions per rollout group and status, kept by triggers: the rollout page's totals read a few
-- rows instead of counting every action of a big rollout (75,000 took ~11 ms on SQLite). One row
-- per key here (one writer at a time); PostgreSQL appends rows that the scheduler folds.
CREATE TABLE rollout_group_counts (
    rollout_group_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    actions BIGINT NOT NULL,
    PRIMARY KEY (rollout_group_id, status)
);
INSERT INTO rollout_group_counts (rollout_group_id, status, actions)
SELECT rollout_group_id, status, COUNT(*) FROM actions WHERE rollout_group_id IS NOT NULL
GROUP BY rollout_group_id, status;
CREATE TRIGGER rollout_group_counts_insert AFTER INSERT ON actions WHEN NEW.rollout_group_id IS NOT NULL BEGIN
    INSERT INTO rollout_group_counts (rollout_group_id, status, actions) VALUES (NEW.rollout_group_id, NEW.status, 1)
    ON CONFLICT (rollout_group_id, status) DO UPDATE SET actions = actions + 1;
END;
CREATE TRIGGER rollout_group_counts_delete AFTER DELETE ON actions WHEN OLD.rollout_group_id IS NOT NULL BEGIN
    INSERT INTO rollout_group_counts (rollout_group_id, status, actions) VALUES (OLD.rollout_group_id, OLD.status, -1)
    ON CONFLICT (rollout_group_id, status) DO UPDATE SET actions = actions - 1;
END;
-- (A deleted group sets its actions' rollout_group_id to NULL, which this trigger sees too.)
CREATE TRIGGER rollout_group_counts_update AFTER UPDATE OF status, rollout_group_id ON actions
WHEN OLD.status IS NOT NEW.status OR OLD.rollout_group_id IS NOT NEW.rollout_group_id BEGIN
    INSERT INTO rollout_group_counts (rollout_group_id, status, actions)
    SELECT OLD.rollout_group_id, OLD.status, -1 WHERE OLD.rollout_group_id IS NOT NULL
    ON CONFLICT (rollout_group_id, status) DO UPDATE SET actions = actions - 1;
    INSERT INTO rollout_group_counts (rollout_group_id, status, actions)
    SELECT NEW.rollout_group_id, NEW.status, 1 WHERE NEW.rollout_group_id IS NOT NULL
    ON CONFLICT (rollout_group_id, status) DO UPDATE SET actions = actions + 1;
END;
