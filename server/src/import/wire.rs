//! hawkBit's Management API JSON as the import reads it: only the fields it uses, each optional
//! where some hawkBit version leaves it out, and unknown fields ignored.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::store::import::Audit;

/// One page of a list (`PagedList`).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Paged<T> {
    #[serde(default = "Vec::new", deserialize_with = "null_default")]
    pub content: Vec<T>,
    #[serde(default)]
    pub total: u64,
}

/// The audit fields every entity carries.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Audited {
    pub created_by: Option<String>,
    pub created_at: Option<i64>,
    pub last_modified_by: Option<String>,
    pub last_modified_at: Option<i64>,
}

impl Audited {
    /// The audit fields, with `now` and "import" where the source left them out.
    pub fn audit(&self, now: i64) -> Audit {
        let created_at = self.created_at.unwrap_or(now);
        let created_by = self.created_by.clone().unwrap_or_else(|| "import".into());
        Audit {
            created_at,
            last_modified_at: self.last_modified_at.unwrap_or(created_at),
            last_modified_by: self
                .last_modified_by
                .clone()
                .unwrap_or_else(|| created_by.clone()),
            created_by,
        }
    }
}

/// A link (`{"href": …}`) of `_links`.
#[derive(Debug, Default, Deserialize)]
pub struct Link {
    #[serde(default)]
    pub href: String,
}

/// A software module, set or target type.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Type {
    #[serde(flatten)]
    pub audited: Audited,
    pub id: i64,
    /// Absent from target types of hawkBit before 0.3.0M9 (and its published example): the name
    /// stands in.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub colour: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub deleted: bool,
    #[serde(default)]
    pub max_assignments: Option<i32>,
    #[serde(default)]
    pub min_artifacts: Option<i32>,
}

/// A software module (`MgmtSoftwareModule`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    #[serde(flatten)]
    pub audited: Audited,
    pub id: i64,
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub type_key: String,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub encrypted: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub locked: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub deleted: bool,
}

/// A metadata entry (software modules add `targetVisible`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub target_visible: bool,
}

impl Metadata {
    /// The entry as the store takes it (`null` values as empty).
    pub fn entry(self) -> crate::store::metadata::Entry {
        crate::store::metadata::Entry {
            key: self.key,
            value: self.value.unwrap_or_default(),
            target_visible: self.target_visible,
        }
    }
}

/// An artifact (`MgmtArtifact`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    #[serde(flatten)]
    pub audited: Audited,
    pub id: i64,
    #[serde(default)]
    pub hashes: Hashes,
    pub provided_filename: String,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(rename = "_links", default)]
    pub links: BTreeMap<String, Link>,
}

/// The digests hawkBit computed when the artifact was uploaded.
#[derive(Debug, Default, Deserialize)]
pub struct Hashes {
    pub sha1: Option<String>,
    pub md5: Option<String>,
    pub sha256: Option<String>,
}

/// A distribution set (`MgmtDistributionSet`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Set {
    #[serde(flatten)]
    pub audited: Audited,
    pub id: i64,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "type", default)]
    pub type_key: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub modules: Vec<IdOnly>,
    #[serde(default, deserialize_with = "null_default")]
    pub required_migration_step: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub locked: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub deleted: bool,
    /// Absent before hawkBit 0.3.0M9, where every set was valid.
    #[serde(default)]
    pub valid: Option<bool>,
}

/// Any entity of which only the id matters.
#[derive(Debug, Deserialize)]
pub struct IdOnly {
    pub id: i64,
}

/// A target or distribution set tag.
#[derive(Debug, Deserialize)]
pub struct Tag {
    #[serde(flatten)]
    pub audited: Audited,
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub colour: Option<String>,
}

/// A target (`MgmtTarget`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(flatten)]
    pub audited: Audited,
    pub controller_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub update_status: Option<String>,
    #[serde(default)]
    pub last_controller_request_at: Option<i64>,
    #[serde(default)]
    pub installed_at: Option<i64>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub security_token: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub request_attributes: bool,
    /// The target type's id (`targetType`).
    #[serde(default, rename = "targetType")]
    pub type_id: Option<i64>,
    #[serde(default)]
    pub group: Option<String>,
}

/// A target's auto-confirm state (`MgmtTargetAutoConfirm`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoConfirm {
    #[serde(default, deserialize_with = "null_default")]
    pub active: bool,
    #[serde(default)]
    pub initiator: Option<String>,
    #[serde(default)]
    pub remark: Option<String>,
    #[serde(default)]
    pub activated_at: Option<i64>,
}

/// A target filter (`MgmtTargetFilterQuery`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(flatten)]
    pub audited: Audited,
    pub name: String,
    pub query: String,
    #[serde(default)]
    pub auto_assign_distribution_set: Option<i64>,
    #[serde(default)]
    pub auto_assign_action_type: Option<String>,
    #[serde(default)]
    pub auto_assign_weight: Option<i32>,
    #[serde(default)]
    pub confirmation_required: Option<bool>,
}

/// An action (`MgmtAction`) of `/rest/v1/actions?representation=full`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(flatten)]
    pub audited: Audited,
    pub id: i64,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub status: Option<String>,
    /// hawkBit ≤0.9 put the real state here and only pending/finished in `status`.
    #[serde(default)]
    pub detail_status: Option<String>,
    #[serde(default)]
    pub force_type: Option<String>,
    #[serde(default)]
    pub force_time: Option<i64>,
    #[serde(default)]
    pub weight: Option<i32>,
    #[serde(default)]
    pub maintenance_window: Option<MaintenanceWindow>,
    #[serde(default)]
    pub last_status_code: Option<i32>,
    #[serde(default)]
    pub external_ref: Option<String>,
    #[serde(rename = "_links", default)]
    pub links: BTreeMap<String, Value>,
}

/// An action's maintenance window.
#[derive(Debug, Deserialize)]
pub struct MaintenanceWindow {
    pub schedule: String,
    pub duration: String,
    pub timezone: String,
}

/// An action's status entry (`MgmtActionStatus`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionStatus {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_default")]
    pub messages: Vec<String>,
    #[serde(default)]
    pub reported_at: Option<i64>,
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub code: Option<i32>,
}

/// A rollout (`MgmtRolloutResponseBody`), as much as the report names.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub total_targets: Option<i64>,
}

/// One tenant setting of `/rest/v1/system/configs`.
#[derive(Debug, Deserialize)]
pub struct ConfigValue {
    #[serde(default)]
    pub value: Value,
    /// true: the server's default, never set for the tenant.
    #[serde(default, deserialize_with = "null_default")]
    pub global: bool,
}

impl Type {
    /// The type's key: its `key`, or its name where the source has no keys.
    pub fn key(&self) -> String {
        self.key
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| self.id.to_string())
    }
}

/// A field's default when the source sends `null` (hawkBit writes `"messages": null` and the like).
fn null_default<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The href of the link `name` in `_links`, if any.
pub fn link(links: &BTreeMap<String, Value>, name: &str) -> Option<String> {
    links.get(name)?.get("href")?.as_str().map(str::to_owned)
}
