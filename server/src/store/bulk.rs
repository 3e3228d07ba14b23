//! Operations on many devices at once, for the console's device list: assign a set, tag, untag,
//! cancel the active actions, delete. Each names its devices by a [`Selection`] (chosen controller
//! ids, or every device matching the list's filter), works through the same functions as the
//! Management API's single-device operations, and is meant to run in one write transaction, so a
//! failure leaves every device as it was. Each reports how many devices it selected and changed.

use diesel::prelude::*;

use super::actions::{self, AssignmentRequest};
use super::models::{Action, ActionType};
use super::query::SqlFilter;
use super::schema::{actions as actions_table, target_tag_assignments, targets};
use super::tags::{self, Kind};
use super::target_list::{DeviceFilter, matching};
use super::tenants::TenantSettings;
use super::{AnyConnection, Changes, Error, Result, Rule};

/// The most devices one bulk operation touches: it runs in one transaction, which must stay short
/// enough not to hold up devices' feedback. Larger fleets are changed filter by filter, or with a
/// rollout.
pub const MAX_DEVICES: usize = 10_000;

/// Which devices a bulk operation acts on.
#[derive(Debug, Clone)]
pub enum Selection {
    /// The devices with these controller ids (ids that do not exist are skipped).
    Devices(Vec<String>),
    /// Every device matching the device list's RSQL filter and its other filters.
    Matching { filter: SqlFilter, list: DeviceFilter },
}

/// What a bulk operation did: how many devices it selected, and how many of them it changed
/// (a device already tagged, or with no active action to cancel, is selected but unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    pub selected: usize,
    pub changed: usize,
}

/// The selected devices as (id, controller id), refused when there are none or too many.
pub fn resolve(c: &mut AnyConnection, tenant: &str, sel: &Selection) -> Result<Vec<(i64, String)>> {
    let found: Vec<(i64, String)> = match sel {
        Selection::Devices(cids) => {
            if cids.len() > MAX_DEVICES {
                return Err(too_many(cids.len()));
            }
            targets::table
                .filter(targets::tenant.eq(tenant))
                .filter(targets::controller_id.eq_any(cids))
                .order(targets::id.asc())
                .select((targets::id, targets::controller_id))
                .load(c)?
        }
        Selection::Matching { filter, list } => matching(tenant, filter, list)
            .order(targets::id.asc())
            .limit(i64::try_from(MAX_DEVICES).unwrap_or(i64::MAX) + 1)
            .select((targets::id, targets::controller_id))
            .load(c)?,
    };
    if found.is_empty() {
        return Err(Error::refused(
            Rule::Constraint,
            "No device is selected: choose devices, or all devices matching the filter.",
        ));
    }
    if found.len() > MAX_DEVICES {
        return Err(too_many(found.len()));
    }
    Ok(found)
}

fn too_many(n: usize) -> Error {
    let n = if n > MAX_DEVICES {
        format!("more than {MAX_DEVICES}")
    } else {
        n.to_string()
    };
    Error::refused(
        Rule::Constraint,
        format!(
            "{n} devices are selected; one bulk action changes at most {MAX_DEVICES}. Narrow the filter, or use a rollout."
        ),
    )
}

/// Assigns set `ds` to the selected devices with `action_type`, as the Management API's
/// assignment does (devices that have it assigned already are left alone).
#[allow(clippy::too_many_arguments)]
pub fn assign(
    c: &mut AnyConnection,
    settings: &TenantSettings,
    tenant: &str,
    sel: &Selection,
    ds: i64,
    action_type: ActionType,
    by: &str,
    now: i64,
) -> Result<(Outcome, Changes)> {
    let devices = resolve(c, tenant, sel)?;
    assign_devices(c, settings, tenant, &devices, ds, action_type, by, now)
}

