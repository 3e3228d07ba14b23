DROP INDEX actions_rollout_open;
DROP INDEX actions_rollout_group;
CREATE INDEX actions_rollout_group ON actions (rollout_group_id, status);
ALTER TABLE actions DROP COLUMN last_message;
