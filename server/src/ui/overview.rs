//! The overview: fleet size, online and overdue devices, update status counts, running rollouts
//! and recent failures, and what the fleet runs: devices per installed and per assigned set.

use actix_web::web;
use maud::{Markup, html};

use super::error::UiResult;
use super::layout::{self, ago, status_badge};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::distribution_sets::statistics::{self, SetDevices};
use crate::store::fleet;
use crate::store::rollouts::Extra;
use crate::store::rollouts::Rollout;

/// A device is online when it polled within its polling time plus the overdue time (hawkBit's
/// `pollingOverdueTime`); per-device polling overrides are not applied to this aggregate.
pub fn online_since(state: &AppState, settings: &crate::tenant_config::TenantSettings) -> i64 {
    let window = settings.polling_time.default.interval + settings.polling_overdue;
    state.now() - window.as_millis() as i64
}

pub async fn page(ctx: Ctx, state: web::Data<AppState>) -> UiResult {
    if !ctx.can(Permission::ReadTarget) {
        let body = html! {
            h1 { "Overview" }
            p { "Your account cannot read devices; the menu shows what it may use." }
        };
        return Ok(layout::ok(&ctx, "Overview", &body));
    }
    let tenant = ctx.tenant();
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let since = online_since(&state, &settings);
    let may_read_rollouts = ctx.can(Permission::ReadRollout);
    let may_read_sets = ctx.can(Permission::ReadDistributionSet);
    let (fleet, running, sets) = state
        .db
        .run(move |c| {
            let running = if may_read_rollouts {
                Some(crate::store::rollouts::queries::running(c, &tenant)?)
            } else {
                None
            };
            let sets = if may_read_sets {
                Some(statistics::devices_per_set(c, &tenant)?)
            } else {
                None
            };
            Ok((fleet::summary(c, &tenant, since)?, running, sets))
        })
        .await?;
    let overdue = fleet.total - fleet.online - fleet.never;
    let now = state.now();
    let body = html! {
        h1 { "Overview" }
        div #live data-refresh="10" {
            section.grid aria-label="Fleet" {
                div.card { span.stat { (fleet.total) } "devices" }
                div.card { span.stat { (fleet.online) } a href="/ui/devices" { "online" } }
                div.card { span.stat { (overdue) } "overdue (no poll within polling + overdue time)" }
                div.card { span.stat { (fleet.never) } "never polled" }
            }
            section.card {
                h2 { "Update status" }
                @if fleet.by_status.is_empty() {
                    p.muted { "No devices yet." }
                }
                ul {
                    @for (status, n) in &fleet.by_status {
                        li {
                            a href={ "/ui/devices?status=" (status) } { (status_badge(status)) }
                            " " (n)
                        }
                    }
                }
            }
            @if let Some(sets) = &sets { (fleet_runs(sets)) }
            @if let Some(running) = &running { (running_rollouts(running)) }
            section.card {
                h2 { "Recent failures" }
                @if fleet.failures.is_empty() {
                    p.muted { "No failed updates." }
                } @else {
                    div.table-wrap { table {
                        thead { tr { th { "Device" } th { "When" } th { "Message" } } }
                        tbody {
                            @for (cid, at, msg) in &fleet.failures {
                                tr {
                                    td { a href={ "/ui/devices/" (layout::encode(cid)) } { (cid) } }
                                    td { (ago(now, Some(*at))) }
                                    td { (msg.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    } }
                }
            }
        }
    };
    Ok(layout::ok(&ctx, "Overview", &body))
}

/// The running and paused rollouts with their progress.
fn running_rollouts(running: &[(Rollout, Extra)]) -> Markup {
    html! {
        section.card #rollouts {
            h2 { a href="/ui/rollouts" { "Running rollouts" } }
            @if running.is_empty() {
                p.muted { "No rollout is running." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "Rollout" } th scope="col" { "Status" } th scope="col" { "Progress" } } }
                    tbody {
                        @for (r, x) in running {
                            tr {
                                td { a href={ "/ui/rollouts/" (r.id) } { (r.name) } " " span.muted { (x.ds_label) } }
                                td { (status_badge(r.status.as_str())) }
                                td.bar-cell { (super::rollouts::progress(x.totals.as_ref().unwrap_or(&std::collections::BTreeMap::new()))) }
                            }
                        }
                    }
                } }
            }
        }
    }
}

/// The sets the fleet has installed and assigned, each count linking to its devices.
fn fleet_runs(sets: &[SetDevices]) -> Markup {
    let link = |q: &str, n: i64| html! { a href={ "/ui/devices?q=" (layout::encode(q)) } { (n) } };
    html! {
        section.card #fleet-runs {
            h2 { "What the fleet runs" }
            @if sets.is_empty() {
                p.muted { "No device has a distribution set installed or assigned yet." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "Distribution set" } th scope="col" { "Installed" } th scope="col" { "Assigned" } } }
                    tbody {
                        @for s in sets {
                            tr data-set=(s.id) {
                                td { a href={ "/ui/distributions/" (s.id) } { (s.label) } }
                                td.installed { (link(&s.installed_query, s.installed)) }
                                td.assigned { (link(&s.assigned_query, s.assigned)) }
                            }
                        }
                    }
                } }
            }
        }
    }
}
