//! The actions of one target in the Management API: listing, cancel and force-quit, forcing, status
//! history, confirmation on the device's behalf, and auto-confirmation.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{PagedList, Paging, body, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::actions::confirmation;
use crate::store::models::{Action, ActionStatus, ActionType, Target};
use crate::store::schema::{
    action_status_messages, action_statuses, actions as actions_t, distribution_sets, targets,
};
use crate::store::targets::find_target;
use crate::store::{AnyConnection, Changes, actions};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/targets/{cid}/actions", web::get().to(list_actions))
        .route("/targets/{cid}/actions/{aid}", web::get().to(get_action))
        .route("/targets/{cid}/actions/{aid}", web::delete().to(cancel_action))
        .route("/targets/{cid}/actions/{aid}", web::put().to(update_action))
        .route(
            "/targets/{cid}/actions/{aid}/confirmation",
            web::put().to(confirm_action),
        )
        .route("/targets/{cid}/autoConfirm", web::get().to(auto_confirm))
        .route(
            "/targets/{cid}/autoConfirm/activate",
            web::post().to(activate_auto_confirm),
        )
        .route(
            "/targets/{cid}/autoConfirm/deactivate",
            web::post().to(deactivate_auto_confirm),
        )
        .route(
            "/targets/{cid}/actions/{aid}/status",
            web::get().to(action_status),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_actions,
        get_action,
        update_action,
        cancel_action,
        confirm_action,
        action_status,
        auto_confirm,
        activate_auto_confirm,
        deactivate_auto_confirm
    ),
    components(schemas(
        json::MgmtAction,
        json::MgmtActionStatus,
        ActionUpdate,
        ConfirmationRequest,
        AutoConfirmState,
        AutoConfirmUpdate
    ))
)]
pub struct Api;

/// The actions of a target, newest first.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/actions",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id"), Paging),
    responses(
        (status = 200, description = "One page of actions", body = PagedList<json::MgmtAction>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn list_actions(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let spec = q.spec(&query::ACTIONS)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let (offset, limit) = (q.offset(), q.limit());
    let c2 = cid.clone();
    let (rows, names, total) = state
        .db
        .run(move |c| {
            let t = find_target(c, &tenant, &c2)?;
            let total: i64 = actions_t::table
                .filter(actions_t::target_id.eq(t.id))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows = actions_t::table
                .inner_join(distribution_sets::table)
                .filter(actions_t::target_id.eq(t.id))
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .select((
                    Action::as_select(),
                    distribution_sets::name,
                    distribution_sets::version,
                ))
                .offset(offset)
                .limit(limit)
                .load::<(Action, String, String)>(c)?;
            let names = json::rollout_names(c, rows.iter().map(|r| &r.0))?;
            Ok((rows, names, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<Value> = rows
        .iter()
        .map(|(a, n, v)| json::action(a, &cid, &format!("{n}:{v}"), &base, &names))
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

/// One action of a target, with links to its distribution set and status.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/actions/{actionId}",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id"), ("actionId" = i64, Path, description = "The action's id")),
    responses(
        (status = 200, description = "The action", body = json::MgmtAction),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or action", body = ExceptionInfo),
    )
)]
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
    let (a, ds, names) = state
        .db
        .run(move |c| {
            let (_, a, ds) = load_action(c, &tenant, &c2, aid)?;
            let names = json::rollout_names(c, [&a])?;
            Ok((a, ds, names))
        })
        .await?;
    Ok(HttpResponse::Ok().json(json::action(&a, &cid, &ds, &rest_base(&req, &state), &names)))
}

#[derive(Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

/// Cancels an active action, or with `force=true` force-quits one that is being canceled.
#[utoipa::path(
    delete,
    path = "/rest/v1/targets/{targetId}/actions/{actionId}",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id"), ("actionId" = i64, Path, description = "The action's id"), ("force" = Option<bool>, Query, description = "Force-quit a canceling action")),
    responses(
        (status = 204, description = "Cancel requested or action closed"),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or action", body = ExceptionInfo),
        (status = 405, description = "Not cancelable or not force-quitable", body = ExceptionInfo),
    )
)]
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
                Ok(actions::force_quit(c, &t, &a, now, &by)?)
            } else {
                Ok(actions::request_cancel(c, &a, now, &by)?)
            }
        })
        .await?;
    state.apply(Changes::device(&tenant, &cid));
    Ok(HttpResponse::NoContent().finish())
}

