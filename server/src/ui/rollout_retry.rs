//! "Retry failed devices" on a finished rollout's page: hawkBit's `POST /rest/v1/rollouts/{id}/retry`,
//! through the same store function (`store::rollouts::lifecycle::retry`) and permission. It creates
//! `<name>_retry` over the devices whose update failed, ready to start (or waiting for approval).

use std::collections::BTreeMap;

use actix_web::web;
use maud::{Markup, html};

use super::error::UiResult;
use super::layout;
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::rollouts::lifecycle;
use crate::store::rollouts::{Rollout, RolloutStatus};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rollouts/{id}/retry", web::post().to(retry));
}

/// The button, for a finished rollout with failed devices and a user who may create rollouts.
pub fn button(ctx: &Ctx, r: &Rollout, totals: Option<&BTreeMap<&'static str, i64>>) -> Markup {
    let failed = totals.and_then(|t| t.get("error")).copied().unwrap_or(0);
    let shown = r.status() == RolloutStatus::Finished && failed > 0 && ctx.can(Permission::CreateRollout);
    html! {
        @if shown {
            form.inline #retry method="post" action={ "/ui/rollouts/" (r.id) "/retry" } {
                button type="submit" { "Retry " (failed) " failed devices" }
            }
        }
    }
}

pub async fn retry(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::CreateRollout)?;
    let (tenant, id) = (ctx.tenant(), path.into_inner());
    let may_approve = ctx.can(Permission::ApproveRollout);
    let (by, now) = (ctx.user.username.clone(), state.now());
    let (r, _) = state
        .db
        .write(move |c| lifecycle::retry(c, &tenant, id, may_approve, &by, now))
        .await?;
    Ok(layout::see_other(
        &format!("/ui/rollouts/{}", r.id),
        Some("Created a rollout over the devices that failed: start it when ready."),
    ))
}
