//! Grouped counts for `/metrics`, read at scrape time: one cheap `GROUP BY` each.

use diesel::prelude::*;

use super::schema::{actions, rollouts};
use super::{AnyConnection, Result};

/// Open actions per tenant and status: `(tenant, status, count)`.
pub fn active_actions_by_status(c: &mut AnyConnection) -> Result<Vec<(String, String, i64)>> {
    Ok(actions::table
        .filter(actions::active)
        .group_by((actions::tenant, actions::status))
        .select((actions::tenant, actions::status, diesel::dsl::count_star()))
        .order((actions::tenant, actions::status))
        .load(c)?)
}

/// Rollouts per tenant and state: `(tenant, state, count)`.
pub fn rollouts_by_state(c: &mut AnyConnection) -> Result<Vec<(String, String, i64)>> {
    Ok(rollouts::table
        .group_by((rollouts::tenant, rollouts::status))
        .select((rollouts::tenant, rollouts::status, diesel::dsl::count_star()))
        .order((rollouts::tenant, rollouts::status))
        .load(c)?)
}
