//! Invalidating a distribution set: it can no longer be assigned, its rollouts stop, and its open
//! actions are canceled or force-quit as asked.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{body, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::distribution_sets::{self as sets, Cancelation};

super::routes::api! {
    paths: [invalidate],
    schemas: [InvalidateRequest, CancelationType],
}

/// What happens to the open actions of an invalidated set.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum CancelationType {
    /// Cancel them; devices see `cancelAction`.
    Soft,
    /// Cancel and force-quit them at once.
    Force,
    /// Leave them running.
    None,
}

/// hawkBit's `MgmtInvalidateDistributionSetRequestBody`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct InvalidateRequest {
    action_cancelation_type: CancelationType,
    /// Accepted for compatibility; the set's rollouts are always stopped (as in hawkBit ≥ 0.4).
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(example = false)]
    cancel_rollouts: Option<bool>,
}

/// Invalidates a complete set: it can no longer be assigned, auto-assignments drop it, and its open
/// actions are canceled as requested, all in one transaction.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsets/{distributionSetId}/invalidate",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    request_body = InvalidateRequest,
    responses(
        (status = 204, description = "The set is invalid"),
        (status = 400, description = "Bad body, or the set is incomplete", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET (or UPDATE_TARGET to cancel actions)", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn invalidate(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateDistributionSet)?;
    let r: InvalidateRequest = body(&req, payload, &state).await?;
    if r.action_cancelation_type != CancelationType::None {
        user.require(Permission::UpdateTarget)?;
    }
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (by, now) = (user.username.clone(), state.now());
    let cancelation = match r.action_cancelation_type {
        CancelationType::None => Cancelation::None,
        CancelationType::Soft => Cancelation::Soft,
        CancelationType::Force => Cancelation::Force,
    };
    let changes = state
        .db
        .write(move |c| sets::invalidate(c, &tenant, id, cancelation, &by, now))
        .await?;
    state.apply(changes);
    Ok(HttpResponse::NoContent().finish())
}
