-- The distribution set page's Delta panel counts devices per installed set and agent capability
-- (the `updraft.delta` attribute: which of patch and chunk delta a device takes), for the devices
-- with the set assigned or for the whole fleet (issue 19: each console page <= 20 ms at 100,000
-- devices; joining every device to its attributes took ~0.1 s).
--
-- target_delta_counts holds how many of a tenant's targets with an `updraft.delta` attribute have
-- each (installed set, assigned set, attribute value), 0 standing for no set; readers take the
-- devices without the attribute from target_counts, less these. Triggers keep it on every write to
-- the attribute and to the targets that have one. Readers sum `devices` per key, as for
-- target_counts. (A copy of the attribute on targets would have been simpler to count, but each
-- copy is a write of the target row: on PostgreSQL that cost a registering agent ~0.1 ms.)
CREATE TABLE target_delta_counts (
    tenant TEXT NOT NULL,
    installed_ds_id BIGINT NOT NULL,
    assigned_ds_id BIGINT NOT NULL,
    delta_forms TEXT NOT NULL,
    devices BIGINT NOT NULL,
    PRIMARY KEY (tenant, assigned_ds_id, installed_ds_id, delta_forms)
);
INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
SELECT t.tenant, COALESCE(t.installed_ds_id, 0), COALESCE(t.assigned_ds_id, 0), a.attr_value, COUNT(*)
FROM targets t JOIN target_attributes a ON a.target_id = t.id AND a.attr_key = 'updraft.delta'
GROUP BY t.tenant, COALESCE(t.installed_ds_id, 0), COALESCE(t.assigned_ds_id, 0), a.attr_value;

-- The attribute's writes (a device's attributes are replaced by a delete and inserts). A deleted
-- target's attributes go by the foreign key's cascade after the target row: the lookups then find
-- no target, and the target's own trigger below has counted it out.
CREATE TRIGGER target_delta_counts_attr_insert AFTER INSERT ON target_attributes
WHEN NEW.attr_key = 'updraft.delta' BEGIN
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    SELECT tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), NEW.attr_value, 1
    FROM targets WHERE id = NEW.target_id
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices + 1;
END;
CREATE TRIGGER target_delta_counts_attr_delete AFTER DELETE ON target_attributes
WHEN OLD.attr_key = 'updraft.delta' BEGIN
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    SELECT tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), OLD.attr_value, -1
    FROM targets WHERE id = OLD.target_id
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices - 1;
END;
CREATE TRIGGER target_delta_counts_attr_update AFTER UPDATE ON target_attributes
WHEN NEW.attr_key = 'updraft.delta' OR OLD.attr_key = 'updraft.delta' BEGIN
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    SELECT tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), OLD.attr_value, -1
    FROM targets WHERE id = OLD.target_id AND OLD.attr_key = 'updraft.delta'
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices - 1;
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    SELECT tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), NEW.attr_value, 1
    FROM targets WHERE id = NEW.target_id AND NEW.attr_key = 'updraft.delta'
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices + 1;
END;

-- The targets' writes, for those with the attribute (a new target has no attributes yet).
CREATE TRIGGER target_delta_counts_delete BEFORE DELETE ON targets BEGIN
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    SELECT OLD.tenant, COALESCE(OLD.installed_ds_id, 0), COALESCE(OLD.assigned_ds_id, 0), attr_value, -1
    FROM target_attributes WHERE target_id = OLD.id AND attr_key = 'updraft.delta'
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices - 1;
END;
-- Polls update last_poll only: the WHEN clause keeps this trigger off the poll path.
CREATE TRIGGER target_delta_counts_update AFTER UPDATE OF tenant, installed_ds_id, assigned_ds_id ON targets
WHEN OLD.tenant IS NOT NEW.tenant OR OLD.installed_ds_id IS NOT NEW.installed_ds_id
    OR OLD.assigned_ds_id IS NOT NEW.assigned_ds_id
BEGIN
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    SELECT OLD.tenant, COALESCE(OLD.installed_ds_id, 0), COALESCE(OLD.assigned_ds_id, 0), attr_value, -1
    FROM target_attributes WHERE target_id = OLD.id AND attr_key = 'updraft.delta'
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices - 1;
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    SELECT NEW.tenant, COALESCE(NEW.installed_ds_id, 0), COALESCE(NEW.assigned_ds_id, 0), attr_value, 1
    FROM target_attributes WHERE target_id = NEW.id AND attr_key = 'updraft.delta'
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices + 1;
END;
