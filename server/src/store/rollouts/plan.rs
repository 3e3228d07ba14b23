//! Creating a rollout: check the request, find the matching targets and split them into groups, all
//! in the caller's transaction.

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::{Conditions, DynamicTemplate, GroupStatus, RolloutStatus};
use crate::store::AnyConnection;
use crate::store::check_len;
use crate::store::distribution_sets::{assignable_ds, lock_ds};
use crate::store::fleet_health::select::Select;
use crate::store::models::ActionType;
use crate::store::query::{self, Sql, SqlFilter};
use crate::store::schema::{distribution_sets, rollout_groups, rollouts, targets};
use crate::store::{Error, Result, Rule};

/// hawkBit's quotas for rollouts.
pub const MAX_GROUPS: i64 = 500;
pub const MAX_TARGETS_PER_GROUP: i64 = 20_000;
const MAX_NAME_LEN: usize = 128;
const MAX_DESCRIPTION_LEN: usize = 512;
const MAX_FILTER_LEN: usize = 1024;

/// A rollout to create, as checked so far by the Management API.
#[derive(Debug, Clone)]
pub struct NewRollout {
    pub name: String,
    pub description: Option<String>,
    pub target_filter: String,
    pub ds_id: i64,
    pub action_type: ActionType,
    pub forced_time: i64,
    pub weight: i32,
    pub start_at: Option<i64>,
    pub confirmation_required: bool,
    pub conditions: Conditions,
    pub groups: GroupPlan,
    pub dynamic: Option<DynamicTemplate>,
    /// The creator may approve rollouts (with approval enabled, others' rollouts wait for it).
    pub needs_approval: bool,
    /// Seconds a device must stay healthy after its success ([`super::soak`]).
    pub soak_time: Option<i64>,
    /// RSQL over targets a soaking device must keep matching ([`crate::store::soak`]).
    pub health_gate: Option<String>,
}

#[derive(Debug, Clone)]
pub enum GroupPlan {
    /// `amountGroups` groups of (nearly) equal size.
    Count(i64),
    /// Explicit groups, each taking its percentage of the targets its filter adds.
    Explicit(Vec<NewGroup>),
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub description: Option<String>,
    pub target_filter: Option<String>,
    pub target_percentage: f64,
    pub confirmation_required: bool,
    pub conditions: Conditions,
}

/// The targets a rollout over `filter` reaches: they match, and their type (if any) accepts the
/// distribution set's type.
pub fn matching_filter(tenant: &str, filter: SqlFilter, ds_type_id: i64) -> SqlFilter {
    let mut f = Sql::new().sql("targets.tenant = ").text(tenant).sql(" AND (");
    f.push(filter);
    f.sql(
        ") AND (targets.target_type_id IS NULL OR EXISTS (SELECT 1 FROM target_type_ds_types x \
         WHERE x.target_type_id = targets.target_type_id AND x.ds_type_id = ",
    )
    .int(ds_type_id)
    .sql("))")
}

/// The target filter of a rollout: hawkBit's RSQL, plus the virtual `failedrollout==<id>` of retries.
pub fn target_filter(q: &str) -> Result<SqlFilter> {
    if let Some(id) = q
        .trim()
        .strip_prefix("failedrollout==")
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        return Ok(Sql::new()
            .sql("targets.id IN (SELECT a.target_id FROM actions a WHERE a.rollout_id = ")
            .int(id)
            .sql(" AND a.status = 'error')"));
    }
    query::filter(&query::TARGETS, Some(q))
}

/// How many targets a rollout over the filter `q` would take in now, counting no further than
/// `at_most + 1` (more than `at_most`): the preview of the UI's create form. With a distribution
/// set, only targets whose type accepts it count, as in [`create`].
///
/// The bound keeps the preview quick when a filter matches a big fleet: an RSQL wildcard is a
/// case-folding `LIKE` that PostgreSQL evaluates on every row (~35 ms for a count of 100,000
/// devices); counting up to 10,001 costs ~6 ms.
pub fn count_matching(
    conn: &mut AnyConnection,
    tenant: &str,
    q: &str,
    ds_id: Option<i64>,
    at_most: i64,
) -> Result<i64> {
    let base = target_filter(q)?;
    let filter = match ds_id {
        Some(ds) => {
            let ds_type: i64 = distribution_sets::table
                .filter(
                    distribution_sets::id
                        .eq(ds)
                        .and(distribution_sets::tenant.eq(tenant)),
                )
                .select(distribution_sets::ds_type_id)
                .first(conn)
                .optional()?
                .ok_or_else(|| Error::not_found("DistributionSet", ds))?;
            matching_filter(tenant, base, ds_type)
        }
        None => {
            let mut f = Sql::new().sql("targets.tenant = ").text(tenant).sql(" AND (");
            f.push(base);
            f.sql(")")
        }
    };
    let mut count = Sql::new().sql("SELECT COUNT(*) FROM (SELECT 1 FROM targets WHERE ");
    count.push(filter);
    count.push_sql(" LIMIT ");
    count.push_int(at_most.saturating_add(1));
    count.push_sql(") AS m");
    Ok(Select::<BigInt>::new(count).get_result(conn)?)
}

