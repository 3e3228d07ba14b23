-- The rollout page's stages of a rollout's open actions need each device's last poll and
-- controller id (issue 19: each console page <= 20 ms at 100,000 devices). Joining 10,000 open
-- actions to their devices took ~20 ms on PostgreSQL whatever the plan; reading them from the
-- open actions themselves takes ~6 ms. So each open (active) action keeps a copy, kept by
-- triggers: filled when the action is created open or opens (a rollout group starts), and
-- refreshed when the device's last poll moves (PollRecorder::flush and every other writer).
-- Closed actions keep a stale copy that nothing reads. The copies are not indexed, so a poll's
-- update of them stays a heap-only update.
ALTER TABLE actions ADD COLUMN target_last_poll BIGINT;
ALTER TABLE actions ADD COLUMN target_controller_id TEXT;
UPDATE actions a SET target_last_poll = t.last_poll, target_controller_id = t.controller_id
    FROM targets t WHERE t.id = a.target_id AND a.active;

CREATE FUNCTION actions_target_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT t.last_poll, t.controller_id INTO NEW.target_last_poll, NEW.target_controller_id
        FROM targets t WHERE t.id = NEW.target_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER actions_target_copy_insert BEFORE INSERT ON actions FOR EACH ROW
    WHEN (NEW.active) EXECUTE FUNCTION actions_target_copy();
CREATE TRIGGER actions_target_copy_open BEFORE UPDATE OF active ON actions FOR EACH ROW
    WHEN (NEW.active AND NOT OLD.active) EXECUTE FUNCTION actions_target_copy();

CREATE FUNCTION targets_poll_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE actions SET target_last_poll = NEW.last_poll WHERE target_id = NEW.id AND active;
    RETURN NULL;
END
$$;
CREATE TRIGGER targets_poll_copy AFTER UPDATE OF last_poll ON targets FOR EACH ROW
    WHEN (OLD.last_poll IS DISTINCT FROM NEW.last_poll) EXECUTE FUNCTION targets_poll_copy();
