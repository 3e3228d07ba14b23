//! What the scheduler finds to do among rollouts: which are running or due to start, and the step
//! it takes on one of them, each under the rollout's row lock inside the caller's transaction.

use diesel::prelude::*;

use super::{RolloutStatus, engine};
use crate::store::schema::rollouts;
use crate::store::{AnyConnection, Changes, Result, tenants};

/// The ids of all running rollouts, and of paused ones with a soak time (their devices' soaks
/// go on), which a sweep evaluates.
pub fn running(c: &mut AnyConnection) -> Result<Vec<i64>> {
    Ok(rollouts::table
        .filter(
            rollouts::status
                .eq(RolloutStatus::Running.as_str())
                .or(rollouts::status
                    .eq(RolloutStatus::Paused.as_str())
                    .and(rollouts::soak_time.is_not_null())),
        )
        .select(rollouts::id)
        .load(c)?)
}

/// The ids of READY rollouts whose `startAt` has come by `now`.
pub fn due_to_start(c: &mut AnyConnection, now: i64) -> Result<Vec<i64>> {
    Ok(rollouts::table
        .filter(rollouts::status.eq(RolloutStatus::Ready.as_str()))
        .filter(rollouts::start_at.le(now))
        .select(rollouts::id)
        .load(c)?)
}

/// Locks rollout `id` and evaluates it ([`engine::evaluate`]). None when there is no such rollout
/// or, with `skip_locked`, another process holds it now.
pub fn evaluate(
    c: &mut AnyConnection,
    id: i64,
    skip_locked: bool,
    now: i64,
    sweep: bool,
) -> Result<Option<Changes>> {
    let Some(r) = engine::lock(c, id, skip_locked)? else {
        return Ok(None);
    };
    let settings = tenants::load(c, &r.tenant)?;
    Ok(Some(engine::evaluate(c, &settings, &r, now, sweep)?))
}

/// Locks rollout `id` and starts it as "system" if it is still READY and its `startAt` has come.
/// None when another process holds it or it is no longer due.
pub fn start_if_due(c: &mut AnyConnection, id: i64, now: i64) -> Result<Option<Changes>> {
    let Some(r) = engine::lock(c, id, true)? else {
        return Ok(None);
    };
    if r.status() != RolloutStatus::Ready || r.start_at.is_none_or(|t| t > now) {
        return Ok(None);
    }
    let settings = tenants::load(c, &r.tenant)?;
    Ok(Some(engine::start(c, &settings, &r, "system", now)?))
}
