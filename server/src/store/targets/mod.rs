//! Targets (devices): finding them, what their polls record, plug-and-play registration, attributes,
//! deletion, tags, and what a device's page shows.

mod manage;

pub use manage::{TargetFields, attributes, create, list, type_name, update};

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::models::{Action, NewTarget, Target, UpdateStatus};
use super::schema::{
    action_statuses, actions, distribution_sets, target_attributes, target_tag_assignments, target_tags,
    targets,
};
use super::{AnyConnection, Changes, Error, Result, Rule};

/// The tenant's target `controller_id`, if it exists.
///
/// Device-path lookups read without `LIMIT`: SQLite (3.50) re-prepares a statement with a bound
/// `LIMIT ?` (Diesel's `first`) at every new binding, 40 % of a cold poll's CPU. (tenant,
/// controller_id) is unique.
pub fn get_target(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Option<Target>> {
    Ok(targets::table
        .filter(
            targets::tenant
                .eq(tenant)
                .and(targets::controller_id.eq(controller_id)),
        )
        .select(Target::as_select())
        .load(c)?
        .into_iter()
        .next())
}

/// What a poll needs to know of a device the server has not cached: the target and its top active
/// action (as [`super::actions::top_active_action`] picks it), in one query.
pub fn poll_state(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
) -> Result<Option<(Target, Option<Action>)>> {
    // No `LIMIT`: see `get_target`. A target has few active actions.
    Ok(targets::table
        .left_join(actions::table.on(actions::target_id.eq(targets::id).and(actions::active)))
        .filter(
            targets::tenant
                .eq(tenant)
                .and(targets::controller_id.eq(controller_id)),
        )
        .order((actions::weight.desc(), actions::id.asc()))
        .select((Target::as_select(), Option::<Action>::as_select()))
        .load(c)?
        .into_iter()
        .next())
}

/// PostgreSQL only: refreshes the planner's statistics of `targets` once the table has grown to
/// twice its size at the last `ANALYZE` (at 500 rows first). Returns whether it did.
///
/// Each pooled connection keeps the generic plan it made for a prepared statement at its sixth
/// execution. Made while the table was nearly empty (a fresh install taking a registration storm),
/// the device lookup by (tenant, controller_id) ties between the unique index and any index led by
/// `tenant`, and the plan that won walked every target of the tenant: each lookup grew with the
/// fleet (205 us of PostgreSQL per lookup at 2,000 devices, three lookups per registration).
/// `ANALYZE` replaces the plans everywhere, and its statistics (one tenant, unique controller ids)
/// make the unique index the plan. Autovacuum would do it too, but a minute or more later.
pub fn refresh_statistics(c: &mut AnyConnection) -> Result<bool> {
    use diesel::sql_types::Bool;
    if !matches!(c, AnyConnection::Postgresql(_)) {
        return Ok(false);
    }
    let stale: bool = super::fleet_health::select::Select::<Bool>::new(super::query::Sql::new().sql(
        "SELECT COALESCE((SELECT s.n_live_tup >= 2 * GREATEST(c.reltuples, 0) + 500 \
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.relid = 'targets'::regclass), false)",
    ))
    .get_result(c)?;
    if stale {
        diesel::sql_query("ANALYZE targets").execute(c)?;
    }
    Ok(stale)
}

/// The tenant's target `controller_id`; not found otherwise.
pub fn find_target(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Target> {
    get_target(c, tenant, controller_id)?.ok_or_else(|| Error::not_found("Target", controller_id))
}

/// A known device polled from `address`: records it, and a target never heard from becomes REGISTERED.
pub fn record_poll(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    address: &str,
    now: i64,
) -> Result<Changes> {
    let this = targets::table.filter(
        targets::tenant
            .eq(tenant)
            .and(targets::controller_id.eq(controller_id)),
    );
    let status: String = this
        .select(targets::update_status)
        .load(c)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("Target", controller_id))?;
    let new_status = if status == UpdateStatus::Unknown.as_str() {
        UpdateStatus::Registered.as_str()
    } else {
        status.as_str()
    };
    diesel::update(this)
        .set((
            targets::address.eq(address),
            targets::last_poll.eq(now),
            targets::update_status.eq(new_status),
        ))
        .execute(c)?;
    Ok(Changes::device(tenant, controller_id))
}

/// Plug and play: an unknown device authenticated by the gateway token registers itself with its
/// first poll. Returns the new target's row, or None when a concurrent first poll of the same
/// device won (then its cached answer goes, as the row may differ from what a reader saw).
/// Auto-assignment is due either way.
///
/// `INSERT ... ON CONFLICT DO NOTHING RETURNING`: the poll is answered from the row written, with
/// no read back, and a lost race is no error (so no savepoint of its own).
pub fn register_on_poll(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    address: &str,
    security_token: &str,
    now: i64,
) -> Result<(Changes, Option<Target>)> {
    let description = format!("Plug and Play target: {controller_id}");
    let insert = diesel::insert_into(targets::table).values(NewTarget {
        tenant,
        controller_id,
        name: controller_id,
        description: Some(&description),
        security_token,
        address: Some(address),
        last_poll: Some(now),
        update_status: UpdateStatus::Registered.as_str(),
        request_attributes: true,
        target_type_id: None,
        created_at: now,
        created_by: "CONTROLLER_PLUG_AND_PLAY",
        last_modified_at: now,
        last_modified_by: "CONTROLLER_PLUG_AND_PLAY",
        auto_assign_pending: true,
    });
    let conflict = (targets::tenant, targets::controller_id);
    let inserted = match c {
        AnyConnection::Postgresql(pg) => insert
            .on_conflict(conflict)
            .do_nothing()
            .returning(Target::as_returning())
            .get_result(pg)
            .optional()?,
        AnyConnection::Sqlite(s) => insert
            .on_conflict(conflict)
            .do_nothing()
            .returning(Target::as_returning())
            .get_result(s)
            .optional()?,
    };
    Ok(match inserted {
        // Nobody can have cached a target that did not exist.
        Some(t) => (Changes::targets(), Some(t)),
        None => (
            Changes::device(tenant, controller_id).and(Changes::targets()),
            None,
        ),
    })
}

/// A plug-and-play registration waiting for its batch (`group_commit::GroupCommit::register`).
#[derive(Debug, Clone)]
pub struct Registration {
    pub tenant: String,
    pub controller_id: String,
    pub address: String,
    pub security_token: String,
    pub now: i64,
}

/// [`register_on_poll`] for many devices: each one's new row, None where the device existed (or
/// appears twice in `regs`: its first registration gets the row). On PostgreSQL one multi-row
/// `INSERT ... ON CONFLICT DO NOTHING RETURNING`: a round trip per statement was what bound a
/// registration storm. SQLite's statements are calls in the process; they stay one per device.
pub fn register_all(c: &mut AnyConnection, regs: &[Registration]) -> Result<Vec<Option<Target>>> {
    if matches!(c, AnyConnection::Sqlite(_)) || regs.len() == 1 {
        return regs
            .iter()
            .map(|r| {
                Ok(register_on_poll(
                    c,
                    &r.tenant,
                    &r.controller_id,
                    &r.address,
                    &r.security_token,
                    r.now,
                )?
                .1)
            })
            .collect();
    }
    let descriptions: Vec<String> = regs
        .iter()
        .map(|r| format!("Plug and Play target: {}", r.controller_id))
        .collect();
    let rows: Vec<NewTarget> = regs
        .iter()
        .zip(&descriptions)
        .map(|(r, description)| NewTarget {
            tenant: &r.tenant,
            controller_id: &r.controller_id,
            name: &r.controller_id,
            description: Some(description),
            security_token: &r.security_token,
            address: Some(&r.address),
            last_poll: Some(r.now),
            update_status: UpdateStatus::Registered.as_str(),
            request_attributes: true,
            target_type_id: None,
            created_at: r.now,
            created_by: "CONTROLLER_PLUG_AND_PLAY",
            last_modified_at: r.now,
            last_modified_by: "CONTROLLER_PLUG_AND_PLAY",
            auto_assign_pending: true,
        })
        .collect();
    let AnyConnection::Postgresql(pg) = c else {
        unreachable!("SQLite returned above")
    };
    let inserted: Vec<Target> = diesel::insert_into(targets::table)
        .values(&rows)
        .on_conflict((targets::tenant, targets::controller_id))
        .do_nothing()
        .returning(Target::as_returning())
        .get_results(pg)?;
    let mut by_key: std::collections::HashMap<(String, String), Target> = inserted
        .into_iter()
        .map(|t| ((t.tenant.clone(), t.controller_id.clone()), t))
        .collect();
    Ok(regs
        .iter()
        .map(|r| by_key.remove(&(r.tenant.clone(), r.controller_id.clone())))
        .collect())
}

/// How a device's attribute update combines with what is stored (hawkBit's `UpdateMode`, in DDI's
/// configData and DMF's UPDATE_ATTRIBUTES alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeUpdate {
    /// Given keys are set; a `None` value removes its key.
    Merge,
    /// The given keys (without `None` values) become all the attributes.
    Replace,
    /// The given keys are removed.
    Remove,
}