/// Assigns set `ds` to `devices` (id, controller id) through the Management API's assignment.
#[allow(clippy::too_many_arguments)]
pub(crate) fn assign_devices(
    c: &mut AnyConnection,
    settings: &TenantSettings,
    tenant: &str,
    devices: &[(i64, String)],
    ds: i64,
    action_type: ActionType,
    by: &str,
    now: i64,
) -> Result<(Outcome, Changes)> {
    let requests: Vec<AssignmentRequest> = devices
        .iter()
        .map(|(_, cid)| AssignmentRequest {
            controller_id: cid.clone(),
            action_type,
            forced_time: 0,
            weight: None,
            maintenance: None,
            confirmation_required: None,
        })
        .collect();
    let result = actions::assign(c, settings, tenant, ds, &requests, by, now)?;
    let outcome = Outcome {
        selected: devices.len(),
        changed: result.assigned.len(),
    };
    let changes = Changes::devices(tenant, result.assigned.iter().map(|(cid, _)| cid));
    Ok((outcome, changes))
}

/// Tags (`on`) or untags the selected devices with the tenant's tag `tag`.
pub fn tag(c: &mut AnyConnection, tenant: &str, sel: &Selection, tag: i64, on: bool) -> Result<Outcome> {
    let tag = tags::get(c, Kind::Target, tenant, tag)?;
    let devices = resolve(c, tenant, sel)?;
    let ids: Vec<i64> = devices.iter().map(|(id, _)| *id).collect();
    let tagged: i64 = target_tag_assignments::table
        .filter(target_tag_assignments::tag_id.eq(tag.id))
        .filter(target_tag_assignments::target_id.eq_any(&ids))
        .count()
        .get_result(c)?;
    tags::set_tagged(c, Kind::Target, tag.id, &ids, on)?;
    let tagged = usize::try_from(tagged).unwrap_or(0);
    Ok(Outcome {
        selected: ids.len(),
        changed: if on { ids.len() - tagged } else { tagged },
    })
}

/// Requests the cancelation of the selected devices' active actions, as the Management API's
/// cancel does; actions being canceled already are left alone.
pub fn cancel_active(
    c: &mut AnyConnection,
    tenant: &str,
    sel: &Selection,
    by: &str,
    now: i64,
) -> Result<(Outcome, Changes)> {
    let devices = resolve(c, tenant, sel)?;
    let ids: Vec<i64> = devices.iter().map(|(id, _)| *id).collect();
    let open: Vec<Action> = actions_table::table
        .filter(actions_table::target_id.eq_any(&ids))
        .filter(actions_table::active)
        .order(actions_table::id.asc())
        .select(Action::as_select())
        .load(c)?;
    let mut canceled: Vec<i64> = Vec::new();
    for a in open.iter().filter(|a| !a.status().is_canceling_or_canceled()) {
        actions::request_cancel(c, a, now, by)?;
        canceled.push(a.target_id);
    }
    canceled.sort_unstable();
    canceled.dedup();
    let cids = devices
        .iter()
        .filter(|(id, _)| canceled.binary_search(id).is_ok())
        .map(|(_, cid)| cid);
    Ok((
        Outcome {
            selected: devices.len(),
            changed: canceled.len(),
        },
        Changes::devices(tenant, cids),
    ))
}

/// Deletes the selected devices with their actions and attributes (the database cascades).
pub fn delete(c: &mut AnyConnection, tenant: &str, sel: &Selection) -> Result<(Outcome, Changes)> {
    let devices = resolve(c, tenant, sel)?;
    let ids: Vec<i64> = devices.iter().map(|(id, _)| *id).collect();
    let deleted = diesel::delete(
        targets::table
            .filter(targets::tenant.eq(tenant))
            .filter(targets::id.eq_any(&ids)),
    )
    .execute(c)?;
    Ok((
        Outcome {
            selected: devices.len(),
            changed: deleted,
        },
        Changes::devices(tenant, devices.iter().map(|(_, cid)| cid)),
    ))
}
