//! hawkBit's Management API JSON shapes (`MgmtTarget`, `MgmtAction`, `MgmtSoftwareModule`, ...).

use serde::Serialize;
use serde_json::{Value, json};

use crate::links::encode_segment;
use crate::store::models::{Action, ActionStatus, Artifact, DistributionSet, SoftwareModule, Target};

fn href(h: String) -> Value {
    json!({ "href": h })
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Audit {
    #[schema(example = "admin")]
    pub created_by: String,
    #[schema(example = 1_691_065_905_897_i64)]
    pub created_at: i64,
    #[schema(example = "admin")]
    pub last_modified_by: String,
    #[schema(example = 1_691_065_906_407_i64)]
    pub last_modified_at: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollStatus {
    #[schema(example = 1_691_065_941_102_i64)]
    pub last_request_at: i64,
    #[schema(example = 1_691_066_241_102_i64)]
    pub next_expected_request_at: i64,
    #[schema(example = false)]
    pub overdue: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtTarget {
    #[serde(flatten)]
    pub audit: Audit,
    #[schema(example = "Device 01")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Gateway in building 3")]
    pub description: Option<String>,
    #[schema(example = "device-01")]
    pub controller_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "europe/berlin")]
    pub group: Option<String>,
    #[schema(example = "in_sync")]
    pub update_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_691_065_941_102_i64)]
    pub last_controller_request_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_691_065_941_155_i64)]
    pub installed_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "192.168.0.1")]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "http://192.168.0.1")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_status: Option<PollStatus>,
    /// Only for users holding `READ_TARGET_SECURITY_TOKEN`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "38e6a19932b014040ba061795186514e")]
    pub security_token: Option<String>,
    #[schema(example = true)]
    pub request_attributes: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1)]
    pub target_type: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Raspberry Pi 4")]
    pub target_type_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = false)]
    pub auto_confirm_active: Option<bool>,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_target_links)]
    pub links: Value,
}

/// `last_poll` is the newest poll time (written or still queued); `polling`/`overdue` in ms.
pub fn target(
    t: &Target,
    base: &str,
    last_poll: Option<i64>,
    polling: i64,
    overdue: i64,
    now: i64,
    full: bool,
    confirmation_flow: bool,
) -> MgmtTarget {
    let cid = encode_segment(&t.controller_id);
    let self_href = format!("{base}/targets/{cid}");
    let links = if full {
        json!({
            "self": href(self_href.clone()),
            "assignedDS": href(format!("{self_href}/assignedDS")),
            "installedDS": href(format!("{self_href}/installedDS")),
            "attributes": href(format!("{self_href}/attributes")),
            "actions": href(format!("{self_href}/actions?offset=0&limit=50&sort=id%3ADESC")),
            "metadata": href(format!("{self_href}/metadata?offset=0&limit=50")),
            "autoConfirm": href(format!("{self_href}/autoConfirm")),
        })
    } else {
        json!({ "self": href(self_href) })
    };
    let ip = t
        .address
        .as_deref()
        .and_then(|a| a.strip_prefix("http://"))
        .map(str::to_owned);
    MgmtTarget {
        audit: Audit {
            created_by: t.created_by.clone(),
            created_at: t.created_at,
            last_modified_by: t.last_modified_by.clone(),
            last_modified_at: t.last_modified_at,
        },
        name: t.name.clone(),
        description: t.description.clone(),
        controller_id: t.controller_id.clone(),
        group: t.target_group.clone(),
        update_status: t.update_status.as_str().to_owned(),
        last_controller_request_at: last_poll,
        installed_at: t.installation_date,
        ip_address: ip,
        address: t.address.clone(),
        poll_status: last_poll.map(|last| PollStatus {
            last_request_at: last,
            next_expected_request_at: last + polling,
            overdue: now > last + polling + overdue,
        }),
        security_token: Some(t.security_token.clone()),
        request_attributes: t.request_attributes,
        target_type: t.target_type_id,
        target_type_name: None,
        auto_confirm_active: confirmation_flow.then_some(t.auto_confirm_at.is_some()),
        links,
    }
}

