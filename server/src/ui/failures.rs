//! The failures page: the devices whose latest deployment failed, grouped by error message, by
//! distribution set and by rollout, with each group's devices and a retry that assigns the failed
//! set to the group's devices again (the Management API's assignment, in one transaction).

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::UiResult;
use super::layout::{self, encode};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::failures::{self, Group, GroupKey};
use crate::store::{self, Page};

const PAGE_SIZE: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/failures", web::get().to(page))
        .route("/failures/devices", web::get().to(devices))
        .route("/failures/retry", web::post().to(retry));
}

fn group_query(key: &GroupKey) -> String {
    let (by, value) = key.parts();
    format!("by={by}&key={}", encode(&value))
}

fn retry_form(key: &GroupKey, devices: i64) -> Markup {
    let (by, value) = key.parts();
    html! {
        form.inline method="post" action="/ui/failures/retry" {
            input type="hidden" name="by" value=(by);
            input type="hidden" name="key" value=(value);
            button.secondary type="submit" aria-label={ "Retry the " (devices) " devices of this group" } { "Retry" }
        }
    }
}

fn groups(title: &str, what: &str, list: &[Group], may_retry: bool) -> Markup {
    html! {
        section.card {
            h2 { (title) }
            @if list.is_empty() {
                p.muted { "None." }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th scope="col" { (what) } th scope="col" { "Devices" }
                        @if may_retry { th scope="col" { span.sr { "Retry" } } }
                    } }
                    tbody {
                        @for g in list {
                            tr {
                                td { (g.label) }
                                td { a href={ "/ui/failures/devices?" (group_query(&g.key)) } { (g.devices) } }
                                @if may_retry { td { (retry_form(&g.key, g.devices)) } }
                            }
                        }
                    }
                } }
                @if list.len() as i64 == failures::MAX_GROUPS {
                    p.muted { "The " (failures::MAX_GROUPS) " largest groups are shown." }
                }
            }
        }
    }
}

fn may_retry(ctx: &Ctx) -> bool {
    ctx.can(Permission::UpdateTarget) && ctx.can(Permission::ReadDistributionSet)
}

pub async fn page(ctx: Ctx, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    let tenant = ctx.tenant();
    let f = state.db.read(move |c| failures::grouped(c, &tenant)).await?;
    let retry = may_retry(&ctx);
    let body = html! {
        h1 { "Failures" }
        p { (f.total) " devices failed their latest deployment. "
            span.muted { "Retry assigns the set that failed to the group's devices again." } }
        (groups("By error message", "Last message from the device", &f.by_message, retry))
        (groups("By distribution set", "Distribution set", &f.by_set, retry))
        (groups("By rollout", "Rollout", &f.by_rollout, retry))
    };
    Ok(layout::ok(&ctx, "Failures", &body))
}

#[derive(Deserialize)]
pub struct GroupParams {
    by: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    offset: Option<i64>,
}

pub async fn devices(ctx: Ctx, p: web::Query<GroupParams>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    let key = GroupKey::parse(&p.by, &p.key)?;
    let offset = p.offset.unwrap_or(0).max(0);
    let (tenant, k2) = (ctx.tenant(), key.clone());
    let ((rows, total), labels) = state
        .db
        .read(move |c| {
            let page = Page {
                offset,
                limit: PAGE_SIZE,
            };
            let (rows, total) = failures::group_devices(c, &tenant, &k2, page)?;
            let mut ids: Vec<i64> = rows.iter().map(|r| r.3).collect();
            ids.sort_unstable();
            ids.dedup();
            Ok(((rows, total), store::distribution_sets::labels(c, &ids)?))
        })
        .await?;
    let (by, value) = key.parts();
    let body = html! {
        h1 { "Failed devices" }
        p { a href="/ui/failures" { "← All failures" } }
        section.card {
            p { "Grouped by " (by) ": " strong { @if value.is_empty() { "(none)" } @else { (value) } } }
            @if may_retry(&ctx) && total > 0 { (retry_form(&key, total)) }
        }
        div.table-wrap { table {
            caption.muted { (total) " devices" }
            thead { tr { th scope="col" { "Controller id" } th scope="col" { "Name" }
                th scope="col" { "Failed" } th scope="col" { "Set" } } }
            tbody {
                @for (cid, name, at, ds) in &rows {
                    tr {
                        td { a href={ "/ui/devices/" (encode(cid)) } { (cid) } }
                        td { (name) }
                        td { (layout::ago(state.now(), Some(*at))) }
                        td { (labels.get(ds).map_or("", String::as_str)) }
                    }
                }
            }
        } }
        (layout::pager(&format!("{}&", group_query(&key)), offset, PAGE_SIZE, total))
    };
    Ok(layout::ok(&ctx, "Failed devices", &body))
}

#[derive(Deserialize)]
pub struct RetryForm {
    by: String,
    #[serde(default)]
    key: String,
}

pub async fn retry(ctx: Ctx, form: web::Form<RetryForm>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::UpdateTarget)?;
    ctx.require(Permission::ReadDistributionSet)?;
    let key = GroupKey::parse(&form.by, &form.key)?;
    let tenant = ctx.tenant();
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let (by, now) = (ctx.user.username.clone(), state.now());
    let (o, changes) = state
        .db
        .write(move |c| failures::retry(c, &settings, &tenant, &key, &by, now))
        .await?;
    state.apply(changes);
    let notice = format!("Re-assigned {} of {} failed devices.", o.changed, o.selected);
    Ok(retry_done(&notice))
}

fn retry_done(notice: &str) -> HttpResponse {
    layout::see_other("/ui/failures", Some(notice))
}
