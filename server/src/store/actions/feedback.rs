//! What devices report on their actions: deployment and cancel feedback, retrieval, offline
//! installations, and the message history they read back.

use diesel::prelude::*;

use super::{
    SERVER_PREFIX, add_status, check_message_quota, check_quotas, check_status_quota, set_action_status,
    update_target,
};
use crate::config::Quotas;
use crate::store::models::{Action, ActionStatus, ActionType, Target, UpdateStatus};
use crate::store::schema::{action_status_messages, action_statuses, actions, ds_modules, targets};
use crate::store::{AnyConnection, Error, Result, Rule};

/// A device's report on an action, whichever transport carried it (DDI feedback, DMF's
/// `UPDATE_ACTION_STATUS`), in the domain's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub execution: Execution,
    /// With [`Execution::Closed`]: the update (or the cancellation) failed.
    pub failed: bool,
    /// The device's messages; when none, the server describes the status.
    pub details: Vec<String>,
    /// The device's status code, if it gave one.
    pub code: Option<i32>,
    /// When it happened on the device (epoch milliseconds); server time when absent.
    pub occurred_at: Option<i64>,
}

/// How far a device got with an action (hawkBit's execution states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    Closed,
    Canceled,
    Rejected,
    Download,
    Downloaded,
    Proceeding,
    Scheduled,
    Resumed,
    /// The device fetched the action (DMF's RETRIEVED; DDI records it when the device reads it).
    Retrieved,
}

/// hawkBit's `DeploymentHelper.successCancellation`.
pub(crate) fn success_cancellation(
    conn: &mut AnyConnection,
    target: &Target,
    action_id: i64,
    now: i64,
    by: &str,
) -> Result<()> {
    set_action_status(conn, action_id, ActionStatus::Canceled, false, now, by)?;
    let next_ds: Option<i64> = actions::table
        .filter(actions::target_id.eq(target.id).and(actions::active))
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

fn feedback_messages(fb: &Report, default: String) -> Vec<String> {
    let mut messages = if fb.details.is_empty() {
        vec![default]
    } else {
        fb.details.clone()
    };
    if let Some(code) = fb.code {
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
    fb: &Report,
    now: i64,
) -> Result<()> {
    if action.status() == ActionStatus::WaitForConfirmation {
        return Err(Error::not_found("Action", action.id));
    }
    // hawkBit's `isUpdatingActionStatusAllowed`: a download-only action closed by DOWNLOADED still
    // takes the device's final word, which installs the set.
    let closing = fb.execution == Execution::Closed;
    if !(action.active || (closing && action.action_type() == ActionType::DownloadOnly)) {
        return Err(Error::refused(
            Rule::ActionClosed,
            format!("Action {} is closed.", action.id),
        ));
    }
    let by = &target.controller_id;
    let (status, default) = match fb.execution {
        Execution::Closed if fb.failed => (
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
        Execution::Retrieved => (ActionStatus::Retrieved, "Target retrieved the action.".to_owned()),
    };
    let messages = feedback_messages(fb, format!("{SERVER_PREFIX}{default}."));
    let occurred_at = fb.occurred_at.unwrap_or(now);
    let download_only = action.action_type() == ActionType::DownloadOnly;
    let terminal = matches!(status, ActionStatus::Finished | ActionStatus::Error)
        || (status == ActionStatus::Downloaded && download_only);
    // hawkBit counts status rows only for intermediate feedback: a device can always close.
    check_message_quota(quotas, messages.len())?;
    if !terminal {
        check_status_quota(conn, quotas, action.id)?;
    }
    add_status(conn, action.id, status, occurred_at, now, fb.code, &messages)?;
    if let Some(code) = fb.code {
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
) -> Result<()> {
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
) -> Result<()> {
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
    fb: &Report,
    now: i64,
) -> Result<()> {
    if !action.status().is_canceling_or_canceled() {
        return Err(Error::not_cancelable(action.id));
    }
    let by = &target.controller_id;
    let occurred_at = fb.occurred_at.unwrap_or(now);
    match (fb.execution, fb.failed) {
        (Execution::Closed, true) => {
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
                fb.code,
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
                fb.code,
                &m,
            )?;
            success_cancellation(conn, target, action.id, now, by)?;
        }
        (Execution::Rejected, _) => {
            let mut m = fb.details.clone();
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
                fb.code,
                &m,
            )?;
            set_action_status(conn, action.id, ActionStatus::Running, true, now, by)?;
        }
        (Execution::Canceled, _) => {
            let mut m = fb.details.clone();
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
                fb.code,
                &m,
            )?;
        }
        _ => {
            let m = fb.details.clone();
            check_quotas(conn, quotas, action.id, m.len())?;
            add_status(
                conn,
                action.id,
                ActionStatus::Running,
                occurred_at,
                now,
                fb.code,
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
) -> Result<()> {
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

/// The messages of the status rows `ids` as (status id, message), in the order they were written.
pub fn status_messages(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<(i64, String)>> {
    Ok(action_status_messages::table
        .filter(action_status_messages::action_status_id.eq_any(ids))
        .order(action_status_messages::id.asc())
        .select((
            action_status_messages::action_status_id,
            action_status_messages::message,
        ))
        .load(conn)?)
}

/// Device messages of an action, newest first, without server messages (`actionHistory`).
pub fn action_history(conn: &mut AnyConnection, action_id: i64, count: i64) -> Result<Vec<String>> {
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
pub fn report_installed(conn: &mut AnyConnection, target: &Target, ds_id: i64, now: i64) -> Result<bool> {
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

/// Records that the device downloads an artifact of module `sm_id` on its newest open action that
/// contains the module, unless the action already has `quota` status entries (0: no limit). Answers
/// whether it recorded anything.
pub fn log_download(
    c: &mut AnyConnection,
    target_id: i64,
    sm_id: i64,
    message: &str,
    quota: i64,
    now: i64,
) -> Result<bool> {
    let action: Option<i64> = actions::table
        .inner_join(ds_modules::table.on(ds_modules::ds_id.eq(actions::ds_id)))
        .filter(actions::target_id.eq(target_id).and(actions::active))
        .filter(ds_modules::sm_id.eq(sm_id))
        .order(actions::id.desc())
        .select(actions::id)
        .first(c)
        .optional()?;
    let Some(action) = action else { return Ok(false) };
    let count: i64 = action_statuses::table
        .filter(action_statuses::action_id.eq(action))
        .count()
        .get_result(c)?;
    if quota > 0 && count >= quota {
        return Ok(false);
    }
    add_status(
        c,
        action,
        ActionStatus::Download,
        now,
        now,
        None,
        &[message.to_owned()],
    )?;
    Ok(true)
}