/// `maintenanceWindow` of an action.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MaintenanceWindow {
    #[schema(example = "0 0 3 ? * *")]
    pub schedule: String,
    #[schema(example = "02:00:00")]
    pub duration: String,
    #[schema(example = "+00:00")]
    pub timezone: String,
}

/// hawkBit's `MgmtAction`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtAction {
    #[serde(flatten)]
    pub audit: Audit,
    #[schema(example = 7)]
    pub id: i64,
    /// `update`, or `cancel` while the action is canceling or canceled.
    #[serde(rename = "type")]
    #[schema(example = "update")]
    pub kind: String,
    #[schema(example = false)]
    pub active: bool,
    #[schema(example = "finished")]
    pub status: String,
    /// hawkBit ≤ 0.9 consumers read `detailStatus`; it carries the same value as `status`.
    #[schema(example = "finished")]
    pub detail_status: String,
    #[schema(example = "forced")]
    pub force_type: String,
    /// Only for `timeforced` actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_691_065_903_238_i64)]
    pub force_time: Option<i64>,
    #[schema(example = 600)]
    pub weight: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<MaintenanceWindow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 200)]
    pub last_status_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "crm-4711")]
    pub external_ref: Option<String>,
    /// The id of the rollout that created the action, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 3)]
    pub rollout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "spring campaign")]
    pub rollout_name: Option<String>,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_action_links)]
    pub links: Value,
}

/// Which links an action carries: `self` only (compact lists) or also target, DS and status.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ActionLinks {
    SelfOnly,
    Full,
}

/// An action as JSON, with all links (the per-target action views).
pub fn action(a: &Action, controller_id: &str, ds_name: &str, base: &str, names: &RolloutNames) -> Value {
    serde_json::to_value(mgmt_action(
        a,
        controller_id,
        ds_name,
        base,
        ActionLinks::Full,
        names,
    ))
    .unwrap_or_default()
}

/// The names of the rollouts behind some actions (hawkBit's `rolloutName`), by rollout id.
pub type RolloutNames = std::collections::HashMap<i64, String>;

pub fn mgmt_action(
    a: &Action,
    controller_id: &str,
    ds_name: &str,
    base: &str,
    links: ActionLinks,
    names: &RolloutNames,
) -> MgmtAction {
    let status = a.status();
    let target_href = format!("{base}/targets/{}", encode_segment(controller_id));
    let self_href = format!("{target_href}/actions/{}", a.id);
    let mut links = match links {
        ActionLinks::SelfOnly => json!({ "self": href(self_href) }),
        ActionLinks::Full => json!({
            "self": href(self_href.clone()),
            "target": href(target_href),
            "distributionset": { "href": format!("{base}/distributionsets/{}", a.ds_id), "name": ds_name },
            "status": href(format!("{self_href}/status?offset=0&limit=50&sort=id%3ADESC")),
        }),
    };
    if let (Some(r), Some(map)) = (a.rollout_id, links.as_object_mut())
        && map.contains_key("target")
    {
        map.insert("rollout".into(), href(format!("{base}/rollouts/{r}")));
    }
    let maintenance_window = match (
        &a.maintenance_schedule,
        &a.maintenance_duration,
        &a.maintenance_timezone,
    ) {
        (Some(s), Some(d), Some(z)) => Some(MaintenanceWindow {
            schedule: s.clone(),
            duration: d.clone(),
            timezone: z.clone(),
        }),
        _ => None,
    };
    MgmtAction {
        audit: Audit {
            created_by: a.created_by.clone(),
            created_at: a.created_at,
            last_modified_by: a.last_modified_by.clone(),
            last_modified_at: a.last_modified_at,
        },
        id: a.id,
        kind: if status.is_canceling_or_canceled() {
            "cancel"
        } else {
            "update"
        }
        .to_owned(),
        active: a.active,
        status: status.as_str().to_owned(),
        detail_status: status.as_str().to_owned(),
        force_type: a.action_type.as_str().to_owned(),
        force_time: (a.action_type() == crate::store::models::ActionType::TimeForced)
            .then_some(a.forced_time),
        weight: a.weight,
        maintenance_window,
        last_status_code: a.last_status_code,
        external_ref: a.external_ref.clone(),
        rollout: a.rollout_id,
        rollout_name: a.rollout_id.and_then(|r| names.get(&r).cloned()),
        links,
    }
}

