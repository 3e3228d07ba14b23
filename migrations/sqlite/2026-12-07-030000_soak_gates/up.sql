-- Health gates and soak time for auto-assignments (Updraft extensions; docs/fleet-health.md).
-- A rollout with a soak time may name a health gate: RSQL over targets that a soaking device must
-- keep matching. NULL: no gate.
ALTER TABLE rollouts ADD COLUMN health_gate TEXT;

-- A target filter's auto-assignment may set a soak time, a health gate and the percentage of
-- failed soaks that pauses it; a paused auto-assignment assigns nothing until it is set again.
ALTER TABLE target_filter_queries ADD COLUMN auto_assign_soak_time BIGINT;
ALTER TABLE target_filter_queries ADD COLUMN auto_assign_health_gate TEXT;
ALTER TABLE target_filter_queries ADD COLUMN auto_assign_soak_error_threshold INTEGER;
ALTER TABLE target_filter_queries ADD COLUMN auto_assign_paused_at BIGINT;
ALTER TABLE target_filter_queries ADD COLUMN auto_assign_pause_reason TEXT;

-- One row per action an auto-assignment with a soak time created, as rollout_soaks for rollouts:
-- pending (with the device's rollback reason before the update) until the action finished,
-- soaking until ends_at, then passed or failed (rollback, health, gate, silent or error).
CREATE TABLE auto_assign_soaks (
    action_id BIGINT PRIMARY KEY NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    filter_id BIGINT NOT NULL REFERENCES target_filter_queries(id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    booted_slot TEXT,
    rollback_reason TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    decided_at BIGINT
);
CREATE INDEX auto_assign_soaks_filter ON auto_assign_soaks (filter_id, outcome);
