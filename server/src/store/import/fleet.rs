//! The device side of an import: targets with their attributes, tokens, types and set state,
//! target filters with auto-assignment, and the action history as the source recorded it.

use std::collections::HashMap;

use diesel::prelude::*;

use super::{Audit, Outcome};
use crate::store::actions::add_status;
use crate::store::models::{ActionStatus, ActionType, NewAction, NewTarget, UpdateStatus};
use crate::store::schema::{actions, target_attributes, target_filter_queries, targets};
use crate::store::{AnyConnection, Result};

/// A target as hawkBit describes it; `target_type_id` is the local type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetIn {
    pub controller_id: String,
    pub name: String,
    pub description: Option<String>,
    /// The device's own token: it keeps authenticating with it after the move.
    pub security_token: String,
    pub address: Option<String>,
    pub last_poll: Option<i64>,
    pub update_status: UpdateStatus,
    pub installation_date: Option<i64>,
    pub request_attributes: bool,
    pub target_type_id: Option<i64>,
    pub group: Option<String>,
    /// Whether the target confirms its actions itself (hawkBit's auto-confirm), and since when.
    pub auto_confirm: Option<AutoConfirm>,
    pub audit: Audit,
}

/// A target's auto-confirm state when it is on: since when, who turned it on and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoConfirm {
    pub activated_at: i64,
    pub initiator: Option<String>,
    pub remark: Option<String>,
}

type AutoConfirmRow = (Option<i64>, Option<String>, Option<String>);

impl AutoConfirm {
    fn row(this: Option<&Self>) -> AutoConfirmRow {
        this.map_or((None, None, None), |a| {
            (Some(a.activated_at), a.initiator.clone(), a.remark.clone())
        })
    }
}

type TargetRow = (
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    UpdateStatus,
    Option<i64>,
    bool,
    Option<i64>,
    Option<String>,
    AutoConfirmRow,
);

/// The tenant's target `t` (by controller id); an existing one takes the source's values. Imported
/// targets are not offered to auto-assignment: the source already assigned what its filters say.
pub fn target(c: &mut AnyConnection, tenant: &str, t: &TargetIn) -> Result<(i64, Outcome)> {
    let found: Option<TargetRow> = targets::table
        .filter(
            targets::tenant
                .eq(tenant)
                .and(targets::controller_id.eq(&t.controller_id)),
        )
        .select((
            targets::id,
            targets::name,
            targets::description,
            targets::security_token,
            targets::address,
            targets::last_poll,
            targets::update_status,
            targets::installation_date,
            targets::request_attributes,
            targets::target_type_id,
            targets::target_group,
            (
                targets::auto_confirm_at,
                targets::auto_confirm_initiator,
                targets::auto_confirm_remark,
            ),
        ))
        .first(c)
        .optional()?;
    if let Some(row) = found {
        let id = row.0;
        // A device that polled this server after its last contact with the source reported its
        // address and state (and maybe switched auto-confirm) here last: what it said here is
        // newer than the source's copy.
        let here_later = row
            .5
            .is_some_and(|here| t.last_poll.is_none_or(|there| here > there));
        let (address, last_poll, status, auto_confirm) = if here_later {
            (row.4.clone(), row.5, row.6, row.11.clone())
        } else {
            (
                t.address.clone(),
                t.last_poll,
                t.update_status,
                AutoConfirm::row(t.auto_confirm.as_ref()),
            )
        };
        let wanted: TargetRow = (
            id,
            t.name.clone(),
            t.description.clone(),
            t.security_token.clone(),
            address.clone(),
            last_poll,
            status,
            t.installation_date,
            t.request_attributes,
            t.target_type_id,
            t.group.clone(),
            auto_confirm.clone(),
        );
        if row == wanted {
            return Ok((id, Outcome::Unchanged));
        }
        diesel::update(targets::table.find(id))
            .set((
                targets::name.eq(&t.name),
                targets::description.eq(&t.description),
                targets::security_token.eq(&t.security_token),
                targets::address.eq(address),
                targets::last_poll.eq(last_poll),
                targets::update_status.eq(status.as_str()),
                targets::installation_date.eq(t.installation_date),
                targets::request_attributes.eq(t.request_attributes),
                targets::target_type_id.eq(t.target_type_id),
                targets::target_group.eq(&t.group),
                targets::auto_confirm_at.eq(auto_confirm.0),
                targets::auto_confirm_initiator.eq(auto_confirm.1),
                targets::auto_confirm_remark.eq(auto_confirm.2),
                targets::last_modified_at.eq(t.audit.last_modified_at),
                targets::last_modified_by.eq(&t.audit.last_modified_by),
            ))
            .execute(c)?;
        return Ok((id, Outcome::Updated));
    }
    let id = diesel::insert_into(targets::table)
        .values((
            NewTarget {
                tenant,
                controller_id: &t.controller_id,
                name: &t.name,
                description: t.description.as_deref(),
                security_token: &t.security_token,
                address: t.address.as_deref(),
                last_poll: t.last_poll,
                update_status: t.update_status.as_str(),
                request_attributes: t.request_attributes,
                target_type_id: t.target_type_id,
                created_at: t.audit.created_at,
                created_by: &t.audit.created_by,
                last_modified_at: t.audit.last_modified_at,
                last_modified_by: &t.audit.last_modified_by,
                auto_assign_pending: false,
            },
            targets::installation_date.eq(t.installation_date),
            targets::target_group.eq(&t.group),
            targets::auto_confirm_at.eq(t.auto_confirm.as_ref().map(|a| a.activated_at)),
            targets::auto_confirm_initiator.eq(t.auto_confirm.as_ref().and_then(|a| a.initiator.clone())),
            targets::auto_confirm_remark.eq(t.auto_confirm.as_ref().and_then(|a| a.remark.clone())),
        ))
        .returning(targets::id)
        .get_result(c)?;
    Ok((id, Outcome::Added))
}

