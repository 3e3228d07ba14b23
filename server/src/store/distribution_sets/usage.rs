//! Who uses a distribution set: the targets it is assigned to or installed on, and the target filters
//! that auto-assign it.

use diesel::prelude::*;

use super::get;
use crate::store::models::Target;
use crate::store::page::{ListQuery, Paged, paginate};
use crate::store::schema::{target_filter_queries, targets};
use crate::store::target_filters::Filter;
use crate::store::{AnyConnection, Result};

/// One page of the tenant's targets whose installed (with `installed`) or assigned set is `id`.
pub fn targets_with(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    installed: bool,
    list: &ListQuery,
) -> Result<Paged<Target>> {
    get(c, tenant, id)?;
    let of_ds = || {
        let query = targets::table.filter(targets::tenant.eq(tenant)).into_boxed();
        if installed {
            query.filter(targets::installed_ds_id.eq(Some(id)))
        } else {
            query.filter(targets::assigned_ds_id.eq(Some(id)))
        }
    };
    Ok(paginate!(c, of_ds() => Target::as_select(), list))
}

/// One page of the tenant's target filters that auto-assign set `id`.
pub fn auto_assign_filters(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    list: &ListQuery,
) -> Result<Paged<Filter>> {
    get(c, tenant, id)?;
    Ok(paginate!(
        c,
        target_filter_queries::table.filter(
            target_filter_queries::tenant
                .eq(tenant)
                .and(target_filter_queries::auto_assign_ds_id.eq(Some(id)))
        ) => Filter::as_select(),
        list
    ))
}
