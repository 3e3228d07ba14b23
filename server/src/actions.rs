//! Action state changes shared by the device API and the Management API: status rows with their
//! messages, assignment of distribution sets, cancellation, and device feedback, following hawkBit's
//! `JpaDeploymentManagement`, `JpaControllerManagement` and `DeploymentHelper`.

use diesel::prelude::*;
use updraft_ddi::{ActionFeedback, Execution, Finished};

use crate::config::Quotas;
use crate::error::{ApiError, ApiResult};
use crate::polling::MaintenanceWindow;
use crate::store::AnyConnection;
pub use crate::store::distribution_sets::assignable_ds;
use crate::store::distribution_sets::lock_ds;
use crate::store::models::{Action, ActionStatus, ActionType, Target, UpdateStatus};
use crate::store::schema::{action_status_messages, action_statuses, actions, distribution_sets, targets};
use crate::store::targets::find_target;
use crate::tenant_config::TenantSettings;

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
) -> ApiResult<i64> {
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
    for m in messages.iter().flat_map(|m| split_message(m)) {
        diesel::insert_into(action_status_messages::table)
            .values((
                action_status_messages::action_status_id.eq(id),
                action_status_messages::message.eq(m),
            ))
            .execute(conn)?;
    }
    Ok(id)
}

/// Changes an action's status (and activity), bumping its revision so the `?c=` in root links changes.
pub fn set_action_status(
    conn: &mut AnyConnection,
    action_id: i64,
    status: ActionStatus,
    active: bool,
    now: i64,
    by: &str,
) -> ApiResult<()> {
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

fn status_count(conn: &mut AnyConnection, action_id: i64) -> ApiResult<i64> {
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
) -> ApiResult<()> {
    check_message_quota(quotas, message_count)?;
    check_status_quota(conn, quotas, action_id)
}

fn check_message_quota(quotas: &Quotas, message_count: usize) -> ApiResult<()> {
    let per_status = quotas.max_messages_per_action_status;
    if per_status > 0 && message_count as i64 > per_status {
        return Err(ApiError::quota(format!(
            "Too many messages in one status: {message_count} > maxMessagesPerActionStatus {per_status}."
        )));
    }
    Ok(())
}

fn check_status_quota(conn: &mut AnyConnection, quotas: &Quotas, action_id: i64) -> ApiResult<()> {
    let per_action = quotas.max_status_entries_per_action;
    if per_action > 0 && status_count(conn, action_id)? >= per_action {
        return Err(ApiError::quota(format!(
            "Action {action_id} has reached maxStatusEntriesPerAction ({per_action})."
        )));
    }
    Ok(())
}

/// The single action a device sees: active, highest weight, then oldest.
pub fn top_active_action(conn: &mut AnyConnection, target_id: i64) -> ApiResult<Option<Action>> {
    Ok(actions::table
        .filter(actions::target_id.eq(target_id).and(actions::active.eq(true)))
        .order((actions::weight.desc(), actions::id.asc()))
        .select(Action::as_select())
        .first(conn)
        .optional()?)
}

/// The latest finished action that installed the target's installed distribution set.
pub fn installed_action_id(conn: &mut AnyConnection, target: &Target) -> ApiResult<Option<i64>> {
    let Some(ds) = target.installed_ds_id else {
        return Ok(None);
    };
    Ok(actions::table
        .filter(actions::target_id.eq(target.id))
        .filter(actions::ds_id.eq(ds))
        .filter(actions::status.eq(ActionStatus::Finished.as_str()))
        .filter(actions::active.eq(false))
        .order(actions::id.desc())
        .select(actions::id)
        .first(conn)
        .optional()?)
}

pub fn find_action_of_target(conn: &mut AnyConnection, target: &Target, action_id: i64) -> ApiResult<Action> {
    actions::table
        .find(action_id)
        .filter(actions::target_id.eq(target.id))
        .select(Action::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("Action", action_id))
}

pub(crate) fn update_target(conn: &mut AnyConnection, target_id: i64, now: i64, by: &str) -> ApiResult<()> {
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
) -> ApiResult<AssignmentResult> {
    assignable_ds(conn, tenant, ds_id)?;
    let mut result = AssignmentResult::default();
    for req in requests {
        if let Some((s, d, z)) = &req.maintenance {
            let w = MaintenanceWindow::parse(s, d, z).map_err(ApiError::maintenance_schedule_invalid)?;
            if !w.has_future_window(now) {
                return Err(ApiError::maintenance_schedule_invalid(
                    "The maintenance schedule has no future window.",
                ));
            }
        }
        if let Some(w) = req.weight
            && !(0..=1000).contains(&w)
        {
            return Err(ApiError::constraint_violation(
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
) -> ApiResult<()> {
    let open: Vec<(i64, String, bool)> = actions::table
        .inner_join(distribution_sets::table)
        .filter(actions::target_id.eq(target_id).and(actions::active.eq(true)))
        .select((
            actions::id,
            actions::status,
            distribution_sets::required_migration_step,
        ))
        .load(conn)?;
    for (id, status, migration_step) in open {
        let status = ActionStatus::parse(&status).unwrap_or(ActionStatus::Running);
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
pub fn request_cancel(conn: &mut AnyConnection, action: &Action, now: i64, by: &str) -> ApiResult<()> {
    if !action.active || action.status().is_canceling_or_canceled() {
        return Err(ApiError::not_cancelable(action.id));
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
) -> ApiResult<()> {
    if !action.active || action.status() != ActionStatus::Canceling {
        return Err(ApiError::not_force_quitable(action.id));
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

/// hawkBit's `DeploymentHelper.successCancellation`.
pub(crate) fn success_cancellation(
    conn: &mut AnyConnection,
    target: &Target,
    action_id: i64,
    now: i64,
    by: &str,
) -> ApiResult<()> {
    set_action_status(conn, action_id, ActionStatus::Canceled, false, now, by)?;
    let next_ds: Option<i64> = actions::table
        .filter(actions::target_id.eq(target.id).and(actions::active.eq(true)))
        .order(actions::id.asc())
        .select(actions::ds_id)
        .first(conn)
        .optional()?;
    match next_ds {
        Some(ds) => {
            diesel::update(targets::table.find(target.id))
                .set(targets::assigned_ds_id.eq(ds))
                .execute(conn)?;
        }
        None => {
            let installed: Option<i64> = targets::table
                .find(target.id)
                .select(targets::installed_ds_id)
                .first(conn)?;
            diesel::update(targets::table.find(target.id))
                .set((
                    targets::assigned_ds_id.eq(installed),
                    targets::update_status.eq(UpdateStatus::InSync.as_str()),
                ))
                .execute(conn)?;
        }
    }
    update_target(conn, target.id, now, by)
}

fn feedback_messages(fb: &ActionFeedback, default: String) -> Vec<String> {
    let mut messages = if fb.status.details.is_empty() {
        vec![default]
    } else {
        fb.status.details.clone()
    };
    if let Some(code) = fb.status.code {
        messages.push(format!("Device reported status code: {code}"));
    }
    messages
}

/// `POST deploymentBase/{id}/feedback` (hawkBit's `DdiRootController.generateUpdateStatus` and
/// `JpaControllerManagement.addUpdateActionStatus`).
pub fn deployment_feedback(
    conn: &mut AnyConnection,
    quotas: &Quotas,
    target: &Target,
    action: &Action,
    fb: &ActionFeedback,
    now: i64,
) -> ApiResult<()> {
    if action.status() == ActionStatus::WaitForConfirmation {
        return Err(ApiError::not_found("Action", action.id));
    }
    if !action.active {
        return Err(ApiError::bare(actix_web::http::StatusCode::GONE));
    }
    let by = &target.controller_id;
    let (status, default) = match fb.status.execution {
        Execution::Closed if fb.status.result.finished == Finished::Failure => (
            ActionStatus::Error,
            "Target reported CLOSED with ERROR!".to_owned(),
        ),
        Execution::Closed => (
            ActionStatus::Finished,
            "Target reported CLOSED with OK!".to_owned(),
        ),
        Execution::Canceled => (
            ActionStatus::Canceled,
            "Target confirmed cancellation.".to_owned(),
        ),
        Execution::Rejected => (ActionStatus::Warning, "Target REJECTED update.".to_owned()),
        Execution::Download => (
            ActionStatus::Download,
            "Target confirmed download start.".to_owned(),
        ),
        Execution::Downloaded => (
            ActionStatus::Downloaded,
            "Target confirmed download finished.".to_owned(),
        ),
        Execution::Proceeding => (ActionStatus::Running, "Target reported PROCEEDING.".to_owned()),
        Execution::Scheduled => (ActionStatus::Running, "Target reported SCHEDULED.".to_owned()),
        Execution::Resumed => (ActionStatus::Running, "Target reported RESUMED.".to_owned()),
    };
    let messages = feedback_messages(fb, format!("{SERVER_PREFIX}{default}."));
    let occurred_at = fb.timestamp.unwrap_or(now);
    let download_only = action.action_type() == ActionType::DownloadOnly;
    let terminal = matches!(status, ActionStatus::Finished | ActionStatus::Error)
        || (status == ActionStatus::Downloaded && download_only);
    // hawkBit counts status rows only for intermediate feedback: a device can always close.
    check_message_quota(quotas, messages.len())?;
    if !terminal {
        check_status_quota(conn, quotas, action.id)?;
    }
    add_status(
        conn,
        action.id,
        status,
        occurred_at,
        now,
        fb.status.code,
        &messages,
    )?;
    if let Some(code) = fb.status.code {
        diesel::update(actions::table.find(action.id))
            .set(actions::last_status_code.eq(code))
            .execute(conn)?;
    }
    match status {
        ActionStatus::Error => fail_action(conn, action.id, target.id, now, by)?,
        ActionStatus::Finished => {
            set_action_status(conn, action.id, ActionStatus::Finished, false, now, by)?;
            finish_on_target(conn, target, action, occurred_at, now)?;
        }
        ActionStatus::Downloaded if download_only => {
            set_action_status(conn, action.id, ActionStatus::Downloaded, false, now, by)?;
            diesel::update(targets::table.find(target.id))
                .set((
                    targets::update_status.eq(UpdateStatus::InSync.as_str()),
                    targets::request_attributes.eq(true),
                ))
                .execute(conn)?;
            update_target(conn, target.id, now, by)?;
        }
        _ => {}
    }
    Ok(())
}

/// Closes an action as failed: the target is in error and, as in hawkBit, forgets the failed
/// assignment; its installed set is unchanged. Device feedback and the action timeout both end here.
pub(crate) fn fail_action(
    conn: &mut AnyConnection,
    action_id: i64,
    target_id: i64,
    now: i64,
    by: &str,
) -> ApiResult<()> {
    set_action_status(conn, action_id, ActionStatus::Error, false, now, by)?;
    diesel::update(targets::table.find(target_id))
        .set((
            targets::update_status.eq(UpdateStatus::Error.as_str()),
            targets::assigned_ds_id.eq(None::<i64>),
        ))
        .execute(conn)?;
    update_target(conn, target_id, now, by)
}

/// A finished action installs its distribution set on the target unless the device's clock says an
/// even newer installation already happened (hawkBit compares the feedback timestamp).
fn finish_on_target(
    conn: &mut AnyConnection,
    target: &Target,
    action: &Action,
    occurred_at: i64,
    now: i64,
) -> ApiResult<()> {
    let current: Target = targets::table
        .find(target.id)
        .select(Target::as_select())
        .first(conn)?;
    let mut installed = current.installed_ds_id;
    let mut assigned = current.assigned_ds_id;
    let mut installation_date = current.installation_date;
    if current.installation_date.is_none_or(|d| d < occurred_at) {
        installed = Some(action.ds_id);
        installation_date = Some(occurred_at);
        if action.action_type() == ActionType::DownloadOnly {
            assigned = Some(action.ds_id);
        }
    }
    let status = if assigned.is_some() && assigned == installed {
        UpdateStatus::InSync
    } else {
        current.status()
    };
    diesel::update(targets::table.find(target.id))
        .set((
            targets::installed_ds_id.eq(installed),
            targets::assigned_ds_id.eq(assigned),
            targets::installation_date.eq(installation_date),
            targets::update_status.eq(status.as_str()),
            targets::request_attributes.eq(true),
        ))
        .execute(conn)?;
    update_target(conn, target.id, now, &target.controller_id)
}

/// `POST cancelAction/{id}/feedback` (hawkBit's `generateActionCancelStatus`).
pub fn cancel_feedback(
    conn: &mut AnyConnection,
    quotas: &Quotas,
    target: &Target,
    action: &Action,
    fb: &ActionFeedback,
    now: i64,
) -> ApiResult<()> {
    if !action.status().is_canceling_or_canceled() {
        return Err(ApiError::not_cancelable(action.id));
    }
    let by = &target.controller_id;
    let occurred_at = fb.timestamp.unwrap_or(now);
    match (fb.status.execution, fb.status.result.finished) {
        (Execution::Closed, Finished::Failure) => {
            let m = feedback_messages(
                fb,
                format!("{SERVER_PREFIX}Target was not able to complete cancellation."),
            );
            check_quotas(conn, quotas, action.id, m.len())?;
            add_status(
                conn,
                action.id,
                ActionStatus::Error,
                occurred_at,
                now,
                fb.status.code,
                &m,
            )?;
            set_action_status(conn, action.id, ActionStatus::Running, true, now, by)?;
        }
        (Execution::Closed, _) => {
            let mut m = feedback_messages(fb, format!("{SERVER_PREFIX}Cancellation confirmed."));
            m.push(format!(
                "{SERVER_PREFIX}Cancellation completion is finished successfully."
            ));
            add_status(
                conn,
                action.id,
                ActionStatus::Canceled,
                occurred_at,
                now,
                fb.status.code,
                &m,
            )?;
            success_cancellation(conn, target, action.id, now, by)?;
        }
        (Execution::Rejected, _) => {
            let mut m = fb.status.details.clone();
            m.push(format!(
                "{SERVER_PREFIX}Target rejected the cancellation request."
            ));
            check_quotas(conn, quotas, action.id, m.len())?;
            add_status(
                conn,
                action.id,
                ActionStatus::CancelRejected,
                occurred_at,
                now,
                fb.status.code,
                &m,
            )?;
            set_action_status(conn, action.id, ActionStatus::Running, true, now, by)?;
        }
        (Execution::Canceled, _) => {
            let mut m = fb.status.details.clone();
            m.push(format!(
                "{SERVER_PREFIX}Target reported cancel for a cancel which is not supported by the server."
            ));
            check_quotas(conn, quotas, action.id, m.len())?;
            add_status(
                conn,
                action.id,
                ActionStatus::Warning,
                occurred_at,
                now,
                fb.status.code,
                &m,
            )?;
        }
        _ => {
            let m = fb.status.details.clone();
            check_quotas(conn, quotas, action.id, m.len())?;
            add_status(
                conn,
                action.id,
                ActionStatus::Running,
                occurred_at,
                now,
                fb.status.code,
                &m,
            )?;
        }
    }
    Ok(())
}

/// Logs that the device fetched an action, once (`registerRetrieved`), moving it to RETRIEVED.
pub fn register_retrieved(
    conn: &mut AnyConnection,
    action: &Action,
    message: &str,
    now: i64,
    by: &str,
) -> ApiResult<()> {
    let last: Option<String> = action_statuses::table
        .filter(action_statuses::action_id.eq(action.id))
        .order(action_statuses::id.desc())
        .select(action_statuses::status)
        .first(conn)
        .optional()?;
    if last.as_deref() == Some(ActionStatus::Retrieved.as_str()) {
        return Ok(());
    }
    add_status(
        conn,
        action.id,
        ActionStatus::Retrieved,
        now,
        now,
        None,
        &[message.to_owned()],
    )?;
    if !action.status().is_canceling_or_canceled() && action.active {
        set_action_status(conn, action.id, ActionStatus::Retrieved, true, now, by)?;
    }
    Ok(())
}

/// Device messages of an action, newest first, without server messages (`actionHistory`).
pub fn action_history(conn: &mut AnyConnection, action_id: i64, count: i64) -> ApiResult<Vec<String>> {
    let limit = if count > 0 && count < 100 { count } else { 100 };
    Ok(action_status_messages::table
        .inner_join(action_statuses::table)
        .filter(action_statuses::action_id.eq(action_id))
        .filter(action_status_messages::message.not_like(format!("{SERVER_PREFIX}%")))
        .order((
            action_statuses::occurred_at.desc(),
            action_statuses::id.desc(),
            action_status_messages::id.asc(),
        ))
        .select(action_status_messages::message)
        .limit(limit)
        .load(conn)?)
}

/// `PUT installedBase`: an offline installation reported by the device (hawkBit's offline strategy).
/// Returns whether a new assignment was made.
pub fn report_installed(conn: &mut AnyConnection, target: &Target, ds_id: i64, now: i64) -> ApiResult<bool> {
    if target.assigned_ds_id == Some(ds_id) && target.installed_ds_id == Some(ds_id) {
        return Ok(false);
    }
    if target.status() == UpdateStatus::Pending {
        return Ok(false);
    }
    let by = &target.controller_id;
    let action_id: i64 = diesel::insert_into(actions::table)
        .values(crate::store::models::NewAction {
            tenant: &target.tenant,
            target_id: target.id,
            ds_id,
            active: false,
            action_type: ActionType::Forced.as_str(),
            forced_time: 0,
            weight: 1000,
            status: ActionStatus::Finished.as_str(),
            maintenance_schedule: None,
            maintenance_duration: None,
            maintenance_timezone: None,
            initiated_by: by,
            revision: 1,
            created_at: now,
            created_by: by,
            last_modified_at: now,
            last_modified_by: by,
        })
        .returning(actions::id)
        .get_result(conn)?;
    add_status(
        conn,
        action_id,
        ActionStatus::Finished,
        now,
        now,
        None,
        &[format!("{SERVER_PREFIX}Action reported as offline deployment")],
    )?;
    diesel::update(targets::table.find(target.id))
        .set((
            targets::assigned_ds_id.eq(ds_id),
            targets::installed_ds_id.eq(ds_id),
            targets::installation_date.eq(now),
            targets::update_status.eq(UpdateStatus::InSync.as_str()),
        ))
        .execute(conn)?;
    update_target(conn, target.id, now, by)?;
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
