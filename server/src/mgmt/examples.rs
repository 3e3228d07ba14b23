//! Examples for the OpenAPI document where a `#[schema(example = ...)]` cannot carry them: bodies
//! declared as free-form objects (rendered from `serde_json::Value`) and fields of type `Value`, so
//! that a reader of the document still sees their shape.

use serde_json::{Value, json};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType};

const BASE: &str = "https://updraft.example.com/rest/v1";

/// hawkBit's `MgmtDistributionSet` holding one software module.
pub fn distribution_set() -> Value {
    json!({
        "createdBy": "admin",
        "createdAt": 1_691_065_905_897_i64,
        "lastModifiedBy": "admin",
        "lastModifiedAt": 1_691_065_906_407_i64,
        "name": "gateway",
        "description": "Gateway firmware",
        "id": 1,
        "version": "1.0.0",
        "modules": [software_module()],
        "requiredMigrationStep": false,
        "type": "os",
        "typeName": "OS only",
        "complete": true,
        "locked": true,
        "deleted": false,
        "valid": true,
        "_links": {
            "self": { "href": format!("{BASE}/distributionsets/1") },
            "modules": { "href": format!("{BASE}/distributionsets/1/assignedSM?offset=0&limit=50") },
            "type": { "href": format!("{BASE}/distributionsettypes/1") },
            "metadata": { "href": format!("{BASE}/distributionsets/1/metadata?offset=0&limit=50") },
        },
    })
}

/// One page (hawkBit's `PagedList`) holding [`distribution_set`].
pub fn distribution_set_page() -> Value {
    json!({ "content": [distribution_set()], "total": 1, "size": 1 })
}

fn software_module() -> Value {
    json!({
        "createdBy": "admin",
        "createdAt": 1_691_065_905_897_i64,
        "lastModifiedBy": "admin",
        "lastModifiedAt": 1_691_065_906_407_i64,
        "name": "rootfs",
        "description": "Root file system of the gateway image",
        "id": 1,
        "version": "1.0.0",
        "type": "os",
        "typeName": "OS",
        "vendor": "Updraft Ltd.",
        "encrypted": false,
        "locked": true,
        "deleted": false,
        "complete": true,
        "_links": {
            "self": { "href": format!("{BASE}/softwaremodules/1") },
            "artifacts": { "href": format!("{BASE}/softwaremodules/1/artifacts") },
            "type": { "href": format!("{BASE}/softwaremoduletypes/1") },
            "metadata": { "href": format!("{BASE}/softwaremodules/1/metadata?offset=0&limit=50") },
        },
    })
}

/// The schema utoipa gives a `Value` field (any JSON value), with a description and an example.
/// `example` (deprecated by OpenAPI 3.1 for `examples`) is what every other field of the document carries.
#[allow(deprecated)]
fn any_value(description: Option<&str>, example: Value) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(description)
        .example(Some(example))
        .build()
}

// Schemas for fields of type `serde_json::Value`: utoipa drops `example` on those, so these build the
// any-value schema with its description and example by hand.

pub fn mgmt_target_links() -> Object {
    any_value(
        None,
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01"
            },
            "assignedDS": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/assignedDS"
            },
            "installedDS": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/installedDS"
            },
            "attributes": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/attributes"
            },
            "actions": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/actions?offset=0&limit=50&sort=id%3ADESC"
            },
            "metadata": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/metadata?offset=0&limit=50"
            },
            "autoConfirm": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/autoConfirm"
            }
        }),
    )
}

pub fn mgmt_action_links() -> Object {
    any_value(
        None,
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/actions/7"
            },
            "target": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01"
            },
            "distributionset": {
                "href": "https://updraft.example.com/rest/v1/distributionsets/1",
                "name": "gateway"
            },
            "status": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/actions/7/status?offset=0&limit=50&sort=id%3ADESC"
            }
        }),
    )
}

pub fn mgmt_software_module_links() -> Object {
    any_value(
        None,
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/softwaremodules/1"
            },
            "artifacts": {
                "href": "https://updraft.example.com/rest/v1/softwaremodules/1/artifacts"
            },
            "type": {
                "href": "https://updraft.example.com/rest/v1/softwaremoduletypes/1"
            },
            "metadata": {
                "href": "https://updraft.example.com/rest/v1/softwaremodules/1/metadata?offset=0&limit=50"
            }
        }),
    )
}

pub fn mgmt_artifact_links() -> Object {
    any_value(
        Some("`self`, and `download` unless listed in the compact representation."),
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/softwaremodules/1/artifacts/1"
            },
            "download": {
                "href": "https://updraft.example.com/rest/v1/softwaremodules/1/artifacts/1/download"
            }
        }),
    )
}

