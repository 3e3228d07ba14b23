//! `/rest/v1/rollouts/{id}/deploygroups`: a rollout's groups and their targets.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;

use super::actions::{Representation, RepresentationQuery};
use super::rollouts::{MgmtRolloutGroupResponseBody, find, group_json};
use super::{PagedList, Paging, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::models::{ActionType, Target};
use crate::store::rollouts::{Group, Rollout, engine, totals_per_status};
use crate::store::schema::{rollout_groups, rollout_targets, targets};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rollouts/{id}/deploygroups", web::get().to(list_groups))
        .route("/rollouts/{id}/deploygroups/{group}", web::get().to(get_group))
        .route(
            "/rollouts/{id}/deploygroups/{group}/targets",
            web::get().to(group_targets),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list_groups, get_group, group_targets))]
pub struct Api;

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
    let spec = q.spec(&query::ROLLOUT_GROUPS)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            let r = find(c, &tenant, id)?;
            let dl = r.action_type == ActionType::DownloadOnly;
            let total: i64 = rollout_groups::table
                .filter(rollout_groups::rollout_id.eq(id))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let groups: Vec<Group> = rollout_groups::table
                .filter(rollout_groups::rollout_id.eq(id))
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(Group::as_select())
                .load(c)?;
            let mut out = Vec::with_capacity(groups.len());
            for g in groups {
                let totals = if full {
                    Some(totals_per_status(
                        &engine::status_counts(c, id, Some(g.id))?,
                        g.total_targets,
                        dl,
                    ))
                } else {
                    None
                };
                out.push((g, totals));
            }
            Ok((out, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content = rows.into_iter().map(|(g, t)| group_json(g, t, &base)).collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

fn find_group(c: &mut AnyConnection, tenant: &str, rollout: i64, group: i64) -> ApiResult<(Rollout, Group)> {
    let r = find(c, tenant, rollout)?;
    let g = rollout_groups::table
        .find(group)
        .filter(rollout_groups::rollout_id.eq(rollout))
        .select(Group::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("RolloutGroup", group))?;
    Ok((r, g))
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
        .run(move |c| {
            let (r, g) = find_group(c, &tenant, id, gid)?;
            let dl = r.action_type == ActionType::DownloadOnly;
            let totals = totals_per_status(&engine::status_counts(c, id, Some(gid))?, g.total_targets, dl);
            Ok((g, totals))
        })
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
    let spec = q.spec(&query::TARGETS)?;
    let (tenant, (id, gid)) = (tenant_of(&user), path.into_inner());
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            find_group(c, &tenant, id, gid)?;
            let members = rollout_targets::table
                .filter(rollout_targets::group_id.eq(gid))
                .select(rollout_targets::target_id);
            let total: i64 = targets::table
                .filter(targets::id.eq_any(members))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows: Vec<Target> = targets::table
                .filter(targets::id.eq_any(members))
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(Target::as_select())
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let mut content = Vec::with_capacity(rows.len());
    for t in &rows {
        content.push(super::targets::to_json(&req, &state, &user, t, false).await?);
    }
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}
