//! Rollouts: the list with each rollout's progress bar, and the running ones for the overview. The
//! create form is in `rollout_form.rs`, one rollout's page with its buttons in `rollout_page.rs`.

use std::collections::BTreeMap;

use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::UiResult;
use super::layout::{self, status_badge};
use super::session::Ctx;
use super::{rollout_form, rollout_page};
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::rollouts::queries;

pub const PAGE_SIZE: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `new` and `preview` before `{id}`, which would take them for ids.
    cfg.route("/rollouts", web::get().to(list))
        .route("/rollouts", web::post().to(rollout_form::create))
        .route("/rollouts/new", web::get().to(rollout_form::new_form))
        .route("/rollouts/preview", web::get().to(rollout_form::preview))
        // Before `{id}/{op}`, which would take `retry` for an operation it does not know.
        .configure(super::rollout_retry::configure)
        .configure(rollout_page::configure);
}

/// The buckets of hawkBit's `totalTargetsPerStatus` in the order a progress bar shows them.
const BUCKETS: [(&str, &str); 6] = [
    ("finished", "finished"),
    ("error", "error"),
    ("running", "running"),
    ("scheduled", "scheduled"),
    ("notstarted", "not started"),
    ("cancelled", "cancelled"),
];

/// A stacked bar of devices per status with the same counts as text. An SVG, because the page's
/// Content-Security-Policy forbids inline styles, and widths are attributes there.
pub fn progress(totals: &BTreeMap<&'static str, i64>) -> Markup {
    let parts: Vec<(&str, &str, i64)> = BUCKETS
        .iter()
        .map(|(k, label)| (*k, *label, totals.get(k).copied().unwrap_or(0)))
        .filter(|(_, _, n)| *n > 0)
        .collect();
    let total: i64 = parts.iter().map(|p| p.2).sum();
    let text = if parts.is_empty() {
        "no devices".to_owned()
    } else {
        parts
            .iter()
            .map(|(_, label, n)| format!("{n} {label}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut x = 0;
    let mut segments = Vec::with_capacity(parts.len());
    for (i, (k, label, n)) in parts.iter().enumerate() {
        let w = if i + 1 == parts.len() {
            1000 - x
        } else {
            n * 1000 / total
        };
        segments.push((*k, *label, *n, x, w));
        x += w;
    }
    html! {
        div.progress {
            svg.bar viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" aria-label=(text) focusable="false" {
                @for (k, label, n, x, w) in &segments {
                    rect class={ "b-" (k) } x=(x) y="0" width=(w) height="10" { title { (n) " " (label) } }
                }
            }
            span.legend { (text) }
        }
    }
}

#[derive(Deserialize)]
pub struct Paging {
    offset: Option<i64>,
}

pub async fn list(ctx: Ctx, q: web::Query<Paging>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadRollout)?;
    let offset = q.offset.unwrap_or(0).max(0);
    let tenant = ctx.tenant();
    let page = state
        .db
        .read(move |c| queries::latest(c, &tenant, offset, PAGE_SIZE))
        .await?;
    let (rows, total) = (page.rows, page.total);
    let now = state.now();
    let body = html! {
        h1 { "Rollouts" }
        @if ctx.can(Permission::CreateRollout) && ctx.can(Permission::ReadDistributionSet) {
            p { a.button href="/ui/rollouts/new" { "New rollout" } }
        }
        div.table-wrap { table {
            caption.muted { (total) " rollouts" }
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Distribution set" } th scope="col" { "Status" }
                th scope="col" { "Progress" } th.opt scope="col" { "Created" }
            } }
            tbody {
                @for (r, x) in &rows {
                    tr {
                        td.name { a href={ "/ui/rollouts/" (r.id) } { (r.name) } }
                        td { (x.ds_label) }
                        td { (status_badge(r.status.as_str())) }
                        td.bar-cell { (progress(x.totals.as_ref().unwrap_or(&BTreeMap::new()))) }
                        td.opt { (layout::ago(now, Some(r.created_at))) }
                    }
                }
            }
        } }
        (layout::pager("", offset, PAGE_SIZE, total))
    };
    Ok(layout::ok(&ctx, "Rollouts", &body))
}
