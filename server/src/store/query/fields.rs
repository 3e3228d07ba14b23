//! The searchable and sortable fields of each entity (hawkBit's `*Fields` enums), mapped onto our
//! schema. Names are matched case-insensitively; only [`Path::Column`] fields are sortable. A bare
//! `type` means `type.key`, as in hawkBit.

use super::{Entity, Field, Path, Ty};

const fn col(name: &'static str, column: &'static str, ty: Ty) -> Field {
    Field {
        name,
        path: Path::Column {
            column,
            ty,
            nullable: false,
        },
    }
}

const fn opt(name: &'static str, column: &'static str, ty: Ty) -> Field {
    Field {
        name,
        path: Path::Column {
            column,
            ty,
            nullable: true,
        },
    }
}

/// A field of the row that `fk` points to in `table`.
const fn via(
    name: &'static str,
    fk: &'static str,
    nullable: bool,
    table: &'static str,
    then: &'static Path,
) -> Field {
    Field {
        name,
        path: Path::Ref {
            fk,
            nullable,
            table,
            then,
        },
    }
}

/// A field of any row linked through the join table `link` (`link.owner` = this row's id,
/// `link.fk` = the other row's id in `table`).
const fn linked(
    name: &'static str,
    link: &'static str,
    owner: &'static str,
    fk: &'static str,
    table: &'static str,
    then: &'static Path,
) -> Field {
    Field {
        name,
        path: Path::Link {
            link,
            owner,
            fk,
            table,
            then,
        },
    }
}

/// `<name>.<key>`: the value stored under `key` in a key/value table owned by this row.
const fn map(
    name: &'static str,
    table: &'static str,
    owner: &'static str,
    key: &'static str,
    value: &'static str,
) -> Field {
    Field {
        name,
        path: Path::Map {
            table,
            owner,
            key,
            value,
        },
    }
}

const fn text(column: &'static str) -> Path {
    Path::Column {
        column,
        ty: Ty::Text,
        nullable: false,
    }
}

const fn int(column: &'static str) -> Path {
    Path::Column {
        column,
        ty: Ty::Int,
        nullable: false,
    }
}

const UPDATE_STATUS: Ty = Ty::Enum(&["unknown", "registered", "pending", "in_sync", "error"]);
const ACTION_STATUS: Ty = Ty::Enum(&[
    "finished",
    "error",
    "warning",
    "running",
    "canceled",
    "canceling",
    "retrieved",
    "download",
    "scheduled",
    "cancel_rejected",
    "downloaded",
    "wait_for_confirmation",
]);

/// `createdAt`, `createdBy`, `lastModifiedAt`, `lastModifiedBy`.
macro_rules! audit {
    () => {
        [
            col("createdAt", "created_at", Ty::Int),
            col("createdBy", "created_by", Ty::Text),
            col("lastModifiedAt", "last_modified_at", Ty::Int),
            col("lastModifiedBy", "last_modified_by", Ty::Text),
        ]
    };
}

/// Fields shared by target, DS and SM types: `id`, `key`, `name`, `description`, audit.
macro_rules! type_fields {
    ($($extra:expr),*) => {
        &[
            col("id", "id", Ty::Int),
            col("key", "type_key", Ty::Text),
            col("name", "name", Ty::Text),
            opt("description", "description", Ty::Text),
            $($extra,)*
            audit!()[0], audit!()[1], audit!()[2], audit!()[3],
        ]
    };
}

/// Fields shared by target and DS tags.
macro_rules! tag_fields {
    ($($extra:expr),*) => {
        &[
            col("id", "id", Ty::Int),
            col("name", "name", Ty::Text),
            opt("description", "description", Ty::Text),
            opt("colour", "colour", Ty::Text),
            $($extra,)*
            audit!()[0], audit!()[1], audit!()[2], audit!()[3],
        ]
    };
}

