//! What operators do to a rollout after creating it: start, pause, resume, trigger the next group,
//! approve or deny, delete, and retry its failed targets. The web UI calls the same
//! `store::rollouts::lifecycle`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::rollouts::{MgmtRolloutResponseBody, to_json};
use super::{rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::rollouts::lifecycle::{self, Op};

super::routes::api! {
    paths: [delete, approve, deny, start, pause, resume, trigger_next_group, retry],
}

/// Who may run `op`.
fn permission(op: Op) -> Permission {
    match op {
        Op::Start | Op::Pause | Op::Resume | Op::TriggerNextGroup => Permission::HandleRollout,
        Op::Approve | Op::Deny => Permission::ApproveRollout,
        Op::Delete => Permission::DeleteRollout,
    }
}

/// Checks `user` may run `op`, runs it in one transaction, then applies what it changed.
async fn apply(state: &AppState, user: &User, id: i64, op: Op, remark: Option<String>) -> ApiResult<()> {
    user.require(permission(op))?;
    let (tenant, by, now) = (tenant_of(user), user.username.clone(), state.now());
    let changes = state
        .db
        .write(move |c| lifecycle::apply(c, &tenant, id, op, remark.as_deref(), &by, now))
        .await?;
    state.apply(changes);
    Ok(())
}

/// Deletes a rollout: scheduled actions are dropped and running ones canceled at once; a rollout
/// that devices already saw is kept as `deleted`.
#[utoipa::path(
    delete,
    path = "/rest/v1/rollouts/{rolloutId}",
    tag = "Rollouts",
    params(("rolloutId" = i64, Path, description = "The rollout's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks DELETE_ROLLOUT", body = ExceptionInfo),
        (status = 404, description = "No such rollout", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    apply(&state, &user, path.into_inner(), Op::Delete, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// hawkBit's optional approval remark.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemarkQuery {
    /// A remark stored with the decision.
    #[serde(default)]
    remark: Option<String>,
}

/// Approves a rollout waiting for approval (it becomes `ready`).
#[utoipa::path(
    post,
    path = "/rest/v1/rollouts/{rolloutId}/approve",
    tag = "Rollouts",
    params(("rolloutId" = i64, Path, description = "The rollout's id"), RemarkQuery),
    responses(
        (status = 204, description = "Approved"),
        (status = 400, description = "The rollout is not waiting for approval", body = ExceptionInfo),
        (status = 403, description = "Lacks APPROVE_ROLLOUT", body = ExceptionInfo),
        (status = 404, description = "No such rollout", body = ExceptionInfo),
    )
)]
async fn approve(
    user: User,
    path: web::Path<i64>,
    q: web::Query<RemarkQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    decide(user, path.into_inner(), q.into_inner().remark, state, true).await
}

/// Denies a rollout waiting for approval (it becomes `approval_denied`).
#[utoipa::path(
    post,
    path = "/rest/v1/rollouts/{rolloutId}/deny",
    tag = "Rollouts",
    params(("rolloutId" = i64, Path, description = "The rollout's id"), RemarkQuery),
    responses(
        (status = 204, description = "Denied"),
        (status = 400, description = "The rollout is not waiting for approval", body = ExceptionInfo),
        (status = 403, description = "Lacks APPROVE_ROLLOUT", body = ExceptionInfo),
        (status = 404, description = "No such rollout", body = ExceptionInfo),
    )
)]
async fn deny(
    user: User,
    path: web::Path<i64>,
    q: web::Query<RemarkQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    decide(user, path.into_inner(), q.into_inner().remark, state, false).await
}

async fn decide(
    user: User,
    id: i64,
    remark: Option<String>,
    state: web::Data<AppState>,
    approve: bool,
) -> ApiResult<HttpResponse> {
    let op = if approve { Op::Approve } else { Op::Deny };
    apply(&state, &user, id, op, remark).await?;
    Ok(HttpResponse::NoContent().finish())
}

macro_rules! handle_op {
    ($(#[$doc:meta])* $name:ident, $path:literal, $ok:literal, $bad:literal, $op:expr) => {
        $(#[$doc])*
        #[utoipa::path(
            post,
            path = $path,
            tag = "Rollouts",
            params(("rolloutId" = i64, Path, description = "The rollout's id")),
            responses(
                (status = 204, description = $ok),
                (status = 400, description = $bad, body = ExceptionInfo),
                (status = 403, description = "Lacks HANDLE_ROLLOUT", body = ExceptionInfo),
                (status = 404, description = "No such rollout", body = ExceptionInfo),
            )
        )]
        async fn $name(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
            apply(&state, &user, path.into_inner(), $op, None).await?;
            Ok(HttpResponse::NoContent().finish())
        }
    };
}

handle_op!(
    /// Starts a `ready` rollout: its first group's devices see the update on their next poll.
    start, "/rest/v1/rollouts/{rolloutId}/start", "Started", "The rollout is not ready", Op::Start
);
handle_op!(
    /// Pauses a running rollout: no further group starts; running actions continue.
    pause, "/rest/v1/rollouts/{rolloutId}/pause", "Paused", "The rollout is not running", Op::Pause
);
handle_op!(
    /// Resumes a paused rollout.
    resume, "/rest/v1/rollouts/{rolloutId}/resume", "Resumed", "The rollout is not paused", Op::Resume
);
handle_op!(
    /// Starts the next group now, whatever the running group's conditions say.
    trigger_next_group, "/rest/v1/rollouts/{rolloutId}/triggerNextGroup", "The next group started",
    "The rollout is not running or has no group left", Op::TriggerNextGroup
);

/// Creates `<name>_retry`, a rollout over the targets whose action in this finished rollout failed.
#[utoipa::path(
    post,
    path = "/rest/v1/rollouts/{rolloutId}/retry",
    tag = "Rollouts",
    params(("rolloutId" = i64, Path, description = "The rollout's id")),
    responses(
        (status = 201, description = "The new rollout", body = MgmtRolloutResponseBody),
        (status = 400, description = "The rollout has not finished, or no target failed", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_ROLLOUT", body = ExceptionInfo),
        (status = 404, description = "No such rollout", body = ExceptionInfo),
    )
)]
async fn retry(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateRollout)?;
    let (tenant, id, by, now) = (
        tenant_of(&user),
        path.into_inner(),
        user.username.clone(),
        state.now(),
    );
    let may_approve = user.permissions.has(Permission::ApproveRollout);
    let (r, x) = state
        .db
        .write(move |c| lifecycle::retry(c, &tenant, id, may_approve, &by, now))
        .await?;
    Ok(HttpResponse::Created().json(to_json(r, x, &rest_base(&req, &state))))
}
