//! Distribution sets: what makes one complete, assignable and locked.

use diesel::prelude::*;

use super::schema::{distribution_sets, ds_modules, ds_type_sm_types, software_modules};
use super::{AnyConnection, Error, Result, Rule};

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
pub fn assignable_ds(c: &mut AnyConnection, tenant: &str, ds_id: i64) -> Result<()> {
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
    Ok(())
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
