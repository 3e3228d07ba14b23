//! The consent flow: devices (or their operators) confirm or deny actions that wait for it, and
//! auto-confirmation confirms them on the device's behalf.

use diesel::prelude::*;

use super::{SERVER_PREFIX, add_status, find_action_of_target, set_action_status};
use crate::store::models::{Action, ActionStatus, Target};
use crate::store::schema::{actions, targets};
use crate::store::{AnyConnection, Error, Result, Rule};

/// Moves a waiting action on to RUNNING, recording the device's details and code.
pub fn confirm(
    c: &mut AnyConnection,
    action: &Action,
    details: &[String],
    code: Option<i32>,
    now: i64,
    by: &str,
) -> Result<()> {
    let mut messages = details.to_vec();
    messages.push(format!(
        "{SERVER_PREFIX}Target confirmed action. Therefore, it will be set to the running state to proceed with the deployment."
    ));
    if let Some(code) = code {
        messages.push(format!("Confirmation status code: {code}"));
    }
    add_status(c, action.id, ActionStatus::Running, now, now, code, &messages)?;
    set_action_status(c, action.id, ActionStatus::Running, true, now, by)
}

/// A device's answer to an action waiting for its confirmation (hawkBit's
/// `DdiRootController.postConfirmationActionFeedback`). With the consent flow on, a device may also
/// revoke a confirmation while the action has not finished.
#[allow(clippy::too_many_arguments)]
pub fn confirmation_feedback(
    c: &mut AnyConnection,
    target: &Target,
    action_id: i64,
    confirmed: bool,
    details: &[String],
    code: Option<i32>,
    consent_flow: bool,
    now: i64,
) -> Result<()> {
    let action = find_action_of_target(c, target, action_id)?;
    if !action.active {
        return Err(Error::refused(
            Rule::ActionClosed,
            format!("Action {action_id} is closed."),
        ));
    }
    let status = action.status();
    let waiting = status == ActionStatus::WaitForConfirmation;
    let mut messages = details.to_vec();
    if confirmed && waiting {
        return confirm(c, &action, details, code, now, &target.controller_id);
    }
    if !confirmed && waiting {
        messages.push(format!(
            "{SERVER_PREFIX}Target rejected action. Action will stay in confirmation pending state."
        ));
        add_status(
            c,
            action.id,
            ActionStatus::WaitForConfirmation,
            now,
            now,
            code,
            &messages,
        )?;
        return Ok(());
    }
    if !confirmed && consent_flow && matches!(status, ActionStatus::Running | ActionStatus::Retrieved) {
        messages.push(format!(
            "{SERVER_PREFIX}Target revoked previously granted confirmation. Action returned to confirmation-pending state."
        ));
        add_status(
            c,
            action.id,
            ActionStatus::WaitForConfirmation,
            now,
            now,
            code,
            &messages,
        )?;
        return set_action_status(
            c,
            action.id,
            ActionStatus::WaitForConfirmation,
            true,
            now,
            &target.controller_id,
        );
    }
    Err(Error::not_found("Action", action_id))
}

/// Turns auto-confirm on and confirms every action waiting for it; `remark` is stored as given.
pub fn activate_auto_confirm(
    c: &mut AnyConnection,
    target: &Target,
    initiator: Option<String>,
    remark: Option<String>,
    now: i64,
) -> Result<()> {
    let current: Option<i64> = targets::table
        .find(target.id)
        .select(targets::auto_confirm_at)
        .first(c)?;
    if current.is_some() {
        return Err(Error::refused(
            Rule::AutoConfirmActive,
            format!(
                "Auto confirmation is already active for target {}.",
                target.controller_id
            ),
        ));
    }
    diesel::update(targets::table.find(target.id))
        .set((
            targets::auto_confirm_at.eq(now),
            targets::auto_confirm_initiator.eq(&initiator),
            targets::auto_confirm_remark.eq(&remark),
        ))
        .execute(c)?;
    let waiting: Vec<Action> = actions::table
        .filter(actions::target_id.eq(target.id).and(actions::active))
        .filter(actions::status.eq(ActionStatus::WaitForConfirmation.as_str()))
        .select(Action::as_select())
        .load(c)?;
    for a in waiting {
        confirm(
            c,
            &a,
            &[format!(
                "Assignment automatically confirmed by initiator '{}'.",
                initiator.as_deref().unwrap_or("")
            )],
            None,
            now,
            &target.controller_id,
        )?;
    }
    Ok(())
}

/// Turns auto-confirm off; actions assigned from now on wait for confirmation again.
pub fn deactivate_auto_confirm(c: &mut AnyConnection, target_id: i64) -> Result<()> {
    diesel::update(targets::table.find(target_id))
        .set((
            targets::auto_confirm_at.eq(None::<i64>),
            targets::auto_confirm_initiator.eq(None::<String>),
            targets::auto_confirm_remark.eq(None::<String>),
        ))
        .execute(c)?;
    Ok(())
}
