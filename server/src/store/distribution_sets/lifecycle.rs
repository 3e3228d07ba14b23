//! Creating, listing, changing and deleting distribution sets.

use diesel::prelude::*;

use super::{add_module, assert_not_assigned, get, get_live, lock_ds, missing_mandatory};
use crate::store::page::{ListQuery, Paged, paginate};
use crate::store::schema::{actions, distribution_sets, ds_types, targets};
use crate::store::{AnyConnection, Error, Result, Rule, check_len};

/// hawkBit's longest set name, version and description.
const NAME_MAX: usize = 128;
const VERSION_MAX: usize = 64;
const DESCRIPTION_MAX: usize = 512;

/// One distribution set to create.
#[derive(Debug, Clone, Default)]
pub struct NewSet {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    /// The set type's key; `os_app` when absent.
    pub type_key: Option<String>,
    /// Its software modules' ids.
    pub modules: Vec<i64>,
    pub required_migration_step: bool,
}

impl NewSet {
    /// Bounded lengths and a non-empty name and version.
    pub fn validate(&self) -> Result<()> {
        check_len("name", &self.name, NAME_MAX)?;
        check_len("version", &self.version, VERSION_MAX)?;
        check_len(
            "description",
            self.description.as_deref().unwrap_or(""),
            DESCRIPTION_MAX,
        )?;
        if self.name.trim().is_empty() || self.version.trim().is_empty() {
            return Err(empty_name());
        }
        Ok(())
    }
}

fn empty_name() -> Error {
    Error::refused(Rule::Constraint, "name and version must not be empty.")
}

/// The fields of a set to change (`None`: keep).
#[derive(Debug, Clone, Default)]
pub struct SetUpdate {
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    /// `true` locks the set and its modules (the set must be complete); `false` unlocks the set.
    pub locked: Option<bool>,
    pub required_migration_step: Option<bool>,
}

impl SetUpdate {
    /// Bounded lengths; a name or version given must not be blank.
    pub fn validate(&self) -> Result<()> {
        check_len("name", self.name.as_deref().unwrap_or(""), NAME_MAX)?;
        check_len("version", self.version.as_deref().unwrap_or(""), VERSION_MAX)?;
        check_len(
            "description",
            self.description.as_deref().unwrap_or(""),
            DESCRIPTION_MAX,
        )?;
        if [&self.name, &self.version]
            .iter()
            .any(|v| v.as_deref().is_some_and(|s| s.trim().is_empty()))
        {
            return Err(empty_name());
        }
        Ok(())
    }
}

/// One page of the ids of the tenant's sets whose `deleted` flag is one of `deleted`.
pub fn list(c: &mut AnyConnection, tenant: &str, deleted: &[bool], list: &ListQuery) -> Result<Paged<i64>> {
    Ok(paginate!(
        c,
        distribution_sets::table.filter(
            distribution_sets::tenant
                .eq(tenant)
                .and(distribution_sets::deleted.eq_any(deleted))
        ) => distribution_sets::id,
        list
    ))
}

/// Creates validated sets of `tenant` with their modules, all or none; returns their ids.
pub fn create(c: &mut AnyConnection, tenant: &str, by: &str, now: i64, sets: &[NewSet]) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    for r in sets {
        let type_key = r.type_key.as_deref().unwrap_or("os_app");
        let ds_type: i64 = ds_types::table
            .filter(ds_types::tenant.eq(tenant).and(ds_types::type_key.eq(type_key)))
            .select(ds_types::id)
            .first(c)
            .optional()?
            .ok_or_else(|| Error::not_found("DistributionSetType", type_key))?;
        let id: i64 = diesel::insert_into(distribution_sets::table)
            .values((
                distribution_sets::tenant.eq(tenant),
                distribution_sets::ds_type_id.eq(ds_type),
                distribution_sets::name.eq(&r.name),
                distribution_sets::version.eq(&r.version),
                distribution_sets::description.eq(&r.description),
                distribution_sets::required_migration_step.eq(r.required_migration_step),
                distribution_sets::locked.eq(false),
                distribution_sets::deleted.eq(false),
                distribution_sets::valid.eq(true),
                distribution_sets::created_at.eq(now),
                distribution_sets::created_by.eq(by),
                distribution_sets::last_modified_at.eq(now),
                distribution_sets::last_modified_by.eq(by),
            ))
            .returning(distribution_sets::id)
            .get_result(c)
            .map_err(|e| name_taken(e, &r.name, &r.version))?;
        let ds = get(c, tenant, id)?;
        for m in &r.modules {
            add_module(c, tenant, &ds, *m)?;
        }
        out.push(id);
    }
    Ok(out)
}

/// A unique violation on name and version, as a refusal naming them.
fn name_taken(e: diesel::result::Error, name: &str, version: &str) -> Error {
    Error::taken(e, || format!("Distribution set {name}:{version} already exists."))
}

/// Changes a live set's fields, its lock and its migration-step flag (only while unassigned).
pub fn update(c: &mut AnyConnection, tenant: &str, id: i64, r: &SetUpdate, by: &str, now: i64) -> Result<()> {
    let ds = get_live(c, tenant, id)?;
    if r.required_migration_step
        .is_some_and(|m| m != ds.required_migration_step)
    {
        assert_not_assigned(c, id)?;
    }
    let name = r.name.clone().unwrap_or(ds.name.clone());
    let version = r.version.clone().unwrap_or(ds.version.clone());
    diesel::update(distribution_sets::table.find(id))
        .set((
            distribution_sets::name.eq(&name),
            distribution_sets::version.eq(&version),
            distribution_sets::description.eq(r.description.clone().or(ds.description.clone())),
            distribution_sets::required_migration_step
                .eq(r.required_migration_step.unwrap_or(ds.required_migration_step)),
            distribution_sets::last_modified_at.eq(now),
            distribution_sets::last_modified_by.eq(by),
        ))
        .execute(c)
        .map_err(|e| name_taken(e, &name, &version))?;
    match r.locked {
        Some(true) if !ds.locked => {
            if !missing_mandatory(c, ds.ds_type_id, ds.id)?.is_empty() {
                return Err(Error::refused(
                    Rule::DsIncomplete,
                    format!("Distribution set {id} lacks a mandatory software module and cannot be locked."),
                ));
            }
            lock_ds(c, id)?;
        }
        Some(false) => {
            diesel::update(distribution_sets::table.find(id))
                .set(distribution_sets::locked.eq(false))
                .execute(c)?;
        }
        _ => {}
    }
    Ok(())
}

/// Deletes a set; one that actions or targets refer to is only marked deleted, as hawkBit does.
pub fn delete(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<()> {
    get(c, tenant, id)?;
    let used: bool =
        diesel::select(diesel::dsl::exists(actions::table.filter(actions::ds_id.eq(id)))).get_result(c)?;
    let referenced: bool = diesel::select(diesel::dsl::exists(
        targets::table.filter(targets::assigned_ds_id.eq(id).or(targets::installed_ds_id.eq(id))),
    ))
    .get_result(c)?;
    if used || referenced {
        diesel::update(distribution_sets::table.find(id))
            .set(distribution_sets::deleted.eq(true))
            .execute(c)?;
    } else {
        diesel::delete(distribution_sets::table.find(id)).execute(c)?;
    }
    Ok(())
}
