-- The console's device list sorts by these columns, ties broken by id (SQLite sorts NULLs first
-- when ascending, as the list does); with these indexes a page is an index walk.
CREATE INDEX targets_tenant_name ON targets (tenant, name, id);
CREATE INDEX targets_tenant_last_poll ON targets (tenant, last_poll, id);
CREATE INDEX targets_tenant_installed ON targets (tenant, installed_ds_id, id);
CREATE INDEX targets_tenant_assigned ON targets (tenant, assigned_ds_id, id);
CREATE INDEX targets_tenant_type ON targets (tenant, target_type_id, id);
-- The failures page starts from the devices in error.
CREATE INDEX targets_tenant_status ON targets (tenant, update_status);
