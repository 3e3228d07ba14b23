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

/// (key, old, new, at, set name, set version).
type EventRow = (
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
);
/// (controller id, at, key, new value, set id, name, version).
type RollbackRow = (
    String,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// The device's latest `limit` health events, newest first.
pub fn history(c: &mut AnyConnection, target_id: i64, limit: i64) -> Result<Vec<HealthEvent>> {
    let rows: Vec<EventRow> = target_health_events::table
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

/// One rollback a device reported: when, why (the new `updraft.rollback_reason`; None for a
/// `updraft.trial.outcome` of `rolled_back` without one), and the set installed then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub controller_id: String,
    pub at: i64,
    pub reason: Option<String>,
    pub installed: Option<super::SetKey>,
}

/// Deletes up to `limit` events of each [`RECORDED`] key older than `retention_days` (by the
/// `(attr_key, at)` index). Returns how many went.
pub fn delete_older_than(c: &mut AnyConnection, retention_days: u64, now: i64, limit: i64) -> Result<usize> {
    let cutoff = now - (retention_days as i64) * 86_400_000;
    let mut deleted = 0;
    for key in RECORDED {
        let ids: Vec<i64> = target_health_events::table
            .filter(target_health_events::attr_key.eq(key))
            .filter(target_health_events::at.lt(cutoff))
            .select(target_health_events::id)
            .limit(limit)
            .load(c)?;
        deleted += diesel::delete(target_health_events::table.filter(target_health_events::id.eq_any(&ids)))
            .execute(c)?;
    }
    Ok(deleted)
}

/// The tenant's rollbacks at or after `since`, newest first: a page of `limit` after `offset`,
/// and how many there are.
pub fn rollbacks(
    c: &mut AnyConnection,
    tenant: &str,
    since: i64,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Rollback>, i64)> {
    use crate::store::schema::targets;
    let events = || {
        let reason = target_health_events::attr_key
            .eq(ROLLBACK_REASON)
            .and(target_health_events::new_value.is_not_null())
            .and(target_health_events::new_value.ne(""));
        // A report with both a reason and the outcome is one rollback, listed by its reason.
        let alone = crate::store::query::SqlFilter::new()
            .sql(
                "NOT EXISTS (SELECT 1 FROM target_health_events r WHERE r.target_id = \
                 target_health_events.target_id AND r.at = target_health_events.at AND r.attr_key = ",
            )
            .text(ROLLBACK_REASON)
            .sql(" AND r.new_value IS NOT NULL AND r.new_value <> '')");
        let outcome = target_health_events::attr_key
            .eq(TRIAL_OUTCOME)
            .and(target_health_events::new_value.eq("rolled_back"))
            .and(alone);
        target_health_events::table
            .inner_join(targets::table)
            .left_join(distribution_sets::table)
            .filter(targets::tenant.eq(tenant.to_owned()))
            .filter(target_health_events::at.ge(since))
            .filter(reason.or(outcome))
    };
    let total: i64 = events().count().get_result(c)?;
    let rows: Vec<RollbackRow> = events()
        .order((target_health_events::at.desc(), target_health_events::id.desc()))
        .offset(offset)
        .limit(limit)
        .select((
            targets::controller_id,
            target_health_events::at,
            target_health_events::attr_key,
            target_health_events::new_value,
            distribution_sets::id.nullable(),
            distribution_sets::name.nullable(),
            distribution_sets::version.nullable(),
        ))
        .load(c)?;
    let list = rows
        .into_iter()
        .map(|(controller_id, at, key, value, id, name, version)| Rollback {
            controller_id,
            at,
            reason: if key == ROLLBACK_REASON { value } else { None },
            installed: super::set_key(id, name, version),
        })
        .collect();
    Ok((list, total))
}

/// A window such as `24h`, `7d`, `90m` or `3600s`, in milliseconds (at most 366 days).
pub fn parse_window(s: &str) -> Result<i64> {
    let refuse = || {
        crate::store::Error::refused(
            crate::store::Rule::Constraint,
            format!(
                "'{s}' is not a time window: give a number with s, m, h or d, e.g. 24h or 7d (at most 366d)."
            ),
        )
    };
    let s = s.trim();
    let unit = match s.chars().last() {
        Some('s') => 1000,
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        _ => return Err(refuse()),
    };
    let n: i64 = s[..s.len() - 1].parse().map_err(|_| refuse())?;
    let ms = n.checked_mul(unit).ok_or_else(refuse)?;
    if !(1..=366 * 86_400_000).contains(&ms) {
        return Err(refuse());
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::parse_window;

    #[test]
    fn windows() {
        assert_eq!(parse_window("24h").unwrap(), 86_400_000);
        assert_eq!(parse_window("7d").unwrap(), 7 * 86_400_000);
        assert_eq!(parse_window("90m").unwrap(), 5_400_000);
        for bad in ["", "h", "24", "0h", "-1d", "400d", "1.5h", "9999999999999999d"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
