-- The web UI counts devices per installed and per assigned distribution set (the overview, each
-- set's page); these keep a set's counts index lookups at 100,000 devices.
CREATE INDEX targets_installed_ds ON targets (tenant, installed_ds_id);
CREATE INDEX targets_assigned_ds ON targets (tenant, assigned_ds_id);
