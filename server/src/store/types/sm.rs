//! Software module types (`os`, `application`, ...): how many modules of a type one distribution set
//! may hold and how many artifacts a module needs to be complete.
//!
//! A type that software modules or distribution set types still use is only marked `deleted` (hidden
//! from the list, still readable by id), as hawkBit keeps it for their history.

use diesel::prelude::*;

use super::NewType;
use crate::store::models::SmType;
use crate::store::schema::{ds_type_sm_types, sm_types, software_modules};
use crate::store::{AnyConnection, Error, Result, Rule};

type_table!(sm_types, SmType, "SoftwareModuleType", soft_deleted);

/// A software module type to create (hawkBit's `MgmtSoftwareModuleTypeRequestBodyPost`).
#[derive(Debug, Clone, Default)]
pub struct NewSmType {
    pub fields: NewType,
    /// At least 1; default 1.
    pub max_assignments: Option<i32>,
    /// At least 0; default 0.
    pub min_artifacts: Option<i32>,
}

impl NewSmType {
    fn check(&self) -> Result<()> {
        self.fields.required()?;
        if self.max_assignments.is_some_and(|m| m < 1) {
            return Err(Error::refused(
                Rule::Constraint,
                "maxAssignments must be at least 1.",
            ));
        }
        if self.min_artifacts.is_some_and(|m| m < 0) {
            return Err(Error::refused(
                Rule::Constraint,
                "minArtifacts must not be negative.",
            ));
        }
        Ok(())
    }
}

/// Creates the software module types `types` of `tenant`, all or (on the first refusal) none.
pub fn create(
    c: &mut AnyConnection,
    tenant: &str,
    types: &[NewSmType],
    by: &str,
    now: i64,
) -> Result<Vec<SmType>> {
    super::check_then_create(types, NewSmType::check, |t| {
        let id = insert_type!(
            c,
            sm_types,
            tenant,
            t.fields.required()?,
            t.fields,
            by,
            now,
            sm_types::max_assignments.eq(t.max_assignments.unwrap_or(1)),
            sm_types::min_artifacts.eq(t.min_artifacts.unwrap_or(0)),
            sm_types::deleted.eq(false)
        )?;
        find(c, tenant, id)
    })
}

/// Deletes the tenant's type `id`: only marks it deleted while modules or distribution set types
/// use it.
pub fn delete(c: &mut AnyConnection, tenant: &str, id: i64, by: &str, now: i64) -> Result<()> {
    let t = find(c, tenant, id)?;
    let modules: i64 = software_modules::table
        .filter(software_modules::sm_type_id.eq(t.id))
        .count()
        .get_result(c)?;
    let ds_types: i64 = ds_type_sm_types::table
        .filter(ds_type_sm_types::sm_type_id.eq(t.id))
        .count()
        .get_result(c)?;
    if modules + ds_types > 0 {
        mark_deleted(c, t.id, by, now)
    } else {
        diesel::delete(sm_types::table.find(t.id)).execute(c)?;
        Ok(())
    }
}

/// The id of the tenant's type with `key`; not found (naming the key) otherwise.
pub fn id_by_key(c: &mut AnyConnection, tenant: &str, key: &str) -> Result<i64> {
    sm_types::table
        .filter(sm_types::tenant.eq(tenant).and(sm_types::type_key.eq(key)))
        .select(sm_types::id)
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("SoftwareModuleType", key))
}

/// The tenant's types that are not deleted, by name: what a new module may be.
pub fn live_by_name(c: &mut AnyConnection, tenant: &str) -> Result<Vec<SmType>> {
    Ok(sm_types::table
        .filter(sm_types::tenant.eq(tenant).and(sm_types::deleted.eq(false)))
        .order(sm_types::name.asc())
        .select(SmType::as_select())
        .load(c)?)
}
