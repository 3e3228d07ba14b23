//! The searchable and sortable fields of each entity (hawkBit's `*Fields` enums).

use super::Entity;

pub static TARGETS: Entity = Entity {
    table: "targets",
    default_order: "targets.controller_id ASC",
};
pub static TARGET_TYPES: Entity = Entity {
    table: "target_types",
    default_order: "target_types.id ASC",
};
pub static TARGET_TAGS: Entity = Entity {
    table: "target_tags",
    default_order: "target_tags.id ASC",
};
pub static TARGET_FILTER_QUERIES: Entity = Entity {
    table: "target_filter_queries",
    default_order: "target_filter_queries.id ASC",
};
pub static DISTRIBUTION_SETS: Entity = Entity {
    table: "distribution_sets",
    default_order: "distribution_sets.id ASC",
};
pub static DS_TYPES: Entity = Entity {
    table: "ds_types",
    default_order: "ds_types.id ASC",
};
pub static DS_TAGS: Entity = Entity {
    table: "ds_tags",
    default_order: "ds_tags.id ASC",
};
pub static SOFTWARE_MODULES: Entity = Entity {
    table: "software_modules",
    default_order: "software_modules.id ASC",
};
pub static SM_TYPES: Entity = Entity {
    table: "sm_types",
    default_order: "sm_types.id ASC",
};
pub static ACTIONS: Entity = Entity {
    table: "actions",
    default_order: "actions.id DESC",
};
pub static ACTION_STATUSES: Entity = Entity {
    table: "action_statuses",
    default_order: "action_statuses.id DESC",
};
