//! The actions of one target in the Management API: listing, cancel and force-quit, forcing, status
//! history, confirmation on the device's behalf, and auto-confirmation.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::actions::rollout_names;
use super::{PagedList, Paging, body, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::actions::operator;
use crate::store::actions::queries::{self, ActionView};
use crate::store::models::ActionType;
use crate::store::targets::find_target;

super::routes::api! {
    paths: [list_actions, get_action, update_action, cancel_action, confirm_action, action_status, auto_confirm, activate_auto_confirm, deactivate_auto_confirm],
    schemas: [json::MgmtAction, json::MgmtActionStatus, ActionUpdate, ConfirmationRequest, AutoConfirmState, AutoConfirmUpdate],
}

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
    let list = q.list(&query::ACTIONS)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let page = state
        .db
        .read(move |c| queries::list_target_actions(c, &tenant, &cid, &list))
        .await?;
    let base = rest_base(&req, &state);
    let names = rollout_names(&page.rows);
    let content: Vec<Value> = page
        .rows
        .iter()
        .map(|v| json::action(&v.action, &v.controller_id, &v.ds_label, &base, &names))
        .collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, page.total)))
}

/// An action as JSON with all its links.
fn action_json(req: &HttpRequest, state: &AppState, v: &ActionView) -> Value {
    let names = rollout_names(std::slice::from_ref(v));
    json::action(
        &v.action,
        &v.controller_id,
        &v.ds_label,
        &rest_base(req, state),
        &names,
    )
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
    let (_, v) = state
        .db
        .read(move |c| queries::target_action(c, &tenant, &cid, aid))
        .await?;
    Ok(HttpResponse::Ok().json(action_json(&req, &state, &v)))
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
    let (force, now) = (q.force, state.now());
    let changes = state
        .db
        .write(move |c| operator::cancel_action(c, &tenant, &cid, aid, force, &by, now))
        .await?;
    state.apply(changes);
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
    let list = q.list(&query::ACTION_STATUSES)?;
    let (cid, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let page = state
        .db
        .read(move |c| queries::status_history(c, &tenant, &cid, aid, &list))
        .await?;
    let content: Vec<Value> = page
        .rows
        .into_iter()
        .map(|e| json::action_status(e.id, &e.status, e.messages, e.reported_at, e.occurred_at, e.code))
        .collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, page.total)))
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
    let (tenant, by, now) = (tenant_of(&user), user.username.clone(), state.now());
    let (v, changes) = state
        .db
        .write(move |c| operator::force_action(c, &tenant, &cid, aid, &by, now))
        .await?;
    state.apply(changes);
    Ok(HttpResponse::Ok().json(action_json(&req, &state, &v)))
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
    let (tenant, by, now) = (tenant_of(&user), user.username.clone(), state.now());
    let confirmed = r.confirmation == Confirmation::Confirmed;
    let changes = state
        .db
        .write(move |c| {
            operator::confirm_action(c, &tenant, &cid, aid, confirmed, &r.details, r.code, &by, now)
        })
        .await?;
    state.apply(changes);
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
    let t = state.db.read(move |c| find_target(c, &tenant, &cid)).await?;
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
    let (tenant, cid, now) = (tenant_of(&user), path.into_inner(), state.now());
    let changes = state
        .db
        .write(move |c| {
            operator::activate_auto_confirm(c, &tenant, &cid, initiator.clone(), r.remark.clone(), now)
        })
        .await?;
    state.apply(changes);
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
    let changes = state
        .db
        .write(move |c| operator::deactivate_auto_confirm(c, &tenant, &cid))
        .await?;
    state.apply(changes);
    Ok(HttpResponse::NoContent().finish())
}
