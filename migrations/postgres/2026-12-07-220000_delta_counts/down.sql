DROP TRIGGER target_delta_counts_update ON targets;
DROP TRIGGER target_delta_counts_delete ON targets;
DROP FUNCTION target_delta_counts_target();
DROP TRIGGER target_delta_counts_attr_delete ON target_attributes;
DROP TRIGGER target_delta_counts_attr_update ON target_attributes;
DROP TRIGGER target_delta_counts_attr_insert ON target_attributes;
DROP FUNCTION target_delta_counts_attr();
DROP TABLE target_delta_counts;
