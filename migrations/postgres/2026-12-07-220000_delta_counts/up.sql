-- The distribution set page's Delta panel counts devices per installed set and agent capability
-- (the `updraft.delta` attribute: which of patch and chunk delta a device takes), for the devices
-- with the set assigned or for the whole fleet (issue 19: each console page <= 20 ms at 100,000
-- devices; joining every device to its attributes took ~0.1 s).
--
-- target_delta_counts holds how many of a tenant's targets with an `updraft.delta` attribute have
-- each (installed set, assigned set, attribute value), 0 standing for no set; readers take the
-- devices without the attribute from target_counts, less these. Triggers keep it on every write to
-- the attribute and to the targets that have one. Readers sum `devices` per key. (A copy of the
-- attribute on targets would have been simpler to count, but each copy is a write of the target
-- row, a new row version in each of its indexes: ~0.1 ms more for each registering agent.)
--
-- As for target_counts, the triggers append -1 and +1 rows rather than update one row per key, so
-- concurrent writers never queue on a hot counter row; the scheduler merges the rows
-- (store::target_counts::merge).
CREATE TABLE target_delta_counts (
    tenant TEXT NOT NULL,
    installed_ds_id BIGINT NOT NULL,
    assigned_ds_id BIGINT NOT NULL,
    delta_forms TEXT NOT NULL,
    devices BIGINT NOT NULL
);
CREATE INDEX target_delta_counts_tenant ON target_delta_counts (tenant, assigned_ds_id, installed_ds_id, delta_forms);
INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
SELECT t.tenant, COALESCE(t.installed_ds_id, 0), COALESCE(t.assigned_ds_id, 0), a.attr_value, COUNT(*)
FROM targets t JOIN target_attributes a ON a.target_id = t.id AND a.attr_key = 'updraft.delta'
GROUP BY t.tenant, COALESCE(t.installed_ds_id, 0), COALESCE(t.assigned_ds_id, 0), a.attr_value;

-- The attribute's writes (a device's attributes are replaced by a delete and inserts). A deleted
-- target's attributes go by the foreign key's cascade, which runs after the target row is gone:
-- the lookups then find no target, and the target's own trigger below has counted it out.
CREATE FUNCTION target_delta_counts_attr() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.attr_key = 'updraft.delta' THEN
            INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
            SELECT tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), OLD.attr_value, -1
            FROM targets WHERE id = OLD.target_id;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        IF NEW.attr_key = 'updraft.delta' THEN
            INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
            SELECT tenant, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), NEW.attr_value, 1
            FROM targets WHERE id = NEW.target_id;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER target_delta_counts_attr_insert AFTER INSERT ON target_attributes FOR EACH ROW
    WHEN (NEW.attr_key = 'updraft.delta') EXECUTE FUNCTION target_delta_counts_attr();
CREATE TRIGGER target_delta_counts_attr_update AFTER UPDATE ON target_attributes FOR EACH ROW
    WHEN (NEW.attr_key = 'updraft.delta' OR OLD.attr_key = 'updraft.delta')
    EXECUTE FUNCTION target_delta_counts_attr();
CREATE TRIGGER target_delta_counts_attr_delete AFTER DELETE ON target_attributes FOR EACH ROW
    WHEN (OLD.attr_key = 'updraft.delta') EXECUTE FUNCTION target_delta_counts_attr();

-- The targets' writes, for those with the attribute (a new target has no attributes yet). The
-- delete counts the target out before the cascade removes its attributes.
CREATE FUNCTION target_delta_counts_target() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    forms TEXT;
BEGIN
    SELECT attr_value INTO forms FROM target_attributes
    WHERE target_id = OLD.id AND attr_key = 'updraft.delta';
    IF FOUND THEN
        INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
        VALUES (OLD.tenant, COALESCE(OLD.installed_ds_id, 0), COALESCE(OLD.assigned_ds_id, 0), forms, -1);
        IF TG_OP = 'UPDATE' THEN
            INSERT INTO target_delta_counts (tenant, installed_ds_id, assigned_ds_id, delta_forms, devices)
            VALUES (NEW.tenant, COALESCE(NEW.installed_ds_id, 0), COALESCE(NEW.assigned_ds_id, 0), forms, 1);
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER target_delta_counts_delete BEFORE DELETE ON targets
    FOR EACH ROW EXECUTE FUNCTION target_delta_counts_target();
-- Polls update last_poll only: the WHEN clause keeps this trigger off the poll path.
CREATE TRIGGER target_delta_counts_update AFTER UPDATE OF tenant, installed_ds_id, assigned_ds_id ON targets
    FOR EACH ROW
    WHEN (OLD.tenant IS DISTINCT FROM NEW.tenant OR OLD.installed_ds_id IS DISTINCT FROM NEW.installed_ds_id
        OR OLD.assigned_ds_id IS DISTINCT FROM NEW.assigned_ds_id)
    EXECUTE FUNCTION target_delta_counts_target();
