//! The software modules in a distribution set: which the set's type accepts, and how many.

use diesel::prelude::*;

use super::{get, get_live, locked, touch};
use crate::store::models::DistributionSet;
use crate::store::page::{ListQuery, Paged, paginate};
use crate::store::schema::{ds_modules, ds_type_sm_types, sm_types, software_modules};
use crate::store::{AnyConnection, Error, Result, Rule};

/// The ids of set `ds_id`'s modules, in id order.
pub fn module_ids(c: &mut AnyConnection, ds_id: i64) -> Result<Vec<i64>> {
    Ok(ds_modules::table
        .filter(ds_modules::ds_id.eq(ds_id))
        .order(ds_modules::sm_id.asc())
        .select(ds_modules::sm_id)
        .load(c)?)
}

/// One page of the ids of the modules in the tenant's set `id`.
pub fn modules_page(c: &mut AnyConnection, tenant: &str, id: i64, list: &ListQuery) -> Result<Paged<i64>> {
    get(c, tenant, id)?;
    Ok(paginate!(
        c,
        software_modules::table.filter(
            software_modules::id.eq_any(
                ds_modules::table
                    .filter(ds_modules::ds_id.eq(id))
                    .select(ds_modules::sm_id)
            )
        ) => software_modules::id,
        list
    ))
}

/// Adds software module `sm_id` to the set, checking that the set's type accepts the module's type
/// and that the type's `maxAssignments` per set is not exceeded. Adding it twice changes nothing.
pub fn add_module(c: &mut AnyConnection, tenant: &str, ds: &DistributionSet, sm_id: i64) -> Result<()> {
    let sm_type: i64 = software_modules::table
        .filter(
            software_modules::id
                .eq(sm_id)
                .and(software_modules::tenant.eq(tenant)),
        )
        .filter(software_modules::deleted.eq(false))
        .select(software_modules::sm_type_id)
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("SoftwareModule", sm_id))?;
    let present: bool = diesel::select(diesel::dsl::exists(
        ds_modules::table.filter(ds_modules::ds_id.eq(ds.id).and(ds_modules::sm_id.eq(sm_id))),
    ))
    .get_result(c)?;
    if present {
        return Ok(());
    }
    let allowed: bool = diesel::select(diesel::dsl::exists(
        ds_type_sm_types::table.filter(
            ds_type_sm_types::ds_type_id
                .eq(ds.ds_type_id)
                .and(ds_type_sm_types::sm_type_id.eq(sm_type)),
        ),
    ))
    .get_result(c)?;
    if !allowed {
        return Err(Error::refused(
            Rule::ModuleUnsupported,
            format!(
                "Software module {sm_id} has a type that the type of distribution set {} does not accept.",
                ds.id
            ),
        ));
    }
    let max: i32 = sm_types::table
        .find(sm_type)
        .select(sm_types::max_assignments)
        .first(c)?;
    let same_type: i64 = ds_modules::table
        .inner_join(software_modules::table)
        .filter(
            ds_modules::ds_id
                .eq(ds.id)
                .and(software_modules::sm_type_id.eq(sm_type)),
        )
        .count()
        .get_result(c)?;
    if max > 0 && same_type >= i64::from(max) {
        return Err(Error::refused(
            Rule::ModuleUnsupported,
            format!(
                "Distribution set {} already has the maximum of {max} software modules of this type.",
                ds.id
            ),
        ));
    }
    diesel::insert_into(ds_modules::table)
        .values((ds_modules::ds_id.eq(ds.id), ds_modules::sm_id.eq(sm_id)))
        .execute(c)?;
    Ok(())
}

/// Adds modules to the tenant's live, unlocked set `id`.
pub fn add_modules(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    modules: &[i64],
    by: &str,
    now: i64,
) -> Result<()> {
    let ds = get_live(c, tenant, id)?;
    if ds.locked {
        return Err(locked(id));
    }
    for m in modules {
        add_module(c, tenant, &ds, *m)?;
    }
    touch(c, id, now, by)
}

/// Removes module `sm` from the tenant's live, unlocked set `id`.
pub fn remove_module(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    sm: i64,
    by: &str,
    now: i64,
) -> Result<()> {
    if get_live(c, tenant, id)?.locked {
        return Err(locked(id));
    }
    let removed =
        diesel::delete(ds_modules::table.filter(ds_modules::ds_id.eq(id).and(ds_modules::sm_id.eq(sm))))
            .execute(c)?;
    if removed == 0 {
        return Err(Error::not_found("SoftwareModule", sm));
    }
    touch(c, id, now, by)
}
