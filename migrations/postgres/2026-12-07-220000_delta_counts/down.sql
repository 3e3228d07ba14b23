DROP TRIGGER target_delta_counts_update ON targets;
DROP TRIGGER target_delta_counts_insert_delete ON targets;
DROP FUNCTION target_delta_counts_track();
DROP TRIGGER targets_delta_copy_delete ON target_attributes;
DROP TRIGGER targets_delta_copy_update ON target_attributes;
DROP TRIGGER targets_delta_copy_insert ON target_attributes;
DROP FUNCTION targets_delta_copy();
DROP TABLE target_delta_counts;
ALTER TABLE targets DROP COLUMN delta_forms;