/// The status history of an action, newest first.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/actions/{actionId}/status",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id"), ("actionId" = i64, Path, description = "The action's id"), Paging),
    responses(
        (status = 200, description = "One page of status entries", body = PagedList<json::MgmtActionStatus>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or action", body = ExceptionInfo),
    )
)]
async fn action_status(
    user: User,
    path: web::Path<(String, i64)>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let spec = q.spec(&query::ACTION_STATUSES)?;
    let (cid, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, messages, total) = state
        .db
        .run(move |c| {
            let (_, a, _) = load_action(c, &tenant, &cid, aid)?;
            let total: i64 = action_statuses::table
                .filter(action_statuses::action_id.eq(a.id))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows: Vec<(i64, String, i64, i64, Option<i32>)> = action_statuses::table
                .filter(action_statuses::action_id.eq(a.id))
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .select((
                    action_statuses::id,
                    action_statuses::status,
                    action_statuses::created_at,
                    action_statuses::occurred_at,
                    action_statuses::code,
                ))
                .offset(offset)
                .limit(limit)
                .load(c)?;
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

/// `PUT /targets/{id}/actions/{aid}`: hawkBit only allows turning an action into a forced one.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ActionUpdate {
    /// Must be `forced`.
    #[schema(example = "forced")]
    force_type: Option<String>,
}

/// Makes an action forced, so the device installs it without asking.
#[utoipa::path(
    put,
    path = "/rest/v1/targets/{targetId}/actions/{actionId}",
    tag = "Targets",
    params(
        ("targetId" = String, Path, description = "The target's controller id"),
        ("actionId" = i64, Path, description = "The action's id"),
    ),
    request_body = ActionUpdate,
    responses(
        (status = 200, description = "The updated action", body = json::MgmtAction),
        (status = 400, description = "forceType is not `forced`", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or action", body = ExceptionInfo),
    )
)]
async fn update_action(
    req: HttpRequest,
    user: User,
    path: web::Path<(String, i64)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let r: ActionUpdate = body(&req, payload, &state).await?;
    if r.force_type.as_deref() != Some(ActionType::Forced.as_str()) {
        return Err(ApiError::constraint_violation(
            "forceType: only a change to 'forced' is supported.",
        ));
    }
    let (cid, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let (t2, c2) = (tenant.clone(), cid.clone());
    let (a, ds, names) = state
        .db
        .tx(move |c| {
            let (_, a, ds) = force_action(c, &t2, &c2, aid, &by, now)?;
            let names = json::rollout_names(c, [&a])?;
            Ok((a, ds, names))
        })
        .await?;
    state.apply(Changes::device(&tenant, &cid));
    Ok(HttpResponse::Ok().json(json::action(&a, &cid, &ds, &rest_base(&req, &state), &names)))
}

/// Turns an action into a forced one (hawkBit's `forceType: forced`); the web UI's "Force" too.
pub(crate) fn force_action(
    c: &mut AnyConnection,
    tenant: &str,
    cid: &str,
    aid: i64,
    by: &str,
    now: i64,
) -> ApiResult<(Target, Action, String)> {
    let (_, a, _) = load_action(c, tenant, cid, aid)?;
    if a.action_type() != ActionType::Forced {
        diesel::update(actions_t::table.find(a.id))
            .set((
                actions_t::action_type.eq(ActionType::Forced.as_str()),
                actions_t::last_modified_at.eq(now),
                actions_t::last_modified_by.eq(by),
            ))
            .execute(c)?;
    }
    load_action(c, tenant, cid, aid)
}

/// hawkBit's `MgmtActionConfirmationRequestBodyPut`.
#[derive(Deserialize, utoipa::ToSchema)]

struct ConfirmationRequest {
    #[schema(value_type = String, example = "confirmed")]
    confirmation: Confirmation,
    #[schema(example = 200)]
    code: Option<i32>,
    #[serde(default, deserialize_with = "super::lenient::one_or_many")]
    #[schema(example = json!(["Confirmed by the operator"]))]
    details: Vec<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Confirmation {
    Confirmed,
    Denied,
}

/// Confirms or denies an action waiting for confirmation, on behalf of the device's user.
#[utoipa::path(
    put,
    path = "/rest/v1/targets/{targetId}/actions/{actionId}/confirmation",
    tag = "Targets",
    params(
        ("targetId" = String, Path, description = "The target's controller id"),
        ("actionId" = i64, Path, description = "The action's id"),
    ),
    request_body = ConfirmationRequest,
    responses(
        (status = 204, description = "Confirmed (the action runs) or denied (it keeps waiting)"),
        (status = 400, description = "Unreadable body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or action", body = ExceptionInfo),
        (status = 409, description = "The action is not waiting for confirmation"),
        (status = 410, description = "The action is closed"),
    )
)]
async fn confirm_action(
    req: HttpRequest,
    user: User,
    path: web::Path<(String, i64)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let r: ConfirmationRequest = body(&req, payload, &state).await?;
    let (cid, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let (t2, c2) = (tenant.clone(), cid.clone());
    state
        .db
        .tx(move |c| {
            let (_, a, _) = load_action(c, &t2, &c2, aid)?;
            if !a.active {
                return Err(ApiError::bare(StatusCode::GONE));
            }
            if a.status() != ActionStatus::WaitForConfirmation {
                return Err(ApiError::bare(StatusCode::CONFLICT));
            }
            match r.confirmation {
                Confirmation::Confirmed => Ok(confirmation::confirm(c, &a, &r.details, r.code, now, &by)?),
                Confirmation::Denied => {
                    let mut m = r.details.clone();
                    m.push(format!(
                        "{}Target rejected action. Action will stay in confirmation pending state.",
                        actions::SERVER_PREFIX
                    ));
                    Ok(
                        actions::add_status(c, a.id, ActionStatus::WaitForConfirmation, now, now, r.code, &m)
                            .map(|_| ())?,
                    )
                }
            }
        })
        .await?;
    state.apply(Changes::device(&tenant, &cid));
    Ok(HttpResponse::NoContent().finish())
}

/// hawkBit's `MgmtTargetAutoConfirm`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct AutoConfirmState {
    #[schema(example = true)]
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "admin")]
    initiator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Lab devices confirm on their own")]
    remark: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_691_065_941_155_i64)]
    activated_at: Option<i64>,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::auto_confirm_state_links)]
    links: Value,
}

