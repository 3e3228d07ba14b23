//! The types page: target types (`target_types.rs`) and distribution set types (`ds_types.rs`),
//! each section shown to users who may read that kind, with its create form.

use actix_web::http::StatusCode;
use actix_web::web;
use maud::html;

use super::error::{UiError, UiResult};
use super::field_errors::Problem;
use super::layout;
use super::session::Ctx;
use super::type_form::TypeForm;
use super::{ds_types, target_types};
use crate::auth::permissions::Permission;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/types", web::get().to(page))
        .configure(target_types::configure)
        .configure(ds_types::configure);
}

/// A create form that came back refused, with what was typed.
pub enum Refused<'a> {
    Target(&'a TypeForm, &'a Problem),
    Set(&'a TypeForm, &'a Problem),
}

/// The types page, with a refused create form if there is one.
pub async fn render(ctx: &Ctx, state: &AppState, refused: Option<Refused<'_>>) -> UiResult {
    let targets = ctx.can(Permission::ReadTargetType);
    let sets = ctx.can(Permission::ReadDistributionSetType);
    if !targets && !sets {
        return Err(UiError::forbidden(
            "You lack the permission READ_TARGET_TYPE or READ_DISTRIBUTION_SET_TYPE needed for this.",
        ));
    }
    let tenant = ctx.tenant();
    let (tt, all_sets, dst) = state
        .db
        .read(move |c| {
            let tt = targets.then(|| target_types::listing(c, &tenant)).transpose()?;
            let all = if targets && sets {
                target_types::set_types(c, &tenant)?
            } else {
                Vec::new()
            };
            let dst = sets.then(|| ds_types::listing(c, &tenant)).transpose()?;
            Ok((tt, all, dst))
        })
        .await?;
    let blank = TypeForm::blank();
    let (t_form, t_problem, s_form, s_problem) = match &refused {
        Some(Refused::Target(f, p)) => (*f, Some(*p), &blank, None),
        Some(Refused::Set(f, p)) => (&blank, None, *f, Some(*p)),
        None => (&blank, None, &blank, None),
    };
    let body = html! {
        h1 { "Types" }
        p.muted {
            "A device's target type says which distribution set types it can take; a set's type says which software modules it must or may hold."
        }
        @if let Some(tt) = &tt { (target_types::section(ctx, tt, &all_sets, t_form, t_problem)) }
        @if let Some(dst) = &dst { (ds_types::section(ctx, dst, s_form, s_problem)) }
    };
    let status = match &refused {
        Some(Refused::Target(_, p) | Refused::Set(_, p)) => p.status,
        None => StatusCode::OK,
    };
    Ok(layout::html_response(
        status,
        &layout::page(Some(ctx), "Types", &body),
    ))
}

pub async fn page(ctx: Ctx, state: web::Data<AppState>) -> UiResult {
    render(&ctx, &state, None).await
}