fn matching_ids(conn: &mut AnyConnection, filter: SqlFilter) -> Result<Vec<i64>> {
    Ok(targets::table
        .filter(filter)
        .order(targets::id.asc())
        .select(targets::id)
        .load(conn)?)
}

/// 409 when another live rollout of the tenant has `name` (`except`: the one being renamed).
pub fn name_is_free(conn: &mut AnyConnection, tenant: &str, name: &str, except: Option<i64>) -> Result<()> {
    let taken: Option<i64> = rollouts::table
        .filter(rollouts::tenant.eq(tenant).and(rollouts::name.eq(name)))
        .filter(rollouts::deleted.eq(false))
        .filter(rollouts::id.ne(except.unwrap_or(-1)))
        .select(rollouts::id)
        .first(conn)
        .optional()?;
    match taken {
        Some(_) => Err(Error::refused(
            Rule::AlreadyExists,
            format!("Rollout with name {name} already exists."),
        )),
        None => Ok(()),
    }
}

/// Creates the rollout with its groups and their targets; returns its id.
pub fn create(conn: &mut AnyConnection, tenant: &str, r: &NewRollout, by: &str, now: i64) -> Result<i64> {
    if r.name.trim().is_empty() {
        return Err(Error::refused(Rule::Constraint, "name must not be empty."));
    }
    check_len("name", &r.name, MAX_NAME_LEN)?;
    if let Some(d) = &r.description {
        check_len("description", d, MAX_DESCRIPTION_LEN)?;
    }
    check_len("targetFilterQuery", &r.target_filter, MAX_FILTER_LEN)?;
    if !(0..=1000).contains(&r.weight) {
        return Err(Error::refused(
            Rule::Constraint,
            "weight must be between 0 and 1000.",
        ));
    }
    r.conditions.validate()?;
    let base_filter = target_filter(&r.target_filter)?;
    assignable_ds(conn, tenant, r.ds_id)?;
    name_is_free(conn, tenant, &r.name, None)?;
    let ds_type: i64 = distribution_sets::table
        .find(r.ds_id)
        .select(distribution_sets::ds_type_id)
        .first(conn)?;
    let all = matching_ids(conn, matching_filter(tenant, base_filter.clone(), ds_type))?;
    if all.is_empty() && r.dynamic.is_none() {
        return Err(super::incompatible::no_target_error(
            conn,
            tenant,
            base_filter,
            r.ds_id,
            ds_type,
        )?);
    }
    let groups = split(conn, tenant, r, &all, &base_filter, ds_type)?;
    let status = if r.needs_approval {
        RolloutStatus::WaitingForApproval
    } else {
        RolloutStatus::Ready
    };
    let total: i64 = groups.iter().map(|(_, ids)| ids.len() as i64).sum();
    let id: i64 = diesel::insert_into(rollouts::table)
        .values((
            rollouts::tenant.eq(tenant),
            rollouts::name.eq(&r.name),
            rollouts::description.eq(&r.description),
            rollouts::target_filter.eq(&r.target_filter),
            rollouts::ds_id.eq(r.ds_id),
            rollouts::status.eq(status.as_str()),
            rollouts::action_type.eq(r.action_type.as_str()),
            rollouts::forced_time.eq(r.forced_time),
            rollouts::weight.eq(r.weight),
            rollouts::start_at.eq(r.start_at),
            rollouts::confirmation_required.eq(r.confirmation_required),
            rollouts::is_dynamic.eq(r.dynamic.is_some()),
            rollouts::dynamic_template.eq(r.dynamic.as_ref().and_then(|t| serde_json::to_string(t).ok())),
            rollouts::conditions.eq(r.conditions.to_json()),
            rollouts::total_targets.eq(total),
            rollouts::deleted.eq(false),
            rollouts::created_at.eq(now),
            rollouts::created_by.eq(by),
            rollouts::last_modified_at.eq(now),
            rollouts::last_modified_by.eq(by),
            rollouts::soak_time.eq(r.soak_time),
            rollouts::health_gate.eq(&r.health_gate),
        ))
        .returning(rollouts::id)
        .get_result(conn)?;
    for (position, (g, ids)) in groups.iter().enumerate() {
        let gid = insert_group(conn, id, position as i32, g, ids.len() as i64, false, by, now)?;
        insert_members(conn, gid, ids)?;
    }
    lock_ds(conn, r.ds_id)?;
    Ok(id)
}

/// Inserts a group row in state READY.
pub fn insert_group(
    conn: &mut AnyConnection,
    rollout_id: i64,
    position: i32,
    g: &NewGroup,
    total: i64,
    dynamic: bool,
    by: &str,
    now: i64,
) -> Result<i64> {
    Ok(diesel::insert_into(rollout_groups::table)
        .values((
            rollout_groups::rollout_id.eq(rollout_id),
            rollout_groups::position.eq(position),
            rollout_groups::name.eq(&g.name),
            rollout_groups::description.eq(&g.description),
            rollout_groups::target_filter.eq(&g.target_filter),
            rollout_groups::target_percentage.eq(g.target_percentage),
            rollout_groups::confirmation_required.eq(g.confirmation_required),
            rollout_groups::conditions.eq(g.conditions.to_json()),
            rollout_groups::status.eq(GroupStatus::Ready.as_str()),
            rollout_groups::total_targets.eq(total),
            rollout_groups::is_dynamic.eq(dynamic),
            rollout_groups::created_at.eq(now),
            rollout_groups::created_by.eq(by),
            rollout_groups::last_modified_at.eq(now),
            rollout_groups::last_modified_by.eq(by),
        ))
        .returning(rollout_groups::id)
        .get_result(conn)?)
}

