//! Action timeouts (which hawkBit lacks: its rollouts wait forever for a silent device) and the
//! cleanup of old action history. The scheduler runs each in a transaction of its own.

use diesel::prelude::*;

use super::actions::{SERVER_PREFIX, add_status, fail_action, maintenance_window};
use super::models::{Action, ActionStatus};
use super::query::Sql;
use super::schema::{action_statuses, actions, targets};
use super::{AnyConnection, Changes, Result};

/// How many actions one call looks at (twice as many for deletion).
const BATCH: i64 = 500;

/// States in which the server waits for the device to report.
const WAITING_ON_DEVICE: &[&str] = &["running", "retrieved", "download", "downloaded", "warning"];

/// Claims up to [`BATCH`] open actions whose device has not reported for `timeout_secs` and closes
/// them as errors. Returns the devices whose action closed (one entry per action) and the rollouts
/// of those actions.
///
/// An action with a maintenance window waits for the window without a word from the device, so its
/// silence counts only inside an open window, from the later of the window's start and the last
/// report: outside its windows it never times out.
pub fn time_out_silent_actions(c: &mut AnyConnection, timeout_secs: u64, now: i64) -> Result<Changes> {
    let cutoff = now - (timeout_secs as i64) * 1000;
    macro_rules! waiting {
        ($window:expr) => {
            actions::table
                .filter(actions::active)
                .filter(actions::status.eq_any(WAITING_ON_DEVICE))
                .filter(actions::last_modified_at.lt(cutoff))
                .filter($window)
                .select((
                    actions::id,
                    actions::tenant,
                    actions::target_id,
                    actions::rollout_id,
                ))
                .limit(BATCH)
        };
    }
    // Separately, so actions waiting for a far window cannot fill the batch and hold up others.
    let mut candidates: Vec<(i64, String, i64, Option<i64>)> =
        crate::store::claim::claim!(c, waiting!(actions::maintenance_schedule.is_null()))?;
    let windowed: Vec<(i64, String, i64, Option<i64>)> =
        crate::store::claim::claim!(c, waiting!(actions::maintenance_schedule.is_not_null()))?;
    for row in windowed {
        let action: Action = actions::table.find(row.0).select(Action::as_select()).first(c)?;
        let opened = maintenance_window(&action)
            .and_then(|w| w.current_or_next_start(now))
            .filter(|start| *start <= now);
        if opened.is_some_and(|start| start < cutoff) {
            candidates.push(row);
        }
    }
    let mut closed = Changes::none();
    for (id, tenant, target_id, rollout) in candidates {
        let last_report: Option<i64> = action_statuses::table
            .filter(action_statuses::action_id.eq(id))
            .select(diesel::dsl::max(action_statuses::created_at))
            .first(c)?;
        if let Some(at) = last_report.filter(|at| *at >= cutoff) {
            // Intermediate feedback does not change the action row; remember it there so the
            // next sweep does not look again before the timeout can have passed.
            diesel::update(actions::table.find(id))
                .set(actions::last_modified_at.eq(at))
                .execute(c)?;
            continue;
        }
        add_status(
            c,
            id,
            ActionStatus::Error,
            now,
            now,
            None,
            &[format!(
                "{SERVER_PREFIX}No feedback from the device for {timeout_secs} s: the action timed out."
            )],
        )?;
        fail_action(c, id, target_id, now, "system")?;
        let cid: String = targets::table
            .find(target_id)
            .select(targets::controller_id)
            .first(c)?;
        closed.devices.push((tenant, cid));
        closed.rollouts.extend(rollout);
    }
    Ok(closed)
}

/// Deletes up to twice [`BATCH`] closed actions older than `retention_days`, except the action that
/// installed a target's current set and actions of rollouts still in progress. Returns how many.
pub fn delete_old_actions(c: &mut AnyConnection, retention_days: u64, now: i64) -> Result<usize> {
    let cutoff = now - (retention_days as i64) * 86_400_000;
    let old = Sql::<diesel::sql_types::Bool>::new()
        .sql("actions.active = ")
        .boolean(false)
        .sql(" AND actions.status IN ('finished', 'error', 'canceled') AND actions.last_modified_at < ")
        .int(cutoff)
        .sql(
            " AND NOT (actions.status = 'finished' AND actions.ds_id = \
             (SELECT t.installed_ds_id FROM targets t WHERE t.id = actions.target_id)) \
             AND (actions.rollout_id IS NULL OR actions.rollout_id IN \
             (SELECT r.id FROM rollouts r WHERE r.status IN ('finished', 'deleted', 'stopped')))",
        );
    let ids: Vec<i64> = actions::table
        .filter(old)
        .select(actions::id)
        .limit(BATCH * 2)
        .load(c)?;
    Ok(diesel::delete(actions::table.filter(actions::id.eq_any(&ids))).execute(c)?)
}
