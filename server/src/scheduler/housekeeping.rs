//! Action timeouts and the cleanup of old action history (`store::housekeeping`), each in a
//! transaction of its own, switched on by the server's configuration.

use crate::state::AppState;
use crate::store::{self, housekeeping};

/// Closes open actions whose device has not reported for `action_timeout_secs` as errors.
pub fn time_out_silent_actions(state: &AppState) -> store::Result<usize> {
    let timeout = state.config.action_timeout_secs;
    if timeout == 0 {
        return Ok(0);
    }
    let now = state.now();
    let closed = state
        .db
        .write_blocking(|c| housekeeping::time_out_silent_actions(c, timeout, now))?;
    for (tenant, cid) in &closed.devices {
        tracing::info!(tenant, controller_id = cid, "action timed out");
    }
    let n = closed.devices.len();
    state.apply(closed);
    Ok(n)
}

/// Deletes closed actions older than `action_retention_days`, except the action that installed a
/// target's current set and actions of rollouts still in progress.
pub fn delete_old_actions(state: &AppState) -> store::Result<usize> {
    let days = state.config.action_retention_days;
    if days == 0 {
        return Ok(0);
    }
    let now = state.now();
    let n = state
        .db
        .write_blocking(|c| housekeeping::delete_old_actions(c, days, now))?;
    if n > 0 {
        tracing::info!(deleted = n, "old actions removed");
    }
    Ok(n)
}
