-- The distribution set page's Delta panel counts devices per installed set and agent capability
-- (the `updraft.delta` attribute: which of patch and chunk delta a device takes), for the devices
-- with the set assigned or for the whole fleet (issue 19: each console page <= 20 ms at 100,000
-- devices; joining every device to its attributes took ~0.1 s).
--
-- Each target keeps a copy of its `updraft.delta` attribute in `delta_forms` ('' without one),
-- kept by triggers on target_attributes, so target_delta_counts can be kept from targets alone:
-- how many of a tenant's targets have each (installed set, assigned set, delta forms), 0 standing
-- for no set. Readers sum `devices` per key, as for target_counts.
ALTER TABLE targets ADD COLUMN delta_forms TEXT NOT NULL DEFAULT '';
UPDATE targets SET delta_forms = (
    SELECT a.attr_value FROM target_attributes a WHERE a.target_id = targets.id AND a.attr_key = 'updraft.delta')
WHERE id IN (SELECT target_id FROM target_attributes WHERE attr_key = 'updraft.delta');

CREATE TABLE target_delta_counts (
    tenant TEXT NOT NULL,
    installed_ds_id BIGINT NOT NULL,
    assigned_ds_id BIGINT NOT NULL,
    delta_forms TEXT NOT NULL,
    devices BIGINT NOT NULL,
    PRIMARY KEY (tenant, assigned_ds_id, installed_ds_id, delta_forms)
);
INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
SELECT tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), delta_forms, COUNT(*)
FROM targets GROUP BY tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), delta_forms;

-- The copy. Attribute writes replace a device's rows (delete, then insert); only rows of the one
-- key touch the target.
CREATE TRIGGER targets_delta_copy_insert AFTER INSERT ON target_attributes
WHEN NEW.attr_key = 'updraft.delta' BEGIN
    UPDATE targets SET delta_forms = NEW.attr_value WHERE id = NEW.target_id AND delta_forms IS NOT NEW.attr_value;
END;
CREATE TRIGGER targets_delta_copy_update AFTER UPDATE ON target_attributes
WHEN NEW.attr_key = 'updraft.delta' OR OLD.attr_key = 'updraft.delta' BEGIN
    UPDATE targets SET delta_forms = CASE WHEN NEW.attr_key = 'updraft.delta' THEN NEW.attr_value ELSE '' END
    WHERE id = NEW.target_id;
END;
CREATE TRIGGER targets_delta_copy_delete AFTER DELETE ON target_attributes
WHEN OLD.attr_key = 'updraft.delta' BEGIN
    UPDATE targets SET delta_forms = '' WHERE id = OLD.target_id AND delta_forms <> '';
END;

-- The counts, in place (SQLite has one writer at a time).
CREATE TRIGGER target_delta_counts_insert AFTER INSERT ON targets BEGIN
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    VALUES (NEW.tenant, COALESCE(NEW.installed_ds_id, 0), COALESCE(NEW.assigned_ds_id, 0), NEW.delta_forms, 1)
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices + 1;
END;
CREATE TRIGGER target_delta_counts_delete AFTER DELETE ON targets BEGIN
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    VALUES (OLD.tenant, COALESCE(OLD.installed_ds_id, 0), COALESCE(OLD.assigned_ds_id, 0), OLD.delta_forms, -1)
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices - 1;
END;
-- Polls update last_poll only: the WHEN clause keeps this trigger off the poll path.
CREATE TRIGGER target_delta_counts_update AFTER UPDATE OF tenant, installed_ds_id, assigned_ds_id, delta_forms ON targets
WHEN OLD.tenant IS NOT NEW.tenant OR OLD.installed_ds_id IS NOT NEW.installed_ds_id
    OR OLD.assigned_ds_id IS NOT NEW.assigned_ds_id OR OLD.delta_forms IS NOT NEW.delta_forms
BEGIN
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    VALUES (OLD.tenant, COALESCE(OLD.installed_ds_id, 0), COALESCE(OLD.assigned_ds_id, 0), OLD.delta_forms, -1)
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices - 1;
    INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
    VALUES (NEW.tenant, COALESCE(NEW.installed_ds_id, 0), COALESCE(NEW.assigned_ds_id, 0), NEW.delta_forms, 1)
    ON CONFLICT (tenant, assigned_ds_id, installed_ds_id, delta_forms) DO UPDATE SET devices = devices + 1;
END;
