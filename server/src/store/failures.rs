//! Failed deployments grouped for the console: by error message, by distribution set and by
//! rollout, with the devices of each group and a retry that assigns the failed set again.
//!
//! A failed device is one in update status `error` whose latest started action failed (a rollout's
//! action of a group not started yet is no attempt: the device's last real attempt still failed);
//! its error message is the last detail of that action's last status (what the device reported in
//! its feedback), trimmed, which the action keeps as `last_message`. Database triggers mark that
//! action `latest_failed` (migration `failed_latest`), so the groupings come from one `GROUP BY`
//! over a partial index of the failed devices' actions, each limited to [`MAX_GROUPS`] groups,
//! biggest first.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::bulk::{self, MAX_DEVICES, Outcome};
use super::fleet_health::select::Select;
use super::models::ActionType;
use super::query::{Sql, SqlFilter};
use super::schema::{actions, rollouts, targets};
use super::tenants::TenantSettings;
use super::{AnyConnection, Changes, Error, Result, Rule};

/// The most groups of one kind the page lists.
pub const MAX_GROUPS: i64 = 50;

/// The tenant's failed devices' latest, failed actions (on `actions`, in Diesel queries): the
/// actions the triggers of migration `failed_latest` mark `latest_failed`.
fn failed(tenant: &str) -> SqlFilter {
    SqlFilter::new()
        .sql("actions.latest_failed AND actions.tenant = ")
        .text(tenant)
}

/// The same as a `WHERE` for hand-written queries on `actions a`; served by the partial index
/// `actions_latest_failed`.
fn failed_where(tenant: &str) -> SqlFilter {
    SqlFilter::new()
        .sql(" WHERE a.latest_failed AND a.tenant = ")
        .text(tenant)
}

/// One group of failed devices: what they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    /// The same error message (empty when the device sent none).
    Message(String),
    /// The same distribution set failed.
    Set(i64),
    /// The failed action belonged to this rollout (`None`: assigned directly).
    Rollout(Option<i64>),
}

impl GroupKey {
    /// Builds a key from its kind (`message`, `set`, `rollout`) and value, as in a link.
    pub fn parse(kind: &str, value: &str) -> Result<Self> {
        let bad = || {
            Error::refused(
                Rule::Constraint,
                format!("'{value}' does not name a group of kind '{kind}'."),
            )
        };
        match kind {
            "message" => Ok(GroupKey::Message(value.trim().to_owned())),
            "set" => value.parse().map(GroupKey::Set).map_err(|_| bad()),
            "rollout" if value.is_empty() => Ok(GroupKey::Rollout(None)),
            "rollout" => value
                .parse()
                .map(|r| GroupKey::Rollout(Some(r)))
                .map_err(|_| bad()),
            _ => Err(Error::refused(
                Rule::Constraint,
                format!("Failures are grouped by message, set or rollout, not by '{kind}'."),
            )),
        }
    }

    /// Its kind and value, as in a link.
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            GroupKey::Message(m) => ("message", m.clone()),
            GroupKey::Set(id) => ("set", id.to_string()),
            GroupKey::Rollout(r) => ("rollout", r.map(|r| r.to_string()).unwrap_or_default()),
        }
    }

    fn filter(&self, tenant: &str) -> SqlFilter {
        let mut f = failed(tenant);
        self.push_condition(&mut f, "actions");
        f
    }

    /// Appends ` AND` the group's condition on the failed action named `alias`.
    fn push_condition(&self, f: &mut SqlFilter, alias: &str) {
        match self {
            GroupKey::Message(m) => {
                f.push_sql(&format!(" AND {alias}.last_message = "));
                f.push_text(m.clone());
            }
            GroupKey::Set(id) => {
                f.push_sql(&format!(" AND {alias}.ds_id = "));
                f.push_int(*id);
            }
            GroupKey::Rollout(Some(id)) => {
                f.push_sql(&format!(" AND {alias}.rollout_id = "));
                f.push_int(*id);
            }
            GroupKey::Rollout(None) => f.push_sql(&format!(" AND {alias}.rollout_id IS NULL")),
        }
    }
}

