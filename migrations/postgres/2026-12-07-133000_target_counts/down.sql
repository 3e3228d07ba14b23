DROP INDEX target_attributes_key;
DROP TRIGGER target_counts_update ON targets;
DROP TRIGGER target_counts_insert_delete ON targets;
DROP FUNCTION target_counts_track();
DROP TABLE target_counts;
