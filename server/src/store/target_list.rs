//! The device list of the web UI: one page of targets filtered by an RSQL query and by status, tag
//! and type. One query for the page (LIMIT/OFFSET), one count, and one query each for the type and
//! set names on the page, so it stays fast with a large fleet.

use std::collections::HashMap;

use diesel::prelude::*;

use super::page::ListQuery;
use super::schema::{target_tag_assignments, target_types, targets};
use super::tags::{self, Kind};
use super::{AnyConnection, Result};

/// A device on the list: id, controller id, name, update status, last poll, type id, installed set id.
pub type Row = (i64, String, String, String, Option<i64>, Option<i64>, Option<i64>);

/// The list's filters besides the query: empty or `None` means any.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    pub status: String,
    pub tag: Option<i64>,
    pub target_type: Option<i64>,
}

/// One page of devices, with what the page needs to show them and to offer the filters.
#[derive(Debug, Default)]
pub struct DeviceList {
    pub rows: Vec<Row>,
    pub total: i64,
    pub type_names: HashMap<i64, String>,
    /// `name:version` of the sets installed on the page's devices.
    pub ds_names: HashMap<i64, String>,
    /// The tenant's tags and target types as (id, name), by name.
    pub tags: Vec<(i64, String)>,
    pub types: Vec<(i64, String)>,
}

/// The tenant's device list; with no `list` (the query did not parse) only the filter choices.
pub fn device_list(
    c: &mut AnyConnection,
    tenant: &str,
    f: &DeviceFilter,
    list: Option<&ListQuery>,
) -> Result<DeviceList> {
    let tags = tags::names(c, Kind::Target, tenant)?;
    let types: Vec<(i64, String)> = target_types::table
        .filter(target_types::tenant.eq(tenant))
        .order(target_types::name.asc())
        .select((target_types::id, target_types::name))
        .load(c)?;
    let Some(list) = list else {
        return Ok(DeviceList {
            tags,
            types,
            ..DeviceList::default()
        });
    };
    let filtered = || {
        let mut q = targets::table
            .filter(targets::tenant.eq(tenant.to_owned()))
            .filter(list.spec.filter.clone())
            .into_boxed();
        if !f.status.is_empty() {
            q = q.filter(targets::update_status.eq(f.status.clone()));
        }
        if let Some(tag) = f.tag {
            q = q.filter(
                targets::id.eq_any(
                    target_tag_assignments::table
                        .filter(target_tag_assignments::tag_id.eq(tag))
                        .select(target_tag_assignments::target_id),
                ),
            );
        }
        if let Some(ty) = f.target_type {
            q = q.filter(targets::target_type_id.eq(ty));
        }
        q
    };
    let total: i64 = filtered().count().get_result(c)?;
    let rows: Vec<Row> = filtered()
        .order_by(list.spec.order.clone())
        .offset(list.page.offset)
        .limit(list.page.limit)
        .select((
            targets::id,
            targets::controller_id,
            targets::name,
            targets::update_status,
            targets::last_poll,
            targets::target_type_id,
            targets::installed_ds_id,
        ))
        .load(c)?;
    let mut ds_ids: Vec<i64> = rows.iter().filter_map(|r| r.6).collect();
    ds_ids.sort_unstable();
    ds_ids.dedup();
    let ds_names = super::distribution_sets::labels(c, &ds_ids)?;
    Ok(DeviceList {
        rows,
        total,
        type_names: types.iter().cloned().collect(),
        ds_names,
        tags,
        types,
    })
}
