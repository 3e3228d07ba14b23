//! An operator's request for a rollout, as hawkBit's `MgmtRolloutRestRequestBodyPost` words it
//! (every field optional), checked and completed with hawkBit's defaults, then created with its
//! groups in the caller's transaction. The Management API and the web UI's form both come here.

use super::plan::{self, GroupPlan, NewGroup, NewRollout};
use super::queries::{Extra, get};
use super::{Condition, ConditionAction, Conditions, DynamicTemplate, Rollout};
use crate::store::models::ActionType;
use crate::store::tenants::TenantSettings;
use crate::store::{AnyConnection, Error, Result, Rule};

/// A rollout as asked for; [`create`] fills in the defaults and refuses what breaks a rule.
#[derive(Debug, Clone, Default)]
pub struct RolloutRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub distribution_set_id: Option<i64>,
    pub target_filter_query: Option<String>,
    /// forced (default), soft, timeforced or downloadonly.
    pub action_type: Option<String>,
    pub forcetime: Option<i64>,
    pub start_at: Option<i64>,
    pub weight: Option<i32>,
    pub confirmation_required: Option<bool>,
    /// This many equal groups (default 1); not with `groups`.
    pub amount_groups: Option<i64>,
    pub success_condition: Option<Condition>,
    pub success_action: Option<ConditionAction>,
    pub error_condition: Option<Condition>,
    pub error_action: Option<ConditionAction>,
    pub dynamic: Option<bool>,
    pub dynamic_group_template: Option<DynamicTemplate>,
    pub groups: Option<Vec<GroupRequest>>,
    /// Updraft's soak time in seconds ([`super::soak`]).
    pub soak_time: Option<i64>,
    /// Updraft's health gate, RSQL over targets ([`crate::store::soak`]); needs `soak_time`.
    pub health_gate: Option<String>,
}

/// One explicit group of a [`RolloutRequest`].
#[derive(Debug, Clone, Default)]
pub struct GroupRequest {
    pub name: String,
    pub description: Option<String>,
    /// Narrows the rollout's filter for this group.
    pub target_filter_query: Option<String>,
    /// Percentage of the targets this group's filter matches (default 100).
    pub target_percentage: Option<f64>,
    pub confirmation_required: Option<bool>,
    pub success_condition: Option<Condition>,
    pub success_action: Option<ConditionAction>,
    pub error_condition: Option<Condition>,
    pub error_action: Option<ConditionAction>,
}

fn conditions(
    base: &Conditions,
    sc: Option<Condition>,
    sa: Option<ConditionAction>,
    ec: Option<Condition>,
    ea: Option<ConditionAction>,
) -> Conditions {
    Conditions {
        success_condition: sc.unwrap_or_else(|| base.success_condition.clone()),
        success_action: action_or(sa, &base.success_action),
        error_condition: ec.unwrap_or_else(|| base.error_condition.clone()),
        error_action: action_or(ea, &base.error_action),
    }
}

/// `given`, with `base`'s action where it names none: hawkBit's action classes default to
/// NEXTGROUP and PAUSE when only an expression is given.
fn action_or(given: Option<ConditionAction>, base: &ConditionAction) -> ConditionAction {
    match given {
        None => base.clone(),
        Some(a) if a.action.is_empty() => ConditionAction {
            action: base.action.clone(),
            expression: a.expression,
        },
        Some(a) => a,
    }
}

fn constraint(message: impl Into<String>) -> Error {
    Error::refused(Rule::Constraint, message)
}

/// The dynamic group template of a dynamic rollout (by default 100 targets per group).
fn template(dynamic: bool, given: Option<DynamicTemplate>) -> Result<Option<DynamicTemplate>> {
    if given.is_some() && !dynamic {
        return Err(constraint(
            "dynamicGroupTemplate is only allowed with dynamic: true.",
        ));
    }
    if !dynamic {
        return Ok(None);
    }
    let t = given.unwrap_or(DynamicTemplate {
        name_suffix: String::new(),
        target_count: 100,
    });
    if t.target_count < 1 || t.target_count > plan::MAX_TARGETS_PER_GROUP {
        return Err(constraint(format!(
            "dynamicGroupTemplate.targetCount must be between 1 and {}.",
            plan::MAX_TARGETS_PER_GROUP
        )));
    }
    Ok(Some(t))
}

impl RolloutRequest {
    /// The rollout to plan, with hawkBit's defaults; `needs_approval` when it waits for approval.
    fn into_new(self, needs_approval: bool) -> Result<NewRollout> {
        let name = self.name.ok_or_else(|| constraint("name is required."))?;
        let ds_id = self
            .distribution_set_id
            .ok_or_else(|| constraint("distributionSetId is required."))?;
        let target_filter = self
            .target_filter_query
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| Error::refused(Rule::QuerySyntax, "targetFilterQuery is required."))?;
        let action_type = match self.action_type.as_deref() {
            None => ActionType::Forced,
            Some(t) => ActionType::parse(t).ok_or_else(|| {
                constraint(format!(
                    "type must be forced, soft, timeforced or downloadonly, not {t}."
                ))
            })?,
        };
        super::soak::validate(
            self.soak_time,
            self.health_gate.as_deref(),
            action_type == ActionType::DownloadOnly,
        )?;
        let rollout_conditions = conditions(
            &Conditions::default(),
            self.success_condition,
            self.success_action,
            self.error_condition,
            self.error_action,
        );
        let template = template(self.dynamic.unwrap_or(false), self.dynamic_group_template)?;
        let confirmation_required = self.confirmation_required.unwrap_or(false);
        let groups = match (self.groups, self.amount_groups) {
            (Some(_), Some(_)) => {
                return Err(constraint("Give either amountGroups or groups, not both."));
            }
            (Some(gs), None) => GroupPlan::Explicit(
                gs.into_iter()
                    .map(|g| NewGroup {
                        name: g.name,
                        description: g.description,
                        target_filter: g.target_filter_query,
                        target_percentage: g.target_percentage.unwrap_or(100.0),
                        confirmation_required: g.confirmation_required.unwrap_or(confirmation_required),
                        conditions: conditions(
                            &rollout_conditions,
                            g.success_condition,
                            g.success_action,
                            g.error_condition,
                            g.error_action,
                        ),
                    })
                    .collect(),
            ),
            (None, n) => {
                let n = n.unwrap_or(1);
                if n == 0 && template.is_none() {
                    return Err(constraint(
                        "amountGroups 0 needs a dynamic rollout with a dynamicGroupTemplate.",
                    ));
                }
                GroupPlan::Count(n)
            }
        };
        Ok(NewRollout {
            name,
            description: self.description,
            target_filter,
            ds_id,
            action_type,
            forced_time: self.forcetime.unwrap_or(0),
            weight: self.weight.unwrap_or(1000),
            start_at: self.start_at,
            confirmation_required,
            conditions: rollout_conditions,
            groups,
            dynamic: template,
            needs_approval,
            soak_time: self.soak_time,
            health_gate: self.health_gate,
        })
    }
}

/// Creates the rollout `req` asks for, with its groups: `ready`, or `waiting_for_approval` when the
/// tenant has approval on and the creator may not approve (`may_approve`). Returns it in full.
pub fn create(
    c: &mut AnyConnection,
    settings: &TenantSettings,
    tenant: &str,
    req: &RolloutRequest,
    may_approve: bool,
    by: &str,
    now: i64,
) -> Result<(Rollout, Extra)> {
    let new = req.clone().into_new(settings.rollout_approval && !may_approve)?;
    let id = plan::create(c, tenant, &new, by, now)?;
    get(c, tenant, id)
}
