//! The device list of the web UI: one page of targets filtered by an RSQL query and by status, tag
//! and type. One query for the page (LIMIT/OFFSET), one count, and one query each for the type and
//! set names on the page, so it stays fast with a large fleet.

use std::collections::HashMap;

use diesel::prelude::*;

use super::page::ListQuery;
use super::query::{SqlFilter, SqlOrder};
use super::schema::{target_tag_assignments, target_tags, target_types, targets};
use super::tags::{self, Kind};
use super::{AnyConnection, Result};

/// A device on the list: id, controller id, name, update status, last poll, type id, installed set
/// id, assigned set id, address.
pub type Row = (
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// A column the device list sorts by, each backed by a `(tenant, column, id)` index so a page is an
/// index walk. Sets and types sort by id, which groups their devices together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    LastPoll,
    Installed,
    Assigned,
    Type,
}

impl SortKey {
    /// Every key with its name in a query string.
    pub const ALL: [(SortKey, &'static str); 5] = [
        (SortKey::Name, "name"),
        (SortKey::LastPoll, "lastpoll"),
        (SortKey::Installed, "installed"),
        (SortKey::Assigned, "assigned"),
        (SortKey::Type, "type"),
    ];

    /// The key named `s` in a query string.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(k, _)| *k)
    }

    /// Its name in a query string.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("name", |(_, n)| n)
    }

    fn column(self) -> &'static str {
        match self {
            SortKey::Name => "targets.name",
            SortKey::LastPoll => "targets.last_poll",
            SortKey::Installed => "targets.installed_ds_id",
            SortKey::Assigned => "targets.assigned_ds_id",
            SortKey::Type => "targets.target_type_id",
        }
    }
}

/// A sort of the device list: a column and a direction, ties broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
    /// The `ORDER BY`: NULLs (never polled, nothing installed) first when ascending on both
    /// backends, spelled so that the indexes of the `console_fleet` migration serve it.
    fn order(self) -> SqlOrder {
        let col = self.key.column();
        let text = if self.descending {
            format!("{col} DESC NULLS LAST, targets.id DESC")
        } else {
            format!("{col} ASC NULLS FIRST, targets.id ASC")
        };
        SqlOrder::new().sql(&text)
    }
}

/// The tenant's targets matching an RSQL filter and the list's other filters.
pub fn matching<'a>(
    tenant: &str,
    filter: &SqlFilter,
    f: &DeviceFilter,
) -> targets::BoxedQuery<'a, super::db::MultiBackend> {
    let mut q = targets::table
        .filter(targets::tenant.eq(tenant.to_owned()))
        .filter(filter.clone())
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
}

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
    /// `name:version` of the sets installed on or assigned to the page's devices.
    pub ds_names: HashMap<i64, String>,
    /// The tag names of each device on the page, by name.
    pub tags_of: HashMap<i64, Vec<String>>,
    /// The tenant's tags and target types as (id, name), by name.
    pub tags: Vec<(i64, String)>,
    pub types: Vec<(i64, String)>,
}

/// The tenant's device list; with no `list` (the query did not parse) only the filter choices.
/// `sort` replaces the query's order with one of the list's own sortable columns.
pub fn device_list(
    c: &mut AnyConnection,
    tenant: &str,
    f: &DeviceFilter,
    list: Option<&ListQuery>,
    sort: Option<Sort>,
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
    let filtered = || matching(tenant, &list.spec.filter, f);
    let total: i64 = filtered().count().get_result(c)?;
    let order = sort.map_or_else(|| list.spec.order.clone(), Sort::order);
    let rows: Vec<Row> = filtered()
        .order_by(order.clone())
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
            targets::assigned_ds_id,
            targets::address,
        ))
        .load(c)?;
    let mut ds_ids: Vec<i64> = rows.iter().flat_map(|r| [r.6, r.7]).flatten().collect();
    ds_ids.sort_unstable();
    ds_ids.dedup();
    let ds_names = super::distribution_sets::labels(c, &ds_ids)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut tags_of: HashMap<i64, Vec<String>> = HashMap::new();
    for (target, tag) in target_tag_assignments::table
        .inner_join(target_tags::table)
        .filter(target_tag_assignments::target_id.eq_any(&ids))
        .order((target_tag_assignments::target_id, target_tags::name))
        .select((target_tag_assignments::target_id, target_tags::name))
        .load::<(i64, String)>(c)?
    {
        tags_of.entry(target).or_default().push(tag);
    }
    Ok(DeviceList {
        tags_of,
        rows,
        total,
        type_names: types.iter().cloned().collect(),
        ds_names,
        tags,
        types,
    })
}
