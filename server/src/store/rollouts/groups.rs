//! Reading a rollout's groups and the targets in each, with each group's totals per status.

use diesel::prelude::*;

use super::queries::find;
use super::{Group, Rollout, Totals, engine, totals_per_status};
use crate::store::models::{ActionType, Target};
use crate::store::page::paginate;
use crate::store::schema::{rollout_groups, rollout_targets, targets};
use crate::store::{AnyConnection, Error, ListQuery, Paged, Result};

fn totals(c: &mut AnyConnection, r: &Rollout, g: &Group) -> Result<Totals> {
    Ok(totals_per_status(
        &engine::status_counts(c, r.id, Some(g.id))?,
        g.total_targets,
        r.action_type == ActionType::DownloadOnly,
    ))
}

/// One page of the groups of the tenant's rollout `id`; `full` adds each group's totals.
pub fn list_groups(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    list: &ListQuery,
    full: bool,
) -> Result<Paged<(Group, Option<Totals>)>> {
    let r = find(c, tenant, id)?;
    let page: Paged<Group> = paginate!(
        c,
        rollout_groups::table
            .filter(rollout_groups::rollout_id.eq(id)) => Group::as_select(),
        list
    );
    let mut rows = Vec::with_capacity(page.rows.len());
    for g in page.rows {
        let t = if full { Some(totals(c, &r, &g)?) } else { None };
        rows.push((g, t));
    }
    Ok(Paged {
        rows,
        total: page.total,
    })
}

/// The tenant's rollout `rollout` and its group `group`; not found when either is missing.
fn find_group(c: &mut AnyConnection, tenant: &str, rollout: i64, group: i64) -> Result<(Rollout, Group)> {
    let r = find(c, tenant, rollout)?;
    let g = rollout_groups::table
        .find(group)
        .filter(rollout_groups::rollout_id.eq(rollout))
        .select(Group::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("RolloutGroup", group))?;
    Ok((r, g))
}

/// One group of the tenant's rollout, with its totals per status.
pub fn get_group(c: &mut AnyConnection, tenant: &str, rollout: i64, group: i64) -> Result<(Group, Totals)> {
    let (r, g) = find_group(c, tenant, rollout, group)?;
    let t = totals(c, &r, &g)?;
    Ok((g, t))
}

/// Every group of a rollout in order, each with its totals per status (the UI's rollout page).
pub fn groups_with_totals(c: &mut AnyConnection, r: &Rollout) -> Result<Vec<(Group, Totals)>> {
    let mut out = Vec::new();
    for g in engine::groups(c, r.id)? {
        let t = totals(c, r, &g)?;
        out.push((g, t));
    }
    Ok(out)
}

/// One page of the targets of a group of the tenant's rollout.
pub fn group_targets(
    c: &mut AnyConnection,
    tenant: &str,
    rollout: i64,
    group: i64,
    list: &ListQuery,
) -> Result<Paged<Target>> {
    find_group(c, tenant, rollout, group)?;
    Ok(paginate!(
        c,
        targets::table
            .filter(
                targets::id.eq_any(
                    rollout_targets::table
                        .filter(rollout_targets::group_id.eq(group))
                        .select(rollout_targets::target_id)
                )
            ) => Target::as_select(),
        list
    ))
}
