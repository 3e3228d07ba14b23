//! Action timeouts (which hawkBit lacks: its rollouts wait forever for a silent device) and the
//! cleanup of old action history.

use diesel::prelude::*;

use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::Changes;
use crate::store::actions::{SERVER_PREFIX, add_status, fail_action};
use crate::store::models::ActionStatus;
use crate::store::query::Sql;
use crate::store::schema::{action_statuses, actions, targets};

const BATCH: i64 = 500;

/// States in which the server waits for the device to report.
const WAITING_ON_DEVICE: &[&str] = &["running", "retrieved", "download", "downloaded", "warning"];

/// Closes open actions whose device has not reported for `action_timeout_secs` as errors.
pub fn time_out_silent_actions(state: &AppState) -> ApiResult<usize> {
    let timeout = state.config.action_timeout_secs;
    if timeout == 0 {
        return Ok(0);
    }
    let now = state.now();
    let cutoff = now - (timeout as i64) * 1000;
    let (closed, touched) = state.db.tx_blocking(|c| {
        let q = || {
            actions::table
                .filter(actions::active.eq(true))
                .filter(actions::status.eq_any(WAITING_ON_DEVICE))
                .filter(actions::last_modified_at.lt(cutoff))
                .select((
                    actions::id,
                    actions::tenant,
                    actions::target_id,
                    actions::rollout_id,
                ))
                .limit(BATCH)
        };
        let candidates: Vec<(i64, String, i64, Option<i64>)> = crate::store::claim::claim!(c, q())?;
        let mut closed = Vec::new();
        let mut rollouts = Vec::new();
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
                    "{SERVER_PREFIX}No feedback from the device for {timeout} s: the action timed out."
                )],
            )?;
            fail_action(c, id, target_id, now, "system")?;
            let cid: String = targets::table
                .find(target_id)
                .select(targets::controller_id)
                .first(c)?;
            closed.push((tenant, cid));
            rollouts.extend(rollout);
        }
        Ok((closed, rollouts))
    })?;
    for (tenant, cid) in &closed {
        tracing::info!(tenant, controller_id = cid, "action timed out");
        state.apply(Changes::device(tenant, cid));
    }
    for r in touched {
        state.apply(Changes::rollout(r));
    }
    Ok(closed.len())
}

/// Deletes closed actions older than `action_retention_days`, except the action that installed a
/// target's current set and actions of rollouts still in progress.
pub fn delete_old_actions(state: &AppState) -> ApiResult<usize> {
    let days = state.config.action_retention_days;
    if days == 0 {
        return Ok(0);
    }
    let cutoff = state.now() - (days as i64) * 86_400_000;
    state.db.tx_blocking(|c| {
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
        let n = diesel::delete(actions::table.filter(actions::id.eq_any(&ids))).execute(c)?;
        if n > 0 {
            tracing::info!(deleted = n, "old actions removed");
        }
        Ok(n)
    })
}
