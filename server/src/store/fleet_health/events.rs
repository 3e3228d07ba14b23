//! The health events of a device: each change of a health-relevant `updraft.*` attribute
//! ([`RECORDED`]), written by the attribute update in its transaction, with the server's clock and
//! the set the server had as installed then. A device's page shows them as its trial history; the
//! fleet's rollback figures count them.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::{BOOTED_SLOT, HEALTH, ROLLBACK_REASON, TRIAL_OUTCOME};
use crate::store::models::Target;
use crate::store::schema::{distribution_sets, target_health_events};
use crate::store::{AnyConnection, Result};

/// The attributes whose changes are recorded.
pub const RECORDED: [&str; 4] = [ROLLBACK_REASON, TRIAL_OUTCOME, BOOTED_SLOT, HEALTH];

/// Records the changes of the [`RECORDED`] attributes between `before` and `after` (a removed
/// attribute's new value is NULL).
pub fn record(
    c: &mut AnyConnection,
    target: &Target,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    now: i64,
) -> Result<()> {
    for key in RECORDED {
        let (old, new) = (before.get(key), after.get(key));
        if old == new {
            continue;
        }
        diesel::insert_into(target_health_events::table)
            .values((
                target_health_events::target_id.eq(target.id),
                target_health_events::attr_key.eq(key),
                target_health_events::old_value.eq(old),
                target_health_events::new_value.eq(new),
                target_health_events::installed_ds_id.eq(target.installed_ds_id),
                target_health_events::at.eq(now),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// One recorded change of a device's health attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// Server time, milliseconds.
    pub at: i64,
    /// The installed set then, as "name version".
    pub installed: Option<String>,
}

/// The device's latest `limit` health events, newest first.
pub fn history(c: &mut AnyConnection, target_id: i64, limit: i64) -> Result<Vec<HealthEvent>> {
    let rows: Vec<(String, Option<String>, Option<String>, i64, Option<String>, Option<String>)> =
        target_health_events::table
            .left_join(distribution_sets::table)
            .filter(target_health_events::target_id.eq(target_id))
            .order(target_health_events::id.desc())
            .limit(limit)
            .select((
                target_health_events::attr_key,
                target_health_events::old_value,
                target_health_events::new_value,
                target_health_events::at,
                distribution_sets::name.nullable(),
                distribution_sets::version.nullable(),
            ))
            .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(key, old, new, at, name, version)| HealthEvent {
            key,
            old,
            new,
            at,
            installed: name.zip(version).map(|(n, v)| format!("{n} {v}")),
        })
        .collect())
}
