//! First-start data: the default tenant with hawkBit's standard module and set types
//! (`JpaSystemManagement.createStandardSoftwareDataSetup`).

use diesel::prelude::*;

use crate::error::ApiResult;
use crate::store::AnyConnection;
use crate::store::schema::{ds_type_sm_types, ds_types, sm_types, tenants};

/// Creates `tenant` and its standard types unless it exists.
pub fn ensure_tenant(c: &mut AnyConnection, tenant: &str, now: i64) -> ApiResult<()> {
    let exists: bool = diesel::select(diesel::dsl::exists(
        tenants::table.filter(tenants::name.eq(tenant)),
    ))
    .get_result(c)?;
    if exists {
        return Ok(());
    }
    diesel::insert_into(tenants::table)
        .values((tenants::name.eq(tenant), tenants::created_at.eq(now)))
        .execute(c)?;
    let by = "system";
    let mut sm_type = |key: &str, name: &str, max: i32| -> ApiResult<i64> {
        Ok(diesel::insert_into(sm_types::table)
            .values((
                sm_types::tenant.eq(tenant),
                sm_types::type_key.eq(key),
                sm_types::name.eq(name),
                sm_types::description.eq(format!("Updraft default {name} module type")),
                sm_types::max_assignments.eq(max),
                sm_types::min_artifacts.eq(0),
                sm_types::deleted.eq(false),
                sm_types::created_at.eq(now),
                sm_types::created_by.eq(by),
                sm_types::last_modified_at.eq(now),
                sm_types::last_modified_by.eq(by),
            ))
            .returning(sm_types::id)
            .get_result(c)?)
    };
    let os = sm_type("os", "OS", 1)?;
    let app = sm_type("application", "Application", i32::MAX)?;
    let mut ds_type = |key: &str, name: &str, modules: &[(i64, bool)]| -> ApiResult<()> {
        let id: i64 = diesel::insert_into(ds_types::table)
            .values((
                ds_types::tenant.eq(tenant),
                ds_types::type_key.eq(key),
                ds_types::name.eq(name),
                ds_types::description.eq(format!("Updraft default type: {name}")),
                ds_types::deleted.eq(false),
                ds_types::created_at.eq(now),
                ds_types::created_by.eq(by),
                ds_types::last_modified_at.eq(now),
                ds_types::last_modified_by.eq(by),
            ))
            .returning(ds_types::id)
            .get_result(c)?;
        for (sm, mandatory) in modules {
            diesel::insert_into(ds_type_sm_types::table)
                .values((
                    ds_type_sm_types::ds_type_id.eq(id),
                    ds_type_sm_types::sm_type_id.eq(sm),
                    ds_type_sm_types::mandatory.eq(mandatory),
                ))
                .execute(c)?;
        }
        Ok(())
    };
    ds_type("os", "OS only", &[(os, true)])?;
    ds_type("app", "App(s) only", &[(app, false)])?;
    ds_type("os_app", "OS with app(s)", &[(os, true), (app, false)])?;
    Ok(())
}
