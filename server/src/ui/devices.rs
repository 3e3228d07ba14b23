//! The device list: one page of devices filtered with the Management API's RSQL (`q`) and by
//! status, tag and type, sorted by a chosen column, with the columns the user chose. One query for
//! the page (LIMIT/OFFSET over an index), one count, and one query each for the type, set and tag
//! names on the page, so it stays fast with a large fleet. The table sits in the bulk-action form
//! (`device_bulk`), whose checkboxes select devices without JavaScript.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::columns::{self, Col};
use super::error::{UiError, UiResult};
use super::layout::{self, ago, encode, status_badge};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::models::UpdateStatus;
use crate::store::query;
use crate::store::query::SqlFilter;
use crate::store::target_list::{self, DeviceFilter, DeviceList, Sort, SortKey};
use crate::store::{self, ListQuery};

pub const PAGE_SIZE: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices", web::get().to(list))
        .route("/devices/bulk", web::post().to(super::device_bulk::submit));
}

#[derive(Clone, Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    pub(super) q: String,
    #[serde(default)]
    pub(super) status: String,
    #[serde(default)]
    pub(super) tag: String,
    #[serde(rename = "type", default)]
    pub(super) target_type: String,
    #[serde(default)]
    offset: Option<i64>,
    /// A page number to jump to (1-based); wins over `offset`.
    #[serde(default)]
    page: Option<i64>,
    /// A sort key of [`SortKey`], `-` first for descending; empty: by controller id.
    #[serde(default)]
    pub(super) sort: String,
}

impl Filter {
    /// The query string of this filter with its sort, without the offset, ending in `&` when not empty.
    pub fn query_string(&self) -> String {
        let mut s = self.filter_query();
        if !self.sort.is_empty() {
            s.push_str("sort=");
            s.push_str(&encode(&self.sort));
            s.push('&');
        }
        s
    }

    /// The filter and sort a form posted back.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Filter {
            q: get("q"),
            status: get("status"),
            tag: get("tag"),
            target_type: get("type"),
            sort: get("sort"),
            ..Filter::default()
        }
    }

    /// The filter's parts as (name, value), for hidden fields of the forms that keep it.
    pub fn fields(&self) -> [(&'static str, &str); 4] {
        [
            ("q", self.q.as_str()),
            ("status", self.status.as_str()),
            ("tag", self.tag.as_str()),
            ("type", self.target_type.as_str()),
        ]
    }

    /// The store's form of this filter; an RSQL query that does not parse is refused.
    pub fn to_store(&self) -> Result<(SqlFilter, DeviceFilter), UiError> {
        let q = self.q.trim();
        let spec = query::list_spec(&query::TARGETS, (!q.is_empty()).then_some(q), None)?;
        Ok((spec.filter, self.device_filter()))
    }

    fn device_filter(&self) -> DeviceFilter {
        DeviceFilter {
            status: self.status.clone(),
            tag: self.tag.parse().ok(),
            target_type: self.target_type.parse().ok(),
        }
    }

    /// The chosen sort, if it names a sortable column.
    fn sort(&self) -> Option<Sort> {
        let (descending, key) = match self.sort.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, self.sort.as_str()),
        };
        SortKey::parse(key).map(|key| Sort { key, descending })
    }

    /// The query string of this filter without its sort or offset.
    fn filter_query(&self) -> String {
        let mut s = String::new();
        for (k, v) in [
            ("q", &self.q),
            ("status", &self.status),
            ("tag", &self.tag),
            ("type", &self.target_type),
        ] {
            if !v.is_empty() {
                s.push_str(k);
                s.push('=');
                s.push_str(&encode(v));
                s.push('&');
            }
        }
        s
    }
}

