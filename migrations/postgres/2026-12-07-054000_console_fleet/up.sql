-- The console's device list sorts by these columns, ties broken by id; with these indexes a page is
-- an index walk (NULLS FIRST matches the list's ascending order, a backward scan its descending one).
CREATE INDEX targets_tenant_name ON targets (tenant, name, id);
CREATE INDEX targets_tenant_last_poll ON targets (tenant, last_poll NULLS FIRST, id);
CREATE INDEX targets_tenant_installed ON targets (tenant, installed_ds_id NULLS FIRST, id);
CREATE INDEX targets_tenant_assigned ON targets (tenant, assigned_ds_id NULLS FIRST, id);
CREATE INDEX targets_tenant_type ON targets (tenant, target_type_id NULLS FIRST, id);
-- The failures page starts from the devices in error.
CREATE INDEX targets_tenant_status ON targets (tenant, update_status);
