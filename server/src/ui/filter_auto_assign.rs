//! A saved filter's auto-assignment: the form that sets it (distribution set, action type, weight,
//! confirmation) and the button that stops it. Both call what the Management API's
//! `POST/DELETE /rest/v1/targetfilters/{id}/autoAssignDS` call (`store::target_filters::
//! set_auto_assign`, `clear_auto_assign`), with the same permissions, the tenant's consent flow as
//! the default confirmation, and the same refusals shown as sentences at their field.

use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::filters::{FieldError, PageState, field, render_page};
use super::layout;
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::models::ActionType;
use crate::store::target_filters::{self as filters, Audit, AutoAssign, Filter};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/filters/{id}/auto-assign", web::post().to(set))
        .route("/filters/{id}/auto-assign/clear", web::post().to(clear));
}

/// The auto-assignment form as typed.
#[derive(Deserialize, Default)]
pub struct AutoForm {
    #[serde(default)]
    ds: String,
    #[serde(default)]
    action_type: String,
    #[serde(default)]
    weight: String,
    /// `default` (the tenant's consent flow), `yes` or `no`.
    #[serde(default)]
    confirmation: String,
}

/// The action types the form offers: hawkBit refuses `timeforced` for auto-assignment, and so does
/// the store, so a crafted post of it gets the API's message.
const TYPES: [(&str, &str); 3] = [
    ("forced", "Forced"),
    ("soft", "Soft"),
    ("downloadonly", "Download only"),
];

fn may_set(ctx: &Ctx) -> bool {
    ctx.can(Permission::UpdateTarget) && ctx.can(Permission::ReadDistributionSet)
}

/// The auto-assignment card of a filter's page: the form (prefilled with the current settings, or
/// with the rejected form and its error) and the stop button.
pub fn section(
    ctx: &Ctx,
    f: &Filter,
    sets: &[(i64, String)],
    rejected: Option<&(AutoForm, FieldError)>,
) -> Markup {
    if !may_set(ctx) {
        return html! {};
    }
    let current = AutoForm {
        ds: f.auto_assign_ds_id.map(|d| d.to_string()).unwrap_or_default(),
        action_type: f.auto_assign_action_type.clone().unwrap_or_default(),
        weight: f.auto_assign_weight.map(|w| w.to_string()).unwrap_or_default(),
        confirmation: if f.auto_assign_ds_id.is_none() {
            "default".to_owned()
        } else if f.confirmation_required {
            "yes".to_owned()
        } else {
            "no".to_owned()
        },
    };
    let (a, err) = match rejected {
        Some((a, e)) => (a, Some(e)),
        None => (&current, None),
    };
    let at = |k| err.and_then(|e| e.at(k));
    let action = if a.action_type.is_empty() {
        "forced"
    } else {
        a.action_type.as_str()
    };
    html! {
        form.card #auto-assign method="post" action={ "/ui/filters/" (f.id) "/auto-assign" } {
            h2 { "Auto-assignment" }
            p.muted { "Every device this filter matches gets the distribution set, now and whenever a device comes to match it (unless it already has a newer assignment of higher weight)." }
            @if let Some(e) = err.filter(|e| e.field.is_none()) {
                p #auto-error .error role="alert" { (e.message) }
            }
            div.row {
                div {
                    label for="a-ds" { "Distribution set" }
                    select #a-ds name="ds" aria-invalid=[at("ds").map(|_| "true")] aria-describedby=[at("ds").map(|_| "a-ds-error")] {
                        option value="" { "choose a set" }
                        @for (id, label) in sets {
                            option value=(id) selected[a.ds == id.to_string()] { (label) }
                        }
                    }
                    @if let Some(e) = at("ds") { p #a-ds-error .error role="alert" { (e) } }
                }
                div {
                    label for="a-type" { "Action type" }
                    select #a-type name="action_type" aria-invalid=[at("action_type").map(|_| "true")] aria-describedby=[at("action_type").map(|_| "a-type-error")] {
                        @for (v, label) in TYPES {
                            option value=(v) selected[action == v] { (label) }
                        }
                    }
                    @if let Some(e) = at("action_type") { p #a-type-error .error role="alert" { (e) } }
                }
                (field("a-weight", "weight", "Weight (0–1000, optional)", &a.weight, at("weight"), html! {}))
                div {
                    label for="a-confirm" { "Confirmation by the device" }
                    select #a-confirm name="confirmation" {
                        @for (v, label) in [("default", "as the tenant's consent flow says"), ("yes", "required"), ("no", "not required")] {
                            option value=(v) selected[a.confirmation == v] { (label) }
                        }
                    }
                }
            }
            button type="submit" { "Set auto-assignment" }
            @if f.auto_assign_ds_id.is_some() {
                " "
                button.danger type="submit" formaction={ "/ui/filters/" (f.id) "/auto-assign/clear" } formnovalidate { "Stop auto-assignment" }
            }
        }
    }
}

