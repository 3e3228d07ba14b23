//! `/rest/v1/targets`: targets, their attributes, actions and action status, and assignment.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::distribution_sets::{AssignmentBody, assign_and_respond, ds_json};
use super::{PagedList, Paging, body, check_len, json, query, rest_base, tenant_of};
use crate::actions;
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::db::AnyConnection;
use crate::db::models::{Action, NewTarget, Target, UpdateStatus};
use crate::db::schema::{
    action_status_messages, action_statuses, actions as actions_t, distribution_sets, target_attributes,
    targets,
};
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/targets", web::get().to(list))
        .route("/targets", web::post().to(create))
        .route("/targets/{cid}", web::get().to(get_one))
        .route("/targets/{cid}", web::put().to(update))
        .route("/targets/{cid}", web::delete().to(delete))
        .route("/targets/{cid}/attributes", web::get().to(attributes))
        .route("/targets/{cid}/actions", web::get().to(list_actions))
        .route("/targets/{cid}/actions/{aid}", web::get().to(get_action))
        .route("/targets/{cid}/actions/{aid}", web::delete().to(cancel_action))
        .route(
            "/targets/{cid}/actions/{aid}/status",
            web::get().to(action_status),
        )
        .route("/targets/{cid}/assignedDS", web::get().to(assigned_ds))
        .route("/targets/{cid}/assignedDS", web::post().to(assign_ds))
        .route("/targets/{cid}/installedDS", web::get().to(installed_ds));
}

pub fn find_target(c: &mut AnyConnection, tenant: &str, cid: &str) -> ApiResult<Target> {
    targets::table
        .filter(targets::tenant.eq(tenant).and(targets::controller_id.eq(cid)))
        .select(Target::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("Target", cid))
}

pub(super) async fn to_json(
    req: &HttpRequest,
    state: &AppState,
    t: &Target,
    full: bool,
) -> ApiResult<json::MgmtTarget> {
    let settings = state.tenants.get(&state.db, &t.tenant).await?;
    let last_poll = match (t.last_poll, state.polls.pending(t.id)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Ok(json::target(
        t,
        &rest_base(req, state),
        last_poll,
        settings
            .polling_time
            .for_target(&crate::polling::PollSubject {
                controller_id: &t.controller_id,
                name: &t.name,
                update_status: &t.update_status,
            })
            .interval
            .as_millis() as i64,
        settings.polling_overdue.as_millis() as i64,
        state.now(),
        full,
        settings.confirmation_flow,
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, get_one), components(schemas(json::MgmtTarget)))]
pub struct Api;

/// Lists the targets of the tenant.
#[utoipa::path(
    get,
    path = "/rest/v1/targets",
    tag = "Targets",
    params(Paging),
    responses(
        (status = 200, description = "One page of targets", body = PagedList<json::MgmtTarget>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 401, description = "No or wrong credentials"),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let spec = q.spec(&query::TARGETS)?;
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            let total: i64 = targets::table
                .filter(targets::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows = targets::table
                .filter(targets::tenant.eq(&tenant))
                .filter(spec.filter)
                .order_by(spec.order)
                .offset(offset)
                .limit(limit)
                .select(Target::as_select())
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let mut content = Vec::with_capacity(rows.len());
    for t in &rows {
        content.push(to_json(&req, &state, t, false).await?);
    }
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TargetRequest {
    controller_id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    security_token: Option<String>,
    address: Option<String>,
    target_type: Option<i64>,
    request_attributes: Option<bool>,
    group: Option<String>,
}

fn validate(t: &TargetRequest) -> ApiResult<()> {
    if let Some(cid) = &t.controller_id
        && (cid.is_empty() || cid.chars().any(char::is_whitespace))
    {
        return Err(ApiError::constraint_violation(
            "controllerId must not be empty or contain whitespace.",
        ));
    }
    check_len("controllerId", t.controller_id.as_deref().unwrap_or(""), 256)?;
    check_len("name", t.name.as_deref().unwrap_or(""), 128)?;
    check_len("description", t.description.as_deref().unwrap_or(""), 512)?;
    check_len("securityToken", t.security_token.as_deref().unwrap_or(""), 128)?;
    check_len("address", t.address.as_deref().unwrap_or(""), 512)?;
    if t.target_type.is_some() || t.group.is_some() {
        return Err(ApiError::constraint_violation(
            "targetType and group are not supported yet.",
        ));
    }
    Ok(())
}

async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateTarget)?;
    let requests: Vec<TargetRequest> = body(&req, payload, &state).await?;
    for r in &requests {
        if r.controller_id.is_none() {
            return Err(ApiError::constraint_violation("controllerId is required."));
        }
        validate(r)?;
    }
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let created = state
        .db
        .tx(move |c| {
            let mut out = Vec::new();
            for r in &requests {
                let cid = r.controller_id.as_deref().unwrap_or_default();
                let token = r.security_token.clone().unwrap_or_else(crate::auth::random_token);
                let id: i64 = diesel::insert_into(targets::table)
                    .values(NewTarget {
                        tenant: &tenant,
                        controller_id: cid,
                        name: r.name.as_deref().unwrap_or(cid),
                        description: r.description.as_deref(),
                        security_token: &token,
                        address: r.address.as_deref(),
                        last_poll: None,
                        update_status: UpdateStatus::Unknown.as_str(),
                        request_attributes: true,
                        target_type_id: None,
                        created_at: now,
                        created_by: &by,
                        last_modified_at: now,
                        last_modified_by: &by,
                    })
                    .returning(targets::id)
                    .get_result(c)
                    .map_err(|e| match ApiError::from(e) {
                        e if e.status == actix_web::http::StatusCode::CONFLICT => ApiError::already_exists(
                            format!("Target with controllerId {cid} already exists."),
                        ),
                        e => e,
                    })?;
                out.push(targets::table.find(id).select(Target::as_select()).first(c)?);
            }
            Ok(out)
        })
        .await?;
    let mut content = Vec::new();
    for t in &created {
        state.devices.invalidate(&t.tenant, &t.controller_id);
        content.push(to_json(&req, &state, t, true).await?);
    }
    Ok(HttpResponse::Created().json(content))
}

/// One target, with links to its actions, attributes and distribution sets.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 200, description = "The target", body = json::MgmtTarget),
        (status = 401, description = "No or wrong credentials"),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let t = state.db.run(move |c| find_target(c, &tenant, &cid)).await?;
    Ok(HttpResponse::Ok().json(to_json(&req, &state, &t, true).await?))
}

