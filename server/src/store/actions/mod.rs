//! Action state changes shared by the device API and the Management API: status rows with their
//! messages, assignment of distribution sets, cancellation, and device feedback, following hawkBit's
//! `JpaDeploymentManagement`, `JpaControllerManagement` and `DeploymentHelper`.

use diesel::prelude::*;

use super::{AnyConnection, Error, Result, Rule};
use crate::config::Quotas;
use crate::polling::MaintenanceWindow;
pub use crate::store::distribution_sets::assignable_ds;
use crate::store::distribution_sets::lock_ds;
use crate::store::models::{Action, ActionStatus, ActionType, Target, UpdateStatus};
use crate::store::schema::{action_status_messages, action_statuses, actions, distribution_sets, targets};
use crate::store::targets::find_target;
use crate::store::tenants::TenantSettings;

pub mod compatible;
pub mod confirmation;
mod feedback;
pub mod operator;
pub mod queries;
pub use feedback::*;

/// Server-generated messages start with this; `actionHistory` leaves them out.
pub const SERVER_PREFIX: &str = "Update Server: ";
const MAX_MESSAGE_LEN: usize = 512;

fn split_message(m: &str) -> impl Iterator<Item = String> + '_ {
    let chars: Vec<char> = m.chars().collect();
    let n = chars.len().div_ceil(MAX_MESSAGE_LEN).max(1);
    (0..n).map(move |i| {
        chars[i * MAX_MESSAGE_LEN..((i + 1) * MAX_MESSAGE_LEN).min(chars.len())]
            .iter()
            .collect()
    })
}

/// Appends one status row with its messages (each longer than 512 characters split, as hawkBit does).
pub fn add_status(
    conn: &mut AnyConnection,
    action_id: i64,
    status: ActionStatus,
    occurred_at: i64,
    now: i64,
    code: Option<i32>,
    messages: &[String],
) -> Result<i64> {
    let id: i64 = diesel::insert_into(action_statuses::table)
        .values((
            action_statuses::action_id.eq(action_id),
            action_statuses::status.eq(status.as_str()),
            action_statuses::occurred_at.eq(occurred_at),
            action_statuses::created_at.eq(now),
            action_statuses::code.eq(code),
        ))
        .returning(action_statuses::id)
        .get_result(conn)?;
    // One statement per message: Diesel's multi-backend connection has no batch insert.
    let mut last = String::new();
    for m in messages.iter().flat_map(|m| split_message(m)) {
        diesel::insert_into(action_status_messages::table)
            .values((
                action_status_messages::action_status_id.eq(id),
                action_status_messages::message.eq(&m),
            ))
            .execute(conn)?;
        last = m;
    }
    diesel::update(actions::table.find(action_id))
        .set(actions::last_message.eq(last_message(&last)))
        .execute(conn)?;
    Ok(id)
}

/// What `actions.last_message` keeps of a status's last message (chunk): SQL's `trim`, which
/// removes spaces only, as the migration's backfill does.
pub fn last_message(m: &str) -> &str {
    m.trim_matches(' ')
}

/// Changes an action's status (and activity), bumping its revision so the `?c=` in root links changes.
pub fn set_action_status(
    conn: &mut AnyConnection,
    action_id: i64,
    status: ActionStatus,
    active: bool,
    now: i64,
    by: &str,
) -> Result<()> {
    diesel::update(actions::table.find(action_id))
        .set((
            actions::status.eq(status.as_str()),
            actions::active.eq(active),
            actions::revision.eq(actions::revision + 1),
            actions::last_modified_at.eq(now),
            actions::last_modified_by.eq(by),
        ))
        .execute(conn)?;
    Ok(())
}

fn status_count(conn: &mut AnyConnection, action_id: i64) -> Result<i64> {
    Ok(action_statuses::table
        .filter(action_statuses::action_id.eq(action_id))
        .count()
        .get_result(conn)?)
}

fn check_quotas(
    conn: &mut AnyConnection,
    quotas: &Quotas,
    action_id: i64,
    message_count: usize,
) -> Result<()> {
    check_message_quota(quotas, message_count)?;
    check_status_quota(conn, quotas, action_id)
}

fn check_message_quota(quotas: &Quotas, message_count: usize) -> Result<()> {
    let per_status = quotas.max_messages_per_action_status;
    if per_status > 0 && message_count as i64 > per_status {
        return Err(Error::refused(
            Rule::Quota,
            format!(
                "Too many messages in one status: {message_count} > maxMessagesPerActionStatus {per_status}."
            ),
        ));
    }
    Ok(())
}

fn check_status_quota(conn: &mut AnyConnection, quotas: &Quotas, action_id: i64) -> Result<()> {
    let per_action = quotas.max_status_entries_per_action;
    if per_action > 0 && status_count(conn, action_id)? >= per_action {
        return Err(Error::refused(
            Rule::Quota,
            format!("Action {action_id} has reached maxStatusEntriesPerAction ({per_action})."),
        ));
    }
    Ok(())
}

