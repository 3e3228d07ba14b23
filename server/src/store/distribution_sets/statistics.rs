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

/// How many of a tenant's devices have a set installed and assigned (hawkBit's DS table showed
/// both), with the RSQL queries that list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDevices {
    pub id: i64,
    /// `name:version`.
    pub label: String,
    pub installed: i64,
    pub assigned: i64,
    /// RSQL over targets: the devices with the set installed.
    pub installed_query: String,
    /// RSQL over targets: the devices with the set assigned.
    pub assigned_query: String,
}

/// RSQL for the devices whose `side` set (`installedDS` or `assignedDS`) is `name`/`version`.
fn devices_query(side: &str, name: &str, version: &str) -> String {
    use crate::store::fleet_health::rsql_value;
    format!(
        "{side}.name=={};{side}.version=={}",
        rsql_value(name),
        rsql_value(version)
    )
}

/// The tenant's sets that some device has installed or assigned, most installed first: from the
/// maintained counts (store::target_counts), and one query for the sets' names.
pub fn devices_per_set(c: &mut AnyConnection, tenant: &str) -> Result<Vec<SetDevices>> {
    use crate::store::schema::distribution_sets;
    let counts = crate::store::target_counts::load(c, tenant)?;
    let mut per: std::collections::BTreeMap<i64, (i64, i64)> = std::collections::BTreeMap::new();
    for (id, n) in counts.by_installed() {
        if let Some(id) = id {
            per.entry(id).or_default().0 += n;
        }
    }
    for (id, n) in counts.by_assigned() {
        if let Some(id) = id {
            per.entry(id).or_default().1 += n;
        }
    }
    let ids: Vec<i64> = per.keys().copied().collect();
    let names: Vec<(i64, String, String)> = distribution_sets::table
        .filter(distribution_sets::id.eq_any(&ids))
        .select((
            distribution_sets::id,
            distribution_sets::name,
            distribution_sets::version,
        ))
        .load(c)?;
    let mut out: Vec<SetDevices> = names
        .into_iter()
        .map(|(id, name, version)| {
            let (installed, assigned) = per.get(&id).copied().unwrap_or_default();
            SetDevices {
                id,
                label: format!("{name}:{version}"),
                installed,
                assigned,
                installed_query: devices_query("installedDS", &name, &version),
                assigned_query: devices_query("assignedDS", &name, &version),
            }
        })
        .collect();
    out.sort_by(|a, b| (b.installed, b.assigned, &a.label).cmp(&(a.installed, a.assigned, &b.label)));
    Ok(out)
}

/// How many of the tenant's devices have set `id` (named `name`/`version`) installed and assigned,
/// from the tenant's maintained `counts` (store::target_counts), as [`devices_per_set`]; counting
/// the targets themselves took ~10-18 ms on PostgreSQL for a set installed on 50,000 of 100,000
/// devices.
pub fn devices_of_set(
    counts: &crate::store::target_counts::TargetCounts,
    id: i64,
    name: &str,
    version: &str,
) -> SetDevices {
    let installed = counts.by_installed().get(&Some(id)).copied().unwrap_or(0);
    let assigned = counts.by_assigned().get(&Some(id)).copied().unwrap_or(0);
    SetDevices {
        id,
        label: format!("{name}:{version}"),
        installed,
        assigned,
        installed_query: devices_query("installedDS", name, version),
        assigned_query: devices_query("assignedDS", name, version),
    }
}
