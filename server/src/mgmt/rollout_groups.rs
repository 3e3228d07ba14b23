//! `/rest/v1/rollouts/{id}/deploygroups`: a rollout's groups and their targets.

use actix_web::{HttpRequest, HttpResponse, web};

use super::actions::{Representation, RepresentationQuery};
use super::rollouts::{MgmtRolloutGroupResponseBody, group_json};
use super::{PagedList, Paging, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::rollouts::groups;

super::routes::api! {
    paths: [list_groups, get_group, group_targets],
}

/// The groups of a rollout, in order.
#[utoipa::path(
    get,
    path = "/rest/v1/rollouts/{rolloutId}/deploygroups",
    tag = "Rollouts",
    params(("rolloutId" = i64, Path, description = "The rollout's id"), Paging, RepresentationQuery),
    responses(
        (status = 200, description = "One page of groups", body = PagedList<MgmtRolloutGroupResponseBody>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_ROLLOUT", body = ExceptionInfo),
        (status = 404, description = "No such rollout", body = ExceptionInfo),
    )
)]
async fn list_groups(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<Paging>,
    rq: web::Query<RepresentationQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadRollout)?;
    let full = rq.representation()? == Representation::Full;
    let list = q.list(&query::ROLLOUT_GROUPS)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let page = state
        .db
        .read(move |c| groups::list_groups(c, &tenant, id, &list, full))
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, |(g, t)| group_json(g, t, &base))))
}

/// One group of a rollout, with its totals per status.
#[utoipa::path(
    get,
    path = "/rest/v1/rollouts/{rolloutId}/deploygroups/{groupId}",
    tag = "Rollouts",
    params(
        ("rolloutId" = i64, Path, description = "The rollout's id"),
        ("groupId" = i64, Path, description = "The group's id")
    ),
    responses(
        (status = 200, description = "The group", body = MgmtRolloutGroupResponseBody),
        (status = 403, description = "Lacks READ_ROLLOUT", body = ExceptionInfo),
        (status = 404, description = "No such rollout or group", body = ExceptionInfo),
    )
)]
async fn get_group(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadRollout)?;
    let (tenant, (id, gid)) = (tenant_of(&user), path.into_inner());
    let (g, totals) = state
        .db
        .read(move |c| groups::get_group(c, &tenant, id, gid))
        .await?;
    Ok(HttpResponse::Ok().json(group_json(g, Some(totals), &rest_base(&req, &state))))
}

/// The targets of one group.
#[utoipa::path(
    get,
    path = "/rest/v1/rollouts/{rolloutId}/deploygroups/{groupId}/targets",
    tag = "Rollouts",
    params(
        ("rolloutId" = i64, Path, description = "The rollout's id"),
        ("groupId" = i64, Path, description = "The group's id"),
        Paging
    ),
    responses(
        (status = 200, description = "One page of targets", body = PagedList<json::MgmtTarget>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_ROLLOUT or READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such rollout or group", body = ExceptionInfo),
    )
)]
async fn group_targets(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, i64)>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadRollout)?;
    user.require(Permission::ReadTarget)?;
    let list = q.list(&query::TARGETS)?;
    let (tenant, (id, gid)) = (tenant_of(&user), path.into_inner());
    let page = state
        .db
        .read(move |c| groups::group_targets(c, &tenant, id, gid, &list))
        .await?;
    super::targets::page_json(&req, &state, &user, page).await
}