/// The form as the store's settings, or the field that does not parse and why.
fn settings(a: &AutoForm) -> Result<AutoAssign, FieldError> {
    let bad = |field, message: &str| FieldError {
        field: Some(field),
        message: message.to_owned(),
    };
    let ds_id = match a.ds.trim() {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| bad("ds", "Choose a distribution set."))?,
        ),
    };
    let action_type = match a.action_type.trim() {
        "" => None,
        t => Some(ActionType::parse(t).ok_or_else(|| {
            bad(
                "action_type",
                &format!("The action type '{t}' is not one of forced, soft and downloadonly."),
            )
        })?),
    };
    let weight = match a.weight.trim() {
        "" => None,
        w => Some(
            w.parse::<i32>()
                .map_err(|_| bad("weight", "weight must be between 0 and 1000."))?,
        ),
    };
    let confirmation_required = match a.confirmation.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    Ok(AutoAssign {
        ds_id,
        action_type,
        weight,
        confirmation_required,
        ..AutoAssign::default()
    })
}

/// Which field a refusal of the store is about.
fn field_of(message: &str) -> Option<&'static str> {
    if message.starts_with("weight") {
        Some("weight")
    } else if message.contains("action type") {
        Some("action_type")
    } else if message.contains("distribution set") || message.contains("DistributionSet") {
        Some("ds")
    } else {
        None
    }
}

async fn rejected(
    ctx: &Ctx,
    state: &AppState,
    id: i64,
    a: AutoForm,
    e: FieldError,
    status: StatusCode,
) -> UiResult {
    let ps = PageState {
        edit: None,
        auto: Some((a, e)),
    };
    render_page(ctx, state, id, ps, status).await
}

pub async fn set(
    ctx: Ctx,
    path: web::Path<i64>,
    form: web::Form<AutoForm>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    ctx.require(Permission::UpdateTarget)?;
    ctx.require(Permission::ReadDistributionSet)?;
    let (id, a) = (path.into_inner(), form.into_inner());
    let s = match settings(&a) {
        Ok(s) => s,
        Err(e) => return rejected(&ctx, &state, id, a, e, StatusCode::BAD_REQUEST).await,
    };
    let tenant = ctx.tenant();
    // The tenant's consent flow decides when the form leaves it open, as in the Management API.
    let default_confirmation = match s.confirmation_required {
        Some(c) => c,
        None => state.tenants.get(&state.db, &tenant).await?.confirmation_flow,
    };
    let (by, now) = (ctx.user.username.clone(), state.now());
    let done = state
        .db
        .write(move |c| {
            filters::set_auto_assign(c, &tenant, id, &s, default_confirmation, Audit { by: &by, now })
        })
        .await;
    match done {
        Ok((_, changes)) => {
            state.apply(changes);
            Ok(layout::see_other(
                &format!("/ui/filters/{id}"),
                Some("Auto-assignment set: matching devices get the set shortly."),
            ))
        }
        Err(
            e @ crate::store::Error::NotFound {
                entity: "TargetFilterQuery",
                ..
            },
        ) => Err(e.into()),
        Err(e) => {
            let ui = UiError::from(e);
            let err = FieldError {
                field: field_of(&ui.message),
                message: ui.message.clone(),
            };
            rejected(&ctx, &state, id, a, err, ui.status).await
        }
    }
}

pub async fn clear(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::UpdateTarget)?;
    let (tenant, id) = (ctx.tenant(), path.into_inner());
    let (by, now) = (ctx.user.username.clone(), state.now());
    state
        .db
        .write(move |c| filters::clear_auto_assign(c, &tenant, id, Audit { by: &by, now }))
        .await?;
    Ok(layout::see_other(
        &format!("/ui/filters/{id}"),
        Some("Auto-assignment stopped."),
    ))
}
