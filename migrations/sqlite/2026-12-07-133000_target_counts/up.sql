-- The overview and fleet health count devices per update status and installed and assigned set
-- without reading every target (issue 19: each console page <= 20 ms at 100,000 devices; five
-- index walks over 100,000 targets took ~35 ms on SQLite).
--
-- target_counts holds how many of a tenant's targets have each (update status, installed set,
-- assigned set); 0 stands for no set. Triggers keep it on every write to targets, whatever path
-- made it. Readers sum `devices` per key (PostgreSQL's triggers append +1/-1 rows instead, which
-- the scheduler merges; see store::target_counts), so both backends read it the same way.
CREATE TABLE target_counts (
    tenant TEXT NOT NULL,
    update_status TEXT NOT NULL,
    installed_ds_id BIGINT NOT NULL,
    assigned_ds_id BIGINT NOT NULL,
    devices BIGINT NOT NULL,
    PRIMARY KEY (tenant, update_status, installed_ds_id, assigned_ds_id)
);
INSERT INTO target_counts (tenant, update_status, installed_ds_id, assigned_ds_id, devices)
SELECT tenant, update_status, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), COUNT(*)
FROM targets GROUP BY tenant, update_status, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0);

-- SQLite has one writer at a time: the triggers update one row per key in place.
CREATE TRIGGER target_counts_insert AFTER INSERT ON targets BEGIN
    INSERT INTO target_counts (tenant, update_status, installed_ds_id, assigned_ds_id, devices)
    VALUES (NEW.tenant, NEW.update_status, COALESCE(NEW.installed_ds_id, 0), COALESCE(NEW.assigned_ds_id, 0), 1)
    ON CONFLICT (tenant, update_status, installed_ds_id, assigned_ds_id) DO UPDATE SET devices = devices + 1;
END;
CREATE TRIGGER target_counts_delete AFTER DELETE ON targets BEGIN
    INSERT INTO target_counts (tenant, update_status, installed_ds_id, assigned_ds_id, devices)
    VALUES (OLD.tenant, OLD.update_status, COALESCE(OLD.installed_ds_id, 0), COALESCE(OLD.assigned_ds_id, 0), -1)
    ON CONFLICT (tenant, update_status, installed_ds_id, assigned_ds_id) DO UPDATE SET devices = devices - 1;
END;
-- Polls update last_poll only: the WHEN clause keeps this trigger off the poll path.
CREATE TRIGGER target_counts_update AFTER UPDATE OF tenant, update_status, installed_ds_id, assigned_ds_id ON targets
WHEN OLD.tenant IS NOT NEW.tenant OR OLD.update_status IS NOT NEW.update_status
    OR OLD.installed_ds_id IS NOT NEW.installed_ds_id OR OLD.assigned_ds_id IS NOT NEW.assigned_ds_id
BEGIN
    INSERT INTO target_counts (tenant, update_status, installed_ds_id, assigned_ds_id, devices)
    VALUES (OLD.tenant, OLD.update_status, COALESCE(OLD.installed_ds_id, 0), COALESCE(OLD.assigned_ds_id, 0), -1)
    ON CONFLICT (tenant, update_status, installed_ds_id, assigned_ds_id) DO UPDATE SET devices = devices - 1;
    INSERT INTO target_counts (tenant, update_status, installed_ds_id, assigned_ds_id, devices)
    VALUES (NEW.tenant, NEW.update_status, COALESCE(NEW.installed_ds_id, 0), COALESCE(NEW.assigned_ds_id, 0), 1)
    ON CONFLICT (tenant, update_status, installed_ds_id, assigned_ds_id) DO UPDATE SET devices = devices + 1;
END;
-- A deleted tenant's targets leave rows of zero devices behind, which readers skip.

-- Fleet health's devices per slot state from the devices that send the slot attributes, instead of
-- two lookups for each of the fleet's targets.
CREATE INDEX target_attributes_key ON target_attributes (attr_key, attr_value, target_id);

-- RSQL's `controllerId==dev-*` is a case-insensitive LIKE; on SQLite a NOCASE index turns a prefix
-- into a range (the LIKE optimization) instead of a test of every device: the new rollout form's
-- preview counts 100,000 matching devices from the index. (PostgreSQL's `UPPER(..) LIKE UPPER($1)`
-- with a bound pattern gets no such plan; no index there.)
CREATE INDEX targets_tenant_controller_nocase ON targets (tenant, controller_id COLLATE NOCASE, target_type_id);
