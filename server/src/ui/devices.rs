//! The device list: one page of devices filtered with the Management API's RSQL (`q`) and by
//! status, tag and type. One query for the page (LIMIT/OFFSET), one count, and one query each for
//! the type and set names on the page, so it stays fast with a large fleet.

use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::UiResult;
use super::layout::{self, ago, encode, status_badge};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::models::UpdateStatus;
use crate::store::query;
use crate::store::target_list::{self, DeviceFilter, DeviceList};
use crate::store::{self, ListQuery};

pub const PAGE_SIZE: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices", web::get().to(list));
}

#[derive(Clone, Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tag: String,
    #[serde(rename = "type", default)]
    target_type: String,
    #[serde(default)]
    offset: Option<i64>,
}

impl Filter {
    /// The query string of this filter without the offset, ending in `&` when not empty.
    fn query_string(&self) -> String {
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

pub async fn list(ctx: Ctx, f: web::Query<Filter>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    let f = f.into_inner();
    let q = f.q.trim();
    // A bad query is shown next to the field, not as an error page.
    let (spec, error) = match query::list_spec(&query::TARGETS, (!q.is_empty()).then_some(q), None) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(super::UiError::from(e).message)),
    };
    let offset = f.offset.unwrap_or(0).max(0);
    let list = spec.map(|spec| ListQuery {
        spec,
        page: store::Page {
            offset,
            limit: PAGE_SIZE,
        },
    });
    let filter = DeviceFilter {
        status: f.status.clone(),
        tag: f.tag.parse().ok(),
        target_type: f.target_type.parse().ok(),
    };
    let tenant = ctx.tenant();
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let window = (settings.polling_time.default.interval + settings.polling_overdue).as_millis() as i64;
    let page = state
        .db
        .read(move |c| target_list::device_list(c, &tenant, &filter, list.as_ref()))
        .await?;
    let now = state.now();
    let body = html! {
        h1 { "Devices" }
        (filter_form(&f, &page, error.as_deref()))
        div.table-wrap { table {
            caption.muted { (page.total) " devices match" }
            thead { tr {
                th scope="col" { "Controller id" } th scope="col" { "Name" } th scope="col" { "Status" }
                th scope="col" { "Last poll" } th.opt scope="col" { "Type" } th.opt scope="col" { "Installed" }
            } }
            tbody {
                @for (id, cid, name, status, last_poll, ty, installed) in &page.rows {
                    @let polled = match (*last_poll, state.polls.pending(*id)) { (Some(a), Some(b)) => Some(a.max(b)), (a, b) => a.or(b) };
                    tr {
                        td { a href={ "/ui/devices/" (encode(cid)) } { (cid) } }
                        td { (name) }
                        td { (status_badge(status)) }
                        td {
                            (ago(now, polled))
                            @if polled.is_some_and(|p| now - p > window) { " " (status_badge("overdue")) }
                        }
                        td.opt { (ty.and_then(|t| page.type_names.get(&t)).map_or("", String::as_str)) }
                        td.opt { (installed.and_then(|d| page.ds_names.get(&d)).map_or("", String::as_str)) }
                    }
                }
            }
        } }
        (layout::pager(&f.query_string(), offset, PAGE_SIZE, page.total))
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(layout::html_response(
        status,
        &layout::page(Some(&ctx), "Devices", &body),
    ))
}