/// hawkBit's rule for attribute keys and values (DDI configData, DMF UPDATE_ATTRIBUTES): at most
/// 128 characters of letters, digits, whitespace and `_-!@#$%^&*()+=[]{}|;:'",.<>/\?`.
pub fn valid_attribute(s: &str) -> bool {
    s.chars().count() <= 128
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || c.is_whitespace() || "_-!@#$%^&*()+=[]{}|;:'\",.<>/\\?".contains(c)
        })
}

/// hawkBit's `updateControllerAttributes`: applies `data` under `mode`, refusing to grow past
/// `quota` attributes (0: no limit). A change flags the target for auto-assignment; changes of
/// health attributes are recorded ([`super::fleet_health::record`]).
pub fn update_attributes(
    c: &mut AnyConnection,
    target: &Target,
    mode: AttributeUpdate,
    data: &BTreeMap<String, Option<String>>,
    quota: i64,
    now: i64,
) -> Result<Changes> {
    let target_id = target.id;
    let mut changes = Changes::device(&target.tenant, &target.controller_id);
    let current: BTreeMap<String, String> = target_attributes::table
        .filter(target_attributes::target_id.eq(target_id))
        .select((target_attributes::attr_key, target_attributes::attr_value))
        .load::<(String, String)>(c)?
        .into_iter()
        .collect();
    let mut next = current.clone();
    match mode {
        AttributeUpdate::Merge => {
            for (k, v) in data {
                match v {
                    Some(v) => next.insert(k.clone(), v.clone()),
                    None => next.remove(k),
                };
            }
        }
        AttributeUpdate::Replace => {
            next = data
                .iter()
                .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
                .collect();
        }
        AttributeUpdate::Remove => {
            for k in data.keys() {
                next.remove(k);
            }
        }
    }
    if quota > 0 && next.len() > current.len() && next.len() as i64 > quota {
        return Err(Error::refused(
            Rule::Quota,
            format!("A target may have at most {quota} attributes (maxAttributeEntriesPerTarget)."),
        ));
    }
    let this = diesel::update(targets::table.find(target_id));
    if next == current {
        this.set((
            targets::request_attributes.eq(false),
            targets::last_modified_at.eq(now),
        ))
        .execute(c)?;
        return Ok(changes);
    }
    super::fleet_health::record(c, target, &current, &next, now)?;
    // Changed attributes may make the target match an auto-assigning filter.
    changes = changes.and(Changes::targets());
    this.set((
        targets::request_attributes.eq(false),
        targets::last_modified_at.eq(now),
        targets::auto_assign_pending.eq(true),
    ))
    .execute(c)?;
    if !current.is_empty() {
        diesel::delete(target_attributes::table.filter(target_attributes::target_id.eq(target_id)))
            .execute(c)?;
    }
    // One statement per attribute: Diesel's multi-row insert has no form for both backends at
    // once (`AnyConnection`).
    for (k, v) in &next {
        diesel::insert_into(target_attributes::table)
            .values((
                target_attributes::target_id.eq(target_id),
                target_attributes::attr_key.eq(k),
                target_attributes::attr_value.eq(v),
            ))
            .execute(c)?;
    }
    Ok(changes)
}

