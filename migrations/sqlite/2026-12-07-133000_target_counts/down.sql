DROP INDEX targets_tenant_controller_nocase;
DROP INDEX target_attributes_key;
DROP TRIGGER target_counts_update;
DROP TRIGGER target_counts_delete;
DROP TRIGGER target_counts_insert;
DROP TABLE target_counts;
