//! Targets (devices): finding them, what their polls record, plug-and-play registration, attributes.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::models::{NewTarget, Target, UpdateStatus};
use super::schema::{target_attributes, targets};
use super::{AnyConnection, Error, Result, Rule};

/// The tenant's target `controller_id`, if it exists.
pub fn get_target(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Option<Target>> {
    Ok(targets::table
        .filter(
            targets::tenant
                .eq(tenant)
                .and(targets::controller_id.eq(controller_id)),
        )
        .select(Target::as_select())
        .first(c)
        .optional()?)
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
) -> Result<()> {
    let this = targets::table.filter(
        targets::tenant
            .eq(tenant)
            .and(targets::controller_id.eq(controller_id)),
    );
    let status: String = this.select(targets::update_status).first(c)?;
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
    Ok(())
}

/// Plug and play: an unknown device authenticated by the gateway token registers itself with its
/// first poll. A concurrent first poll of the same device may have won; that is fine.
pub fn register_on_poll(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    address: &str,
    security_token: &str,
    now: i64,
) -> Result<()> {
    let description = format!("Plug and Play target: {controller_id}");
    // The savepoint keeps PostgreSQL's transaction usable after a unique violation.
    let inserted = c.transaction(|c| {
        diesel::insert_into(targets::table)
            .values(NewTarget {
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
            })
            .execute(c)
    });
    match inserted {
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
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

/// hawkBit's `updateControllerAttributes`: applies `data` under `mode`, refusing to grow past
/// `quota` attributes (0: no limit). A change flags the target for auto-assignment.
pub fn update_attributes(
    c: &mut AnyConnection,
    target_id: i64,
    mode: AttributeUpdate,
    data: &BTreeMap<String, Option<String>>,
    quota: i64,
    now: i64,
) -> Result<()> {
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
    if next != current {
        // Changed attributes may make the target match an auto-assigning filter.
        diesel::update(targets::table.find(target_id))
            .set(targets::auto_assign_pending.eq(true))
            .execute(c)?;
        diesel::delete(target_attributes::table.filter(target_attributes::target_id.eq(target_id)))
            .execute(c)?;
        for (k, v) in &next {
            diesel::insert_into(target_attributes::table)
                .values((
                    target_attributes::target_id.eq(target_id),
                    target_attributes::attr_key.eq(k),
                    target_attributes::attr_value.eq(v),
                ))
                .execute(c)?;
        }
    }
    diesel::update(targets::table.find(target_id))
        .set((
            targets::request_attributes.eq(false),
            targets::last_modified_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}