pub static TARGETS: Entity = Entity {
    table: "targets",
    default_order: "targets.controller_id ASC",
    tiebreak: "id",
    fields: &[
        col("id", "controller_id", Ty::Text),
        col("controllerId", "controller_id", Ty::Text),
        col("name", "name", Ty::Text),
        opt("description", "description", Ty::Text),
        col("updateStatus", "update_status", UPDATE_STATUS),
        opt("ipAddress", "address", Ty::Text),
        opt("address", "address", Ty::Text),
        opt("group", "target_group", Ty::Text),
        map(
            "attribute",
            "target_attributes",
            "target_id",
            "attr_key",
            "attr_value",
        ),
        map(
            "metadata",
            "target_metadata",
            "target_id",
            "meta_key",
            "meta_value",
        ),
        linked(
            "tag",
            "target_tag_assignments",
            "target_id",
            "tag_id",
            "target_tags",
            &text("name"),
        ),
        linked(
            "tag.name",
            "target_tag_assignments",
            "target_id",
            "tag_id",
            "target_tags",
            &text("name"),
        ),
        // Updraft: the devices of one rollout group (the web UI's group rows link to them).
        linked(
            "rolloutGroup.id",
            "rollout_targets",
            "target_id",
            "group_id",
            "rollout_groups",
            &int("id"),
        ),
        via(
            "assignedDS.name",
            "assigned_ds_id",
            true,
            "distribution_sets",
            &text("name"),
        ),
        via(
            "assignedDS.version",
            "assigned_ds_id",
            true,
            "distribution_sets",
            &text("version"),
        ),
        via(
            "installedDS.name",
            "installed_ds_id",
            true,
            "distribution_sets",
            &text("name"),
        ),
        via(
            "installedDS.version",
            "installed_ds_id",
            true,
            "distribution_sets",
            &text("version"),
        ),
        opt("lastControllerRequestAt", "last_poll", Ty::Int),
        opt("installedAt", "installation_date", Ty::Int),
        opt("type.id", "target_type_id", Ty::Int),
        via("type", "target_type_id", true, "target_types", &text("type_key")),
        via(
            "type.key",
            "target_type_id",
            true,
            "target_types",
            &text("type_key"),
        ),
        via("type.name", "target_type_id", true, "target_types", &text("name")),
        opt("targetType.id", "target_type_id", Ty::Int),
        via(
            "targetType.key",
            "target_type_id",
            true,
            "target_types",
            &text("type_key"),
        ),
        via(
            "targetType.name",
            "target_type_id",
            true,
            "target_types",
            &text("name"),
        ),
        col("autoConfirm", "auto_confirm_at", Ty::Present),
        audit!()[0],
        audit!()[1],
        audit!()[2],
        audit!()[3],
    ],
};
pub static TARGET_TYPES: Entity = Entity {
    table: "target_types",
    default_order: "target_types.id ASC",
    tiebreak: "id",
    fields: type_fields!(),
};
pub static TARGET_TAGS: Entity = Entity {
    table: "target_tags",
    default_order: "target_tags.id ASC",
    tiebreak: "id",
    fields: tag_fields!(),
};
pub static TARGET_FILTER_QUERIES: Entity = Entity {
    table: "target_filter_queries",
    default_order: "target_filter_queries.id ASC",
    tiebreak: "id",
    fields: &[
        col("id", "id", Ty::Int),
        col("name", "name", Ty::Text),
        via(
            "autoAssignDistributionSet.name",
            "auto_assign_ds_id",
            true,
            "distribution_sets",
            &text("name"),
        ),
        via(
            "autoAssignDistributionSet.version",
            "auto_assign_ds_id",
            true,
            "distribution_sets",
            &text("version"),
        ),
        audit!()[0],
        audit!()[1],
        audit!()[2],
        audit!()[3],
    ],
};
pub static DISTRIBUTION_SETS: Entity = Entity {
    table: "distribution_sets",
    default_order: "distribution_sets.id ASC",
    tiebreak: "id",
    fields: &[
        col("id", "id", Ty::Int),
        col("name", "name", Ty::Text),
        opt("description", "description", Ty::Text),
        col("version", "version", Ty::Text),
        col("type.id", "ds_type_id", Ty::Int),
        via("type", "ds_type_id", false, "ds_types", &text("type_key")),
        via("type.key", "ds_type_id", false, "ds_types", &text("type_key")),
        via("type.name", "ds_type_id", false, "ds_types", &text("name")),
        linked(
            "module.id",
            "ds_modules",
            "ds_id",
            "sm_id",
            "software_modules",
            &int("id"),
        ),
        linked(
            "module.name",
            "ds_modules",
            "ds_id",
            "sm_id",
            "software_modules",
            &text("name"),
        ),
        linked(
            "tag",
            "ds_tag_assignments",
            "ds_id",
            "tag_id",
            "ds_tags",
            &text("name"),
        ),
        linked(
            "tag.name",
            "ds_tag_assignments",
            "ds_id",
            "tag_id",
            "ds_tags",
            &text("name"),
        ),
        map("metadata", "ds_metadata", "ds_id", "meta_key", "meta_value"),
        col("valid", "valid", Ty::Bool),
        col("requiredMigrationStep", "required_migration_step", Ty::Bool),
        audit!()[0],
        audit!()[1],
        audit!()[2],
        audit!()[3],
    ],
};
pub static DS_TYPES: Entity = Entity {
    table: "ds_types",
    default_order: "ds_types.id ASC",
    tiebreak: "id",
    fields: type_fields!(),
};
pub static DS_TAGS: Entity = Entity {
    table: "ds_tags",
    default_order: "ds_tags.id ASC",
    tiebreak: "id",
    fields: tag_fields!(
        linked(
            "distributionSet.id",
            "ds_tag_assignments",
            "tag_id",
            "ds_id",
            "distribution_sets",
            &int("id")
        ),
        linked(
            "distributionSet.name",
            "ds_tag_assignments",
            "tag_id",
            "ds_id",
            "distribution_sets",
            &text("name")
        )
    ),
};
pub static SOFTWARE_MODULES: Entity = Entity {
    table: "software_modules",
    default_order: "software_modules.id ASC",
    tiebreak: "id",
    fields: &[
        col("id", "id", Ty::Int),
        col("name", "name", Ty::Text),
        opt("description", "description", Ty::Text),
        col("version", "version", Ty::Text),
        opt("vendor", "vendor", Ty::Text),
        col("type.id", "sm_type_id", Ty::Int),
        via("type", "sm_type_id", false, "sm_types", &text("type_key")),
        via("type.key", "sm_type_id", false, "sm_types", &text("type_key")),
        via("type.name", "sm_type_id", false, "sm_types", &text("name")),
        map("metadata", "sm_metadata", "sm_id", "meta_key", "meta_value"),
        audit!()[0],
        audit!()[1],
        audit!()[2],
        audit!()[3],
    ],
};
pub static SM_TYPES: Entity = Entity {
    table: "sm_types",
    default_order: "sm_types.id ASC",
    tiebreak: "id",
    fields: type_fields!(col("maxAssignments", "max_assignments", Ty::Int)),
};

