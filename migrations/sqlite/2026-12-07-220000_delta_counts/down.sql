DROP TRIGGER target_delta_counts_update;
DROP TRIGGER target_delta_counts_delete;
DROP TRIGGER target_delta_counts_insert;
DROP TRIGGER targets_delta_copy_delete;
DROP TRIGGER targets_delta_copy_update;
DROP TRIGGER targets_delta_copy_insert;
DROP TABLE target_delta_counts;
ALTER TABLE targets DROP COLUMN delta_forms;
