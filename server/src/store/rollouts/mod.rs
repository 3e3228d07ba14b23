//! Rollouts: hawkBit's staged campaigns of one distribution set over the targets of a filter, in
//! groups that start one after another as the devices' feedback meets each group's conditions.
//!
//! - [`plan`] checks a rollout request and splits the matching targets into groups (one
//!   transaction, so a rollout is never left half created, hawkBit's "stuck in CREATING").
//! - [`engine`] is the state machine: start, pause, resume, approve, deny, trigger the next group,
//!   delete, retry, and [`engine::evaluate`], which the scheduler runs whenever a rollout's devices
//!   report and on a timer, under a row lock so several server processes never evaluate one rollout
//!   at the same time.
//! - [`due`] finds the rollouts the scheduler evaluates (running) or starts (`startAt` has come), and
//!   takes that step on one of them under its row lock.
//! - [`create`] turns an operator's request into a plan; [`lifecycle`] is what operators do to a
//!   rollout afterwards; [`queries`] and [`groups`] read rollouts and their groups as the front doors
//!   show them.
//! - [`incompatible`] says why a rollout reaches no target (its filter, or the target types).
//! - [`activity`] is what each group is doing and waiting for, and why a paused rollout is held.
//! - [`soak`] is Updraft's health gate: with a soak time, a device counts for its group only after
//!   it stayed healthy that long after its success.

pub mod activity;
pub mod create;
pub mod due;
pub mod engine;
pub mod groups;
pub mod incompatible;
pub mod lifecycle;
pub mod plan;
pub mod queries;
pub mod soak;

pub use queries::Extra;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::store::models::{ActionStatus, ActionType};
use crate::store::schema::{rollout_groups, rollouts};
use crate::store::{Error, Result, Rule};

crate::store::models::string_enum! {
    /// hawkBit's `Rollout.RolloutStatus`, lower-case on the wire.
    RolloutStatus {
        Creating => "creating",
        Ready => "ready",
        WaitingForApproval => "waiting_for_approval",
        ApprovalDenied => "approval_denied",
        Starting => "starting",
        Running => "running",
        Paused => "paused",
        Stopping => "stopping",
        Stopped => "stopped",
        Finished => "finished",
        Deleting => "deleting",
        Deleted => "deleted",
    }
}

crate::store::models::string_enum! {
    /// hawkBit's `RolloutGroup.RolloutGroupStatus`.
    GroupStatus {
        Creating => "creating",
        Ready => "ready",
        Scheduled => "scheduled",
        Running => "running",
        Finished => "finished",
        Error => "error",
    }
}

/// A threshold condition: `expression` is a percentage, 0 to 100.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[schema(example = "THRESHOLD")]
    #[serde(default = "threshold")]
    pub condition: String,
    /// hawkBit: a condition without an expression means 100 %.
    #[schema(example = "50")]
    #[serde(default = "hundred")]
    pub expression: String,
}

/// What happens when a group meets its success or error condition (`NEXTGROUP` or `PAUSE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConditionAction {
    /// `NEXTGROUP` or `PAUSE`; left out, the rollout's own (by default `NEXTGROUP` on success,
    /// `PAUSE` on error).
    #[schema(example = "NEXTGROUP")]
    #[serde(default)]
    pub action: String,
    #[schema(example = "")]
    #[serde(default)]
    pub expression: String,
}

fn threshold() -> String {
    "THRESHOLD".to_owned()
}

fn hundred() -> String {
    "100".to_owned()
}

/// The four conditions of a rollout or a group, stored as JSON in its `conditions` column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conditions {
    pub success_condition: Condition,
    pub success_action: ConditionAction,
    pub error_condition: Condition,
    pub error_action: ConditionAction,
}

impl Default for Conditions {
    /// hawkBit's `RolloutGroupConditionBuilder.withDefaults`: success at 50 % starts the next group,
    /// errors above 50 % pause the rollout.
    fn default() -> Self {
        Self {
            success_condition: Condition {
                condition: threshold(),
                expression: "50".into(),
            },
            success_action: ConditionAction {
                action: "NEXTGROUP".into(),
                expression: String::new(),
            },
            error_condition: Condition {
                condition: threshold(),
                expression: "50".into(),
            },
            error_action: ConditionAction {
                action: "PAUSE".into(),
                expression: String::new(),
            },
        }
    }
}

