//! Fleet health (docs/fleet-health.md): what the `updraft.*` attributes say about the whole fleet.
//! Devices per installed (running) set, per slot state (booted slot × trial), the devices that
//! rolled back in a window (by set and by reason), and those silent after an update. Every figure
//! is one GROUP BY over the tenant's targets, on SQLite and PostgreSQL alike, and comes with the
//! RSQL query that lists its devices in the Management API and the UI.
//!
//! RSQL sees only the devices' current state, not time: the query of a windowed figure lists the
//! devices currently in that state (e.g. every device whose last rollback reason is `watchdog`),
//! which includes those of older windows; [`rollbacks`] lists a window's rollbacks exactly.

mod events;
pub(crate) mod select;

pub use events::{
    HealthEvent, RECORDED, Rollback, delete_older_than, history, parse_window, record, rollbacks,
};

use std::collections::HashMap;

use diesel::RunQueryDsl;
use diesel::sql_types::Bool;
use select::Select;

use crate::store::query::Sql;
use crate::store::soak;
use crate::store::target_counts::TargetCounts;
use crate::store::tenants::TenantSettings;
use crate::store::{AnyConnection, Result};

pub use soak::{BOOTED_SLOT, HEALTH, ROLLBACK_REASON};
/// The slot the bootloader boots by default (the last committed one).
pub const COMMITTED_SLOT: &str = "updraft.slot.committed";
/// `running` while the device tries a new image it has not committed yet, `none` otherwise.
pub const TRIAL: &str = "updraft.trial";
/// How the device's last trial ended: `committed` or `rolled_back`.
pub const TRIAL_OUTCOME: &str = "updraft.trial.outcome";
/// The image version in slot a, and in slot b.
pub const SLOT_A_VERSION: &str = "updraft.slot.a.version";
pub const SLOT_B_VERSION: &str = "updraft.slot.b.version";
/// Boots since the device's last update.
pub const BOOT_COUNT: &str = "updraft.boot_count";
/// When the device committed its last update (RFC 3339).
pub const COMMITTED_AT: &str = "updraft.update.committed_at";
/// The version of the device's update client.
pub const CLIENT_VERSION: &str = "updraft.client.version";

/// The window of the shorter rollback figure (24 hours), and of the longer one (7 days), in ms.
pub const DAY_MS: i64 = 24 * 3600 * 1000;
pub const WEEK_MS: i64 = 7 * DAY_MS;

/// A number of devices and the RSQL query that lists them (see the module's note on windows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub devices: i64,
    pub query: String,
}

/// A distribution set as a figure's key; none for devices without an installed set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetKey {
    pub id: i64,
    pub name: String,
    pub version: String,
}

/// Devices that rolled back within a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollbacks {
    pub window_ms: i64,
    pub total: Count,
    /// By the set installed when they rolled back (the one they rolled back from).
    pub by_set: Vec<(Option<SetKey>, Count)>,
    /// By their current `updraft.rollback_reason` (None: they sent none).
    pub by_reason: Vec<(Option<String>, Count)>,
}

/// Devices silent after an update: an action of theirs finished within the window, and they have
/// not polled for [`soak::SILENCE_POLLS`] times the tenant's longest polling interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silent {
    pub window_ms: i64,
    pub silence_ms: i64,
    pub total: Count,
    /// By the set of the finished action.
    pub by_set: Vec<(SetKey, Count)>,
}

/// Devices in one slot state: (booted slot, trial state, devices); None: not sent.
pub type SlotCount = (Option<String>, Option<String>, Count);

/// The fleet-health figures of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetHealth {
    pub devices: i64,
    /// Devices per installed set, most first.
    pub by_installed: Vec<(Option<SetKey>, Count)>,
    /// Devices per (booted slot, trial state); None: the device does not send it.
    pub by_slot: Vec<SlotCount>,
    pub rolled_back_day: Rollbacks,
    pub rolled_back_week: Rollbacks,
    pub silent: Silent,
}

