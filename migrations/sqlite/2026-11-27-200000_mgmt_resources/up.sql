-- Management API resources beyond the device path: tags, metadata, target filter queries, target
-- groups, and which distribution set types a target type accepts.
ALTER TABLE targets ADD COLUMN target_group TEXT;
CREATE INDEX targets_group ON targets (tenant, target_group);

CREATE TABLE target_tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    colour TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (tenant, name)
);

CREATE TABLE target_tag_assignments (
    tag_id BIGINT NOT NULL REFERENCES target_tags(id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    PRIMARY KEY (tag_id, target_id)
);
CREATE INDEX target_tag_assignments_target ON target_tag_assignments (target_id);

CREATE TABLE ds_tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    colour TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (tenant, name)
);

CREATE TABLE ds_tag_assignments (
    tag_id BIGINT NOT NULL REFERENCES ds_tags(id) ON DELETE CASCADE,
    ds_id BIGINT NOT NULL REFERENCES distribution_sets(id) ON DELETE CASCADE,
    PRIMARY KEY (tag_id, ds_id)
);
CREATE INDEX ds_tag_assignments_ds ON ds_tag_assignments (ds_id);

CREATE TABLE target_metadata (
    target_id BIGINT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    meta_key TEXT NOT NULL,
    meta_value TEXT NOT NULL,
    PRIMARY KEY (target_id, meta_key)
);

CREATE TABLE ds_metadata (
    ds_id BIGINT NOT NULL REFERENCES distribution_sets(id) ON DELETE CASCADE,
    meta_key TEXT NOT NULL,
    meta_value TEXT NOT NULL,
    PRIMARY KEY (ds_id, meta_key)
);

CREATE TABLE target_type_ds_types (
    target_type_id BIGINT NOT NULL REFERENCES target_types(id) ON DELETE CASCADE,
    ds_type_id BIGINT NOT NULL REFERENCES ds_types(id) ON DELETE CASCADE,
    PRIMARY KEY (target_type_id, ds_type_id)
);

CREATE TABLE target_filter_queries (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    auto_assign_ds_id BIGINT REFERENCES distribution_sets(id),
    auto_assign_action_type TEXT,
    auto_assign_weight INTEGER,
    confirmation_required BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (tenant, name)
);
CREATE INDEX target_filter_queries_ds ON target_filter_queries (auto_assign_ds_id);