impl Conditions {
    /// Checks the conditions: thresholds are whole percentages, actions are known.
    pub fn validate(&self) -> Result<()> {
        for c in [&self.success_condition, &self.error_condition] {
            if !c.condition.eq_ignore_ascii_case("THRESHOLD") {
                return Err(Error::refused(
                    Rule::Constraint,
                    format!(
                        "Unknown rollout condition '{}': only THRESHOLD is supported.",
                        c.condition
                    ),
                ));
            }
            parse_threshold(&c.expression)?;
        }
        if !matches!(
            self.success_action.action.to_ascii_uppercase().as_str(),
            "NEXTGROUP" | "PAUSE"
        ) {
            return Err(Error::refused(
                Rule::Constraint,
                format!(
                    "Unknown success action '{}': use NEXTGROUP or PAUSE.",
                    self.success_action.action
                ),
            ));
        }
        if !self.error_action.action.eq_ignore_ascii_case("PAUSE") {
            return Err(Error::refused(
                Rule::Constraint,
                format!("Unknown error action '{}': use PAUSE.", self.error_action.action),
            ));
        }
        Ok(())
    }

    pub fn success_threshold(&self) -> i64 {
        parse_threshold(&self.success_condition.expression).unwrap_or(100)
    }

    pub fn error_threshold(&self) -> i64 {
        parse_threshold(&self.error_condition.expression).unwrap_or(100)
    }

    pub fn pauses_on_success(&self) -> bool {
        self.success_action.action.eq_ignore_ascii_case("PAUSE")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }
}

fn parse_threshold(s: &str) -> Result<i64> {
    match s.trim().parse::<i64>() {
        Ok(v) if (0..=100).contains(&v) => Ok(v),
        _ => Err(Error::refused(
            Rule::Constraint,
            format!("A threshold must be a whole percentage from 0 to 100, not '{s}'."),
        )),
    }
}

/// The dynamic group template: later matching targets join groups of `targetCount`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DynamicTemplate {
    #[schema(example = "-dyn")]
    #[serde(default)]
    pub name_suffix: String,
    #[schema(example = 100)]
    pub target_count: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rollouts)]
pub struct Rollout {
    pub id: i64,
    pub tenant: String,
    pub name: String,
    pub description: Option<String>,
    pub target_filter: String,
    pub ds_id: i64,
    pub status: RolloutStatus,
    pub action_type: ActionType,
    pub forced_time: i64,
    pub weight: i32,
    pub start_at: Option<i64>,
    pub confirmation_required: bool,
    pub is_dynamic: bool,
    pub dynamic_template: Option<String>,
    pub conditions: String,
    pub total_targets: i64,
    pub approval_remark: Option<String>,
    pub approve_decided_by: Option<String>,
    pub deleted: bool,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
    /// Updraft's soak time in seconds ([`soak`]); None: hawkBit's rollout.
    pub soak_time: Option<i64>,
    /// Updraft's health gate: RSQL over targets a soaking device must keep matching.
    pub health_gate: Option<String>,
}

impl Rollout {
    pub fn status(&self) -> RolloutStatus {
        self.status
    }

    pub fn template(&self) -> Option<DynamicTemplate> {
        self.dynamic_template
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rollout_groups)]
pub struct Group {
    pub id: i64,
    pub rollout_id: i64,
    pub position: i32,
    pub name: String,
    pub description: Option<String>,
    pub target_filter: Option<String>,
    pub target_percentage: f64,
    pub confirmation_required: bool,
    pub conditions: String,
    pub status: GroupStatus,
    pub total_targets: i64,
    pub is_dynamic: bool,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}

impl Group {
    pub fn status(&self) -> GroupStatus {
        self.status
    }

    pub fn conditions(&self) -> Conditions {
        Conditions::from_json(&self.conditions)
    }
}

/// Where an action's status counts in `totalTargetsPerStatus` (hawkBit's `TotalTargetCountStatus`).
pub fn status_bucket(status: &str, download_only: bool) -> &'static str {
    match ActionStatus::parse(status) {
        Some(ActionStatus::Scheduled) => "scheduled",
        Some(ActionStatus::Error) => "error",
        Some(ActionStatus::Finished) => "finished",
        Some(ActionStatus::Canceled) => "cancelled",
        Some(ActionStatus::Downloaded) if download_only => "finished",
        _ => "running",
    }
}

/// Targets per status bucket: hawkBit's `totalTargetsPerStatus`.
pub type Totals = std::collections::BTreeMap<&'static str, i64>;

/// `totalTargetsPerStatus` from action counts per status and the number of targets.
pub fn totals_per_status(counts: &[(String, i64)], total_targets: i64, download_only: bool) -> Totals {
    let mut m: Totals = [
        "running",
        "notstarted",
        "scheduled",
        "cancelled",
        "finished",
        "error",
    ]
    .into_iter()
    .map(|k| (k, 0))
    .collect();
    let mut with_action = 0;
    for (status, n) in counts {
        *m.entry(status_bucket(status, download_only)).or_default() += n;
        with_action += n;
    }
    m.insert("notstarted", (total_targets - with_action).max(0));
    m
}
