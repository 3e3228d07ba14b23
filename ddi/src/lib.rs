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
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "https://updraft.example.com/DEFAULT/controller/v1/device-01/deploymentBase/7?c=-2129030598"
        )
    )]
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
    #[cfg_attr(feature = "openapi", schema(example = "00:05:00"))]
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
    #[cfg_attr(feature = "openapi", schema(example = "7"))]
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
    #[cfg_attr(feature = "openapi", schema(example = "7"))]
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
    #[cfg_attr(feature = "openapi", schema(example = "available"))]
    pub maintenance_window: Option<MaintenanceWindowStatus>,
    pub chunks: Vec<Chunk>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Chunk {
    #[cfg_attr(feature = "openapi", schema(example = "os"))]
    pub part: String,
    #[cfg_attr(feature = "openapi", schema(example = "1.0.0"))]
    pub version: String,
    #[cfg_attr(feature = "openapi", schema(example = "rootfs"))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = false))]
    pub encrypted: Option<bool>,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!([{"key": "hw.revision", "value": "2"}])))]
    pub metadata: Option<Vec<Metadata>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metadata {
    #[cfg_attr(feature = "openapi", schema(example = "hw.revision"))]
    pub key: String,
    #[cfg_attr(feature = "openapi", schema(example = "2"))]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Artifact {
    #[cfg_attr(feature = "openapi", schema(example = "rootfs.img"))]
    pub filename: String,
    pub hashes: Hashes,
    #[cfg_attr(feature = "openapi", schema(example = 10_485_760))]
    pub size: u64,
    /// One entry per download protocol: `download-http`, `md5sum-http`, and (HTTPS) `download`, `md5sum`.
    #[serde(rename = "_links", default)]
    #[cfg_attr(feature = "openapi", schema(example = json!({
        "download": {"href": "https://updraft.example.com/DEFAULT/controller/v1/device-01/softwaremodules/1/artifacts/rootfs.img"},
        "md5sum": {"href": "https://updraft.example.com/DEFAULT/controller/v1/device-01/softwaremodules/1/artifacts/rootfs.img.MD5SUM"}
    })))]
    pub links: BTreeMap<String, Link>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hashes {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "f508d923bc9c11fee6c3d132d92e795839c6c4c6")
    )]
    pub sha1: String,
    #[cfg_attr(feature = "openapi", schema(example = "bacad3f53debf7466f8f10a8de430526"))]
    pub md5: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "bac821ddfad573f5c0fd0e4bbd9bb24c34e9b36a8444171df37285771d69eae8")
    )]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionHistory {
    /// The action's status as hawkBit's upper-case enum name (`RUNNING`, `FINISHED`, ...).
    #[cfg_attr(feature = "openapi", schema(example = "RUNNING"))]
    pub status: String,
    /// Device messages, newest first.
    #[cfg_attr(feature = "openapi", schema(example = json!(["Installing update", "Downloaded rootfs.img"])))]
    pub messages: Vec<String>,
}

/// `POST .../feedback` on deploymentBase and cancelAction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionFeedback {
    /// Epoch milliseconds on the device (hawkBit ≥ 0.7); server time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = 1_691_065_929_524_i64))]
    pub timestamp: Option<i64>,
    pub status: FeedbackStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackStatus {
    pub execution: Execution,
    pub result: FeedbackResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = 200))]
    pub code: Option<i32>,
    /// hawkBit ≥ 1.0 accepts a single string as a one-element list.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[cfg_attr(feature = "openapi", schema(example = json!(["Update installed"])))]
    pub details: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedbackResult {
    pub finished: Finished,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// Progress is informational; clients send `of = 0` and `cnt > of`, so nothing is validated. Like
/// hawkBit's `DdiProgress`, unknown keys are ignored and `cnt` may be missing: rauc-hawkbit sends
/// `{}` when closing and `{"percentage": N}` while proceeding (read here as `N` of `100`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(from = "RawProgress")]
pub struct Progress {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = 2))]
    pub cnt: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = 5))]
    pub of: Option<i64>,
}

#[derive(Deserialize)]
struct RawProgress {
    #[serde(default)]
    cnt: Option<i64>,
    #[serde(default)]
    of: Option<i64>,
    #[serde(default)]
    percentage: Option<f64>,
}

impl From<RawProgress> for Progress {
    fn from(r: RawProgress) -> Self {
        match (r.cnt, r.percentage) {
            (Some(cnt), _) => Self { cnt, of: r.of },
            (None, Some(p)) if p.is_finite() => Self {
                cnt: p.round().clamp(0.0, 100.0) as i64,
                of: Some(100),
            },
            (None, _) => Self { cnt: 0, of: r.of },
        }
    }
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
    #[cfg_attr(feature = "openapi", schema(example = "8"))]
    pub id: String,
    pub cancel_action: CancelAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CancelAction {
    #[cfg_attr(feature = "openapi", schema(example = "7"))]
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
    #[cfg_attr(feature = "openapi", schema(example = json!({"hwRevision": "2", "serial": "A1B2C3"})))]
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
    #[cfg_attr(feature = "openapi", schema(example = json!({
        "activateAutoConfirm": {"href": "https://updraft.example.com/DEFAULT/controller/v1/device-01/confirmationBase/activateAutoConfirm"}
    })))]
    pub links: BTreeMap<String, Link>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AutoConfirmationState {
    #[cfg_attr(feature = "openapi", schema(example = false))]
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "admin"))]
    pub initiator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "Lab devices confirm on their own"))]
    pub remark: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = 1_691_065_941_155_i64))]
    pub activated_at: i64,
}

/// `POST {base}/confirmationBase/{actionId}/feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmationFeedback {
    pub confirmation: Confirmation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = 200))]
    pub code: Option<i32>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[cfg_attr(feature = "openapi", schema(example = json!(["Confirmed by the operator"])))]
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
    #[cfg_attr(feature = "openapi", schema(example = "operator"))]
    pub initiator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "Confirm all updates of this device"))]
    pub remark: Option<String>,
}

/// `PUT {base}/installedBase`: a distribution set installed outside the server's control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstalledBaseReport {
    #[cfg_attr(feature = "openapi", schema(example = "gateway"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(example = "1.0.0"))]
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
    fn rauc_hawkbit_progress_objects_parse() {
        // What rauc-hawkbit 0.2.0 sends while proceeding and when closing.
        let body = r#"{"id": "1", "time": "20261206T120734", "status": {"result": {"progress":
            {"percentage": 20}, "finished": "none"}, "execution": "proceeding",
            "details": ["Determining slot states done."]}}"#;
        let fb: ActionFeedback = serde_json::from_str(body).unwrap();
        assert_eq!(
            fb.status.result.progress,
            Some(Progress {
                cnt: 20,
                of: Some(100)
            })
        );
        let body = r#"{"id": "1", "time": "20261206T120734", "status": {"result": {"progress": {},
            "finished": "success"}, "execution": "closed", "details": ["completed"]}}"#;
        let fb: ActionFeedback = serde_json::from_str(body).unwrap();
        assert_eq!(fb.status.result.finished, Finished::Success);
        assert_eq!(fb.status.result.progress, Some(Progress { cnt: 0, of: None }));
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