/// Replaces the target's controller attributes with `attrs` when they differ; whether they did.
pub fn attributes(c: &mut AnyConnection, target_id: i64, attrs: &[(String, String)]) -> Result<bool> {
    let mut have: Vec<(String, String)> = target_attributes::table
        .filter(target_attributes::target_id.eq(target_id))
        .select((target_attributes::attr_key, target_attributes::attr_value))
        .load(c)?;
    let mut want = attrs.to_vec();
    have.sort();
    want.sort();
    if have == want {
        return Ok(false);
    }
    diesel::delete(target_attributes::table.filter(target_attributes::target_id.eq(target_id))).execute(c)?;
    for (k, v) in &want {
        diesel::insert_into(target_attributes::table)
            .values((
                target_attributes::target_id.eq(target_id),
                target_attributes::attr_key.eq(k),
                target_attributes::attr_value.eq(v),
            ))
            .execute(c)?;
    }
    Ok(true)
}

/// The local ids of the tenant's targets `controller_ids` that exist.
pub fn target_ids(
    c: &mut AnyConnection,
    tenant: &str,
    controller_ids: &[String],
) -> Result<HashMap<String, i64>> {
    let mut out = HashMap::with_capacity(controller_ids.len());
    // Bounded IN lists: PostgreSQL and SQLite both take a few hundred parameters comfortably.
    for chunk in controller_ids.chunks(500) {
        let rows: Vec<(String, i64)> = targets::table
            .filter(
                targets::tenant
                    .eq(tenant)
                    .and(targets::controller_id.eq_any(chunk)),
            )
            .select((targets::controller_id, targets::id))
            .load(c)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Which set a target has installed or is assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetState {
    Installed,
    Assigned,
}

/// Records that the targets `ids` have `ds_id` installed (or assigned); returns how many changed.
pub fn set_state(c: &mut AnyConnection, state: SetState, ds_id: i64, ids: &[i64]) -> Result<usize> {
    let mut changed = 0;
    for chunk in ids.chunks(500) {
        changed += match state {
            SetState::Installed => diesel::update(
                targets::table.filter(
                    targets::id.eq_any(chunk).and(
                        targets::installed_ds_id
                            .is_null()
                            .or(targets::installed_ds_id.ne(ds_id)),
                    ),
                ),
            )
            .set(targets::installed_ds_id.eq(ds_id))
            .execute(c)?,
            SetState::Assigned => diesel::update(
                targets::table.filter(
                    targets::id.eq_any(chunk).and(
                        targets::assigned_ds_id
                            .is_null()
                            .or(targets::assigned_ds_id.ne(ds_id)),
                    ),
                ),
            )
            .set(targets::assigned_ds_id.eq(ds_id))
            .execute(c)?,
        };
    }
    Ok(changed)
}

/// A target filter as hawkBit describes it; `auto_assign` names the local set, action type and weight.
#[derive(Debug, Clone, Default)]
pub struct FilterIn {
    pub name: String,
    pub query: String,
    pub auto_assign: Option<(i64, ActionType, Option<i32>)>,
    pub confirmation_required: bool,
    pub audit: Audit,
}

/// The tenant's filter `f` (by name); an existing one takes the source's query and auto-assignment.
pub fn filter(c: &mut AnyConnection, tenant: &str, f: &FilterIn) -> Result<(i64, Outcome)> {
    type Row = (i64, String, Option<i64>, Option<String>, Option<i32>, bool);
    let found: Option<Row> = target_filter_queries::table
        .filter(
            target_filter_queries::tenant
                .eq(tenant)
                .and(target_filter_queries::name.eq(&f.name)),
        )
        .select((
            target_filter_queries::id,
            target_filter_queries::query,
            target_filter_queries::auto_assign_ds_id,
            target_filter_queries::auto_assign_action_type,
            target_filter_queries::auto_assign_weight,
            target_filter_queries::confirmation_required,
        ))
        .first(c)
        .optional()?;
    let ds = f.auto_assign.map(|a| a.0);
    let kind = f.auto_assign.map(|a| a.1.as_str().to_owned());
    let weight = f.auto_assign.and_then(|a| a.2);
    let values = (
        target_filter_queries::query.eq(&f.query),
        target_filter_queries::auto_assign_ds_id.eq(ds),
        target_filter_queries::auto_assign_action_type.eq(kind.clone()),
        target_filter_queries::auto_assign_weight.eq(weight),
        target_filter_queries::confirmation_required.eq(f.confirmation_required),
    );
    if let Some(row) = found {
        let id = row.0;
        if row == (id, f.query.clone(), ds, kind, weight, f.confirmation_required) {
            return Ok((id, Outcome::Unchanged));
        }
        diesel::update(target_filter_queries::table.find(id))
            .set((
                values,
                target_filter_queries::last_modified_at.eq(f.audit.last_modified_at),
                target_filter_queries::last_modified_by.eq(&f.audit.last_modified_by),
            ))
            .execute(c)?;
        return Ok((id, Outcome::Updated));
    }
    let id = diesel::insert_into(target_filter_queries::table)
        .values((
            target_filter_queries::tenant.eq(tenant),
            target_filter_queries::name.eq(&f.name),
            values,
            target_filter_queries::created_at.eq(f.audit.created_at),
            target_filter_queries::created_by.eq(&f.audit.created_by),
            target_filter_queries::last_modified_at.eq(f.audit.last_modified_at),
            target_filter_queries::last_modified_by.eq(&f.audit.last_modified_by),
            // The source's auto-assignment already ran over its targets.
            target_filter_queries::auto_assign_pending.eq(false),
        ))
        .returning(target_filter_queries::id)
        .get_result(c)?;
    Ok((id, Outcome::Added))
}

/// An action of the history as hawkBit recorded it, on local ids.
#[derive(Debug, Clone)]
pub struct ActionIn {
    pub target_id: i64,
    pub ds_id: i64,
    pub active: bool,
    pub action_type: ActionType,
    pub forced_time: i64,
    pub weight: i32,
    pub status: ActionStatus,
    pub maintenance: Option<(String, String, String)>,
    pub last_status_code: Option<i32>,
    pub external_ref: Option<String>,
    pub audit: Audit,
}

/// One status entry of an action: state, device time, server time, code and messages.
#[derive(Debug, Clone)]
pub struct StatusIn {
    pub status: ActionStatus,
    pub occurred_at: i64,
    pub reported_at: i64,
    pub code: Option<i32>,
    pub messages: Vec<String>,
}

/// Whether the target has the action of `ds_id` created at `created_at` (an action's natural key).
pub fn has_action(
    c: &mut AnyConnection,
    tenant: &str,
    target_id: i64,
    ds_id: i64,
    created_at: i64,
) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        actions::table.filter(
            actions::tenant
                .eq(tenant)
                .and(actions::target_id.eq(target_id))
                .and(actions::ds_id.eq(ds_id))
                .and(actions::created_at.eq(created_at)),
        ),
    ))
    .get_result(c)?)
}

