//! Fleet-wide figures: how many devices, how many online, per update status, and the latest failures.

use diesel::prelude::*;

use super::schema::{action_statuses, actions, targets};
use super::{AnyConnection, Result};

/// The overview's figures of one tenant's fleet.
#[derive(Debug)]
pub struct Fleet {
    pub total: i64,
    pub online: i64,
    /// Devices that never polled.
    pub never: i64,
    /// Devices per update status.
    pub by_status: Vec<(String, i64)>,
    /// (controller id, time, message) of the latest error reports.
    pub failures: Vec<(String, i64, Option<String>)>,
}

/// The tenant's fleet: online means polled at or after `since`.
pub fn summary(c: &mut AnyConnection, tenant: &str, since: i64) -> Result<Fleet> {
    let mine = || targets::table.filter(targets::tenant.eq(tenant));
    let online = mine()
        .filter(targets::last_poll.ge(since))
        .count()
        .get_result(c)?;
    let never = mine()
        .filter(targets::last_poll.is_null())
        .count()
        .get_result(c)?;
    // From the maintained counts (store::target_counts), not a walk over the fleet.
    let counts = super::target_counts::load(c, tenant)?;
    let by_status = counts.by_status();
    let total = counts.total();
    let failed: Vec<(i64, String, i64)> = action_statuses::table
        .inner_join(actions::table.inner_join(targets::table))
        .filter(actions::tenant.eq(tenant))
        .filter(action_statuses::status.eq("error"))
        .order(action_statuses::id.desc())
        .limit(10)
        .select((
            action_statuses::id,
            targets::controller_id,
            action_statuses::occurred_at,
        ))
        .load(c)?;
    let ids: Vec<i64> = failed.iter().map(|f| f.0).collect();
    let messages: Vec<(i64, String)> = super::actions::status_messages(c, &ids)?;
    let failures = failed
        .into_iter()
        .map(|(id, cid, at)| {
            let msg = messages
                .iter()
                .rev()
                .find(|(s, _)| *s == id)
                .map(|(_, m)| m.clone());
            (cid, at, msg)
        })
        .collect();
    Ok(Fleet {
        total,
        online,
        never,
        by_status,
        failures,
    })
}
