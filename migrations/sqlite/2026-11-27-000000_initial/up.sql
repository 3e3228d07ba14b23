-- Updraft initial schema. Times are epoch milliseconds (BIGINT), as hawkBit stores them.
-- Tenants are stored upper-cased: hawkBit treats them case-insensitively.
CREATE TABLE tenants (
    name TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tenant_configs (
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    conf_key TEXT NOT NULL,
    conf_value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    PRIMARY KEY (tenant, conf_key)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE target_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    type_key TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    colour TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (tenant, type_key),
    UNIQUE (tenant, name)
);

CREATE TABLE sm_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    type_key TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    colour TEXT,
    max_assignments INTEGER NOT NULL,
    min_artifacts INTEGER NOT NULL,
    deleted BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (tenant, type_key),
    UNIQUE (tenant, name)
);

CREATE TABLE ds_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    type_key TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    colour TEXT,
    deleted BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (tenant, type_key),
    UNIQUE (tenant, name)
);

CREATE TABLE ds_type_sm_types (
    ds_type_id BIGINT NOT NULL REFERENCES ds_types(id) ON DELETE CASCADE,
    sm_type_id BIGINT NOT NULL REFERENCES sm_types(id) ON DELETE CASCADE,
    mandatory BOOLEAN NOT NULL,
    PRIMARY KEY (ds_type_id, sm_type_id)
);

CREATE TABLE software_modules (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    sm_type_id BIGINT NOT NULL REFERENCES sm_types(id),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    vendor TEXT,
    description TEXT,
    encrypted BOOLEAN NOT NULL,
    locked BOOLEAN NOT NULL,
    deleted BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (tenant, sm_type_id, name, version)
);

CREATE TABLE sm_metadata (
    sm_id BIGINT NOT NULL REFERENCES software_modules(id) ON DELETE CASCADE,
    meta_key TEXT NOT NULL,
    meta_value TEXT NOT NULL,
    target_visible BOOLEAN NOT NULL,
    PRIMARY KEY (sm_id, meta_key)
);

CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    sm_id BIGINT NOT NULL REFERENCES software_modules(id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha1 TEXT NOT NULL,
    md5 TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (sm_id, filename)
);
CREATE INDEX artifacts_sha256 ON artifacts (sha256);

CREATE TABLE distribution_sets (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    ds_type_id BIGINT NOT NULL REFERENCES ds_types(id),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    description TEXT,
    required_migration_step BOOLEAN NOT NULL,
    locked BOOLEAN NOT NULL,
    deleted BOOLEAN NOT NULL,
    valid BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (tenant, name, version)
);

CREATE TABLE ds_modules (
    ds_id BIGINT NOT NULL REFERENCES distribution_sets(id) ON DELETE CASCADE,
    sm_id BIGINT NOT NULL REFERENCES software_modules(id),
    PRIMARY KEY (ds_id, sm_id)
);

CREATE TABLE targets (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    controller_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    security_token TEXT NOT NULL,
    address TEXT,
    last_poll BIGINT,
    update_status TEXT NOT NULL,
    assigned_ds_id BIGINT REFERENCES distribution_sets(id),
    installed_ds_id BIGINT REFERENCES distribution_sets(id),
    installation_date BIGINT,
    request_attributes BOOLEAN NOT NULL,
    target_type_id BIGINT REFERENCES target_types(id),
    auto_confirm_at BIGINT,
    auto_confirm_initiator TEXT,
    auto_confirm_remark TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL,
    UNIQUE (tenant, controller_id)
);

CREATE TABLE target_attributes (
    target_id BIGINT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    attr_key TEXT NOT NULL,
    attr_value TEXT NOT NULL,
    PRIMARY KEY (target_id, attr_key)
);

CREATE TABLE actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    ds_id BIGINT NOT NULL REFERENCES distribution_sets(id),
    active BOOLEAN NOT NULL,
    action_type TEXT NOT NULL,
    forced_time BIGINT NOT NULL,
    weight INTEGER NOT NULL,
    status TEXT NOT NULL,
    maintenance_schedule TEXT,
    maintenance_duration TEXT,
    maintenance_timezone TEXT,
    initiated_by TEXT NOT NULL,
    last_status_code INTEGER,
    external_ref TEXT,
    revision INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_modified_by TEXT NOT NULL
);
CREATE INDEX actions_target_active ON actions (target_id, active);

CREATE TABLE action_statuses (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    action_id BIGINT NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    code INTEGER
);
CREATE INDEX action_statuses_action ON action_statuses (action_id);

CREATE TABLE action_status_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    action_status_id BIGINT NOT NULL REFERENCES action_statuses(id) ON DELETE CASCADE,
    message TEXT NOT NULL
);
CREATE INDEX action_status_messages_status ON action_status_messages (action_status_id);