/// Records the action `a` with its status history (oldest first), unless the target has it. An open
/// action stays open: its device is offered it by the new server as it was by the old one. The inner
/// `Err` says why an action was left out: an open one while the target has another open action.
pub fn action(
    c: &mut AnyConnection,
    tenant: &str,
    a: &ActionIn,
    history: &[StatusIn],
) -> Result<std::result::Result<Outcome, String>> {
    if has_action(c, tenant, a.target_id, a.ds_id, a.audit.created_at)? {
        return Ok(Ok(Outcome::Unchanged));
    }
    if a.active {
        let other: Option<i64> = actions::table
            .filter(actions::target_id.eq(a.target_id).and(actions::active))
            .select(actions::id)
            .first(c)
            .optional()?;
        if let Some(other) = other {
            return Ok(Err(format!(
                "the target has the open action {other} here already; a target has one open action"
            )));
        }
    }
    let (schedule, duration, timezone) = a
        .maintenance
        .clone()
        .map_or((None, None, None), |(s, d, z)| (Some(s), Some(d), Some(z)));
    let id: i64 = diesel::insert_into(actions::table)
        .values((
            NewAction {
                tenant,
                target_id: a.target_id,
                ds_id: a.ds_id,
                active: a.active,
                action_type: a.action_type.as_str(),
                forced_time: a.forced_time,
                weight: a.weight,
                status: a.status.as_str(),
                maintenance_schedule: schedule.as_deref(),
                maintenance_duration: duration.as_deref(),
                maintenance_timezone: timezone.as_deref(),
                initiated_by: &a.audit.created_by,
                revision: 1,
                created_at: a.audit.created_at,
                created_by: &a.audit.created_by,
                last_modified_at: a.audit.last_modified_at,
                last_modified_by: &a.audit.last_modified_by,
            },
            actions::last_status_code.eq(a.last_status_code),
            actions::external_ref.eq(&a.external_ref),
        ))
        .returning(actions::id)
        .get_result(c)?;
    for s in history {
        add_status(c, id, s.status, s.occurred_at, s.reported_at, s.code, &s.messages)?;
    }
    Ok(Ok(Outcome::Added))
}