fn filter_form(f: &Filter, page: &DeviceList, error: Option<&str>) -> Markup {
    html! {
        form.card method="get" action="/ui/devices" role="search" {
            div.row {
                div {
                    label for="q" { "Filter (RSQL, as in the Management API)" }
                    input #q name="q" value=(f.q) placeholder="name==*gw*;updateStatus==pending"
                        aria-describedby="q-help q-error" aria-invalid=[error.map(|_| "true")];
                    @if let Some(e) = error {
                        p #q-error .error role="alert" { (e) }
                    }
                }
                div {
                    label for="status" { "Status" }
                    select #status name="status" {
                        option value="" { "any" }
                        @for s in UpdateStatus::ALL {
                            option value=(s.as_str()) selected[f.status == s.as_str()] { (s.as_str()) }
                        }
                    }
                }
                div {
                    label for="tag" { "Tag" }
                    select #tag name="tag" {
                        option value="" { "any" }
                        @for (id, name) in &page.tags {
                            option value=(id) selected[f.tag == id.to_string()] { (name) }
                        }
                    }
                }
                div {
                    label for="type" { "Type" }
                    select #type name="type" {
                        option value="" { "any" }
                        @for (id, name) in &page.types {
                            option value=(id) selected[f.target_type == id.to_string()] { (name) }
                        }
                    }
                }
            }
            button type="submit" { "Apply" }
            " " a href="/ui/devices" { "Clear" }
            details #q-help {
                summary { "Filter help" }
                p { "Conditions are " code { "field==value" } " (also " code { "!=" } ", " code { "=lt=" } ", "
                    code { "=gt=" } ", " code { "=in=(a,b)" } "), joined with " code { ";" } " (and) or "
                    code { "," } " (or); " code { "*" } " is a wildcard. Examples: "
                    code { "name==*gateway*" } ", " code { "updateStatus==error;tag==lab" } ", "
                    code { "attribute.hwRevision==2" } "." }
                p { "Fields: "
                    @for (i, fld) in query::TARGETS.fields.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (fld.name) }
                    }
                }
            }
        }
    }
}

pub async fn list(ctx: Ctx, req: HttpRequest, f: web::Query<Filter>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    let f = f.into_inner();
    let (cols, set_cookie) = columns::chosen(&req);
    let q = f.q.trim();
    // A bad query is shown next to the field, not as an error page.
    let (spec, error) = match query::list_spec(&query::TARGETS, (!q.is_empty()).then_some(q), None) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(super::UiError::from(e).message)),
    };
    let offset = match f.page {
        Some(p) => (p.max(1) - 1) * PAGE_SIZE,
        None => f.offset.unwrap_or(0).max(0),
    };
    let list = spec.map(|spec| ListQuery {
        spec,
        page: store::Page {
            offset,
            limit: PAGE_SIZE,
        },
    });
    let filter = f.device_filter();
    let sort = f.sort();
    let tenant = ctx.tenant();
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let window = (settings.polling_time.default.interval + settings.polling_overdue).as_millis() as i64;
    let may_assign = ctx.can(Permission::UpdateTarget) && ctx.can(Permission::ReadDistributionSet);
    let with_colours = cols.contains(&Col::Tag);
    let (page, sets, colours) = state
        .db
        .read(move |c| {
            let page = target_list::device_list(c, &tenant, &filter, list.as_ref(), sort)?;
            let sets = if may_assign {
                store::distribution_sets::usable(c, &tenant, 500)?
            } else {
                Vec::new()
            };
            let colours = super::tags::colours_if(c, &tenant, with_colours)?;
            Ok((page, sets, colours))
        })
        .await?;
    let now = state.now();
    let may_bulk = ctx.can(Permission::UpdateTarget) || ctx.can(Permission::DeleteTarget);
    let table = html! {
        div.table-wrap { table {
            caption.muted { (page.total) " devices match" }
            thead { tr {
                @if may_bulk { th scope="col" { span.sr { "Select" } } }
                (sort_header(&f, sort, "Controller id", None))
                (sort_header(&f, sort, "Name", Some(SortKey::Name)))
                th scope="col" { "Status" }
                @for c in &cols {
                    @if let Some(k) = c.sort_key() {
                        (sort_header(&f, sort, c.label(), Some(k)))
                    } @else {
                        th.opt scope="col" { (c.label()) }
                    }
                }
            } }
            tbody {
                @for row in &page.rows {
                    @let (id, cid, name, status) = (row.0, &row.1, &row.2, &row.3);
                    tr {
                        @if may_bulk {
                            td { input type="checkbox" name="cid" value=(cid) aria-label={ "Select " (cid) }; }
                        }
                        td { a href={ "/ui/devices/" (encode(cid)) } { (cid) } }
                        td { (name) }
                        td { (status_badge(status)) }
                        @for c in &cols {
                            @match c {
                                Col::LastPoll => {
                                    @let polled = match (row.4, state.polls.pending(id)) { (Some(a), Some(b)) => Some(a.max(b)), (a, b) => a.or(b) };
                                    td {
                                        (ago(now, polled))
                                        @if polled.is_some_and(|p| now - p > window) { " " (status_badge("overdue")) }
                                    }
                                }
                                Col::Type => td.opt { (row.5.and_then(|t| page.type_names.get(&t)).map_or("", String::as_str)) },
                                Col::Installed => td.opt { (row.6.and_then(|d| page.ds_names.get(&d)).map_or("", String::as_str)) },
                                Col::Assigned => td.opt { (row.7.and_then(|d| page.ds_names.get(&d)).map_or("", String::as_str)) },
                                Col::Tag => td.opt { (super::tags::names_cell(page.tags_of.get(&id), &colours)) },
                                Col::Ip => td.opt { (row.8.as_deref().unwrap_or("")) },
                            }
                        }
                    }
                }
            }
        } }
    };
    let body = html! {
        h1 { "Devices" }
        (filter_form(&f, &page, error.as_deref()))
        @if error.is_none() && !f.q.trim().is_empty() && ctx.can(Permission::CreateTarget) {
            p #save-filter { a href={ "/ui/filters?q=" (layout::encode(f.q.trim())) "#new" } { "Save this filter" } }
        }
        (columns::chooser(&f, &cols))
        @if may_bulk && page.total > 0 {
            (super::device_bulk::form(&ctx, &f, page.total, &sets, &page.tags, &table))
        } @else {
            (table)
        }
        (pager(&f, offset, page.total))
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = layout::html_response(status, &layout::page(Some(&ctx), "Devices", &body));
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(
            actix_web::http::header::SET_COOKIE,
            actix_web::http::header::HeaderValue::from_str(&cookie)
                .map_err(|_| UiError::bad_request("The chosen columns are not valid."))?,
        );
    }
    Ok(response)
}

