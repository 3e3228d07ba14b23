//! Failed deployments grouped for the console: by error message, by distribution set and by
//! rollout, with the devices of each group and a retry that assigns the failed set again.
//!
//! A failed device is one in update status `error` whose latest action failed; its error message is
//! the last detail of that action's last status (what the device reported in its feedback), trimmed.
//! Each grouping is one `GROUP BY` query limited to [`MAX_GROUPS`] groups, biggest first.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::bulk::{self, MAX_DEVICES, Outcome};
use super::models::ActionType;
use super::query::SqlFilter;
use super::schema::{actions, rollouts, targets};
use super::tenants::TenantSettings;
use super::{AnyConnection, Changes, Error, Result, Rule};

/// The most groups of one kind the page lists.
pub const MAX_GROUPS: i64 = 50;

/// The error message of the failed action `actions`: the last detail of its last status, trimmed.
const MESSAGE: &str = "COALESCE((SELECT trim(m.message) FROM action_status_messages m \
     WHERE m.action_status_id = (SELECT max(s.id) FROM action_statuses s WHERE s.action_id = actions.id) \
     ORDER BY m.id DESC LIMIT 1), '')";

/// The tenant's failed devices' latest, failed actions (on `actions` joined with `targets`).
fn failed(tenant: &str) -> SqlFilter {
    SqlFilter::new().sql("targets.tenant = ").text(tenant).sql(
        " AND targets.update_status = 'error' AND actions.status = 'error' \
             AND actions.id = (SELECT max(a2.id) FROM actions a2 WHERE a2.target_id = actions.target_id)",
    )
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
        match self {
            GroupKey::Message(m) => {
                f.push_sql(&format!(" AND {MESSAGE} = "));
                f.push_text(m.clone());
            }
            GroupKey::Set(id) => {
                f.push_sql(" AND actions.ds_id = ");
                f.push_int(*id);
            }
            GroupKey::Rollout(Some(id)) => {
                f.push_sql(" AND actions.rollout_id = ");
                f.push_int(*id);
            }
            GroupKey::Rollout(None) => f.push_sql(" AND actions.rollout_id IS NULL"),
        }
        f
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

/// The failures page's figures.
pub fn grouped(c: &mut AnyConnection, tenant: &str) -> Result<Failures> {
    let all = || actions::table.inner_join(targets::table).filter(failed(tenant));
    let total: i64 = all().count().get_result(c)?;
    if total == 0 {
        return Ok(Failures::default());
    }
    let by_message: Vec<(String, i64)> = all()
        .group_by(sql::<Text>(MESSAGE))
        .select((sql::<Text>(MESSAGE), count_star()))
        .order((count_star().desc(), sql::<Text>(MESSAGE).asc()))
        .limit(MAX_GROUPS)
        .load(c)?;
    let by_set: Vec<(i64, i64)> = all()
        .group_by(actions::ds_id)
        .select((actions::ds_id, count_star()))
        .order((count_star().desc(), actions::ds_id.asc()))
        .limit(MAX_GROUPS)
        .load(c)?;
    let by_rollout: Vec<(Option<i64>, i64)> = all()
        .group_by(actions::rollout_id)
        .select((actions::rollout_id, count_star()))
        .order((count_star().desc(), actions::rollout_id.asc()))
        .limit(MAX_GROUPS)
        .load(c)?;
    let ds_ids: Vec<i64> = by_set.iter().map(|g| g.0).collect();
    let labels = super::distribution_sets::labels(c, &ds_ids)?;
    let rollout_ids: Vec<i64> = by_rollout.iter().filter_map(|g| g.0).collect();
    let names: std::collections::HashMap<i64, String> = rollouts::table
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
pub fn group_devices(
    c: &mut AnyConnection,
    tenant: &str,
    key: &GroupKey,
    page: super::Page,
) -> Result<(Vec<FailedDevice>, i64)> {
    let all = || {
        actions::table
            .inner_join(targets::table)
            .filter(key.filter(tenant))
    };
    let total = all().count().get_result(c)?;
    let rows = all()
        .order((targets::controller_id.asc(), targets::id.asc()))
        .offset(page.offset)
        .limit(page.limit)
        .select((
            targets::controller_id,
            targets::name,
            actions::last_modified_at,
            actions::ds_id,
        ))
        .load(c)?;
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
