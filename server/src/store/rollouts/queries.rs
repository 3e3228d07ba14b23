//! Reading rollouts as the front doors show them: one rollout or a page of them with what their
//! rendering needs beyond the row (the set's label, totals per status, the number of groups).

use std::collections::HashMap;

use diesel::prelude::*;

use super::{Rollout, RolloutStatus, Totals, totals_per_status};
use crate::store::models::ActionType;
use crate::store::page::paginate;
use crate::store::schema::{rollout_groups, rollouts};
use crate::store::{AnyConnection, Error, ListQuery, Paged, Result};

/// What a rollout's rendering needs beyond its row.
#[derive(Debug, Clone)]
pub struct Extra {
    /// Targets per status bucket (hawkBit's `totalTargetsPerStatus`); only when asked for in full.
    pub totals: Option<Totals>,
    /// The number of groups; only when asked for in full.
    pub groups: Option<i64>,
    /// `name:version` of the distribution set.
    pub ds_label: String,
}

/// The tenant's rollout `id`, soft-deleted ones included; not found otherwise.
pub fn find(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<Rollout> {
    rollouts::table
        .find(id)
        .filter(rollouts::tenant.eq(tenant))
        .select(Rollout::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("Rollout", id))
}

/// The tenant's rollout `id` with its totals per status and its number of groups.
pub fn get(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<(Rollout, Extra)> {
    let r = find(c, tenant, id)?;
    with_extras(c, vec![r], true)?
        .pop()
        .ok_or_else(|| Error::not_found("Rollout", id))
}

/// The tenant's rollout `id` with its set's label, without counts (the rollout page takes its
/// totals from its groups', [`super::activity::activity`]).
pub fn get_plain(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<(Rollout, Extra)> {
    let r = find(c, tenant, id)?;
    with_extras(c, vec![r], false)?
        .pop()
        .ok_or_else(|| Error::not_found("Rollout", id))
}

/// Rollouts with what their rendering needs, in a fixed number of queries whatever their number
/// (set labels; with `full`, action counts per status and group counts).
pub fn with_extras(c: &mut AnyConnection, rows: Vec<Rollout>, full: bool) -> Result<Vec<(Rollout, Extra)>> {
    let ds_ids: Vec<i64> = rows.iter().map(|r| r.ds_id).collect();
    let labels = crate::store::distribution_sets::labels(c, &ds_ids)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut counts: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    let mut groups: HashMap<i64, i64> = HashMap::new();
    if full {
        // Counted per group from the counts the database keeps (`rollout_group_counts`): no
        // action is read, which at 100,000 actions a rollout was most of the cost.
        let group_of: HashMap<i64, i64> = rollout_groups::table
            .filter(rollout_groups::rollout_id.eq_any(&ids))
            .select((rollout_groups::id, rollout_groups::rollout_id))
            .load::<(i64, i64)>(c)?
            .into_iter()
            .collect();
        for r in group_of.values() {
            *groups.entry(*r).or_default() += 1;
        }
        let group_ids: Vec<i64> = group_of.keys().copied().collect();
        let per_status = super::activity::group_counts(c, &group_ids)?;
        for (g, status, n, _) in per_status {
            let Some(r) = g.and_then(|g| group_of.get(&g)) else {
                continue;
            };
            // One row per group and status: the rollout's count of a status is their sum.
            let list = counts.entry(*r).or_default();
            match list.iter_mut().find(|(s, _)| *s == status) {
                Some((_, m)) => *m += n,
                None => list.push((status, n)),
            }
        }
        // One more query per rollout with a soak time (an Updraft extension; hawkBit's have none).
        for r in rows.iter().filter(|r| r.soak_time.is_some()) {
            let soak = super::soak::counts(c, r.id, None)?;
            super::soak::apply(counts.entry(r.id).or_default(), soak);
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let x = Extra {
                totals: full.then(|| {
                    totals_per_status(
                        counts.get(&r.id).map_or(&[][..], Vec::as_slice),
                        r.total_targets,
                        r.action_type == ActionType::DownloadOnly,
                    )
                }),
                groups: full.then(|| groups.get(&r.id).copied().unwrap_or(0)),
                ds_label: labels.get(&r.ds_id).cloned().unwrap_or_default(),
            };
            (r, x)
        })
        .collect())
}

/// One page of the tenant's rollouts: `deleted` picks live (`false`), soft-deleted (`true`) or both
/// (`None`); `full` adds totals and group counts.
pub fn list(
    c: &mut AnyConnection,
    tenant: &str,
    deleted: Option<bool>,
    list: &ListQuery,
    full: bool,
) -> Result<Paged<(Rollout, Extra)>> {
    let mine = || {
        let q = rollouts::table.filter(rollouts::tenant.eq(tenant)).into_boxed();
        match deleted {
            Some(d) => q.filter(rollouts::deleted.eq(d)),
            None => q,
        }
    };
    let page: Paged<Rollout> = paginate!(c, mine() => Rollout::as_select(), list);
    Ok(Paged {
        rows: with_extras(c, page.rows, full)?,
        total: page.total,
    })
}

/// The tenant's live rollouts, newest first, `limit` of them from `offset`, in full.
pub fn latest(
    c: &mut AnyConnection,
    tenant: &str,
    offset: i64,
    limit: i64,
) -> Result<Paged<(Rollout, Extra)>> {
    let mine = || {
        rollouts::table
            .filter(rollouts::tenant.eq(tenant))
            .filter(rollouts::deleted.eq(false))
    };
    let total: i64 = mine().count().get_result(c)?;
    let page: Vec<Rollout> = mine()
        .order(rollouts::id.desc())
        .offset(offset)
        .limit(limit)
        .select(Rollout::as_select())
        .load(c)?;
    Ok(Paged {
        rows: with_extras(c, page, true)?,
        total,
    })
}

/// The ten newest running, starting or paused rollouts of the tenant, in full (the overview).
pub fn running(c: &mut AnyConnection, tenant: &str) -> Result<Vec<(Rollout, Extra)>> {
    let active: Vec<Rollout> = rollouts::table
        .filter(rollouts::tenant.eq(tenant))
        .filter(rollouts::deleted.eq(false))
        .filter(rollouts::status.eq_any([
            RolloutStatus::Running.as_str(),
            RolloutStatus::Starting.as_str(),
            RolloutStatus::Paused.as_str(),
        ]))
        .order(rollouts::id.desc())
        .limit(10)
        .select(Rollout::as_select())
        .load(c)?;
    with_extras(c, active, true)
}