/// A value in RSQL's double quotes: backslash, quote and star escaped (the star stays literal).
pub fn rsql_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for ch in v.chars() {
        if matches!(ch, '\\' | '"' | '*') {
            s.push('\\');
        }
        s.push(ch);
    }
    s.push('"');
    s
}

/// RSQL for "the attribute `key` is `value`"; absent attributes have no RSQL, so None matches
/// every device not sending some other value: `=out=` would need the values, so it is left empty.
fn attribute_query(key: &str, value: Option<&str>) -> Option<String> {
    value.map(|v| format!("attribute.{key}=={}", rsql_value(v)))
}

/// RSQL for the devices whose installed set is `set` (None: no installed set).
fn installed_query(set: Option<&SetKey>) -> String {
    match set {
        Some(s) => format!(
            "installedDS.name=={};installedDS.version=={}",
            rsql_value(&s.name),
            rsql_value(&s.version)
        ),
        None => "installedDS.name=is=null".to_owned(),
    }
}

fn join(parts: &[Option<String>]) -> String {
    parts.iter().flatten().cloned().collect::<Vec<_>>().join(";")
}

fn set_key(id: Option<i64>, name: Option<String>, version: Option<String>) -> Option<SetKey> {
    Some(SetKey {
        id: id?,
        name: name?,
        version: version?,
    })
}

/// The tenant's fleet-health figures at `now`; devices count as silent after an update that
/// finished within `window_ms`.
pub fn summary(
    c: &mut AnyConnection,
    tenant: &str,
    settings: &TenantSettings,
    now: i64,
    window_ms: i64,
) -> Result<FleetHealth> {
    // Devices and devices per installed set from the maintained counts (store::target_counts).
    let counts = crate::store::target_counts::load(c, tenant)?;
    let devices = counts.total();
    Ok(FleetHealth {
        devices,
        by_installed: by_installed(c, &counts)?,
        by_slot: by_slot(c, tenant, devices)?,
        rolled_back_day: rolled_back(c, tenant, now, DAY_MS)?,
        rolled_back_week: rolled_back(c, tenant, now, WEEK_MS)?,
        silent: silent(c, tenant, now, window_ms, soak::silence_limit_ms(settings))?,
    })
}

/// Devices per installed set, most first (ties by set id, no set first), with the sets' names.
fn by_installed(c: &mut AnyConnection, counts: &TargetCounts) -> Result<Vec<(Option<SetKey>, Count)>> {
    use crate::store::schema::distribution_sets;
    use diesel::{ExpressionMethods, QueryDsl};
    let mut per: Vec<(Option<i64>, i64)> = counts.by_installed().into_iter().collect();
    per.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let ids: Vec<i64> = per.iter().filter_map(|(id, _)| *id).collect();
    let names: HashMap<i64, (String, String)> = distribution_sets::table
        .filter(distribution_sets::id.eq_any(&ids))
        .select((
            distribution_sets::id,
            distribution_sets::name,
            distribution_sets::version,
        ))
        .load::<(i64, String, String)>(c)?
        .into_iter()
        .map(|(id, name, version)| (id, (name, version)))
        .collect();
    Ok(per
        .into_iter()
        .map(|(id, n)| {
            let named = id.and_then(|id| names.get(&id).map(|(name, version)| (id, name, version)));
            let key = named.map(|(id, name, version)| SetKey {
                id,
                name: name.clone(),
                version: version.clone(),
            });
            let query = installed_query(key.as_ref());
            (key, Count { devices: n, query })
        })
        .collect())
}