async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let r: TargetRequest = body(&req, payload, &state).await?;
    validate(&r)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let (t2, c2) = (tenant.clone(), cid.clone());
    let t = state
        .db
        .tx(move |c| {
            let t = find_target(c, &t2, &c2)?;
            if r.controller_id.as_deref().is_some_and(|x| x != c2) {
                return Err(ApiError::constraint_violation("controllerId cannot be changed."));
            }
            diesel::update(targets::table.find(t.id))
                .set((
                    targets::name.eq(r.name.as_deref().unwrap_or(&t.name)),
                    targets::description.eq(r.description.as_deref().or(t.description.as_deref())),
                    targets::security_token.eq(r.security_token.as_deref().unwrap_or(&t.security_token)),
                    targets::address.eq(r.address.as_deref().or(t.address.as_deref())),
                    targets::request_attributes.eq(r.request_attributes.unwrap_or(t.request_attributes)),
                    targets::last_modified_at.eq(now),
                    targets::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            find_target(c, &t2, &c2)
        })
        .await?;
    state.devices.invalidate(&tenant, &cid);
    Ok(HttpResponse::Ok().json(to_json(&req, &state, &t, true).await?))
}

async fn delete(user: User, path: web::Path<String>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteTarget)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let (t2, c2) = (tenant.clone(), cid.clone());
    state
        .db
        .tx(move |c| {
            let t = find_target(c, &t2, &c2)?;
            diesel::delete(targets::table.find(t.id)).execute(c)?;
            Ok(())
        })
        .await?;
    state.devices.invalidate(&tenant, &cid);
    Ok(HttpResponse::NoContent().finish())
}

async fn attributes(
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let attrs: Vec<(String, String)> = state
        .db
        .run(move |c| {
            let t = find_target(c, &tenant, &cid)?;
            Ok(target_attributes::table
                .filter(target_attributes::target_id.eq(t.id))
                .order(target_attributes::attr_key.asc())
                .select((target_attributes::attr_key, target_attributes::attr_value))
                .load(c)?)
        })
        .await?;
    if attrs.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let map: serde_json::Map<String, Value> = attrs.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    Ok(HttpResponse::Ok().json(map))
}

