-- The distribution set page's Delta panel counts devices per installed set and agent capability
-- (the `updraft.delta` attribute: which of patch and chunk delta a device takes), for the devices
-- with the set assigned or for the whole fleet (issue 19: each console page <= 20 ms at 100,000
-- devices; joining every device to its attributes took ~0.1 s).
--
-- Each target keeps a copy of its `updraft.delta` attribute in `delta_forms` ('' without one),
-- kept by triggers on target_attributes, so target_delta_counts can be kept from targets alone:
-- how many of a tenant's targets have each (installed set, assigned set, delta forms), 0 standing
-- for no set. Readers sum `devices` per key.
--
-- As for target_counts, the triggers append a -1 and a +1 row rather than update one row per key,
-- so concurrent writers never queue on a hot counter row; the scheduler merges the rows
-- (store::target_counts::merge).
ALTER TABLE targets ADD COLUMN delta_forms TEXT NOT NULL DEFAULT '';
UPDATE targets SET delta_forms = a.attr_value FROM target_attributes a
WHERE a.target_id = targets.id AND a.attr_key = 'updraft.delta';

CREATE TABLE target_delta_counts (
    tenant TEXT NOT NULL,
    installed_ds_id BIGINT NOT NULL,
    assigned_ds_id BIGINT NOT NULL,
    delta_forms TEXT NOT NULL,
    devices BIGINT NOT NULL
);
CREATE INDEX target_delta_counts_tenant ON target_delta_counts (tenant, assigned_ds_id, installed_ds_id, delta_forms);
INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
SELECT tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), delta_forms, COUNT(*)
FROM targets GROUP BY tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), delta_forms;

-- The copy. Attribute writes replace a device's rows (delete, then insert); only rows of the one
-- key touch the target.
CREATE FUNCTION targets_delta_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE targets SET delta_forms = '' WHERE id = OLD.target_id AND delta_forms <> '';
    ELSIF NEW.attr_key = 'updraft.delta' THEN
        UPDATE targets SET delta_forms = NEW.attr_value
        WHERE id = NEW.target_id AND delta_forms IS DISTINCT FROM NEW.attr_value;
    ELSE
        -- An update that renamed the row away from the key.
        UPDATE targets SET delta_forms = '' WHERE id = NEW.target_id AND delta_forms <> '';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER targets_delta_copy_insert AFTER INSERT ON target_attributes FOR EACH ROW
    WHEN (NEW.attr_key = 'updraft.delta') EXECUTE FUNCTION targets_delta_copy();
CREATE TRIGGER targets_delta_copy_update AFTER UPDATE ON target_attributes FOR EACH ROW
    WHEN (NEW.attr_key = 'updraft.delta' OR OLD.attr_key = 'updraft.delta') EXECUTE FUNCTION targets_delta_copy();
CREATE TRIGGER targets_delta_copy_delete AFTER DELETE ON target_attributes FOR EACH ROW
    WHEN (OLD.attr_key = 'updraft.delta') EXECUTE FUNCTION targets_delta_copy();

-- The counts.
CREATE FUNCTION target_delta_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
        VALUES (OLD.tenant, COALESCE(OLD.installed_ds_id, 0), COALESCE(OLD.assigned_ds_id, 0), OLD.delta_forms, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
        VALUES (NEW.tenant, COALESCE(NEW.installed_ds_id, 0), COALESCE(NEW.assigned_ds_id, 0), NEW.delta_forms, 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER target_delta_counts_insert_delete AFTER INSERT OR DELETE ON targets
    FOR EACH ROW EXECUTE FUNCTION target_delta_counts_track();
-- Polls update last_poll only: the WHEN clause keeps this trigger off the poll path.
CREATE TRIGGER target_delta_counts_update AFTER UPDATE OF tenant, installed_ds_id, assigned_ds_id, delta_forms ON targets
    FOR EACH ROW
    WHEN (OLD.tenant IS DISTINCT FROM NEW.tenant OR OLD.installed_ds_id IS DISTINCT FROM NEW.installed_ds_id
        OR OLD.assigned_ds_id IS DISTINCT FROM NEW.assigned_ds_id OR OLD.delta_forms IS DISTINCT FROM NEW.delta_forms)
    EXECUTE FUNCTION target_delta_counts_track();