/// `target.*` of an action: the target row.
const fn action_target(name: &'static str, then: &'static Path) -> Field {
    via(name, "target_id", false, "targets", then)
}

pub static ACTIONS: Entity = Entity {
    table: "actions",
    default_order: "actions.id DESC",
    tiebreak: "id",
    fields: &[
        col("id", "id", Ty::Int),
        col("active", "active", Ty::Bool),
        col("status", "status", ACTION_STATUS),
        opt("lastStatusCode", "last_status_code", Ty::Int),
        col("weight", "weight", Ty::Int),
        opt("externalRef", "external_ref", Ty::Text),
        action_target("target.id", &text("controller_id")),
        action_target("target.controllerId", &text("controller_id")),
        action_target("target.name", &text("name")),
        action_target(
            "target.updateStatus",
            &Path::Column {
                column: "update_status",
                ty: UPDATE_STATUS,
                nullable: false,
            },
        ),
        action_target(
            "target.ipAddress",
            &Path::Column {
                column: "address",
                ty: Ty::Text,
                nullable: true,
            },
        ),
        col("distributionSet.id", "ds_id", Ty::Int),
        via(
            "distributionSet.name",
            "ds_id",
            false,
            "distribution_sets",
            &text("name"),
        ),
        via(
            "distributionSet.version",
            "ds_id",
            false,
            "distribution_sets",
            &text("version"),
        ),
        via(
            "distributionSet.type",
            "ds_id",
            false,
            "distribution_sets",
            &Path::Ref {
                fk: "ds_type_id",
                nullable: false,
                table: "ds_types",
                then: &text("type_key"),
            },
        ),
        opt("rollout.id", "rollout_id", Ty::Int),
        via("rollout.name", "rollout_id", true, "rollouts", &text("name")),
        opt("rolloutGroup.id", "rollout_group_id", Ty::Int),
        via(
            "rolloutGroup.name",
            "rollout_group_id",
            true,
            "rollout_groups",
            &text("name"),
        ),
        audit!()[0],
        audit!()[1],
        audit!()[2],
        audit!()[3],
    ],
};
pub static ACTION_STATUSES: Entity = Entity {
    table: "action_statuses",
    default_order: "action_statuses.id DESC",
    tiebreak: "id",
    fields: &[
        col("id", "id", Ty::Int),
        col("timestamp", "occurred_at", Ty::Int),
        col("reportedAt", "created_at", Ty::Int),
        col("createdAt", "created_at", Ty::Int),
    ],
};

