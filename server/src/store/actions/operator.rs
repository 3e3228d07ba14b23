//! What operators do to one target's actions, over the Management API or the web UI: cancel or
//! force-quit, force, confirm or deny on the device's behalf, and auto-confirmation. Each returns
//! the device whose poll answer may have changed.

use diesel::prelude::*;

use super::queries::{ActionView, target_action};
use super::{SERVER_PREFIX, add_status, confirmation, find_action_of_target, force_quit, request_cancel};
use crate::store::models::{ActionStatus, ActionType};
use crate::store::schema::actions;
use crate::store::targets::find_target;
use crate::store::{AnyConnection, Changes, Error, Result, Rule};

/// Cancels an open action of the tenant's target `controller_id`, or with `force` closes one that is
/// being canceled (hawkBit's force quit).
pub fn cancel_action(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    action_id: i64,
    force: bool,
    by: &str,
    now: i64,
) -> Result<Changes> {
    let t = find_target(c, tenant, controller_id)?;
    let a = find_action_of_target(c, &t, action_id)?;
    if force {
        force_quit(c, &t, &a, now, by)?;
    } else {
        request_cancel(c, &a, now, by)?;
    }
    Ok(Changes::device(tenant, controller_id))
}

/// Turns an action of the tenant's target into a forced one (hawkBit's `forceType: forced`), so
/// the device installs it without asking; returns it as it is now.
pub fn force_action(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    action_id: i64,
    by: &str,
    now: i64,
) -> Result<(ActionView, Changes)> {
    let (_, view) = target_action(c, tenant, controller_id, action_id)?;
    if view.action.action_type() != ActionType::Forced {
        diesel::update(actions::table.find(view.action.id))
            .set((
                actions::action_type.eq(ActionType::Forced.as_str()),
                actions::last_modified_at.eq(now),
                actions::last_modified_by.eq(by),
            ))
            .execute(c)?;
    }
    let (_, view) = target_action(c, tenant, controller_id, action_id)?;
    Ok((view, Changes::device(tenant, controller_id)))
}

/// An operator's answer, on the device's behalf, to an action waiting for confirmation: confirmed,
/// the action runs; denied, it keeps waiting. A closed action, or one not waiting, is refused.
#[allow(clippy::too_many_arguments)]
pub fn confirm_action(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    action_id: i64,
    confirmed: bool,
    details: &[String],
    code: Option<i32>,
    by: &str,
    now: i64,
) -> Result<Changes> {
    let t = find_target(c, tenant, controller_id)?;
    let a = find_action_of_target(c, &t, action_id)?;
    if !a.active {
        return Err(Error::refused(
            Rule::ActionClosed,
            format!("Action {action_id} is closed."),
        ));
    }
    if a.status() != ActionStatus::WaitForConfirmation {
        return Err(Error::refused(
            Rule::NotWaitingForConfirmation,
            format!("Action {action_id} is not waiting for confirmation."),
        ));
    }
    if confirmed {
        confirmation::confirm(c, &a, details, code, now, by)?;
    } else {
        let mut m = details.to_vec();
        m.push(format!(
            "{SERVER_PREFIX}Target rejected action. Action will stay in confirmation pending state."
        ));
        add_status(c, a.id, ActionStatus::WaitForConfirmation, now, now, code, &m)?;
    }
    Ok(Changes::device(tenant, controller_id))
}

/// Turns auto-confirm on for the tenant's target; its actions waiting for confirmation run at once.
pub fn activate_auto_confirm(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    initiator: Option<String>,
    remark: Option<String>,
    now: i64,
) -> Result<Changes> {
    let t = find_target(c, tenant, controller_id)?;
    confirmation::activate_auto_confirm(c, &t, initiator, remark, now)?;
    Ok(Changes::device(tenant, controller_id))
}

/// Turns auto-confirm off for the tenant's target; actions already confirmed stay so.
pub fn deactivate_auto_confirm(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Changes> {
    let t = find_target(c, tenant, controller_id)?;
    confirmation::deactivate_auto_confirm(c, t.id)?;
    Ok(Changes::device(tenant, controller_id))
}