pub fn mgmt_distribution_set_links() -> Object {
    any_value(
        None,
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/distributionsets/1"
            },
            "modules": {
                "href": "https://updraft.example.com/rest/v1/distributionsets/1/assignedSM?offset=0&limit=50"
            },
            "type": {
                "href": "https://updraft.example.com/rest/v1/distributionsettypes/1"
            },
            "metadata": {
                "href": "https://updraft.example.com/rest/v1/distributionsets/1/metadata?offset=0&limit=50"
            }
        }),
    )
}

pub fn assigned_action_links() -> Object {
    any_value(
        None,
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/actions/7"
            }
        }),
    )
}

pub fn mgmt_target_filter_query_links() -> Object {
    any_value(
        None,
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/targetfilters/2"
            },
            "autoAssignDS": {
                "href": "https://updraft.example.com/rest/v1/targetfilters/2/autoAssignDS"
            }
        }),
    )
}

pub fn mgmt_distribution_set_type_links() -> Object {
    any_value(
        Some("`self`, `mandatorymodules` and `optionalmodules`."),
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/distributionsettypes/1"
            },
            "mandatorymodules": {
                "href": "https://updraft.example.com/rest/v1/distributionsettypes/1/mandatorymoduletypes"
            },
            "optionalmodules": {
                "href": "https://updraft.example.com/rest/v1/distributionsettypes/1/optionalmoduletypes"
            }
        }),
    )
}

pub fn mgmt_software_module_type_links() -> Object {
    any_value(
        Some("`self`."),
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/softwaremoduletypes/1"
            }
        }),
    )
}

pub fn mgmt_tag_links() -> Object {
    any_value(
        Some("`self` and `assignedTargets` (target tags) or `assignedDistributionSets` (DS tags)."),
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/targettags/1"
            },
            "assignedTargets": {
                "href": "https://updraft.example.com/rest/v1/targettags/1/assigned?offset=0&limit=50"
            }
        }),
    )
}

pub fn mgmt_target_type_links() -> Object {
    any_value(
        Some("`self` and `compatibledistributionsettypes`."),
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/targettypes/1"
            },
            "compatibledistributionsettypes": {
                "href": "https://updraft.example.com/rest/v1/targettypes/1/compatibledistributionsettypes"
            }
        }),
    )
}

pub fn auto_confirm_state_links() -> Object {
    any_value(
        None,
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/autoConfirm"
            },
            "deactivate": {
                "href": "https://updraft.example.com/rest/v1/targets/device-01/autoConfirm/deactivate"
            }
        }),
    )
}

pub fn config_value_value() -> Object {
    any_value(
        Some("A boolean, string or number, depending on the key."),
        json!("00:05:00"),
    )
}

pub fn config_value_links() -> Object {
    any_value(
        None,
        json!({
            "self": {
                "href": "https://updraft.example.com/rest/v1/system/configs/pollingTime"
            }
        }),
    )
}

pub fn value_body_value() -> Object {
    any_value(
        Some("A boolean, string or number, depending on the key."),
        json!("00:05:00"),
    )
}

pub fn exception_info_info() -> Object {
    any_value(
        Some("Details some errors add, e.g. the entity and id that was not found."),
        json!({
            "entityId": "device-01",
            "type": "Target"
        }),
    )
}

pub fn mgmt_rollout_links() -> Object {
    any_value(
        Some(
            "`self`, the state changes (`start`, `pause`, `resume`, `triggerNextGroup`, `approve`, `deny`), `groups` and `distributionset`.",
        ),
        json!({
            "self": { "href": format!("{BASE}/rollouts/3") },
            "start": { "href": format!("{BASE}/rollouts/3/start") },
            "pause": { "href": format!("{BASE}/rollouts/3/pause") },
            "resume": { "href": format!("{BASE}/rollouts/3/resume") },
            "triggerNextGroup": { "href": format!("{BASE}/rollouts/3/triggerNextGroup") },
            "approve": { "href": format!("{BASE}/rollouts/3/approve") },
            "deny": { "href": format!("{BASE}/rollouts/3/deny") },
            "groups": { "href": format!("{BASE}/rollouts/3/deploygroups?offset=0&limit=50") },
            "distributionset": { "href": format!("{BASE}/distributionsets/1"), "name": "gateway:1.0.0" },
        }),
    )
}

pub fn mgmt_rollout_group_links() -> Object {
    any_value(
        None,
        json!({ "self": { "href": format!("{BASE}/rollouts/3/deploygroups/7") } }),
    )
}

pub fn total_targets_per_status() -> Object {
    any_value(
        Some("Targets per status: running, notstarted, scheduled, cancelled, finished and error."),
        json!({ "running": 4, "notstarted": 0, "scheduled": 10, "cancelled": 0, "finished": 5, "error": 1 }),
    )
}
