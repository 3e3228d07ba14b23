//! Who uses a distribution set: the targets it is assigned to or installed on, and the target filters
//! that auto-assign it.

use diesel::prelude::*;

use super::get;
use crate::store::models::Target;
use crate::store::page::{ListQuery, Paged, paginate};
use crate::store::schema::{target_filter_queries, targets};
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

/// A target filter that auto-assigns a set: id, name, query, set, action type, weight, confirmation
/// required, and (created by, created at, last modified by, last modified at).
pub type AutoAssignFilter = (
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<i32>,
    bool,
    (String, i64, String, i64),
);

/// One page of the tenant's target filters that auto-assign set `id`.
pub fn auto_assign_filters(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    list: &ListQuery,
) -> Result<Paged<AutoAssignFilter>> {
    get(c, tenant, id)?;
    Ok(paginate!(
        c,
        target_filter_queries::table.filter(
            target_filter_queries::tenant
                .eq(tenant)
                .and(target_filter_queries::auto_assign_ds_id.eq(Some(id)))
        ) => (
            target_filter_queries::id,
            target_filter_queries::name,
            target_filter_queries::query,
            target_filter_queries::auto_assign_ds_id,
            target_filter_queries::auto_assign_action_type,
            target_filter_queries::auto_assign_weight,
            target_filter_queries::confirmation_required,
            (
                target_filter_queries::created_by,
                target_filter_queries::created_at,
                target_filter_queries::last_modified_by,
                target_filter_queries::last_modified_at,
            ),
        ),
        list
    ))
}
