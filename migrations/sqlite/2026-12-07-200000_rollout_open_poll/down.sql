DROP TRIGGER targets_poll_copy;
DROP TRIGGER actions_target_copy_open;
DROP TRIGGER actions_target_copy_insert;
ALTER TABLE actions DROP COLUMN target_controller_id;
ALTER TABLE actions DROP COLUMN target_last_poll;