async fn list_actions(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    q.no_search()?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let desc = q.id_descending(true)?;
    let (offset, limit) = (q.offset(), q.limit());
    let c2 = cid.clone();
    let (rows, total) = state
        .db
        .run(move |c| {
            let t = find_target(c, &tenant, &c2)?;
            let total: i64 = actions_t::table
                .filter(actions_t::target_id.eq(t.id))
                .count()
                .get_result(c)?;
            let mut query = actions_t::table
                .inner_join(distribution_sets::table)
                .filter(actions_t::target_id.eq(t.id))
                .select((
                    Action::as_select(),
                    distribution_sets::name,
                    distribution_sets::version,
                ))
                .offset(offset)
                .limit(limit)
                .into_boxed();
            query = if desc {
                query.order(actions_t::id.desc())
            } else {
                query.order(actions_t::id.asc())
            };
            Ok((query.load::<(Action, String, String)>(c)?, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<Value> = rows
        .iter()
        .map(|(a, n, v)| json::action(a, &cid, &format!("{n}:{v}"), &base))
        .collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

fn load_action(
    c: &mut AnyConnection,
    tenant: &str,
    cid: &str,
    aid: i64,
) -> ApiResult<(Target, Action, String)> {
    let t = find_target(c, tenant, cid)?;
    let a = actions::find_action_of_target(c, &t, aid)?;
    let (n, v): (String, String) = distribution_sets::table
        .find(a.ds_id)
        .select((distribution_sets::name, distribution_sets::version))
        .first(c)?;
    Ok((t, a, format!("{n}:{v}")))
}

async fn get_action(
    req: HttpRequest,
    user: User,
    path: web::Path<(String, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (cid, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let c2 = cid.clone();
    let (_, a, ds) = state.db.run(move |c| load_action(c, &tenant, &c2, aid)).await?;
    Ok(HttpResponse::Ok().json(json::action(&a, &cid, &ds, &rest_base(&req, &state))))
}

#[derive(Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

async fn cancel_action(
    user: User,
    path: web::Path<(String, i64)>,
    q: web::Query<ForceQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let (cid, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let force = q.force;
    let now = state.now();
    let (t2, c2) = (tenant.clone(), cid.clone());
    state
        .db
        .tx(move |c| {
            let (t, a, _) = load_action(c, &t2, &c2, aid)?;
            if force {
                actions::force_quit(c, &t, &a, now, &by)
            } else {
                actions::request_cancel(c, &a, now, &by)
            }
        })
        .await?;
    state.devices.invalidate(&tenant, &cid);
    Ok(HttpResponse::NoContent().finish())
}

async fn action_status(
    user: User,
    path: web::Path<(String, i64)>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    q.no_search()?;
    let (cid, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let desc = q.id_descending(true)?;
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, messages, total) = state
        .db
        .run(move |c| {
            let (_, a, _) = load_action(c, &tenant, &cid, aid)?;
            let total: i64 = action_statuses::table
                .filter(action_statuses::action_id.eq(a.id))
                .count()
                .get_result(c)?;
            let mut query = action_statuses::table
                .filter(action_statuses::action_id.eq(a.id))
                .select((
                    action_statuses::id,
                    action_statuses::status,
                    action_statuses::created_at,
                    action_statuses::occurred_at,
                    action_statuses::code,
                ))
                .offset(offset)
                .limit(limit)
                .into_boxed();
            query = if desc {
                query.order(action_statuses::id.desc())
            } else {
                query.order(action_statuses::id.asc())
            };
            let rows: Vec<(i64, String, i64, i64, Option<i32>)> = query.load(c)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let messages: Vec<(i64, String)> = action_status_messages::table
                .filter(action_status_messages::action_status_id.eq_any(&ids))
                .order(action_status_messages::id.asc())
                .select((
                    action_status_messages::action_status_id,
                    action_status_messages::message,
                ))
                .load(c)?;
            Ok((rows, messages, total))
        })
        .await?;
    let content: Vec<Value> = rows
        .iter()
        .map(|(id, status, reported, ts, code)| {
            let m = messages
                .iter()
                .filter(|(s, _)| s == id)
                .map(|(_, m)| m.clone())
                .collect();
            json::action_status(*id, status, m, *reported, *ts, *code)
        })
        .collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

async fn ds_of_target(
    req: HttpRequest,
    user: User,
    cid: String,
    state: web::Data<AppState>,
    installed: bool,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_of(&user);
    let base = rest_base(&req, &state);
    let ds: Option<Value> = state
        .db
        .run(move |c| {
            let t = find_target(c, &tenant, &cid)?;
            match if installed {
                t.installed_ds_id
            } else {
                t.assigned_ds_id
            } {
                Some(id) => Ok(Some(ds_json(c, id, &base)?)),
                None => Ok(None),
            }
        })
        .await?;
    Ok(match ds {
        Some(v) => HttpResponse::Ok().json(v),
        None => HttpResponse::NoContent().finish(),
    })
}

async fn assigned_ds(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    ds_of_target(req, user, path.into_inner(), state, false).await
}

async fn installed_ds(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    ds_of_target(req, user, path.into_inner(), state, true).await
}

/// `POST /targets/{id}/assignedDS` with `{"id": <dsId>, "type": ..., ...}`.
async fn assign_ds(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    user.require(Permission::ReadDistributionSet)?;
    let cid = path.into_inner();
    let raw: Value = body(&req, payload, &state).await?;
    let ds_id = raw
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(ApiError::body_not_readable)?;
    let mut obj = raw;
    obj["id"] = json!(cid);
    let request: AssignmentBody = serde_json::from_value(obj).map_err(|_| ApiError::body_not_readable())?;
    assign_and_respond(&req, &user, &state, ds_id, vec![request]).await
}
