//! How many of a tenant's devices have each (update status, installed set, assigned set), from the
//! `target_counts` table that database triggers keep on every write to `targets` (migration
//! `target_counts`): the overview and fleet health read a handful of rows instead of walking the
//! whole fleet (issue 19: each console page <= 20 ms at 100,000 devices).
//!
//! On SQLite the triggers keep one row per key. On PostgreSQL they append a -1 and a +1 row per
//! change, so concurrent device feedback never waits on a hot counter row; readers sum the rows of
//! a key either way, and [`merge`] folds PostgreSQL's appended rows back into one per key.

use std::collections::BTreeMap;

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};

use super::fleet_health::select::Select;
use super::query::Sql;
use super::{AnyConnection, Result};

/// One key's devices: update status, installed and assigned set (None: no set), devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub update_status: String,
    pub installed: Option<i64>,
    pub assigned: Option<i64>,
    pub devices: i64,
}

/// The tenant's devices per key, keys with no device left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetCounts {
    pub rows: Vec<Row>,
}

impl TargetCounts {
    /// All of the tenant's devices.
    pub fn total(&self) -> i64 {
        self.rows.iter().map(|r| r.devices).sum()
    }

    /// Devices per update status, by status name.
    pub fn by_status(&self) -> Vec<(String, i64)> {
        let mut per: BTreeMap<&str, i64> = BTreeMap::new();
        for r in &self.rows {
            *per.entry(&r.update_status).or_default() += r.devices;
        }
        per.into_iter().map(|(s, n)| (s.to_owned(), n)).collect()
    }

    /// Devices per installed set (None: no set installed).
    pub fn by_installed(&self) -> BTreeMap<Option<i64>, i64> {
        let mut per = BTreeMap::new();
        for r in &self.rows {
            *per.entry(r.installed).or_default() += r.devices;
        }
        per
    }

    /// Devices per assigned set (None: no set assigned).
    pub fn by_assigned(&self) -> BTreeMap<Option<i64>, i64> {
        let mut per = BTreeMap::new();
        for r in &self.rows {
            *per.entry(r.assigned).or_default() += r.devices;
        }
        per
    }
}

/// The tenant's counts: one indexed read of a few rows per key.
pub fn load(c: &mut AnyConnection, tenant: &str) -> Result<TargetCounts> {
    let q = Sql::new()
        .sql(
            "SELECT update_status, installed_ds_id, assigned_ds_id, CAST(SUM(devices) AS BIGINT) \
             FROM target_counts WHERE tenant = ",
        )
        .text(tenant)
        .sql(
            " GROUP BY update_status, installed_ds_id, assigned_ds_id HAVING SUM(devices) <> 0 \
             ORDER BY update_status, installed_ds_id, assigned_ds_id",
        );
    let rows: Vec<(String, i64, i64, i64)> = Select::<(Text, BigInt, BigInt, BigInt)>::new(q).load(c)?;
    // The table stores "no set" as 0 (set ids start at 1), so a key is never NULL.
    let set = |id: i64| (id != 0).then_some(id);
    Ok(TargetCounts {
        rows: rows
            .into_iter()
            .map(|(update_status, installed, assigned, devices)| Row {
                update_status,
                installed: set(installed),
                assigned: set(assigned),
                devices,
            })
            .collect(),
    })
}

/// Rows PostgreSQL's triggers may append before the scheduler's [`merge`] folds them (a fleet has
/// about one row per status and set pair, far fewer than this).
pub const MERGE_ABOVE: i64 = 256;

/// Folds PostgreSQL's appended +1/-1 rows into one row per key, in `target_counts`, in
/// `rollout_group_counts` (actions per rollout group and status, the rollout page's totals) and in
/// `target_delta_counts` (devices per installed and assigned set and `updraft.delta` value, the set
/// page's Delta panel), for each table with more than `above` rows; returns how many rows it
/// folded. The rows it deletes are exactly those it sums (`DELETE ... RETURNING`), so rows that
/// concurrent writers append meanwhile are kept. SQLite keeps one row per key already: nothing to
/// do there.
pub fn merge(c: &mut AnyConnection, above: i64) -> Result<usize> {
    if !matches!(c, AnyConnection::Postgresql(_)) {
        return Ok(0);
    }
    let mut folded = 0;
    for (table, key, value) in [
        (
            "target_counts",
            "tenant, update_status, installed_ds_id, assigned_ds_id",
            "devices",
        ),
        ("rollout_group_counts", "rollout_group_id, status", "actions"),
        (
            "target_delta_counts",
            "tenant, installed_ds_id, assigned_ds_id, delta_forms",
            "devices",
        ),
    ] {
        let rows: i64 =
            Select::<BigInt>::new(Sql::new().sql(&format!("SELECT COUNT(*) FROM {table}"))).get_result(c)?;
        if rows <= above {
            continue;
        }
        diesel::sql_query(format!(
            "WITH gone AS (DELETE FROM {table} RETURNING {key}, {value}) \
             INSERT INTO {table} ({key}, {value}) \
             SELECT {key}, SUM({value}) FROM gone GROUP BY {key} HAVING SUM({value}) <> 0"
        ))
        .execute(c)?;
        folded += usize::try_from(rows).unwrap_or(usize::MAX);
    }
    Ok(folded)
}
