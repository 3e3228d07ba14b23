//! One rollout: its state, totals and groups, refreshed while it runs, and the buttons that move it
//! on (start, pause, resume, approve, deny, next group, delete). A button shows only when the
//! rollout's state allows it and the user holds its permission; the POST checks both again, through
//! the Management API's own store function (`store::rollouts::lifecycle::apply`). What the groups
//! wait for, and the ways to unblock them, are [`super::rollout_activity`]'s.

use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::layout::{self, status_badge};
use super::rollout_activity;
use super::rollouts::progress;
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::rollouts::activity::{self, Activity};
use crate::store::rollouts::lifecycle::{self, Op};
use crate::store::rollouts::{Extra, Group, GroupStatus, Rollout, RolloutStatus, queries};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rollouts/{id}", web::get().to(page))
        .route("/rollouts/{id}/{op}", web::post().to(change));
}

/// Who may run `op` (as in the Management API).
fn permission(op: Op) -> Permission {
    match op {
        Op::Start | Op::Pause | Op::Resume | Op::TriggerNextGroup => Permission::HandleRollout,
        Op::Approve | Op::Deny => Permission::ApproveRollout,
        Op::Delete => Permission::DeleteRollout,
    }
}

/// The URL segment, button label, and notice after success of each operation.
const OPS: [(Op, &str, &str, &str); 7] = [
    (Op::Start, "start", "Start", "Rollout started."),
    (Op::Pause, "pause", "Pause", "Rollout paused."),
    (Op::Resume, "resume", "Resume", "Rollout resumed."),
    (
        Op::TriggerNextGroup,
        "next-group",
        "Start next group now",
        "The next group started.",
    ),
    (Op::Approve, "approve", "Approve", "Rollout approved."),
    (Op::Deny, "deny", "Deny", "Rollout denied."),
    (Op::Delete, "delete", "Delete rollout", "Rollout deleted."),
];

/// Whether the rollout's state allows `op` (the engine refuses the others).
fn allowed(op: Op, r: &Rollout, a: &Activity) -> bool {
    let s = r.status();
    match op {
        Op::Start => s == RolloutStatus::Ready,
        Op::Pause => s == RolloutStatus::Running,
        Op::Resume => s == RolloutStatus::Paused,
        Op::TriggerNextGroup => {
            s == RolloutStatus::Running
                && a.groups
                    .iter()
                    .any(|g| g.group.status() == GroupStatus::Scheduled)
        }
        Op::Approve | Op::Deny => s == RolloutStatus::WaitingForApproval,
        Op::Delete => !r.deleted && !matches!(s, RolloutStatus::Deleting | RolloutStatus::Deleted),
    }
}

/// While devices can still move the rollout on, the live part of the page refreshes itself.
fn is_live(s: RolloutStatus) -> bool {
    matches!(
        s,
        RolloutStatus::Creating
            | RolloutStatus::Starting
            | RolloutStatus::Running
            | RolloutStatus::Paused
            | RolloutStatus::Stopping
            | RolloutStatus::Deleting
    )
}

/// A group's conditions in a few words.
pub fn conditions_text(g: &Group) -> String {
    let c = g.conditions();
    let then = if c.pauses_on_success() {
        "pause"
    } else {
        "next group"
    };
    format!(
        "success at {} % → {then}; errors above {} % → pause",
        c.success_threshold(),
        c.error_threshold()
    )
}

fn controls(ctx: &Ctx, r: &Rollout, a: &Activity) -> Markup {
    let shown: Vec<_> = OPS
        .iter()
        .filter(|(op, ..)| ctx.can(permission(*op)) && allowed(*op, r, a))
        .collect();
    let decide = shown.iter().any(|(op, ..)| *op == Op::Approve);
    html! {
        @if !shown.is_empty() {
            div.controls {
                @if decide {
                    form.inline method="post" action={ "/ui/rollouts/" (r.id) "/approve" } {
                        label for="remark" { "Remark (optional)" }
                        input #remark name="remark" maxlength="512";
                        button type="submit" { "Approve" }
                        button.danger type="submit" formaction={ "/ui/rollouts/" (r.id) "/deny" } { "Deny" }
                    }
                }
                @for (op, slug, label, _) in &shown {
                    @match op {
                        Op::Approve | Op::Deny => {}
                        Op::Delete => form.inline method="post" action={ "/ui/rollouts/" (r.id) "/" (slug) }
                            data-confirm="Delete this rollout? Updates not yet installed are canceled." {
                            button.danger type="submit" { (label) }
                        },
                        _ => form.inline method="post" action={ "/ui/rollouts/" (r.id) "/" (slug) } {
                            button type="submit" { (label) }
                        },
                    }
                }
            }
        }
    }
}

