//! The fleet page: the fleet-health figures of `store::fleet_health` (devices per installed set and
//! slot state, rollbacks in the last 24 hours and 7 days, devices silent after an update). Every
//! count links to the device list filtered by the RSQL query that lists its devices.

use actix_web::web;
use maud::{Markup, html};

use super::error::UiResult;
use super::layout::{self, encode};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::fleet_health::{self as health, Count, Rollbacks, SetKey, WEEK_MS};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/fleet", web::get().to(page));
}

/// A count linking to the devices it counts (a plain number when RSQL cannot list them).
fn count(c: &Count) -> Markup {
    html! {
        @if c.query.is_empty() {
            span { (c.devices) }
        } @else {
            a href={ "/ui/devices?q=" (encode(&c.query)) } title=(c.query) { (c.devices) }
        }
    }
}

fn set_label(s: Option<&SetKey>, none: &str) -> String {
    s.map_or_else(|| none.to_owned(), |s| format!("{} {}", s.name, s.version))
}

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or("not sent")
}

fn rollbacks(title: &str, id: &str, r: &Rollbacks) -> Markup {
    html! {
        section.card id=(id) {
            h2 { (title) ": " (count(&r.total)) " devices" }
            @if r.by_set.is_empty() {
                p.muted { "No device rolled back." }
            } @else {
                div.grid {
                    div.table-wrap { table {
                        caption { "By distribution set (rolled back from)" }
                        thead { tr { th scope="col" { "Distribution set" } th scope="col" { "Devices" } } }
                        tbody { @for (s, c) in &r.by_set {
                            tr { td { (set_label(s.as_ref(), "none installed")) } td { (count(c)) } }
                        } }
                    } }
                    div.table-wrap { table {
                        caption { "By reason" }
                        thead { tr { th scope="col" { "Reason" } th scope="col" { "Devices" } } }
                        tbody { @for (reason, c) in &r.by_reason {
                            tr { td { (or_dash(reason.as_deref())) } td { (count(c)) } }
                        } }
                    } }
                }
            }
        }
    }
}

pub async fn page(ctx: Ctx, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    let tenant = ctx.tenant();
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let now = state.now();
    let h = state
        .db
        .read(move |c| health::summary(c, &tenant, &settings, now, WEEK_MS))
        .await?;
    let silence_min = h.silent.silence_ms / 60_000;
    let body = html! {
        h1 { "Fleet health" }
        p.muted {
            "From the devices' " code { "updraft.*" } " attributes (see docs/fleet-health.md). "
            "Each count links to its devices; a linked list shows the devices in that state now, "
            "whenever they got there."
        }
        div #live data-refresh="10" {
            section.grid aria-label="Fleet" {
                div.card { span.stat { (h.devices) } "devices" }
                div.card #rolled-back-24h { span.stat { (count(&h.rolled_back_day.total)) } "rolled back in the last 24 h" }
                div.card #rolled-back-7d { span.stat { (count(&h.rolled_back_week.total)) } "rolled back in the last 7 days" }
                div.card #silent { span.stat { (count(&h.silent.total)) }
                    "silent after an update (no poll for " (silence_min) " min)" }
            }
            section.card #installed {
                h2 { "Running distribution set" }
                div.table-wrap { table {
                    thead { tr { th scope="col" { "Distribution set" } th scope="col" { "Devices" } } }
                    tbody { @for (s, c) in &h.by_installed {
                        tr { td { (set_label(s.as_ref(), "none installed")) } td { (count(c)) } }
                    } }
                } }
            }
            section.card #slots {
                h2 { "Slot state" }
                div.table-wrap { table {
                    thead { tr { th scope="col" { "Booted slot" } th scope="col" { "Trial" } th scope="col" { "Devices" } } }
                    tbody { @for (booted, trial, c) in &h.by_slot {
                        tr { td { (or_dash(booted.as_deref())) } td { (or_dash(trial.as_deref())) } td { (count(c)) } }
                    } }
                } }
            }
            (rollbacks("Rolled back in the last 24 hours", "rollbacks-24h", &h.rolled_back_day))
            (rollbacks("Rolled back in the last 7 days", "rollbacks-7d", &h.rolled_back_week))
            section.card #silent-after-update {
                h2 { "Silent after an update: " (count(&h.silent.total)) " devices" }
                p.muted { "An update finished in the last 7 days, and no poll for " (silence_min)
                    " minutes (3 × the longest polling interval)." }
                @if h.silent.by_set.is_empty() {
                    p.muted { "No device went silent after an update." }
                } @else {
                    div.table-wrap { table {
                        thead { tr { th scope="col" { "Distribution set" } th scope="col" { "Devices" } } }
                        tbody { @for (s, c) in &h.silent.by_set {
                            tr { td { (set_label(Some(s), "")) } td { (count(c)) } }
                        } }
                    } }
                }
            }
        }
    };
    Ok(layout::ok(&ctx, "Fleet health", &body))
}
