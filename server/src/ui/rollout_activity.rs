//! The live part of a rollout's page that says what it waits for: why it is paused or stopped, its
//! groups with their open devices by stage (not polled since assignment, confirming, downloading,
//! installing, canceling, offline) and when each last moved, each linking to its devices; and for
//! a held group what would unblock it, with the operations the Management API has as buttons
//! (start the next group, cancel the offline devices' updates).

use actix_web::web;
use maud::{Markup, html};

use super::error::UiResult;
use super::layout::{self, ago, encode, status_badge};
use super::overview::online_since;
use super::rollouts::progress;
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::rollouts::activity::{self, Activity, GroupActivity, Hold};
use crate::store::rollouts::{GroupStatus, Rollout, RolloutStatus};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/rollouts/{id}/groups/{group}/cancel-offline",
        web::post().to(cancel_offline),
    );
}

/// RSQL for the devices of group `id`.
fn group_query(id: i64) -> String {
    format!("rolloutGroup.id=={id}")
}

/// A link to the device list filtered by RSQL `q`.
fn devices_href(q: &str) -> String {
    format!("/ui/devices?q={}", encode(q))
}

/// One line on why the rollout is where it is: who or which threshold paused it, who stopped it.
pub fn state_line(r: &Rollout, a: &Activity) -> Markup {
    html! {
        @match (r.status(), &a.hold) {
            (RolloutStatus::Paused, Some(Hold::Operator(by))) => p #hold { "Paused by " strong { (by) } ". Resume to go on." },
            (RolloutStatus::Paused, Some(Hold::ErrorThreshold { group, errors, total, threshold })) => p #hold {
                "Paused by the error threshold of " strong { (group) } ": " (errors) " of " (total)
                " devices failed, more than " (threshold) " %. Resume to start the next group anyway."
            },
            (RolloutStatus::Paused, Some(Hold::SuccessPause { group, threshold })) => p #hold {
                strong { (group) } " reached its success threshold (" (threshold)
                " %) and its success action is to pause. Resume to start the next group."
            },
            (RolloutStatus::Stopped, _) => p #hold {
                "Stopped by " strong { (r.last_modified_by) } ": its distribution set was invalidated."
            },
            _ => {},
        }
        @if !a.soak_failures.is_empty() {
            p.muted #soak-failures {
                "Failed soaks: "
                (a.soak_failures.iter().map(|(why, n)| format!("{n} {why}")).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

/// What a group's open devices are doing, as short text.
fn waiting_text(g: &GroupActivity, offline_before: i64) -> Markup {
    let s = &g.open;
    let parts = [
        (s.not_polled, "not polled since assigned", "not-polled"),
        (s.confirming, "awaiting confirmation", "confirming"),
        (s.downloading, "downloading", "downloading"),
        (s.installing, "installing", "installing"),
        (s.canceling, "canceling", "canceling"),
    ];
    html! {
        @if s.open() == 0 {
            span.muted { "none" }
        } @else {
            ul.stages {
                @for (n, label, key) in parts {
                    @if n > 0 { li data-stage=(key) { (n) " " (label) } }
                }
                @if s.offline > 0 {
                    li.offline data-stage="offline" {
                        a href=(devices_href(&format!("{};updateStatus==pending;(lastControllerRequestAt=is=null,lastControllerRequestAt=lt={})", group_query(g.group.id), offline_before))) {
                            (s.offline) " offline"
                        }
                    }
                }
            }
        }
    }
}

/// The groups table: status, progress, open devices by stage, last movement, conditions.
pub fn groups_table(ctx: &Ctx, a: &Activity, now: i64) -> Markup {
    let devices = ctx.can(Permission::ReadTarget);
    html! {
        div.table-wrap { table #groups {
            thead { tr {
                th.opt scope="col" { "#" } th scope="col" { "Name" } th scope="col" { "Status" }
                th.opt scope="col" { "Devices" } th scope="col" { "Progress" } th scope="col" { "Open devices" }
                th.opt scope="col" { "Last moved" } th.opt scope="col" { "Conditions" }
            } }
            tbody {
                @for g in &a.groups {
                    tr data-group=(g.group.id) {
                        td.opt { (g.group.position + 1) }
                        td {
                            @if devices {
                                a href=(devices_href(&group_query(g.group.id))) { (g.group.name) }
                            } @else { (g.group.name) }
                        }
                        td { (status_badge(g.group.status.as_str())) }
                        td.opt { (g.group.total_targets) }
                        td.bar-cell { (progress(&g.totals)) }
                        td.stages { (waiting_text(g, a.offline_before)) }
                        td.opt.moved { (ago(now, Some(g.last_moved))) }
                        td.opt { (super::rollout_page::conditions_text(&g.group)) }
                    }
                }
            }
        } }
    }
}

/// Finished devices a group still needs to meet its success threshold.
fn still_needed(g: &GroupActivity) -> i64 {
    let finished = g.totals.get("finished").copied().unwrap_or(0);
    let total = g.started();
    let threshold = g.group.conditions().success_threshold();
    ((threshold * total + 99) / 100 - finished).max(0)
}

/// For each running group still holding the rollout up: what it waits for and the ways out.
pub fn unblock(ctx: &Ctx, r: &Rollout, a: &Activity, now: i64) -> Markup {
    let live = matches!(r.status(), RolloutStatus::Running | RolloutStatus::Paused);
    let held: Vec<&GroupActivity> = a
        .groups
        .iter()
        .filter(|g| live && g.group.status() == GroupStatus::Running && g.open.open() > 0)
        .collect();
    let next = a
        .groups
        .iter()
        .any(|g| g.group.status() == GroupStatus::Scheduled);
    let may_move = ctx.can(Permission::HandleRollout) && r.status() == RolloutStatus::Running && next;
    let may_cancel = ctx.can(Permission::UpdateTarget);
    html! {
        @for g in held {
            section.card.unblock aria-label={ "What group " (g.group.name) " waits for" } data-group=(g.group.id) {
                h2 { "Group " (g.group.name) " waits for " (g.open.open()) " devices" }
                p {
                    "Last moved " (ago(now, Some(g.last_moved))) ". "
                    @let needed = still_needed(g);
                    @if needed > 0 {
                        (needed) " more must finish to reach its success threshold of "
                        (g.group.conditions().success_threshold()) " %"
                        @if next { " and start the next group" } "."
                    } @else {
                        "Its success threshold is met; it finishes when its open devices do."
                    }
                }
                ul.ways {
                    li { strong { "Wait" } ": "
                        @if g.open.offline > 0 {
                            (g.open.offline) " of them are offline; they update when they poll again."
                        } @else { "its devices are online and working on the update." }
                    }
                    @if may_move {
                        li {
                            form.inline method="post" action={ "/ui/rollouts/" (r.id) "/next-group" } {
                                button type="submit" { "Start next group now" }
                            }
                            " without waiting for this one."
                        }
                    }
                    @if may_cancel && g.open.offline > 0 {
                        li {
                            form.inline method="post" action={ "/ui/rollouts/" (r.id) "/groups/" (g.group.id) "/cancel-offline" }
                                data-confirm={ "Cancel the updates of the " (g.open.offline) " offline devices of " (g.group.name) "?" } {
                                button.danger type="submit" { "Cancel " (g.open.offline) " offline devices' updates" }
                            }
                            " (cancel and force quit, as the Management API's action cancel does): the group stops waiting for them."
                        }
                    }
                    li { strong { "Lower the threshold" } ": the conditions of a started group cannot change (hawkBit's API has no such operation either); start the next group or cancel the stragglers instead." }
                }
            }
        }
    }
}

/// Cancels, and force-quits, the open updates of a group's offline devices.
pub async fn cancel_offline(ctx: Ctx, path: web::Path<(i64, i64)>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::UpdateTarget)?;
    let (id, group) = path.into_inner();
    let tenant = ctx.tenant();
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let before = online_since(&state, &settings);
    let (by, now) = (ctx.user.username.clone(), state.now());
    let (n, changes) = state
        .db
        .write(move |c| activity::cancel_stragglers(c, &tenant, id, group, before, &by, now))
        .await?;
    state.apply(changes);
    let notice = format!("Canceled the updates of {n} offline devices.");
    Ok(layout::see_other(&format!("/ui/rollouts/{id}"), Some(&notice)))
}
