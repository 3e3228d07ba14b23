//! Auto-assignment: a target filter query with a distribution set assigns it to matching targets.
//!
//! hawkBit re-runs every auto-assigning filter over the whole fleet every two seconds. Here a target
//! is checked when it registers or its attributes change (`targets.auto_assign_pending`, set in the
//! same transaction), and a filter scans the fleet once, when its auto-assignment is set
//! (`target_filter_queries.auto_assign_pending`).

use diesel::prelude::*;

use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::Changes;
use crate::store::actions::{self, AssignmentRequest};
use crate::store::models::ActionType;
use crate::store::query;
use crate::store::schema::{actions as actions_t, target_filter_queries as tfq, targets};
use crate::tenant_config;

const BATCH: i64 = 500;

/// Checks pending filters and targets; returns how many targets it looked at.
pub fn run(state: &AppState) -> ApiResult<usize> {
    // Most rounds have nothing to do: find that out with a read, not a write transaction.
    let (filters, targets_waiting) = state.db.run_blocking(|c| {
        let filters: Option<i64> = tfq::table
            .filter(tfq::auto_assign_pending.eq(true))
            .select(tfq::id)
            .first(c)
            .optional()?;
        let waiting: Option<i64> = targets::table
            .filter(targets::auto_assign_pending.eq(true))
            .select(targets::id)
            .first(c)
            .optional()?;
        Ok((filters.is_some(), waiting.is_some()))
    })?;
    if filters {
        expand_pending_filters(state)?;
    } else if !targets_waiting {
        return Ok(0);
    }
    clear_where_nothing_assigns(state)?;
    let mut seen = 0;
    loop {
        let now = state.now();
        let (n, assigned) = state.db.tx_blocking(|c| check_batch(c, now))?;
        for (tenant, cid) in &assigned {
            state.apply(Changes::device(tenant, cid));
        }
        seen += n;
        if n < BATCH as usize {
            return Ok(seen);
        }
    }
}

/// Targets of tenants without any auto-assigning filter have nothing to check: one statement
/// clears them (a filter set later checks every target itself).
fn clear_where_nothing_assigns(state: &AppState) -> ApiResult<()> {
    state.db.tx_blocking(|c| {
        let assigning: Vec<String> = tfq::table
            .filter(tfq::auto_assign_ds_id.is_not_null())
            .select(tfq::tenant)
            .distinct()
            .load(c)?;
        diesel::update(
            targets::table
                .filter(targets::auto_assign_pending.eq(true))
                .filter(targets::tenant.ne_all(assigning)),
        )
        .set(targets::auto_assign_pending.eq(false))
        .execute(c)?;
        Ok(())
    })
}

/// A filter whose auto-assignment was set marks every target it matches.
fn expand_pending_filters(state: &AppState) -> ApiResult<()> {
    state.db.tx_blocking(|c| {
        let q = || {
            tfq::table
                .filter(tfq::auto_assign_pending.eq(true))
                .select((tfq::id, tfq::tenant, tfq::query))
                .limit(50)
        };
        let pending: Vec<(i64, String, String)> = crate::store::claim::claim!(c, q())?;
        for (id, tenant, q) in pending {
            if let Ok(filter) = query::filter(&query::TARGETS, Some(&q)) {
                diesel::update(targets::table.filter(targets::tenant.eq(&tenant)).filter(filter))
                    .set(targets::auto_assign_pending.eq(true))
                    .execute(c)?;
            }
            diesel::update(tfq::table.find(id))
                .set(tfq::auto_assign_pending.eq(false))
                .execute(c)?;
        }
        Ok(())
    })
}

type Filter = (i64, String, i64, Option<String>, Option<i32>, bool, String);

/// Claims up to [`BATCH`] pending targets, assigns what their first matching filter says, and
/// clears their flag.
fn check_batch(c: &mut AnyConnection, now: i64) -> ApiResult<(usize, Vec<(String, String)>)> {
    let q = || {
        targets::table
            .filter(targets::auto_assign_pending.eq(true))
            .order(targets::id.asc())
            .select((targets::id, targets::tenant, targets::controller_id))
            .limit(BATCH)
    };
    let claimed: Vec<(i64, String, String)> = crate::store::claim::claim!(c, q())?;
    let mut assigned = Vec::new();
    let mut filters_of: std::collections::HashMap<String, Vec<Filter>> = std::collections::HashMap::new();
    for (id, tenant, cid) in &claimed {
        if !filters_of.contains_key(tenant) {
            let fs: Vec<Filter> = tfq::table
                .filter(tfq::tenant.eq(tenant))
                .filter(tfq::auto_assign_ds_id.is_not_null())
                .order((tfq::auto_assign_weight.desc(), tfq::id.asc()))
                .select((
                    tfq::id,
                    tfq::query,
                    tfq::auto_assign_ds_id.assume_not_null(),
                    tfq::auto_assign_action_type,
                    tfq::auto_assign_weight,
                    tfq::confirmation_required,
                    tfq::last_modified_by,
                ))
                .load(c)?;
            filters_of.insert(tenant.clone(), fs);
        }
        let filters = &filters_of[tenant];
        for (_, q, ds, action_type, weight, confirm, by) in filters {
            let Ok(filter) = query::filter(&query::TARGETS, Some(q)) else {
                continue;
            };
            let matches: i64 = targets::table
                .filter(targets::id.eq(id))
                .filter(filter)
                .count()
                .get_result(c)?;
            if matches == 0 {
                continue;
            }
            // Never again for a set the target already had an action for (hawkBit does the same,
            // so a failed update is not retried forever).
            let had: i64 = actions_t::table
                .filter(actions_t::target_id.eq(id).and(actions_t::ds_id.eq(ds)))
                .count()
                .get_result(c)?;
            if had > 0 {
                break;
            }
            let settings = tenant_config::load(c, tenant)?;
            let request = AssignmentRequest {
                controller_id: cid.clone(),
                action_type: action_type
                    .as_deref()
                    .and_then(ActionType::parse)
                    .unwrap_or(ActionType::Forced),
                forced_time: 0,
                weight: *weight,
                maintenance: None,
                confirmation_required: Some(*confirm),
            };
            // A set that became invalid or incomplete since is skipped, not retried in a loop.
            match c.transaction(|c| actions::assign(c, &settings, tenant, *ds, &[request], by, now)) {
                Ok(r) if !r.assigned.is_empty() => assigned.push((tenant.clone(), cid.clone())),
                Ok(_) => {}
                Err(e) => tracing::warn!(target = %cid, ds, error = %e, "auto-assignment skipped"),
            }
            break;
        }
    }
    let ids: Vec<i64> = claimed.iter().map(|(id, _, _)| *id).collect();
    for chunk in ids.chunks(500) {
        diesel::update(targets::table.filter(targets::id.eq_any(chunk)))
            .set(targets::auto_assign_pending.eq(false))
            .execute(c)?;
    }
    Ok((claimed.len(), assigned))
}
