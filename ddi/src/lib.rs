//! hawkBit DDI v1 wire types, shared by the Updraft server and device client.
//!
//! Field names and value spellings follow hawkBit's `Ddi*` JSON models exactly. Every request type
//! ignores unknown fields, as hawkBit's do (`@JsonIgnoreProperties(ignoreUnknown = true)`), because
//! real clients send legacy fields such as `id` (string or number) and `time` (`YYYYMMDDTHHMMSS`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// A HAL link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Link {
    pub href: String,
}

impl Link {
    pub fn new(href: impl Into<String>) -> Self {
        Self { href: href.into() }
    }
}

/// `GET {base}`: the root resource a device polls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControllerBase {
    pub config: ControllerConfig,
    /// Absent entirely when there is nothing to link (hawkBit's `@JsonInclude(NON_NULL)` plus an empty map).
    #[serde(rename = "_links", default, skip_serializing_if = "RootLinks::is_empty")]
    pub links: RootLinks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControllerConfig {
    pub polling: Polling,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Polling {
    /// `HH:MM:SS`; every known client parses only this form.
    pub sleep: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RootLinks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_base: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_base: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_action: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_base: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_data: Option<Link>,
}

impl RootLinks {
    pub fn is_empty(&self) -> bool {
        self.deployment_base.is_none()
            && self.confirmation_base.is_none()
            && self.cancel_action.is_none()
            && self.installed_base.is_none()
            && self.config_data.is_none()
    }
}

/// `skip`, `attempt` or `forced`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HandlingType {
    Skip,
    Attempt,
    Forced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MaintenanceWindowStatus {
    Available,
    Unavailable,
}

/// `GET {base}/deploymentBase/{actionId}` and `installedBase/{actionId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeploymentBase {
    /// The action id, as a string.
    pub id: String,
    pub deployment: Deployment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_history: Option<ActionHistory>,
}

/// `GET {base}/confirmationBase/{actionId}`: the same payload under the key `confirmation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfirmationBaseAction {
    pub id: String,
    pub confirmation: Deployment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_history: Option<ActionHistory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub download: HandlingType,
    pub update: HandlingType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<MaintenanceWindowStatus>,
    pub chunks: Vec<Chunk>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Chunk {
    pub part: String,
    pub version: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<Metadata>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metadata {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Artifact {
    pub filename: String,
    pub hashes: Hashes,
    pub size: u64,
    /// One entry per download protocol: `download-http`, `md5sum-http`, and (HTTPS) `download`, `md5sum`.
    #[serde(rename = "_links", default)]
    pub links: BTreeMap<String, Link>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hashes {
    pub sha1: String,
    pub md5: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionHistory {
    /// The action's status as hawkBit's upper-case enum name (`RUNNING`, `FINISHED`, ...).
    pub status: String,
    /// Device messages, newest first.
    pub messages: Vec<String>,
}

/// `POST .../feedback` on deploymentBase and cancelAction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionFeedback {
    /// Epoch milliseconds on the device (hawkBit ≥ 0.7); server time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    pub status: FeedbackStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackStatus {
    pub execution: Execution,
    pub result: FeedbackResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// hawkBit ≥ 1.0 accepts a single string as a one-element list.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub details: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackResult {
    pub finished: Finished,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// Progress is informational; clients send `of = 0` and `cnt > of`, so nothing is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    pub cnt: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Execution {
    Closed,
    Proceeding,
    Canceled,
    Scheduled,
    Rejected,
    Resumed,
    Downloaded,
    Download,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Finished {
    Success,
    Failure,
    None,
}

/// `GET {base}/cancelAction/{actionId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CancelActionBase {
    pub id: String,
    pub cancel_action: CancelAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CancelAction {
    pub stop_id: String,
}

/// `PUT {base}/configData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigData {
    /// `merge` when absent or `null` (hawkbit-rs sends `"mode": null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ConfigDataMode>,
    /// A `null` value removes that key under `merge`.
    pub data: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConfigDataMode {
    Merge,
    Replace,
    Remove,
}

/// `GET {base}/confirmationBase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfirmationBase {
    pub auto_confirm: AutoConfirmationState,
    #[serde(rename = "_links", default)]
    pub links: BTreeMap<String, Link>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AutoConfirmationState {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    #[serde(default)]
    pub activated_at: i64,
}

/// `POST {base}/confirmationBase/{actionId}/feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmationFeedback {
    pub confirmation: Confirmation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Confirmation {
    Confirmed,
    Denied,
}

/// `POST {base}/confirmationBase/activateAutoConfirm` (the body is optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivateAutoConfirmation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
}

/// `PUT {base}/installedBase`: a distribution set installed outside the server's control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstalledBaseReport {
    pub name: String,
    pub version: String,
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Null(()),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
        OneOrMany::Null(()) => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swupdate_feedback_with_legacy_fields_parses() {
        let body = r#"{ "id": 42, "time": "20261127T160744",
            "status": { "result": { "progress": { "cnt": 3, "of": 0 }, "finished": "none" },
            "execution": "proceeding", "details": [ "Installing Update Chunk Artifacts." ] } }"#;
        let fb: ActionFeedback = serde_json::from_str(body).unwrap();
        assert_eq!(fb.status.execution, Execution::Proceeding);
        assert_eq!(fb.status.result.finished, Finished::None);
        assert_eq!(
            fb.status.details,
            vec!["Installing Update Chunk Artifacts.".to_owned()]
        );
        assert_eq!(fb.timestamp, None);
    }

    #[test]
    fn single_detail_string_is_a_one_element_list() {
        let fb: ActionFeedback = serde_json::from_str(
            r#"{"status":{"execution":"closed","result":{"finished":"success"},"details":"done"}}"#,
        )
        .unwrap();
        assert_eq!(fb.status.details, vec!["done".to_owned()]);
    }

    #[test]
    fn feedback_without_finished_is_rejected() {
        let r: Result<ActionFeedback, _> =
            serde_json::from_str(r#"{"status":{"execution":"closed","result":{}}}"#);
        assert!(r.is_err());
        let r: Result<ActionFeedback, _> = serde_json::from_str(r#"{"status":{"execution":"closed"}}"#);
        assert!(r.is_err());
    }

    #[test]
    fn enum_values_are_case_sensitive() {
        let r: Result<ActionFeedback, _> =
            serde_json::from_str(r#"{"status":{"execution":"CLOSED","result":{"finished":"success"}}}"#);
        assert!(r.is_err());
    }

    #[test]
    fn config_data_accepts_null_mode_and_legacy_status() {
        let cd: ConfigData = serde_json::from_str(
            r#"{"id":"","time":"20211211T123912","mode":null,"status":{"execution":"closed"},"data":{"a":"1","b":null}}"#,
        )
        .unwrap();
        assert_eq!(cd.mode, None);
        assert_eq!(cd.data.get("a"), Some(&Some("1".to_owned())));
        assert_eq!(cd.data.get("b"), Some(&None));
    }

    #[test]
    fn root_without_links_omits_links() {
        let root = ControllerBase {
            config: ControllerConfig {
                polling: Polling {
                    sleep: "00:05:00".into(),
                },
            },
            links: RootLinks::default(),
        };
        assert_eq!(
            serde_json::to_string(&root).unwrap(),
            r#"{"config":{"polling":{"sleep":"00:05:00"}}}"#
        );
    }
}
