//! What the device page's forms do: assign, cancel or force-quit, force, delete, tag and untag,
//! each through the same functions as the Management API, then back to the device page.

use actix_web::web;
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::layout::{self, encode};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::Changes;
use crate::store::actions::{self, AssignmentRequest, operator};
use crate::store::models::ActionType;
use crate::store::tags;

fn device_url(cid: &str) -> String {
    format!("/ui/devices/{}", encode(cid))
}

#[derive(Deserialize)]
pub struct AssignForm {
    ds: i64,
    action_type: String,
}

pub async fn assign(
    ctx: Ctx,
    path: web::Path<String>,
    form: web::Form<AssignForm>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::UpdateTarget)?;
    ctx.require(Permission::ReadDistributionSet)?;
    let cid = path.into_inner();
    let Some(action_type @ (ActionType::Forced | ActionType::Soft | ActionType::DownloadOnly)) =
        ActionType::parse(&form.action_type)
    else {
        return Err(UiError::bad_request("Choose forced, soft or download only."));
    };
    let tenant = ctx.tenant();
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let request = AssignmentRequest {
        controller_id: cid.clone(),
        action_type,
        forced_time: 0,
        weight: None,
        maintenance: None,
        confirmation_required: None,
    };
    let (by, now, ds, t2) = (ctx.user.username.clone(), state.now(), form.ds, tenant.clone());
    let result = state
        .db
        .tx(move |c| {
            Ok(actions::assign(
                c,
                &settings,
                &t2,
                ds,
                std::slice::from_ref(&request),
                &by,
                now,
            )?)
        })
        .await?;
    state.apply(Changes::device(&tenant, &cid));
    let notice = if result.assigned.is_empty() {
        "That set was assigned already."
    } else {
        "Assigned."
    };
    Ok(layout::see_other(&device_url(&cid), Some(notice)))
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    force: Option<String>,
}

pub async fn cancel(
    ctx: Ctx,
    path: web::Path<(String, i64)>,
    form: web::Form<CancelForm>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::UpdateTarget)?;
    let (cid, aid) = path.into_inner();
    let force = form.force.as_deref() == Some("true");
    let (tenant, c2, by, now) = (ctx.tenant(), cid.clone(), ctx.user.username.clone(), state.now());
    let changes = state
        .db
        .write(move |c| operator::cancel_action(c, &tenant, &c2, aid, force, &by, now))
        .await?;
    state.apply(changes);
    let notice = if force {
        "Action force-quit."
    } else {
        "Cancel requested."
    };
    Ok(layout::see_other(&device_url(&cid), Some(notice)))
}

pub async fn force(ctx: Ctx, path: web::Path<(String, i64)>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::UpdateTarget)?;
    let (cid, aid) = path.into_inner();
    let (tenant, c2, by, now) = (ctx.tenant(), cid.clone(), ctx.user.username.clone(), state.now());
    let (_, changes) = state
        .db
        .write(move |c| operator::force_action(c, &tenant, &c2, aid, &by, now))
        .await?;
    state.apply(changes);
    Ok(layout::see_other(
        &device_url(&cid),
        Some("The action is now forced."),
    ))
}

pub async fn delete(ctx: Ctx, path: web::Path<String>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::DeleteTarget)?;
    let cid = path.into_inner();
    let (tenant, c2) = (ctx.tenant(), cid.clone());
    let changes = state
        .db
        .write(move |c| crate::store::targets::delete_target(c, &tenant, &c2))
        .await?;
    state.apply(changes);
    Ok(layout::see_other(
        "/ui/devices",
        Some(&format!("Deleted device {cid}.")),
    ))
}

#[derive(Deserialize)]
pub struct TagForm {
    #[serde(default)]
    tag: String,
    #[serde(default)]
    new_tag: String,
}

/// Tags the device with a chosen tag, or with a new one it creates first (which needs CREATE_TARGET,
/// as creating a tag through the Management API does).
pub async fn add_tag(
    ctx: Ctx,
    path: web::Path<String>,
    form: web::Form<TagForm>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::UpdateTarget)?;
    let new_name = form.new_tag.trim().to_owned();
    let tag = if new_name.is_empty() {
        form.tag
            .parse::<i64>()
            .map_err(|_| UiError::bad_request("Choose a tag or name a new one."))?
    } else {
        ctx.require(Permission::CreateTarget)?;
        let fields = tags::TagFields {
            name: Some(new_name),
            ..tags::TagFields::default()
        };
        fields.validate(true)?;
        let (tenant, by, at) = (ctx.tenant(), ctx.user.username.clone(), state.now());
        let created = state
            .db
            .write(move |c| {
                let audit = tags::Audit { by: &by, at };
                tags::create_one(c, tags::Kind::Target, &tenant, &fields, audit)
            })
            .await?;
        created.id
    };
    set_tag(ctx, path.into_inner(), tag, true, state).await
}

pub async fn remove_tag(ctx: Ctx, path: web::Path<(String, i64)>, state: web::Data<AppState>) -> UiResult {
    let (cid, tag) = path.into_inner();
    set_tag(ctx, cid, tag, false, state).await
}

async fn set_tag(ctx: Ctx, cid: String, tag: i64, on: bool, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::UpdateTarget)?;
    let (tenant, c2) = (ctx.tenant(), cid.clone());
    state
        .db
        .write(move |c| tags::tag_target(c, &tenant, tag, &c2, on))
        .await?;
    Ok(layout::see_other(
        &device_url(&cid),
        Some(if on { "Tag added." } else { "Tag removed." }),
    ))
}
