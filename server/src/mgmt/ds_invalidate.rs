//! Invalidating a distribution set: it can no longer be assigned, its rollouts stop, and its open
//! actions are canceled or force-quit as asked.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;

use super::distribution_sets::find_live_ds;
use super::{body, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::Changes;
use crate::store::actions::{self};
use crate::store::distribution_sets::missing_mandatory;
use crate::store::models::{Action, ActionStatus, Target};
use crate::store::schema::{actions as actions_t, distribution_sets, target_filter_queries, targets};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/distributionsets/{id}/invalidate", web::post().to(invalidate));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(invalidate), components(schemas(InvalidateRequest, CancelationType)))]
pub struct Api;

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

/// Cancels (and with `force` force-quits) one open action of an invalidated set.
fn cancel_for_invalidation(
    c: &mut AnyConnection,
    action: &Action,
    force: bool,
    now: i64,
    by: &str,
) -> ApiResult<()> {
    if action.status() != ActionStatus::Canceling {
        actions::request_cancel(c, action, now, by)?;
    }
    if force {
        let target: Target = targets::table
            .find(action.target_id)
            .select(Target::as_select())
            .first(c)?;
        let action: Action = actions_t::table
            .find(action.id)
            .select(Action::as_select())
            .first(c)?;
        actions::force_quit(c, &target, &action, now, by)?;
    }
    Ok(())
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
    let by = user.username.clone();
    let now = state.now();
    let kind = r.action_cancelation_type;
    let t = tenant.clone();
    let touched: Vec<String> = state
        .db
        .tx(move |c| {
            let ds = find_live_ds(c, &t, id)?;
            if !missing_mandatory(c, ds.ds_type_id, ds.id)?.is_empty() {
                return Err(ApiError::ds_incomplete(format!(
                    "Distribution set {id} is incomplete and cannot be invalidated."
                )));
            }
            diesel::update(distribution_sets::table.find(id))
                .set((
                    distribution_sets::valid.eq(false),
                    distribution_sets::last_modified_at.eq(now),
                    distribution_sets::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            diesel::update(
                target_filter_queries::table.filter(
                    target_filter_queries::tenant
                        .eq(&t)
                        .and(target_filter_queries::auto_assign_ds_id.eq(Some(id))),
                ),
            )
            .set((
                target_filter_queries::auto_assign_ds_id.eq(None::<i64>),
                target_filter_queries::auto_assign_action_type.eq(None::<String>),
                target_filter_queries::auto_assign_weight.eq(None::<i32>),
            ))
            .execute(c)?;
            if kind == CancelationType::None {
                return Ok(Vec::new());
            }
            crate::store::rollouts::engine::stop_rollouts_of_ds(c, id, &by, now)?;
            let open: Vec<(Action, String)> = actions_t::table
                .inner_join(targets::table)
                .filter(actions_t::ds_id.eq(id).and(actions_t::active.eq(true)))
                .select((Action::as_select(), targets::controller_id))
                .load(c)?;
            for (a, _) in &open {
                cancel_for_invalidation(c, a, kind == CancelationType::Force, now, &by)?;
            }
            Ok(open.into_iter().map(|(_, cid)| cid).collect())
        })
        .await?;
    state.apply(Changes::devices(&tenant, &touched));
    Ok(HttpResponse::NoContent().finish())
}