/// Deletes the tenant's target `controller_id` with its actions and attributes (the database cascades).
pub fn delete_target(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Changes> {
    let t = find_target(c, tenant, controller_id)?;
    diesel::delete(targets::table.find(t.id)).execute(c)?;
    Ok(Changes::device(tenant, controller_id))
}

/// One action with its distribution set name and its status entries (id, status, time, messages).
pub type History = Vec<(Action, String, Vec<(i64, String, i64, Vec<String>)>)>;

/// Everything a device's page shows, and what its forms offer (tags, assignable sets).
pub struct DeviceDetails {
    pub target: Target,
    pub type_name: Option<String>,
    pub attributes: Vec<(String, String)>,
    pub installed: Option<String>,
    pub assigned: Option<String>,
    pub tags: Vec<(i64, String)>,
    pub all_tags: Vec<(i64, String)>,
    pub history: History,
    pub assignable: Vec<(i64, String)>,
}

/// The device `cid` with its type, attributes, sets, tags and full action history.
pub fn device_details(c: &mut AnyConnection, tenant: &str, cid: &str) -> Result<DeviceDetails> {
    let target = find_target(c, tenant, cid)?;
    let type_name = match target.target_type_id {
        Some(id) => type_name(c, id)?,
        None => None,
    };
    let sets = [target.installed_ds_id, target.assigned_ds_id];
    let labels = super::distribution_sets::labels(c, &sets.iter().flatten().copied().collect::<Vec<_>>())?;
    let label = |id: Option<i64>| id.and_then(|id| labels.get(&id).cloned());
    let attributes = target_attributes::table
        .filter(target_attributes::target_id.eq(target.id))
        .order(target_attributes::attr_key.asc())
        .select((target_attributes::attr_key, target_attributes::attr_value))
        .load(c)?;
    let tags = target_tags::table
        .inner_join(target_tag_assignments::table)
        .filter(target_tag_assignments::target_id.eq(target.id))
        .order(target_tags::name.asc())
        .select((target_tags::id, target_tags::name))
        .load(c)?;
    let all_tags = super::tags::names(c, super::tags::Kind::Target, tenant)?;
    let acts: Vec<(Action, String, String)> = actions::table
        .inner_join(distribution_sets::table)
        .filter(actions::target_id.eq(target.id))
        .order(actions::id.desc())
        .select((
            Action::as_select(),
            distribution_sets::name,
            distribution_sets::version,
        ))
        .load(c)?;
    let ids: Vec<i64> = acts.iter().map(|a| a.0.id).collect();
    let statuses: Vec<(i64, i64, String, i64)> = action_statuses::table
        .filter(action_statuses::action_id.eq_any(&ids))
        .order(action_statuses::id.desc())
        .select((
            action_statuses::id,
            action_statuses::action_id,
            action_statuses::status,
            action_statuses::occurred_at,
        ))
        .load(c)?;
    let status_ids: Vec<i64> = statuses.iter().map(|s| s.0).collect();
    let messages: Vec<(i64, String)> = super::actions::status_messages(c, &status_ids)?;
    let history = acts
        .into_iter()
        .map(|(a, n, v)| {
            let entries = statuses
                .iter()
                .filter(|s| s.1 == a.id)
                .map(|(sid, _, st, at)| {
                    let m = messages
                        .iter()
                        .filter(|(s, _)| s == sid)
                        .map(|(_, m)| m.clone())
                        .collect();
                    (*sid, st.clone(), *at, m)
                })
                .collect();
            (a, format!("{n}:{v}"), entries)
        })
        .collect();
    let assignable = super::distribution_sets::usable(c, tenant, 500)?;
    Ok(DeviceDetails {
        installed: label(target.installed_ds_id),
        assigned: label(target.assigned_ds_id),
        target,
        type_name,
        attributes,
        tags,
        all_tags,
        history,
        assignable,
    })
}
