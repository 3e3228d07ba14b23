-- Rollouts (hawkBit's staged campaigns), their groups and which targets each group holds; the
-- rollout and group of every action a rollout created; and the work queues of the scheduler
-- (targets whose auto-assignment is still to be checked).
CREATE TABLE rollouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    target_filter TEXT NOT NULL,
    ds_id BIGINT NOT NULL REFERENCES distribution_sets(id),
    status TEXT NOT NULL,
    action_type TEXT NOT NULL,
    forced_time BIGINT NOT NULL,
    weight INTEGER NOT NULL,
    start_at BIGINT,
    confirmation_required BOOLEAN NOT NULL,
    is_dynamic BOOLEAN NOT NULL,
    -- JSON: the dynamic group template ({"nameSuffix", "targetCount"}), when dynamic.
    dynamic_template TEXT,
    -- JSON: the rollout's default success/error conditions and actions.
    conditions TEXT NOT NULL,
    total_targets BIGINT NOT NULL,
    approval_remark TEXT,
    approve_decided_by TEXT,
    deleted BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL
);
CREATE INDEX rollouts_tenant_status ON rollouts (tenant, status);

CREATE TABLE rollout_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    rollout_id BIGINT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    target_filter TEXT,
    target_percentage DOUBLE NOT NULL,
    confirmation_required BOOLEAN NOT NULL,
    conditions TEXT NOT NULL,
    status TEXT NOT NULL,
    total_targets BIGINT NOT NULL,
    is_dynamic BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (rollout_id, position)
);

CREATE TABLE rollout_targets (
    group_id BIGINT NOT NULL REFERENCES rollout_groups(id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, target_id)
);
CREATE INDEX rollout_targets_target ON rollout_targets (target_id);

ALTER TABLE actions ADD COLUMN rollout_id BIGINT REFERENCES rollouts(id) ON DELETE SET NULL;
ALTER TABLE actions ADD COLUMN rollout_group_id BIGINT REFERENCES rollout_groups(id) ON DELETE SET NULL;
CREATE INDEX actions_rollout_group ON actions (rollout_group_id, status);
CREATE INDEX actions_rollout ON actions (rollout_id);
-- The timeout and retention sweeps look at active, respectively finished, actions by age.
CREATE INDEX actions_active_modified ON actions (active, last_modified_at);

-- Set in the transaction that registers a target or changes its attributes, cleared by the
-- auto-assigner that checked it against the tenant's auto-assigning filters.
ALTER TABLE targets ADD COLUMN auto_assign_pending BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX targets_auto_assign_pending ON targets (auto_assign_pending);
-- Set when a filter's auto-assignment changes: the next run checks every target once.
ALTER TABLE target_filter_queries ADD COLUMN auto_assign_pending BOOLEAN NOT NULL DEFAULT FALSE;