/// hawkBit's `MgmtActionStatus`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtActionStatus {
    #[schema(example = 21)]
    pub id: i64,
    /// The lowercase action status this entry reported.
    #[serde(rename = "type")]
    #[schema(example = "finished")]
    pub kind: String,
    #[schema(example = json!(["Update installed, rebooting"]))]
    pub messages: Vec<String>,
    /// When the server stored the entry.
    #[schema(example = 1_691_065_929_524_i64)]
    pub reported_at: i64,
    /// The device's time of the report.
    #[schema(example = 1_691_065_929_524_i64)]
    pub timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 200)]
    pub code: Option<i32>,
}

pub fn action_status(
    id: i64,
    status: &str,
    messages: Vec<String>,
    reported_at: i64,
    timestamp: i64,
    code: Option<i32>,
) -> Value {
    serde_json::to_value(MgmtActionStatus {
        id,
        kind: ActionStatus::parse(status).map_or_else(|| status.to_owned(), |s| s.as_str().to_owned()),
        messages,
        reported_at,
        timestamp,
        code,
    })
    .unwrap_or_default()
}

/// hawkBit's `MgmtSoftwareModule`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtSoftwareModule {
    #[serde(flatten)]
    pub audit: Audit,
    #[schema(example = "rootfs")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Root file system of the gateway image")]
    pub description: Option<String>,
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "1.0.0")]
    pub version: String,
    /// The software module type's key.
    #[serde(rename = "type")]
    #[schema(example = "os")]
    pub type_key: String,
    #[schema(example = "OS")]
    pub type_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Updraft Ltd.")]
    pub vendor: Option<String>,
    #[schema(example = false)]
    pub encrypted: bool,
    #[schema(example = true)]
    pub locked: bool,
    #[schema(example = false)]
    pub deleted: bool,
    #[schema(example = true)]
    pub complete: bool,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_software_module_links)]
    pub links: Value,
}

pub fn software_module(
    sm: &SoftwareModule,
    type_key: &str,
    type_name: &str,
    complete: bool,
    base: &str,
) -> MgmtSoftwareModule {
    let self_href = format!("{base}/softwaremodules/{}", sm.id);
    MgmtSoftwareModule {
        audit: Audit {
            created_by: sm.created_by.clone(),
            created_at: sm.created_at,
            last_modified_by: sm.last_modified_by.clone(),
            last_modified_at: sm.last_modified_at,
        },
        name: sm.name.clone(),
        description: sm.description.clone(),
        id: sm.id,
        version: sm.version.clone(),
        type_key: type_key.to_owned(),
        type_name: type_name.to_owned(),
        vendor: sm.vendor.clone(),
        encrypted: sm.encrypted,
        locked: sm.locked,
        deleted: sm.deleted,
        complete,
        links: json!({
            "self": href(self_href.clone()),
            "artifacts": href(format!("{self_href}/artifacts")),
            "type": href(format!("{base}/softwaremoduletypes/{}", sm.sm_type_id)),
            "metadata": href(format!("{self_href}/metadata?offset=0&limit=50")),
        }),
    }
}