/// A sortable column's header (`None`: the controller id, the default order), linking to its
/// ascending sort, or to the descending one when sorted ascending already.
fn sort_header(f: &Filter, current: Option<Sort>, label: &str, key: Option<SortKey>) -> Markup {
    let class = if matches!(key, None | Some(SortKey::Name | SortKey::LastPoll)) {
        ""
    } else {
        "opt"
    };
    // No sort means by controller id, ascending.
    let active = match (key, current) {
        (None, None) => Some(false),
        (Some(k), Some(s)) if s.key == k => Some(s.descending),
        _ => None,
    };
    let aria = active.map(|d| if d { "descending" } else { "ascending" });
    // The controller id is the default order (ascending only); the others toggle.
    let next = match (key, active) {
        (None, _) => String::new(),
        (Some(k), Some(false)) => format!("-{}", k.as_str()),
        (Some(k), _) => k.as_str().to_owned(),
    };
    let mut g = f.clone();
    g.sort = next;
    let arrow = match active {
        Some(true) => " ↓",
        Some(false) => " ↑",
        None => "",
    };
    html! {
        th.(class) scope="col" aria-sort=[aria] {
            a href={ "?" (g.query_string()) } { (label) (arrow) }
        }
    }
}

/// Previous and next, "page X of Y", and a form to jump to a page.
fn pager(f: &Filter, offset: i64, total: i64) -> Markup {
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let current = offset / PAGE_SIZE + 1;
    html! {
        (layout::pager(&f.query_string(), offset, PAGE_SIZE, total))
        form.pager method="get" action="/ui/devices" aria-label="Jump to a page" {
            @for (k, v) in f.fields() { @if !v.is_empty() { input type="hidden" name=(k) value=(v); } }
            @if !f.sort.is_empty() { input type="hidden" name="sort" value=(f.sort); }
            span { "Page " (current.min(pages)) " of " (pages) }
            label.check for="jump" { "Go to page" }
            input #jump type="number" name="page" min="1" max=(pages) value=(current.min(pages));
            button.secondary type="submit" { "Go" }
        }
    }
}
