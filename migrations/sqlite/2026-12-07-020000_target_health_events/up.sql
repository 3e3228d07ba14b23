-- Fleet health (docs/fleet-health.md): every change of a device's health-relevant `updraft.*`
-- attribute (rollback reason, trial outcome, booted slot, health), with the distribution set the
-- server had as installed then. A device's trial history and the fleet's "rolled back in the last
-- 24 h / 7 d" come from here; written in the transaction of the attribute update.
CREATE TABLE target_health_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    target_id BIGINT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    attr_key TEXT NOT NULL,
    -- NULL: the attribute was absent before (old) or removed (new).
    old_value TEXT,
    new_value TEXT,
    installed_ds_id BIGINT REFERENCES distribution_sets(id) ON DELETE SET NULL,
    at BIGINT NOT NULL
);
CREATE INDEX target_health_events_target ON target_health_events (target_id, id);
CREATE INDEX target_health_events_key ON target_health_events (attr_key, at);