/// Devices per (booted slot, trial state), by value, "not sent" first: counted from the devices
/// that send either attribute (index `target_attributes_key`), the rest of the `devices` being
/// those that send neither; a walk over the whole fleet with two lookups per device cost ~45 ms
/// at 100,000 devices on SQLite.
fn by_slot(c: &mut AnyConnection, tenant: &str, devices: i64) -> Result<Vec<SlotCount>> {
    // Devices sending the booted slot, with their trial state if they send one.
    let booted = Select::<select::PairRow>::new(
        Sql::new()
            .sql(
                "SELECT b.attr_value, tr.attr_value, COUNT(*) FROM target_attributes b \
                 JOIN targets t ON t.id = b.target_id \
                 LEFT JOIN target_attributes tr ON tr.target_id = b.target_id AND tr.attr_key = ",
            )
            .text(TRIAL)
            .sql(" WHERE b.attr_key = ")
            .text(BOOTED_SLOT)
            .sql(" AND t.tenant = ")
            .text(tenant)
            .sql(" GROUP BY b.attr_value, tr.attr_value"),
    )
    .load::<(Option<String>, Option<String>, i64)>(c)?;
    // Devices sending a trial state but no booted slot.
    let trial_only = Select::<select::PairRow>::new(
        Sql::new()
            .sql(
                "SELECT CAST(NULL AS TEXT), tr.attr_value, COUNT(*) FROM target_attributes tr \
                 JOIN targets t ON t.id = tr.target_id WHERE tr.attr_key = ",
            )
            .text(TRIAL)
            .sql(" AND t.tenant = ")
            .text(tenant)
            .sql(
                " AND NOT EXISTS (SELECT 1 FROM target_attributes b \
                 WHERE b.target_id = tr.target_id AND b.attr_key = ",
            )
            .text(BOOTED_SLOT)
            .sql(") GROUP BY tr.attr_value"),
    )
    .load::<(Option<String>, Option<String>, i64)>(c)?;
    let mut rows: Vec<(Option<String>, Option<String>, i64)> = booted.into_iter().chain(trial_only).collect();
    let sending: i64 = rows.iter().map(|r| r.2).sum();
    if devices > sending {
        rows.push((None, None, devices - sending));
    }
    rows.sort();
    Ok(rows
        .into_iter()
        .map(|(booted, trial, n)| {
            let query = join(&[
                attribute_query(BOOTED_SLOT, booted.as_deref()),
                attribute_query(TRIAL, trial.as_deref()),
            ]);
            (booted, trial, Count { devices: n, query })
        })
        .collect())
}

/// The events that are rollbacks: a new non-empty `updraft.rollback_reason`, or
/// `updraft.trial.outcome` becoming `rolled_back`; of the tenant, at or after `since`.
fn rollback_events(tenant: &str, since: i64) -> Sql<Bool> {
    Sql::new()
        .sql("t.tenant = ")
        .text(tenant)
        .sql(" AND e.at >= ")
        .int(since)
        .sql(" AND ((e.attr_key = ")
        .text(ROLLBACK_REASON)
        .sql(" AND e.new_value IS NOT NULL AND e.new_value <> '') OR (e.attr_key = ")
        .text(TRIAL_OUTCOME)
        .sql(" AND e.new_value = 'rolled_back'))")
}

/// The rollback query for devices that rolled back and have `extra` in common.
fn rolled_back_query(extra: Option<String>) -> String {
    let any = format!("attribute.{ROLLBACK_REASON}==*");
    join(&[Some(any), extra])
}

