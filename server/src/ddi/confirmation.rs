//! The user-consent flow: confirmationBase, confirm/deny feedback and auto-confirm
//! (hawkBit's `JpaConfirmationManagement`, behind tenant key `user.confirmation.flow.enabled`).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use updraft_ddi::{
    ActivateAutoConfirmation, AutoConfirmationState, Confirmation, ConfirmationBase, ConfirmationBaseAction,
    ConfirmationFeedback, Link,
};

use super::deployment::{ActionRequest, HistoryQuery, action_payload};
use super::root::{action_etag, register_or_touch};
use super::{client_address, device, negotiate, parse_id, read_body, respond};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::Changes;
use crate::store::actions::{self, confirmation};
use crate::store::models::ActionStatus;

pub async fn confirmation_base(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid) = path.into_inner();
    let format = negotiate(&req)?;
    let mut dev = device(&req, &state, &tenant, &cid).await?;
    let now = state.now();
    // Like the root resource, this registers unknown devices.
    register_or_touch(
        &state,
        &mut dev,
        client_address(&req, state.config.track_remote_ip),
        now,
    )
    .await?;
    let snapshot = dev
        .snapshot
        .clone()
        .ok_or_else(|| ApiError::not_found("Target", &cid))?;
    let t = &dev.target(&state).await?;
    let base = dev.link_base(&req, &state);
    let mut links = BTreeMap::new();
    let auto_confirm = match t.auto_confirm_at {
        Some(at) => {
            links.insert(
                "deactivateAutoConfirm".to_owned(),
                Link::new(format!("{base}/confirmationBase/deactivateAutoConfirm")),
            );
            AutoConfirmationState {
                active: true,
                initiator: t.auto_confirm_initiator.clone(),
                remark: t.auto_confirm_remark.clone(),
                activated_at: at,
            }
        }
        None => {
            links.insert(
                "activateAutoConfirm".to_owned(),
                Link::new(format!("{base}/confirmationBase/activateAutoConfirm")),
            );
            AutoConfirmationState {
                active: false,
                initiator: None,
                remark: None,
                activated_at: 0,
            }
        }
    };
    if let Some(a) = snapshot
        .active()
        .filter(|a| a.action.status() == ActionStatus::WaitForConfirmation)
    {
        links.insert(
            "confirmationBase".to_owned(),
            Link::new(format!(
                "{base}/confirmationBase/{}?c={}",
                a.action.id,
                action_etag(&a.action, a.window.as_ref(), now)
            )),
        );
    }
    respond(&req, format, &ConfirmationBase { auto_confirm, links })
}

pub async fn confirmation_action(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    query: web::Query<HistoryQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let r = ActionRequest::resolve(&req, path, &state).await?;
    let (target, action_id, links_base, now) = (r.target.clone(), r.action_id, r.links_base.clone(), r.now);
    let count = query.action_history;
    let body = state
        .db
        .run(move |c| {
            let action = actions::find_action_of_target(c, &target, action_id)?;
            if action.status() != ActionStatus::WaitForConfirmation {
                return Err(ApiError::not_found("Action", action_id));
            }
            let (id, confirmation, action_history) = action_payload(c, &action, &links_base, now, count)?;
            Ok(ConfirmationBaseAction {
                id,
                confirmation,
                action_history,
            })
        })
        .await?;
    respond(&req, r.format, &body)
}

pub async fn confirmation_feedback(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid, action_id) = path.into_inner();
    let dev = device(&req, &state, &tenant, &cid).await?;
    let action_id = parse_id(&action_id)?;
    let fb: ConfirmationFeedback = read_body(&req, payload, state.config.max_body_size).await?;
    let target = dev.target(&state).await?;
    let flow = dev.settings.confirmation_flow;
    let now = state.now();
    state
        .db
        .tx(move |c| {
            let confirmed = matches!(fb.confirmation, Confirmation::Confirmed);
            Ok(confirmation::confirmation_feedback(
                c,
                &target,
                action_id,
                confirmed,
                &fb.details,
                fb.code,
                flow,
                now,
            )?)
        })
        .await?;
    state.apply(Changes::device(&dev.tenant, &dev.controller_id));
    Ok(HttpResponse::Ok().finish())
}

pub async fn activate_auto_confirm(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid) = path.into_inner();
    let dev = device(&req, &state, &tenant, &cid).await?;
    // The body is optional: no body (or an empty one) means no initiator and the default remark.
    let empty = req.headers().get("content-length").and_then(|v| v.to_str().ok()) == Some("0")
        || (!req.headers().contains_key("content-length")
            && !req.headers().contains_key("transfer-encoding"));
    let request: ActivateAutoConfirmation = if empty {
        ActivateAutoConfirmation::default()
    } else {
        read_body(&req, payload, state.config.max_body_size).await?
    };
    let target = dev.target(&state).await?;
    let now = state.now();
    state
        .db
        .tx(move |c| {
            let remark = request.remark.clone().unwrap_or_else(|| {
                "Initiated using the Device Direct Integration API without providing a remark.".to_owned()
            });
            Ok(confirmation::activate_auto_confirm(
                c,
                &target,
                request.initiator.clone(),
                Some(remark),
                now,
            )?)
        })
        .await?;
    state.apply(Changes::device(&dev.tenant, &dev.controller_id));
    Ok(HttpResponse::Ok().finish())
}

pub async fn deactivate_auto_confirm(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid) = path.into_inner();
    let dev = device(&req, &state, &tenant, &cid).await?;
    let target = dev.target(&state).await?;
    state
        .db
        .tx(move |c| Ok(confirmation::deactivate_auto_confirm(c, target.id)?))
        .await?;
    state.apply(Changes::device(&dev.tenant, &dev.controller_id));
    Ok(HttpResponse::Ok().finish())
}
