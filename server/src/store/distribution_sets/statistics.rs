//! How much a distribution set is used: its actions and rollouts per status, and the target filters
//! that auto-assign it.

use diesel::prelude::*;

use crate::store::schema::{actions, rollouts, target_filter_queries};
use crate::store::{AnyConnection, Result};

/// Set `id`'s actions per stored status.
pub fn action_counts(c: &mut AnyConnection, id: i64) -> Result<Vec<(String, i64)>> {
    Ok(actions::table
        .filter(actions::ds_id.eq(id))
        .group_by(actions::status)
        .select((actions::status, diesel::dsl::count_star()))
        .load(c)?)
}

/// Set `id`'s rollouts (not deleted) per stored status.
pub fn rollout_counts(c: &mut AnyConnection, id: i64) -> Result<Vec<(String, i64)>> {
    Ok(rollouts::table
        .filter(rollouts::ds_id.eq(id).and(rollouts::deleted.eq(false)))
        .group_by(rollouts::status)
        .select((rollouts::status, diesel::dsl::count_star()))
        .load(c)?)
}

/// The number of the tenant's target filters that auto-assign set `id`.
pub fn auto_assignment_count(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<i64> {
    Ok(target_filter_queries::table
        .filter(target_filter_queries::tenant.eq(tenant))
        .filter(target_filter_queries::auto_assign_ds_id.eq(Some(id)))
        .count()
        .get_result(c)?)
}
