DROP TRIGGER targets_poll_copy ON targets;
DROP FUNCTION targets_poll_copy();
DROP TRIGGER actions_target_copy_open ON actions;
DROP TRIGGER actions_target_copy_insert ON actions;
DROP FUNCTION actions_target_copy();
ALTER TABLE actions DROP COLUMN target_controller_id;
ALTER TABLE actions DROP COLUMN target_last_poll;