/// Whether the target confirms its actions automatically, and who turned that on.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/autoConfirm",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 200, description = "The auto-confirm state", body = AutoConfirmState),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn auto_confirm(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let t = state.db.run(move |c| Ok(find_target(c, &tenant, &cid)?)).await?;
    let self_href = format!(
        "{}/targets/{}/autoConfirm",
        rest_base(&req, &state),
        crate::links::encode_segment(&t.controller_id)
    );
    let out = match t.auto_confirm_at {
        Some(at) => AutoConfirmState {
            active: true,
            initiator: t.auto_confirm_initiator,
            remark: t.auto_confirm_remark,
            activated_at: Some(at),
            links: json!({ "deactivate": { "href": format!("{self_href}/deactivate") } }),
        },
        None => AutoConfirmState {
            active: false,
            initiator: None,
            remark: None,
            activated_at: None,
            links: json!({ "activate": { "href": format!("{self_href}/activate") } }),
        },
    };
    Ok(HttpResponse::Ok().json(out))
}

/// hawkBit's `MgmtTargetAutoConfirmUpdate`; the body itself is optional.
#[derive(Deserialize, Default, utoipa::ToSchema)]

struct AutoConfirmUpdate {
    /// Who turned auto-confirm on (default: the calling user).
    #[schema(example = "admin")]
    initiator: Option<String>,
    #[schema(example = "Lab devices confirm on their own")]
    remark: Option<String>,
}

/// Turns auto-confirm on; every action waiting for confirmation is confirmed at once.
#[utoipa::path(
    post,
    path = "/rest/v1/targets/{targetId}/autoConfirm/activate",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    request_body(content = Option<AutoConfirmUpdate>, description = "Optional initiator and remark"),
    responses(
        (status = 204, description = "Auto-confirm is on"),
        (status = 400, description = "Unreadable body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
        (status = 409, description = "Auto-confirm is already on", body = ExceptionInfo),
    )
)]
async fn activate_auto_confirm(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let r: AutoConfirmUpdate = if has_body(&req) {
        body(&req, payload, &state).await?
    } else {
        AutoConfirmUpdate::default()
    };
    let initiator = r.initiator.or_else(|| Some(user.username.clone()));
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let now = state.now();
    let (t2, c2) = (tenant.clone(), cid.clone());
    state
        .db
        .tx(move |c| {
            let t = find_target(c, &t2, &c2)?;
            Ok(confirmation::activate_auto_confirm(
                c,
                &t,
                initiator.clone(),
                r.remark.clone(),
                now,
            )?)
        })
        .await?;
    state.apply(Changes::device(&tenant, &cid));
    Ok(HttpResponse::NoContent().finish())
}

/// Whether a request carries a body (a positive length or a chunked one).
fn has_body(req: &HttpRequest) -> bool {
    let h = req.headers();
    match h.get("content-length").and_then(|v| v.to_str().ok()) {
        Some(len) => len.trim() != "0",
        None => h.contains_key("transfer-encoding"),
    }
}

/// Turns auto-confirm off; actions already confirmed stay so.
#[utoipa::path(
    post,
    path = "/rest/v1/targets/{targetId}/autoConfirm/deactivate",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 204, description = "Auto-confirm is off"),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn deactivate_auto_confirm(
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let (t2, c2) = (tenant.clone(), cid.clone());
    state
        .db
        .tx(move |c| {
            let t = find_target(c, &t2, &c2)?;
            diesel::update(targets::table.find(t.id))
                .set((
                    targets::auto_confirm_at.eq(None::<i64>),
                    targets::auto_confirm_initiator.eq(None::<String>),
                    targets::auto_confirm_remark.eq(None::<String>),
                ))
                .execute(c)?;
            Ok(())
        })
        .await?;
    state.apply(Changes::device(&tenant, &cid));
    Ok(HttpResponse::NoContent().finish())
}