fn rolled_back(c: &mut AnyConnection, tenant: &str, now: i64, window_ms: i64) -> Result<Rollbacks> {
    let since = now - window_ms;
    let from = "FROM target_health_events e JOIN targets t ON t.id = e.target_id ";
    let mut q = Sql::new()
        .sql("SELECT COUNT(DISTINCT e.target_id) ")
        .sql(from)
        .sql("WHERE ");
    q.push(rollback_events(tenant, since));
    let total: i64 = Select::<diesel::sql_types::BigInt>::new(q).get_result(c)?;
    let mut q = Sql::new()
        .sql("SELECT e.installed_ds_id, ds.name, ds.version, COUNT(DISTINCT e.target_id) ")
        .sql(from)
        .sql("LEFT JOIN distribution_sets ds ON ds.id = e.installed_ds_id WHERE ");
    q.push(rollback_events(tenant, since));
    q.push_sql(" GROUP BY e.installed_ds_id, ds.name, ds.version ORDER BY COUNT(DISTINCT e.target_id) DESC");
    let by_set = Select::<select::SetRow>::new(q)
        .load::<(Option<i64>, Option<String>, Option<String>, i64)>(c)?
        .into_iter()
        .map(|(id, name, version, n)| {
            let key = set_key(id, name, version);
            let query = rolled_back_query(Some(installed_query(key.as_ref())));
            (key, Count { devices: n, query })
        })
        .collect();
    let mut q = Sql::new()
        .sql("SELECT r.attr_value, NULL, COUNT(DISTINCT e.target_id) ")
        .sql(from)
        .sql("LEFT JOIN target_attributes r ON r.target_id = e.target_id AND r.attr_key = ")
        .text(ROLLBACK_REASON)
        .sql(" WHERE ");
    q.push(rollback_events(tenant, since));
    q.push_sql(" GROUP BY r.attr_value ORDER BY COUNT(DISTINCT e.target_id) DESC, r.attr_value");
    let by_reason = Select::<select::PairRow>::new(q)
        .load::<(Option<String>, Option<String>, i64)>(c)?
        .into_iter()
        .map(|(reason, _, n)| {
            let query = match &reason {
                Some(r) => format!("attribute.{ROLLBACK_REASON}=={}", rsql_value(r)),
                None => rolled_back_query(None),
            };
            (reason, Count { devices: n, query })
        })
        .collect();
    Ok(Rollbacks {
        window_ms,
        total: Count {
            devices: total,
            query: rolled_back_query(None),
        },
        by_set,
        by_reason,
    })
}

/// One pass for the whole figure: the distinct (device, set) pairs of the window's finished
/// actions on silent devices (index `actions_finished`, migration `fleet_silent`), counted per set
/// and, in the same statement, per device. Two `COUNT(DISTINCT)` joins, one per figure, each
/// scanned all actions on PostgreSQL (~24 ms at 100,000 devices).
fn silent(c: &mut AnyConnection, tenant: &str, now: i64, window_ms: i64, silence_ms: i64) -> Result<Silent> {
    let quiet_since = now - silence_ms;
    let mut q = Sql::<Bool>::new().sql(
        "WITH s AS (SELECT DISTINCT a.target_id, a.ds_id FROM actions a \
         JOIN targets t ON t.id = a.target_id WHERE a.tenant = ",
    );
    q.push_text(tenant);
    q.push_sql(" AND t.tenant = ");
    q.push_text(tenant);
    q.push_sql(" AND a.status = 'finished' AND a.last_modified_at >= ");
    q.push_int(now - window_ms);
    q.push_sql(" AND (t.last_poll IS NULL OR t.last_poll < ");
    q.push_int(quiet_since);
    q.push_sql(
        ")) SELECT s.ds_id, ds.name, ds.version, COUNT(*) FROM s \
         JOIN distribution_sets ds ON ds.id = s.ds_id GROUP BY s.ds_id, ds.name, ds.version \
         UNION ALL SELECT NULL, NULL, NULL, COUNT(DISTINCT s.target_id) FROM s",
    );
    let rows =
        Select::<select::SetRow>::new(q).load::<(Option<i64>, Option<String>, Option<String>, i64)>(c)?;
    let quiet = format!("lastControllerRequestAt=lt={quiet_since}");
    // The row without a set is the devices' total (every set row has its set).
    let mut total = 0;
    let mut by_set: Vec<(SetKey, Count)> = Vec::new();
    for (id, name, version, n) in rows {
        match set_key(id, name, version) {
            Some(key) => {
                let query = join(&[Some(quiet.clone()), Some(installed_query(Some(&key)))]);
                by_set.push((key, Count { devices: n, query }));
            }
            None if id.is_none() => total = n,
            None => {}
        }
    }
    by_set.sort_by(|(a, x), (b, y)| y.devices.cmp(&x.devices).then(a.id.cmp(&b.id)));
    Ok(Silent {
        window_ms,
        silence_ms,
        total: Count {
            devices: total,
            query: format!("{quiet};updateStatus==in_sync"),
        },
        by_set,
    })
}
