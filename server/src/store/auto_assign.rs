//! Auto-assignment: a target filter query with a distribution set assigns it to matching targets.
//!
//! hawkBit re-runs every auto-assigning filter over the whole fleet every two seconds. Here a target
//! is checked when it registers or its attributes change (`targets.auto_assign_pending`, set in the
//! same transaction), and a filter scans the fleet once, when its auto-assignment is set
//! (`target_filter_queries.auto_assign_pending`). The scheduler runs each step below in a
//! transaction of its own.

use std::collections::HashMap;

use diesel::prelude::*;

use super::actions::{self, AssignmentRequest};
use super::models::ActionType;
use super::schema::{actions as actions_t, target_filter_queries as tfq, targets};
use super::{AnyConnection, Changes, Result, auto_assign_soak, query, tenants};

/// How many pending targets one [`check_batch`] claims; fewer means none are left.
pub const BATCH: i64 = 500;

/// Which flags are set: filters whose auto-assignment was set, targets that are waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub filters: bool,
    pub targets: bool,
}

/// Whether any filter or target waits for auto-assignment (a read: most rounds have nothing to do).
pub fn pending(c: &mut AnyConnection) -> Result<Pending> {
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
    Ok(Pending {
        filters: filters.is_some(),
        targets: waiting.is_some(),
    })
}

/// Targets of tenants without any auto-assigning filter have nothing to check: one statement
/// clears them (a filter set later checks every target itself).
pub fn clear_where_nothing_assigns(c: &mut AnyConnection) -> Result<()> {
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
}

/// Claims up to 50 filters whose auto-assignment was set and marks every target each matches.
pub fn expand_pending_filters(c: &mut AnyConnection) -> Result<()> {
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
}

/// An auto-assigning filter: what it assigns, and how.
#[derive(Queryable)]
struct Assigning {
    id: i64,
    query: String,
    ds_id: i64,
    action_type: Option<String>,
    weight: Option<i32>,
    confirmation_required: bool,
    by: String,
    /// Devices soak after their success ([`super::auto_assign_soak`]).
    soaks: bool,
    /// Paused by failed soaks: it holds its devices and assigns nothing.
    paused: bool,
}

/// A tenant's auto-assigning filters, heaviest first.
fn rules(c: &mut AnyConnection, tenant: &str) -> Result<Vec<Assigning>> {
    Ok(tfq::table
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
            tfq::auto_assign_soak_time.is_not_null(),
            tfq::auto_assign_paused_at.is_not_null(),
        ))
        .load(c)?)
}

/// Claims up to [`BATCH`] pending targets, assigns what their first matching filter says, and
/// clears their flag. Returns how many targets it claimed and the devices it assigned to.
pub fn check_batch(c: &mut AnyConnection, now: i64) -> Result<(usize, Changes)> {
    let q = || {
        targets::table
            .filter(targets::auto_assign_pending.eq(true))
            .order(targets::id.asc())
            .select((targets::id, targets::tenant, targets::controller_id))
            .limit(BATCH)
    };
    let claimed: Vec<(i64, String, String)> = crate::store::claim::claim!(c, q())?;
    let mut assigned = Changes::none();
    let mut rules_of: HashMap<String, Vec<Assigning>> = HashMap::new();
    for (id, tenant, cid) in &claimed {
        if !rules_of.contains_key(tenant) {
            let rs = rules(c, tenant)?;
            rules_of.insert(tenant.clone(), rs);
        }
        for rule in &rules_of[tenant] {
            match check_target(c, *id, tenant, cid, rule, now)? {
                Verdict::NoMatch => continue,
                Verdict::Assigned => assigned = assigned.and(Changes::device(tenant, cid)),
                Verdict::Done => {}
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

/// What one filter did with one target.
enum Verdict {
    /// The filter does not match (or cannot be parsed): the next filter decides.
    NoMatch,
    /// The filter matched and its set was assigned.
    Assigned,
    /// The filter matched, and nothing was assigned: the target is done.
    Done,
}

/// Assigns `rule`'s set to target `id` if the filter matches it.
fn check_target(
    c: &mut AnyConnection,
    id: i64,
    tenant: &str,
    cid: &str,
    rule: &Assigning,
    now: i64,
) -> Result<Verdict> {
    let Ok(filter) = query::filter(&query::TARGETS, Some(&rule.query)) else {
        return Ok(Verdict::NoMatch);
    };
    let matches: i64 = targets::table
        .filter(targets::id.eq(id))
        .filter(filter)
        .count()
        .get_result(c)?;
    // A target whose type does not accept the set is not the filter's (hawkBit's auto-assignment
    // looks only at compatible targets): a later filter may still take it.
    if matches == 0 || !actions::compatible::accepts(c, id, rule.ds_id)? {
        return Ok(Verdict::NoMatch);
    }
    // A paused auto-assignment holds the devices it matches (a lighter filter does not get them)
    // until it is set again, which checks every matching device anew.
    if rule.paused {
        return Ok(Verdict::Done);
    }
    // Never again for a set the target already had an action for (hawkBit does the same, so a
    // failed update is not retried forever).
    let had: i64 = actions_t::table
        .filter(actions_t::target_id.eq(id).and(actions_t::ds_id.eq(rule.ds_id)))
        .count()
        .get_result(c)?;
    if had > 0 {
        return Ok(Verdict::Done);
    }
    let settings = tenants::load(c, tenant)?;
    let request = AssignmentRequest {
        controller_id: cid.to_owned(),
        action_type: rule
            .action_type
            .as_deref()
            .and_then(ActionType::parse)
            .unwrap_or(ActionType::Forced),
        forced_time: 0,
        weight: rule.weight,
        maintenance: None,
        confirmation_required: Some(rule.confirmation_required),
    };
    let ds = rule.ds_id;
    // A set that became invalid or incomplete since is skipped, not retried in a loop.
    Ok(
        match c.transaction(|c| {
            let r = actions::assign(c, &settings, tenant, ds, &[request], &rule.by, now)?;
            if rule.soaks {
                for (_, action) in &r.assigned {
                    auto_assign_soak::record(c, rule.id, *action)?;
                }
            }
            Ok::<_, super::Error>(r)
        }) {
            Ok(r) if !r.assigned.is_empty() => Verdict::Assigned,
            Ok(_) => Verdict::Done,
            Err(e) => {
                tracing::warn!(target = %cid, ds, error = %e, "auto-assignment skipped");
                Verdict::Done
            }
        },
    )
}
