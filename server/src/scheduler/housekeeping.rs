//! Action timeouts and the cleanup of old action history (`store::housekeeping`), of old
//! fleet-health events and of old audit-log entries, each in a transaction of its own, switched on
//! by the server's configuration.

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

/// How many fleet-health events of each kind one run deletes.
const HEALTH_EVENTS_PER_RUN: i64 = 5000;

/// Deletes fleet-health events older than `health_event_retention_days`.
pub fn delete_old_health_events(state: &AppState) -> store::Result<usize> {
    let days = state.config.health_event_retention_days;
    if days == 0 {
        return Ok(0);
    }
    let now = state.now();
    let n = state
        .db
        .write_blocking(|c| store::fleet_health::delete_older_than(c, days, now, HEALTH_EVENTS_PER_RUN))?;
    if n > 0 {
        tracing::info!(deleted = n, "old fleet-health events removed");
    }
    Ok(n)
}

/// How many audit entries one run deletes; a run deletes more at once only after a long outage.
const AUDIT_ENTRIES_PER_RUN: i64 = 10_000;

/// Deletes audit-log entries older than `audit_retention_days`.
pub fn delete_old_audit_entries(state: &AppState) -> store::Result<usize> {
    let days = state.config.audit_retention_days;
    if days == 0 {
        return Ok(0);
    }
    let now = state.now();
    let n = state
        .db
        .write_blocking(|c| store::audit::delete_older_than(c, days, now, AUDIT_ENTRIES_PER_RUN))?;
    if n > 0 {
        tracing::info!(deleted = n, "old audit-log entries removed");
    }
    Ok(n)
}