/// The single action a device sees: active, highest weight, then oldest.
///
/// Read without `LIMIT`: SQLite (3.50) re-prepares a statement with a bound `LIMIT ?` (Diesel's
/// `first`) at every new binding, which cost 40 % of a cold poll's CPU. A target has few active
/// actions.
pub fn top_active_action(conn: &mut AnyConnection, target_id: i64) -> Result<Option<Action>> {
    Ok(actions::table
        .filter(actions::target_id.eq(target_id).and(actions::active))
        .order((actions::weight.desc(), actions::id.asc()))
        .select(Action::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// The latest finished action that installed the target's installed distribution set.
pub fn installed_action_id(conn: &mut AnyConnection, target: &Target) -> Result<Option<i64>> {
    let Some(ds) = target.installed_ds_id else {
        return Ok(None);
    };
    // MAX rather than ORDER BY ... LIMIT ?: see `top_active_action` (this runs on the poll path).
    Ok(actions::table
        .filter(actions::target_id.eq(target.id))
        .filter(actions::ds_id.eq(ds))
        .filter(actions::status.eq(ActionStatus::Finished.as_str()))
        .filter(diesel::dsl::not(actions::active))
        .select(diesel::dsl::max(actions::id))
        .get_result(conn)?)
}

pub fn find_action_of_target(conn: &mut AnyConnection, target: &Target, action_id: i64) -> Result<Action> {
    actions::table
        .find(action_id)
        .filter(actions::target_id.eq(target.id))
        .select(Action::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("Action", action_id))
}

pub(crate) fn update_target(conn: &mut AnyConnection, target_id: i64, now: i64, by: &str) -> Result<()> {
    diesel::update(targets::table.find(target_id))
        .set((
            targets::last_modified_at.eq(now),
            targets::last_modified_by.eq(by),
        ))
        .execute(conn)?;
    Ok(())
}

/// One target's part of an assignment request.
#[derive(Debug, Clone)]
pub struct AssignmentRequest {
    pub controller_id: String,
    pub action_type: ActionType,
    pub forced_time: i64,
    pub weight: Option<i32>,
    pub maintenance: Option<(String, String, String)>,
    pub confirmation_required: Option<bool>,
}

#[derive(Debug, Default)]
pub struct AssignmentResult {
    pub assigned: Vec<(String, i64)>,
    pub already_assigned: usize,
}

/// Assigns `ds_id` to the requested targets (hawkBit's online assignment strategy).
pub fn assign(
    conn: &mut AnyConnection,
    settings: &TenantSettings,
    tenant: &str,
    ds_id: i64,
    requests: &[AssignmentRequest],
    by: &str,
    now: i64,
) -> Result<AssignmentResult> {
    let ds_type = assignable_ds(conn, tenant, ds_id)?;
    let controller_ids: Vec<&str> = requests.iter().map(|r| r.controller_id.as_str()).collect();
    compatible::check(conn, tenant, ds_type, &controller_ids)?;
    let mut result = AssignmentResult::default();
    for req in requests {
        if let Some((s, d, z)) = &req.maintenance {
            let w = MaintenanceWindow::parse(s, d, z)
                .map_err(|e| Error::refused(Rule::MaintenanceSchedule, e))?;
            if !w.has_future_window(now) {
                return Err(Error::refused(
                    Rule::MaintenanceSchedule,
                    "The maintenance schedule has no future window.",
                ));
            }
        }
        if let Some(w) = req.weight
            && !(0..=1000).contains(&w)
        {
            return Err(Error::refused(
                Rule::Constraint,
                "weight must be between 0 and 1000.",
            ));
        }
        let target = find_target(conn, tenant, &req.controller_id)?;
        if target.assigned_ds_id == Some(ds_id) {
            result.already_assigned += 1;
            continue;
        }
        supersede_active_actions(conn, settings, target.id, now, by)?;
        let waits = settings.confirmation_flow
            && req.confirmation_required.unwrap_or(true)
            && target.auto_confirm_at.is_none();
        let status = if waits {
            ActionStatus::WaitForConfirmation
        } else {
            ActionStatus::Running
        };
        let forced_time = if req.action_type == ActionType::TimeForced {
            req.forced_time
        } else {
            0
        };
        let (ms, md, mz) = match &req.maintenance {
            Some((s, d, z)) => (Some(s.as_str()), Some(d.as_str()), Some(z.as_str())),
            None => (None, None, None),
        };
        let action_id: i64 = diesel::insert_into(actions::table)
            .values(crate::store::models::NewAction {
                tenant,
                target_id: target.id,
                ds_id,
                active: true,
                action_type: req.action_type.as_str(),
                forced_time,
                weight: req.weight.unwrap_or(1000),
                status: status.as_str(),
                maintenance_schedule: ms,
                maintenance_duration: md,
                maintenance_timezone: mz,
                initiated_by: by,
                revision: 1,
                created_at: now,
                created_by: by,
                last_modified_at: now,
                last_modified_by: by,
            })
            .returning(actions::id)
            .get_result(conn)?;
        let mut messages = vec![format!("Assignment initiated by user '{by}'")];
        if waits {
            messages.push(
                "Waiting for the confirmation by the device before processing with the deployment".into(),
            );
        } else if settings.confirmation_flow {
            if let Some(initiator) = &target.auto_confirm_initiator {
                messages.push(format!(
                    "Assignment automatically confirmed by initiator '{initiator}'."
                ));
            } else {
                messages.push(format!("Assignment confirmed by initiator [{by}]."));
            }
        }
        add_status(conn, action_id, status, now, now, None, &messages)?;
        diesel::update(targets::table.find(target.id))
            .set((
                targets::assigned_ds_id.eq(ds_id),
                targets::update_status.eq(UpdateStatus::Pending.as_str()),
                targets::last_modified_at.eq(now),
                targets::last_modified_by.eq(by),
            ))
            .execute(conn)?;
        result.assigned.push((target.controller_id, action_id));
    }
    if settings.implicit_lock && !result.assigned.is_empty() {
        lock_ds(conn, ds_id)?;
    }
    Ok(result)
}

/// A new assignment cancels (or, with autoclose, closes) the target's open actions, except those of
/// distribution sets marked as a required migration step.
pub(crate) fn supersede_active_actions(
    conn: &mut AnyConnection,
    settings: &TenantSettings,
    target_id: i64,
    now: i64,
    by: &str,
) -> Result<()> {
    let open: Vec<(i64, ActionStatus, bool)> = actions::table
        .inner_join(distribution_sets::table)
        .filter(actions::target_id.eq(target_id).and(actions::active))
        .select((
            actions::id,
            actions::status,
            distribution_sets::required_migration_step,
        ))
        .load(conn)?;
    for (id, status, migration_step) in open {
        if migration_step || status == ActionStatus::Canceling {
            continue;
        }
        if settings.autoclose {
            set_action_status(conn, id, ActionStatus::Canceled, false, now, by)?;
            add_status(
                conn,
                id,
                ActionStatus::Canceled,
                now,
                now,
                None,
                &[format!("{SERVER_PREFIX}close obsolete action due to new update")],
            )?;
        } else {
            set_action_status(conn, id, ActionStatus::Canceling, true, now, by)?;
            add_status(
                conn,
                id,
                ActionStatus::Canceling,
                now,
                now,
                None,
                &[format!("{SERVER_PREFIX}cancel obsolete action due to new update")],
            )?;
        }
    }
    Ok(())
}

/// Management API cancel: the device will see `cancelAction` next.
pub fn request_cancel(conn: &mut AnyConnection, action: &Action, now: i64, by: &str) -> Result<()> {
    if !action.active || action.status().is_canceling_or_canceled() {
        return Err(Error::not_cancelable(action.id));
    }
    set_action_status(conn, action.id, ActionStatus::Canceling, true, now, by)?;
    add_status(
        conn,
        action.id,
        ActionStatus::Canceling,
        now,
        now,
        None,
        &[format!("{SERVER_PREFIX}manual cancelation requested")],
    )?;
    Ok(())
}

/// Management API force quit of an action that is already being canceled.
pub fn force_quit(
    conn: &mut AnyConnection,
    target: &Target,
    action: &Action,
    now: i64,
    by: &str,
) -> Result<()> {
    if !action.active || action.status() != ActionStatus::Canceling {
        return Err(Error::refused(
            Rule::NotForceQuitable { action: action.id },
            format!(
                "Action {} can only be force-quit while it is being canceled.",
                action.id
            ),
        ));
    }
    add_status(
        conn,
        action.id,
        ActionStatus::Canceled,
        now,
        now,
        None,
        &[format!("{SERVER_PREFIX}A force quit has been performed.")],
    )?;
    success_cancellation(conn, target, action.id, now, by)
}

/// The action's maintenance window, when it has a valid schedule.
pub fn maintenance_window(action: &Action) -> Option<MaintenanceWindow> {
    match (
        &action.maintenance_schedule,
        &action.maintenance_duration,
        &action.maintenance_timezone,
    ) {
        (Some(s), Some(d), Some(z)) => MaintenanceWindow::parse(s, d, z).ok(),
        _ => None,
    }
}

/// Cancels the action when its maintenance schedule has no window left (hawkBit's
/// `checkAndCancelExpiredAction`); answers whether it did.
pub fn cancel_if_window_expired(c: &mut AnyConnection, action: &Action, now: i64) -> Result<bool> {
    if action.status().is_canceling_or_canceled()
        || maintenance_window(action).is_none_or(|w| w.has_future_window(now))
    {
        return Ok(false);
    }
    set_action_status(c, action.id, ActionStatus::Canceling, true, now, "system")?;
    add_status(
        c,
        action.id,
        ActionStatus::Canceling,
        now,
        now,
        None,
        &[format!(
            "{SERVER_PREFIX}cancel action because the maintenance window has expired"
        )],
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::split_message;

    #[test]
    fn long_messages_are_split_at_512_characters() {
        let m = "x".repeat(1100);
        let parts: Vec<_> = split_message(&m).collect();
        assert_eq!(
            parts.iter().map(String::len).collect::<Vec<_>>(),
            vec![512, 512, 76]
        );
        assert_eq!(split_message("").count(), 1);
    }
}
