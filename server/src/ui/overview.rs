//! The overview: fleet size, online and overdue devices, update status counts, running rollouts
//! and recent failures.

use actix_web::web;
use diesel::prelude::*;
use maud::{Markup, html};

use super::error::UiResult;
use super::layout::{self, ago, status_badge};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::rollouts::Extra;
use crate::store::rollouts::Rollout;
use crate::store::schema::{action_status_messages, action_statuses, actions, targets};

struct Fleet {
    total: i64,
    online: i64,
    never: i64,
    by_status: Vec<(String, i64)>,
    /// (controller id, time, message) of the latest error reports.
    failures: Vec<(String, i64, Option<String>)>,
}

/// A device is online when it polled within its polling time plus the overdue time (hawkBit's
/// `pollingOverdueTime`); per-device polling overrides are not applied to this aggregate.
fn online_since(state: &AppState, settings: &crate::tenant_config::TenantSettings) -> i64 {
    let window = settings.polling_time.default.interval + settings.polling_overdue;
    state.now() - window.as_millis() as i64
}

fn load(c: &mut crate::store::AnyConnection, tenant: &str, since: i64) -> crate::error::ApiResult<Fleet> {
    let mine = || targets::table.filter(targets::tenant.eq(tenant));
    let total = mine().count().get_result(c)?;
    let online = mine()
        .filter(targets::last_poll.ge(since))
        .count()
        .get_result(c)?;
    let never = mine()
        .filter(targets::last_poll.is_null())
        .count()
        .get_result(c)?;
    let by_status = mine()
        .group_by(targets::update_status)
        .select((targets::update_status, diesel::dsl::count_star()))
        .load(c)?;
    let failed: Vec<(i64, String, i64)> = action_statuses::table
        .inner_join(actions::table.inner_join(targets::table))
        .filter(actions::tenant.eq(tenant))
        .filter(action_statuses::status.eq("error"))
        .order(action_statuses::id.desc())
        .limit(10)
        .select((
            action_statuses::id,
            targets::controller_id,
            action_statuses::occurred_at,
        ))
        .load(c)?;
    let ids: Vec<i64> = failed.iter().map(|f| f.0).collect();
    let messages: Vec<(i64, String)> = action_status_messages::table
        .filter(action_status_messages::action_status_id.eq_any(&ids))
        .order(action_status_messages::id.asc())
        .select((
            action_status_messages::action_status_id,
            action_status_messages::message,
        ))
        .load(c)?;
    let failures = failed
        .into_iter()
        .map(|(id, cid, at)| {
            let msg = messages
                .iter()
                .rev()
                .find(|(s, _)| *s == id)
                .map(|(_, m)| m.clone());
            (cid, at, msg)
        })
        .collect();
    Ok(Fleet {
        total,
        online,
        never,
        by_status,
        failures,
    })
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
    let (fleet, running) = state
        .db
        .run(move |c| {
            let running = if may_read_rollouts {
                Some(crate::store::rollouts::queries::running(c, &tenant)?)
            } else {
                None
            };
            Ok((load(c, &tenant, since)?, running))
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