/// A group: its key, a label to show, and how many failed devices it holds.
#[derive(Debug, Clone)]
pub struct Group {
    pub key: GroupKey,
    pub label: String,
    pub devices: i64,
}

/// The tenant's failed devices, counted and grouped three ways.
#[derive(Debug, Default)]
pub struct Failures {
    pub total: i64,
    pub by_message: Vec<Group>,
    pub by_set: Vec<Group>,
    pub by_rollout: Vec<Group>,
}

/// The biggest `MAX_GROUPS` groups of `counts`, biggest first, ties by key.
fn biggest<K: Ord + Clone>(counts: HashMap<K, i64>) -> Vec<(K, i64)> {
    let mut v: Vec<(K, i64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(usize::try_from(MAX_GROUPS).unwrap_or(usize::MAX));
    v
}

/// The failures page's figures: one pass over the failed devices' actions (the partial index
/// `actions_latest_failed` alone), counted per (message, set, rollout), then summed per grouping
/// here (the message is the action's `last_message`).
pub fn grouped(c: &mut AnyConnection, tenant: &str) -> Result<Failures> {
    let mut q = Sql::new().sql("SELECT a.last_message, a.ds_id, a.rollout_id, COUNT(*) FROM actions a");
    q.push(failed_where(tenant));
    q.push_sql(" GROUP BY a.last_message, a.ds_id, a.rollout_id");
    let rows: Vec<(String, i64, Option<i64>, i64)> =
        Select::<(Text, BigInt, Nullable<BigInt>, BigInt)>::new(q).load(c)?;
    if rows.is_empty() {
        return Ok(Failures::default());
    }
    let mut total = 0;
    let (mut messages, mut sets, mut rollouts_of) = (HashMap::new(), HashMap::new(), HashMap::new());
    for (m, ds, rollout, n) in rows {
        total += n;
        *messages.entry(m).or_insert(0) += n;
        *sets.entry(ds).or_insert(0) += n;
        *rollouts_of.entry(rollout).or_insert(0) += n;
    }
    let (by_message, by_set, by_rollout) = (biggest(messages), biggest(sets), biggest(rollouts_of));
    let ds_ids: Vec<i64> = by_set.iter().map(|g| g.0).collect();
    let labels = super::distribution_sets::labels(c, &ds_ids)?;
    let rollout_ids: Vec<i64> = by_rollout.iter().filter_map(|g| g.0).collect();
    let names: HashMap<i64, String> = rollouts::table
        .filter(rollouts::id.eq_any(&rollout_ids))
        .select((rollouts::id, rollouts::name))
        .load::<(i64, String)>(c)?
        .into_iter()
        .collect();
    Ok(Failures {
        total,
        by_message: by_message
            .into_iter()
            .map(|(m, n)| Group {
                label: if m.is_empty() {
                    "(no message)".to_owned()
                } else {
                    m.clone()
                },
                key: GroupKey::Message(m),
                devices: n,
            })
            .collect(),
        by_set: by_set
            .into_iter()
            .map(|(id, n)| Group {
                key: GroupKey::Set(id),
                label: labels.get(&id).cloned().unwrap_or_else(|| format!("set {id}")),
                devices: n,
            })
            .collect(),
        by_rollout: by_rollout
            .into_iter()
            .map(|(id, n)| Group {
                key: GroupKey::Rollout(id),
                label: id.map_or_else(
                    || "(assigned directly)".to_owned(),
                    |id| names.get(&id).cloned().unwrap_or_else(|| format!("rollout {id}")),
                ),
                devices: n,
            })
            .collect(),
    })
}

/// A failed device of a group: controller id, name, when its action failed, the set that failed.
pub type FailedDevice = (String, String, i64, i64);

/// One page of a group's devices, by controller id, and how many the group holds.
///
/// The count comes from the partial index `actions_latest_failed`. The page either sorts the
/// group's devices (a small group) or walks the tenant's devices in controller id order and keeps
/// the failed ones of the group (a big one: the first page of 6,000 failed devices among 100,000
/// reads about 800 devices instead of joining and sorting all 6,000).
pub fn group_devices(
    c: &mut AnyConnection,
    tenant: &str,
    key: &GroupKey,
    page: super::Page,
) -> Result<(Vec<FailedDevice>, i64)> {
    let mut cond = failed_where(tenant);
    key.push_condition(&mut cond, "a");
    let mut count = Sql::new().sql("SELECT COUNT(*) FROM actions a");
    count.push(cond.clone());
    let total = Select::<BigInt>::new(count).get_result(c)?;
    if total == 0 || page.offset >= total {
        return Ok((Vec::new(), total));
    }
    let fleet = super::target_counts::load(c, tenant)?.total();
    // Devices read walking the fleet in order (about offset + limit, spread over the fleet) against
    // the group's devices joined and sorted; SQLite's CROSS JOIN keeps the chosen order.
    let walk = (page.offset + page.limit).saturating_mul(fleet) / total.max(1) < total;
    let mut q = Sql::new().sql("SELECT t.controller_id, t.name, a.last_modified_at, a.ds_id");
    if walk {
        q.push_sql(" FROM targets t CROSS JOIN actions a WHERE t.tenant = ");
        q.push_text(tenant);
        // `a.latest` lets the unique partial index `actions_latest` find each device's action.
        q.push_sql(" AND a.target_id = t.id AND a.latest AND ");
        let mut rest = SqlFilter::new().sql("a.latest_failed");
        key.push_condition(&mut rest, "a");
        q.push(rest);
    } else {
        q.push_sql(" FROM actions a CROSS JOIN targets t");
        q.push(cond);
        q.push_sql(" AND t.id = a.target_id");
    }
    q.push_sql(" ORDER BY t.controller_id, t.id LIMIT ");
    q.push_int(page.limit);
    q.push_sql(" OFFSET ");
    q.push_int(page.offset);
    let rows = Select::<(Text, Text, BigInt, BigInt)>::new(q).load(c)?;
    Ok((rows, total))
}

/// Assigns each device of the group the set that failed on it again, with the failed action's type,
/// through the Management API's assignment; meant for one write transaction.
pub fn retry(
    c: &mut AnyConnection,
    settings: &TenantSettings,
    tenant: &str,
    key: &GroupKey,
    by: &str,
    now: i64,
) -> Result<(Outcome, Changes)> {
    let mut rows: Vec<(i64, i64, String, String)> = actions::table
        .inner_join(targets::table)
        .filter(key.filter(tenant))
        .order((
            actions::ds_id.asc(),
            actions::action_type.asc(),
            targets::id.asc(),
        ))
        .limit(i64::try_from(MAX_DEVICES).unwrap_or(i64::MAX) + 1)
        .select((
            actions::ds_id,
            targets::id,
            targets::controller_id,
            actions::action_type,
        ))
        .load(c)?;
    if rows.is_empty() {
        return Err(Error::refused(
            Rule::Constraint,
            "No device of this group is in error any more; nothing to retry.",
        ));
    }
    if rows.len() > MAX_DEVICES {
        return Err(Error::refused(
            Rule::Constraint,
            format!(
                "More than {MAX_DEVICES} devices failed this way; one retry re-assigns at most {MAX_DEVICES}. \
                 Retry a narrower group, or the rollout."
            ),
        ));
    }
    let mut outcome = Outcome::default();
    let mut changes = Changes::none();
    // One assignment per (set, action type); rows are sorted that way.
    while let Some(&(ds, _, _, ref ty)) = rows.first() {
        let ty = ty.clone();
        let split = rows
            .iter()
            .position(|r| r.0 != ds || r.3 != ty)
            .unwrap_or(rows.len());
        let rest = rows.split_off(split);
        let devices: Vec<(i64, String)> = rows.into_iter().map(|r| (r.1, r.2)).collect();
        rows = rest;
        // A timed forced assignment cannot be repeated at its past time: it becomes forced.
        let action_type = match ActionType::parse(&ty) {
            Some(ActionType::TimeForced) | None => ActionType::Forced,
            Some(t) => t,
        };
        let (o, ch) = bulk::assign_devices(c, settings, tenant, &devices, ds, action_type, by, now)?;
        outcome.selected += o.selected;
        outcome.changed += o.changed;
        changes = changes.and(ch);
    }
    Ok((outcome, changes))
}
