//! Distribution sets: what makes one complete, assignable and locked; their lifecycle
//! (`lifecycle.rs`) and their software modules (`modules.rs`).

pub mod delta_forecast;
mod invalidate;
mod lifecycle;
mod modules;
pub mod pages;
pub mod statistics;
mod usage;

pub use invalidate::{Cancelation, invalidate};
pub use lifecycle::{NewSet, SetUpdate, create, delete, list, update};
pub use modules::{add_module, add_modules, module_ids, modules_page, remove_module};
pub use usage::{auto_assign_filters, targets_with};

use diesel::prelude::*;

use super::models::{DistributionSet, DsType};
use super::schema::{actions, distribution_sets, ds_modules, ds_type_sm_types, ds_types, software_modules};
use super::{AnyConnection, Error, Result, Rule};

/// The tenant's distribution set `id` (soft-deleted ones included, as hawkBit shows them).
pub fn get(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<DistributionSet> {
    distribution_sets::table
        .filter(
            distribution_sets::id
                .eq(id)
                .and(distribution_sets::tenant.eq(tenant)),
        )
        .select(DistributionSet::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("DistributionSet", id))
}

/// A set that may still change: not soft-deleted (not found otherwise).
pub fn get_live(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<DistributionSet> {
    let ds = get(c, tenant, id)?;
    if ds.deleted {
        return Err(Error::not_found("DistributionSet", id));
    }
    Ok(ds)
}

/// A set as the Management API shows it: with its type, its modules' ids and whether it is complete.
#[derive(Debug, Clone)]
pub struct SetView {
    pub ds: DistributionSet,
    pub ds_type: DsType,
    pub module_ids: Vec<i64>,
    pub complete: bool,
}

/// Set `id` with its type, modules and completeness.
pub fn view(c: &mut AnyConnection, id: i64) -> Result<SetView> {
    let (ds, ds_type): (DistributionSet, DsType) = distribution_sets::table
        .inner_join(ds_types::table)
        .filter(distribution_sets::id.eq(id))
        .select((DistributionSet::as_select(), DsType::as_select()))
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("DistributionSet", id))?;
    let module_ids = module_ids(c, id)?;
    let complete = missing_mandatory(c, ds.ds_type_id, ds.id)?.is_empty();
    Ok(SetView {
        ds,
        ds_type,
        module_ids,
        complete,
    })
}

/// `name:version` of each of the sets `ids`, in one query: how pages name a set.
pub fn labels(c: &mut AnyConnection, ids: &[i64]) -> Result<std::collections::HashMap<i64, String>> {
    Ok(distribution_sets::table
        .filter(distribution_sets::id.eq_any(ids))
        .select(LABEL)
        .load::<(i64, String, String)>(c)?
        .into_iter()
        .map(labeled)
        .collect())
}

/// What a set's label is made of: id, name, version.
const LABEL: (
    distribution_sets::id,
    distribution_sets::name,
    distribution_sets::version,
) = (
    distribution_sets::id,
    distribution_sets::name,
    distribution_sets::version,
);

fn labeled((id, name, version): (i64, String, String)) -> (i64, String) {
    (id, format!("{name}:{version}"))
}

/// The tenant's newest `limit` sets that may be assigned (live and valid), as (id, `name:version`):
/// what assignment and rollout forms offer.
pub fn usable(c: &mut AnyConnection, tenant: &str, limit: i64) -> Result<Vec<(i64, String)>> {
    Ok(distribution_sets::table
        .filter(distribution_sets::tenant.eq(tenant))
        .filter(distribution_sets::deleted.eq(false))
        .filter(distribution_sets::valid.eq(true))
        .order(distribution_sets::id.desc())
        .limit(limit)
        .select(LABEL)
        .load::<(i64, String, String)>(c)?
        .into_iter()
        .map(labeled)
        .collect())
}

/// Refuses a change of set `id`'s modules while it is locked.
pub fn locked(id: i64) -> Error {
    Error::refused(
        Rule::Locked,
        format!("Distribution set {id} is locked: its software modules cannot change."),
    )
}

/// hawkBit lets the migration-step flag change only while no target has the set assigned.
pub fn assert_not_assigned(c: &mut AnyConnection, id: i64) -> Result<()> {
    let assigned: bool =
        diesel::select(diesel::dsl::exists(actions::table.filter(actions::ds_id.eq(id)))).get_result(c)?;
    if assigned {
        return Err(Error::refused(
            Rule::ReadOnly,
            format!("Distribution set {id} is already assigned to targets and cannot be changed."),
        ));
    }
    Ok(())
}

/// Records who changed set `id` last, and when.
pub fn touch(c: &mut AnyConnection, id: i64, now: i64, by: &str) -> Result<()> {
    diesel::update(distribution_sets::table.find(id))
        .set((
            distribution_sets::last_modified_at.eq(now),
            distribution_sets::last_modified_by.eq(by),
        ))
        .execute(c)?;
    Ok(())
}

/// The mandatory software module types of the set's type (`ds_type_id`) that none of the set's modules
/// has; empty when the set is complete.
pub fn missing_mandatory(c: &mut AnyConnection, ds_type_id: i64, ds_id: i64) -> Result<Vec<i64>> {
    let mandatory: Vec<i64> = ds_type_sm_types::table
        .filter(
            ds_type_sm_types::ds_type_id
                .eq(ds_type_id)
                .and(ds_type_sm_types::mandatory.eq(true)),
        )
        .select(ds_type_sm_types::sm_type_id)
        .load(c)?;
    let present: Vec<i64> = ds_modules::table
        .inner_join(software_modules::table)
        .filter(ds_modules::ds_id.eq(ds_id))
        .select(software_modules::sm_type_id)
        .load(c)?;
    Ok(mandatory.into_iter().filter(|t| !present.contains(t)).collect())
}

/// Checks that a distribution set may be assigned: it exists, is valid and has every mandatory module.
/// Returns the set's type, which the target type check needs next.
pub fn assignable_ds(c: &mut AnyConnection, tenant: &str, ds_id: i64) -> Result<i64> {
    let (ds_type, deleted, valid): (i64, bool, bool) = distribution_sets::table
        .find(ds_id)
        .filter(distribution_sets::tenant.eq(tenant))
        .select((
            distribution_sets::ds_type_id,
            distribution_sets::deleted,
            distribution_sets::valid,
        ))
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("DistributionSet", ds_id))?;
    if deleted {
        return Err(Error::not_found("DistributionSet", ds_id));
    }
    if !valid {
        return Err(Error::refused(
            Rule::DsInvalid,
            format!("Distribution set {ds_id} is invalidated."),
        ));
    }
    if !missing_mandatory(c, ds_type, ds_id)?.is_empty() {
        return Err(Error::refused(
            Rule::DsIncomplete,
            format!("Distribution set {ds_id} lacks a mandatory software module and cannot be assigned."),
        ));
    }
    Ok(ds_type)
}

/// Locks the set and its modules, as hawkBit does on the first assignment or an explicit lock.
pub fn lock_ds(c: &mut AnyConnection, ds_id: i64) -> Result<()> {
    diesel::update(distribution_sets::table.find(ds_id))
        .set(distribution_sets::locked.eq(true))
        .execute(c)?;
    let sms: Vec<i64> = ds_modules::table
        .filter(ds_modules::ds_id.eq(ds_id))
        .select(ds_modules::sm_id)
        .load(c)?;
    diesel::update(software_modules::table.filter(software_modules::id.eq_any(sms)))
        .set(software_modules::locked.eq(true))
        .execute(c)?;
    Ok(())
}

/// The tenant's live (not soft-deleted) set with this name and version, as devices name it when they
/// report an installation.
pub fn find_by_name_version(c: &mut AnyConnection, tenant: &str, name: &str, version: &str) -> Result<i64> {
    distribution_sets::table
        .filter(distribution_sets::tenant.eq(tenant))
        .filter(
            distribution_sets::name
                .eq(name)
                .and(distribution_sets::version.eq(version)),
        )
        .filter(distribution_sets::deleted.eq(false))
        .select(distribution_sets::id)
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("DistributionSet", format!("{name}:{version}")))
}