/// Adds targets to a group, a thousand rows per statement.
pub fn insert_members(conn: &mut AnyConnection, group_id: i64, ids: &[i64]) -> Result<()> {
    for chunk in ids.chunks(1000) {
        let mut stmt = Sql::<diesel::sql_types::Bool>::new()
            .sql("INSERT INTO rollout_targets (group_id, target_id) VALUES ");
        for (i, t) in chunk.iter().enumerate() {
            if i > 0 {
                stmt.push_sql(", ");
            }
            stmt = stmt.sql("(").int(group_id).sql(", ").int(*t).sql(")");
        }
        stmt.execute(conn)?;
    }
    Ok(())
}

/// The groups and their targets, in order.
fn split(
    conn: &mut AnyConnection,
    tenant: &str,
    r: &NewRollout,
    all: &[i64],
    base_filter: &SqlFilter,
    ds_type: i64,
) -> Result<Vec<(NewGroup, Vec<i64>)>> {
    let n_all = all.len() as i64;
    match &r.groups {
        GroupPlan::Count(n) => {
            let n = *n;
            if n == 0 && r.dynamic.is_some() {
                return Ok(Vec::new());
            }
            if !(1..=MAX_GROUPS).contains(&n) {
                return Err(Error::refused(
                    Rule::Constraint,
                    format!("amountGroups must be between 1 and {MAX_GROUPS}."),
                ));
            }
            if (n_all + n - 1) / n > MAX_TARGETS_PER_GROUP {
                return Err(Error::refused(
                    Rule::Quota,
                    format!(
                        "{n_all} targets in {n} groups exceed maxTargetsPerRolloutGroup ({MAX_TARGETS_PER_GROUP})."
                    ),
                ));
            }
            let mut out = Vec::new();
            for i in 0..n {
                let (from, to) = ((i * n_all / n) as usize, ((i + 1) * n_all / n) as usize);
                out.push((
                    NewGroup {
                        name: format!("group-{}", i + 1),
                        description: None,
                        target_filter: None,
                        target_percentage: 100.0 / n as f64,
                        confirmation_required: r.confirmation_required,
                        conditions: r.conditions.clone(),
                    },
                    all[from..to].to_vec(),
                ));
            }
            Ok(out)
        }
        GroupPlan::Explicit(groups) => {
            if groups.is_empty() || groups.len() as i64 > MAX_GROUPS {
                return Err(Error::refused(
                    Rule::Constraint,
                    format!("A rollout needs 1 to {MAX_GROUPS} groups."),
                ));
            }
            let mut taken = std::collections::HashSet::new();
            let mut out = Vec::new();
            for g in groups {
                check_len("group name", &g.name, MAX_NAME_LEN)?;
                g.conditions.validate()?;
                if !(g.target_percentage > 0.0 && g.target_percentage <= 100.0) {
                    return Err(Error::refused(
                        Rule::Constraint,
                        "targetPercentage must be greater than 0 and at most 100.",
                    ));
                }
                let candidates = match g.target_filter.as_deref().filter(|f| !f.trim().is_empty()) {
                    Some(f) => {
                        check_len("group targetFilterQuery", f, MAX_FILTER_LEN)?;
                        let mut both = base_filter.clone().sql(" AND (");
                        both.push(query::filter(&query::TARGETS, Some(f))?);
                        matching_ids(conn, matching_filter(tenant, both.sql(")"), ds_type))?
                    }
                    None => all.to_vec(),
                };
                // New-style percentages: of all targets the group's filter matches.
                let want = ((candidates.len() as f64) * g.target_percentage / 100.0).round() as usize;
                let ids: Vec<i64> = candidates
                    .into_iter()
                    .filter(|t| !taken.contains(t))
                    .take(want)
                    .collect();
                if ids.len() as i64 > MAX_TARGETS_PER_GROUP {
                    return Err(Error::refused(
                        Rule::Quota,
                        format!(
                            "Group {} has {} targets, more than maxTargetsPerRolloutGroup ({MAX_TARGETS_PER_GROUP}).",
                            g.name,
                            ids.len()
                        ),
                    ));
                }
                taken.extend(ids.iter().copied());
                out.push((g.clone(), ids));
            }
            let left = n_all - taken.len() as i64;
            if left > 0 && r.dynamic.is_none() {
                return Err(Error::refused(
                    Rule::Constraint,
                    format!(
                        "The groups leave {left} of the rollout's {n_all} targets out; every target must be in a group."
                    ),
                ));
            }
            Ok(out)
        }
    }
}