/// Metadata entries (hawkBit's `*MetadataFields`): listed per owner, so the key tells them apart.
macro_rules! metadata {
    ($table:literal $(, $extra:expr)*) => {
        Entity {
            table: $table,
            default_order: concat!($table, ".meta_key ASC"),
            tiebreak: "meta_key",
            fields: &[
                col("key", "meta_key", Ty::Text),
                col("value", "meta_value", Ty::Text),
                $($extra,)*
            ],
        }
    };
}

pub static TARGET_METADATA: Entity = metadata!("target_metadata");
pub static DS_METADATA: Entity = metadata!("ds_metadata");
pub static SM_METADATA: Entity = metadata!("sm_metadata", col("targetVisible", "target_visible", Ty::Bool));

const ROLLOUT_STATUS: Ty = Ty::Enum(&[
    "creating",
    "ready",
    "waiting_for_approval",
    "approval_denied",
    "starting",
    "running",
    "paused",
    "stopping",
    "stopped",
    "finished",
    "deleting",
    "deleted",
]);

pub static ROLLOUTS: Entity = Entity {
    table: "rollouts",
    default_order: "rollouts.id ASC",
    tiebreak: "id",
    fields: &[
        col("id", "id", Ty::Int),
        col("name", "name", Ty::Text),
        opt("description", "description", Ty::Text),
        col("status", "status", ROLLOUT_STATUS),
        col("distributionSet.id", "ds_id", Ty::Int),
        via(
            "distributionSet.name",
            "ds_id",
            false,
            "distribution_sets",
            &text("name"),
        ),
        via(
            "distributionSet.version",
            "ds_id",
            false,
            "distribution_sets",
            &text("version"),
        ),
        audit!()[0],
        audit!()[1],
        audit!()[2],
        audit!()[3],
    ],
};

pub static ROLLOUT_GROUPS: Entity = Entity {
    table: "rollout_groups",
    default_order: "rollout_groups.position ASC",
    tiebreak: "id",
    fields: &[
        col("id", "id", Ty::Int),
        col("name", "name", Ty::Text),
        opt("description", "description", Ty::Text),
        audit!()[0],
        audit!()[1],
        audit!()[2],
        audit!()[3],
    ],
};