type Loaded = (Rollout, Extra, Activity);

pub async fn page(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadRollout)?;
    let (tenant, id) = (ctx.tenant(), path.into_inner());
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let offline_before = super::overview::online_since(&state, &settings);
    let (r, x, a): Loaded = state
        .db
        .read(move |c| {
            let (r, x) = queries::get_plain(c, &tenant, id)?;
            let a = activity::activity(c, &r, offline_before)?;
            Ok((r, x, a))
        })
        .await?;
    let now = state.now();
    let live = is_live(r.status());
    let body = html! {
        h1 { "Rollout " (r.name) }
        div #live data-refresh=[live.then_some("3")] {
            section.card aria-label="State" {
                p #rollout-status { "Status: " (status_badge(r.status.as_str())) }
                (rollout_activity::state_line(&r, &a))
                (progress(&a.totals))
                (controls(&ctx, &r, &a))
                (super::rollout_retry::button(&ctx, &r, Some(&a.totals)))
            }
            (rollout_activity::unblock(&ctx, &r, &a, now))
            section.card {
                h2 { "Groups" }
                (rollout_activity::groups_table(&ctx, &a, now))
            }
        }
        section.card {
            h2 { "Details" }
            dl.facts {
                dt { "Distribution set" }
                dd {
                    @if ctx.can(Permission::ReadDistributionSet) {
                        a href={ "/ui/distributions/" (r.ds_id) } { (x.ds_label) }
                    } @else { (x.ds_label) }
                }
                dt { "Target filter" } dd { code { (r.target_filter) } }
                dt { "Devices" } dd { (r.total_targets) " in " (a.groups.len()) " groups" }
                dt { "Action type" } dd { (r.action_type) }
                dt { "Confirmation" } dd { @if r.confirmation_required { "required" } @else { "not required" } }
                @if let Some(t) = r.template() { dt { "Dynamic" } dd { "later matches join groups of " (t.target_count) } }
                @if let Some(d) = &r.description { dt { "Description" } dd { (d) } }
                @if let Some(at) = r.start_at { dt { "Starts at" } dd { (layout::when(at)) } }
                @if let Some(secs) = r.soak_time {
                    dt { "Soak time" }
                    dd { (soak_text(secs)) ": a device counts as finished once it stayed healthy that long after its success" }
                }
                @if let Some(gate) = &r.health_gate {
                    dt { "Health gate" }
                    dd { code { (gate) } ": a soaking device that stops matching it fails its soak" }
                }
                @if let Some(by) = &r.approve_decided_by {
                    dt { "Approval" } dd { "decided by " (by) @if let Some(rm) = &r.approval_remark { ": " (rm) } }
                }
                dt { "Created" } dd { (layout::ago(now, Some(r.created_at))) " by " (r.created_by) }
            }
        }
        p { a href="/ui/rollouts" { "All rollouts" } }
    };
    Ok(layout::ok(&ctx, &format!("Rollout {}", r.name), &body))
}

#[derive(Deserialize)]
pub struct RemarkForm {
    #[serde(default)]
    remark: String,
}

pub async fn change(
    ctx: Ctx,
    path: web::Path<(i64, String)>,
    form: web::Form<RemarkForm>,
    state: web::Data<AppState>,
) -> UiResult {
    let (id, slug) = path.into_inner();
    let (op, _, _, notice) = OPS
        .iter()
        .find(|o| o.1 == slug)
        .copied()
        .ok_or_else(UiError::not_found)?;
    ctx.require(permission(op))?;
    let remark = Some(form.into_inner().remark.trim().to_owned()).filter(|r| !r.is_empty());
    let remark = remark.filter(|_| matches!(op, Op::Approve | Op::Deny));
    let (tenant, by, now) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let changes = state
        .db
        .write(move |c| lifecycle::apply(c, &tenant, id, op, remark.as_deref(), &by, now))
        .await?;
    state.apply(changes);
    let to = if op == Op::Delete {
        "/ui/rollouts".to_owned()
    } else {
        format!("/ui/rollouts/{id}")
    };
    Ok(layout::see_other(&to, Some(notice)))
}

/// A soak time in seconds as people say it: `10 minutes`, `2 hours`, `90 seconds`.
fn soak_text(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs % 3600 == 0 {
        plural(secs / 3600, "hour")
    } else if secs % 60 == 0 {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}