/// An artifact's checksums.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ArtifactHashes {
    #[schema(example = "f508d923bc9c11fee6c3d132d92e795839c6c4c6")]
    pub sha1: String,
    #[schema(example = "bacad3f53debf7466f8f10a8de430526")]
    pub md5: String,
    #[schema(example = "bac821ddfad573f5c0fd0e4bbd9bb24c34e9b36a8444171df37285771d69eae8")]
    pub sha256: String,
}

/// hawkBit's `MgmtArtifact`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtArtifact {
    #[serde(flatten)]
    pub audit: Audit,
    #[schema(example = 1)]
    pub id: i64,
    pub hashes: ArtifactHashes,
    #[schema(example = "rootfs.img")]
    pub provided_filename: String,
    #[schema(example = 10_485_760)]
    pub size: i64,
    /// `self`, and `download` unless listed in the compact representation.
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_artifact_links)]
    pub links: Value,
}

/// `download` adds the download link (single artifacts and the `full` list representation).
pub fn artifact(a: &Artifact, base: &str, download: bool) -> MgmtArtifact {
    let self_href = format!("{base}/softwaremodules/{}/artifacts/{}", a.sm_id, a.id);
    let links = if download {
        json!({ "self": href(self_href.clone()), "download": href(format!("{self_href}/download")) })
    } else {
        json!({ "self": href(self_href) })
    };
    MgmtArtifact {
        audit: Audit {
            created_by: a.created_by.clone(),
            created_at: a.created_at,
            last_modified_by: a.last_modified_by.clone(),
            last_modified_at: a.last_modified_at,
        },
        id: a.id,
        hashes: ArtifactHashes {
            sha1: a.sha1.clone(),
            md5: a.md5.clone(),
            sha256: a.sha256.clone(),
        },
        provided_filename: a.filename.clone(),
        size: a.size,
        links,
    }
}

/// hawkBit's `MgmtDistributionSet`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtDistributionSet {
    #[serde(flatten)]
    pub audit: Audit,
    #[schema(example = "gateway")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Gateway firmware")]
    pub description: Option<String>,
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "1.0.0")]
    pub version: String,
    pub modules: Vec<MgmtSoftwareModule>,
    #[schema(example = false)]
    pub required_migration_step: bool,
    /// The distribution set type's key.
    #[serde(rename = "type")]
    #[schema(example = "os")]
    pub type_key: String,
    #[schema(example = "OS only")]
    pub type_name: String,
    #[schema(example = true)]
    pub complete: bool,
    #[schema(example = true)]
    pub locked: bool,
    #[schema(example = false)]
    pub deleted: bool,
    #[schema(example = true)]
    pub valid: bool,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_distribution_set_links)]
    pub links: Value,
}

pub fn distribution_set(
    ds: &DistributionSet,
    type_key: &str,
    type_name: &str,
    modules: Vec<MgmtSoftwareModule>,
    complete: bool,
    base: &str,
) -> MgmtDistributionSet {
    let self_href = format!("{base}/distributionsets/{}", ds.id);
    MgmtDistributionSet {
        audit: Audit {
            created_by: ds.created_by.clone(),
            created_at: ds.created_at,
            last_modified_by: ds.last_modified_by.clone(),
            last_modified_at: ds.last_modified_at,
        },
        name: ds.name.clone(),
        description: ds.description.clone(),
        id: ds.id,
        version: ds.version.clone(),
        modules,
        required_migration_step: ds.required_migration_step,
        type_key: type_key.to_owned(),
        type_name: type_name.to_owned(),
        complete,
        locked: ds.locked,
        deleted: ds.deleted,
        valid: ds.valid,
        links: json!({
            "self": href(self_href.clone()),
            "modules": href(format!("{self_href}/assignedSM?offset=0&limit=50")),
            "type": href(format!("{base}/distributionsettypes/{}", ds.ds_type_id)),
            "metadata": href(format!("{self_href}/metadata?offset=0&limit=50")),
        }),
    }
}
