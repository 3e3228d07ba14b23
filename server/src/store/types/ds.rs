//! Distribution set types: the software module types their sets must (mandatory) or may (optional)
//! hold.
//!
//! Once a distribution set has the type its module lists are frozen (hawkBit's `EntityReadOnly`), and
//! deleting it only marks it `deleted`.

use diesel::prelude::*;

use super::NewType;
use crate::store::models::{DsType, SmType};
use crate::store::schema::{
    distribution_sets, ds_type_sm_types as dtsm, ds_types, sm_types, target_type_ds_types,
};
use crate::store::{AnyConnection, Error, Result, Rule};

type_table!(ds_types, DsType, "DistributionSetType", soft_deleted);

/// A distribution set type to create (hawkBit's `MgmtDistributionSetTypeRequestBodyPost`), with the
/// ids of its mandatory and optional software module types.
#[derive(Debug, Clone, Default)]
pub struct NewDsType {
    pub fields: NewType,
    pub mandatory: Vec<i64>,
    pub optional: Vec<i64>,
}

impl NewDsType {
    fn check(&self) -> Result<()> {
        self.fields.required()?;
        if self.mandatory.iter().any(|m| self.optional.contains(m)) {
            return Err(Error::refused(
                Rule::Constraint,
                "A software module type cannot be both mandatory and optional.",
            ));
        }
        Ok(())
    }
}

/// Creates the distribution set types `types` of `tenant` with their module types, all or (on the
/// first refusal or unknown module type) none.
pub fn create(
    c: &mut AnyConnection,
    tenant: &str,
    types: &[NewDsType],
    by: &str,
    now: i64,
) -> Result<Vec<DsType>> {
    super::check_then_create(types, NewDsType::check, |t| {
        let id = insert_type!(
            c,
            ds_types,
            tenant,
            t.fields.required()?,
            t.fields,
            by,
            now,
            ds_types::deleted.eq(false)
        )?;
        for (list, mandatory) in [(&t.mandatory, true), (&t.optional, false)] {
            for &m in list {
                super::sm::find(c, tenant, m)?;
                put_module(c, id, m, mandatory)?;
            }
        }
        find(c, tenant, id)
    })
}

/// Makes `sm_type` a mandatory or optional module type of `ds_type` (moving it if listed already).
fn put_module(c: &mut AnyConnection, ds_type: i64, sm_type: i64, mandatory: bool) -> Result<()> {
    diesel::delete(dtsm::table.filter(dtsm::ds_type_id.eq(ds_type).and(dtsm::sm_type_id.eq(sm_type))))
        .execute(c)?;
    diesel::insert_into(dtsm::table)
        .values((
            dtsm::ds_type_id.eq(ds_type),
            dtsm::sm_type_id.eq(sm_type),
            dtsm::mandatory.eq(mandatory),
        ))
        .execute(c)?;
    Ok(())
}

fn sets_of_type(c: &mut AnyConnection, ds_type: i64) -> Result<i64> {
    Ok(distribution_sets::table
        .filter(distribution_sets::ds_type_id.eq(ds_type))
        .count()
        .get_result(c)?)
}

/// True when distribution sets have the type `id` (of a tenant the caller checked): its module
/// types are then frozen and deleting it only marks it deleted.
pub fn in_use(c: &mut AnyConnection, id: i64) -> Result<bool> {
    Ok(sets_of_type(c, id)? > 0)
}

/// Deletes the tenant's type `id`: only marks it deleted while distribution sets use it. Target
/// types stop listing it as compatible either way.
pub fn delete(c: &mut AnyConnection, tenant: &str, id: i64, by: &str, now: i64) -> Result<()> {
    let t = find(c, tenant, id)?;
    diesel::delete(target_type_ds_types::table.filter(target_type_ds_types::ds_type_id.eq(t.id)))
        .execute(c)?;
    if sets_of_type(c, t.id)? > 0 {
        mark_deleted(c, t.id, by, now)
    } else {
        diesel::delete(dtsm::table.filter(dtsm::ds_type_id.eq(t.id))).execute(c)?;
        diesel::delete(ds_types::table.find(t.id)).execute(c)?;
        Ok(())
    }
}

/// The mandatory (or optional) software module types of the tenant's type `id`, by id.
pub fn modules(c: &mut AnyConnection, tenant: &str, id: i64, mandatory: bool) -> Result<Vec<SmType>> {
    let t = find(c, tenant, id)?;
    let ids = dtsm::table
        .filter(dtsm::ds_type_id.eq(t.id).and(dtsm::mandatory.eq(mandatory)))
        .select(dtsm::sm_type_id);
    Ok(sm_types::table
        .filter(sm_types::tenant.eq(tenant))
        .filter(sm_types::id.eq_any(ids))
        .order(sm_types::id.asc())
        .select(SmType::as_select())
        .load(c)?)
}

/// The module type `sm` if it is a mandatory (or optional) one of the tenant's type `id`; not found
/// otherwise.
pub fn module(c: &mut AnyConnection, tenant: &str, id: i64, sm: i64, mandatory: bool) -> Result<SmType> {
    modules(c, tenant, id, mandatory)?
        .into_iter()
        .find(|t| t.id == sm)
        .ok_or_else(|| Error::not_found("SoftwareModuleType", sm))
}

/// Makes the module type `sm` mandatory (`Some(true)`), optional (`Some(false)`) or no longer
/// listed (`None`) for the tenant's type `id`; refused once distribution sets have the type.
pub fn set_module(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    sm: i64,
    mandatory: Option<bool>,
    by: &str,
    now: i64,
) -> Result<()> {
    let t = find(c, tenant, id)?;
    super::sm::find(c, tenant, sm)?;
    if sets_of_type(c, t.id)? > 0 {
        return Err(Error::refused(
            Rule::ReadOnly,
            format!(
                "Distribution set type {id} is already assigned to distribution sets and cannot be changed!"
            ),
        ));
    }
    match mandatory {
        Some(mandatory) => put_module(c, t.id, sm, mandatory)?,
        None => {
            diesel::delete(dtsm::table.filter(dtsm::ds_type_id.eq(t.id).and(dtsm::sm_type_id.eq(sm))))
                .execute(c)?;
        }
    }
    touch(c, t.id, by, now)
}
