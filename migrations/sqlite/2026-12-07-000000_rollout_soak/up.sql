-- Health-gated rollouts (an Updraft extension to hawkBit's rollouts): a rollout may set a soak time,
-- and then a device's success counts for its group only after it stayed healthy that long.
-- NULL soak_time: hawkBit's behaviour, a device counts when it reports success.
ALTER TABLE rollouts ADD COLUMN soak_time BIGINT;

-- One row per action of a rollout with a soak time, written when its group starts (pending, with
-- the device's rollback reason before the update) and when it finished (soaking: when the soak
-- ends, the slot the device booted then), and the verdict.
CREATE TABLE rollout_soaks (
    action_id BIGINT PRIMARY KEY NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    rollout_id BIGINT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES rollout_groups(id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    -- updraft.slot.booted when the soak started, updraft.rollback_reason before the update.
    booted_slot TEXT,
    rollback_reason TEXT,
    -- pending, soaking, passed or failed; a failure says why: rollback, health or silent.
    outcome TEXT NOT NULL,
    reason TEXT,
    decided_at BIGINT
);
CREATE INDEX rollout_soaks_rollout ON rollout_soaks (rollout_id, outcome);
CREATE INDEX rollout_soaks_group ON rollout_soaks (group_id, outcome);
