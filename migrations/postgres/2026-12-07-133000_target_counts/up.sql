-- The overview and fleet health count devices per update status and installed and assigned set
-- without reading every target (issue 19: each console page <= 20 ms at 100,000 devices; five
-- index walks over 100,000 targets took ~35 ms on SQLite).
--
-- target_counts holds how many of a tenant's targets have each (update status, installed set,
-- assigned set); 0 stands for no set. Triggers keep it on every write to targets, whatever path
-- made it. Readers sum `devices` per key.
--
-- Here the triggers append a -1 and a +1 row rather than update one row per key: concurrent
-- device feedback would otherwise queue on the few hot counter rows until each transaction
-- commits. The scheduler merges the rows (store::target_counts::merge).
CREATE TABLE target_counts (
    tenant TEXT NOT NULL,
    update_status TEXT NOT NULL,
    installed_ds_id BIGINT NOT NULL,
    assigned_ds_id BIGINT NOT NULL,
    devices BIGINT NOT NULL
);
CREATE INDEX target_counts_tenant ON target_counts (tenant, update_status, installed_ds_id, assigned_ds_id);
INSERT INTO target_counts (tenant, update_status, installed_ds_id, assigned_ds_id, devices)
SELECT tenant, update_status, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0), COUNT(*)
FROM targets GROUP BY tenant, update_status, COALESCE(installed_ds_id, 0), COALESCE(assigned_ds_id, 0);

CREATE FUNCTION target_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO target_counts (tenant, update_status, installed_ds_id, assigned_ds_id, devices)
        VALUES (OLD.tenant, OLD.update_status, COALESCE(OLD.installed_ds_id, 0), COALESCE(OLD.assigned_ds_id, 0), -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO target_counts (tenant, update_status, installed_ds_id, assigned_ds_id, devices)
        VALUES (NEW.tenant, NEW.update_status, COALESCE(NEW.installed_ds_id, 0), COALESCE(NEW.assigned_ds_id, 0), 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER target_counts_insert_delete AFTER INSERT OR DELETE ON targets
    FOR EACH ROW EXECUTE FUNCTION target_counts_track();
-- Polls update last_poll only: the WHEN clause keeps this trigger off the poll path.
CREATE TRIGGER target_counts_update AFTER UPDATE OF tenant, update_status, installed_ds_id, assigned_ds_id ON targets
    FOR EACH ROW
    WHEN (OLD.tenant IS DISTINCT FROM NEW.tenant OR OLD.update_status IS DISTINCT FROM NEW.update_status
        OR OLD.installed_ds_id IS DISTINCT FROM NEW.installed_ds_id OR OLD.assigned_ds_id IS DISTINCT FROM NEW.assigned_ds_id)
    EXECUTE FUNCTION target_counts_track();
-- A deleted tenant's targets leave rows summing to zero behind, which readers skip and the merge
-- drops.

-- Fleet health's devices per slot state from the devices that send the slot attributes, instead of
-- two lookups for each of the fleet's targets.
CREATE INDEX target_attributes_key ON target_attributes (attr_key, attr_value, target_id);
-- (SQLite's migration also adds a NOCASE index for RSQL's prefix matches on controllerId;
-- PostgreSQL's `UPPER(..) LIKE UPPER($1)` with a bound pattern would not use one.)
