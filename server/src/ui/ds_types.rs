//! Distribution set types: their section of the types page, create, edit (texts and which software
//! module types a set of the type must or may hold, in one transaction) and delete after a
//! confirmation page. Every write is the Management API's store call (`store::types::ds`) under
//! the same permissions; its refusals (a type already used by sets cannot change its modules) are
//! shown on the form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use maud::{Markup, html};

use super::error::{UiError, UiResult};
use super::field_errors::{self as fe, Problem};
use super::layout;
use super::session::Ctx;
use super::swatch;
use super::target_types::SHOWN;
use super::type_form::{self, FIELDS, TypeForm};
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::models::{DsType, SmType};
use crate::store::types::{ds, sm};
use crate::store::{AnyConnection, ListQuery, Page, query};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/types/sets", web::post().to(create))
        .route("/types/sets/{id}", web::get().to(edit_page))
        .route("/types/sets/{id}", web::post().to(update))
        .route("/types/sets/{id}/delete", web::get().to(confirm_delete))
        .route("/types/sets/{id}/delete", web::post().to(delete));
}

/// A set type with its mandatory and optional module types.
pub struct Row {
    pub ty: DsType,
    pub mandatory: Vec<SmType>,
    pub optional: Vec<SmType>,
}

/// The set types for the types page (not deleted, by name), how many there are, and the module
/// types a set type may list.
pub type Listing = (Vec<Row>, i64, Vec<SmType>);

pub fn listing(c: &mut AnyConnection, tenant: &str) -> crate::store::Result<Listing> {
    let list = ListQuery {
        spec: query::list_spec(&query::DS_TYPES, None, Some("name:ASC"))?,
        page: Page {
            offset: 0,
            limit: SHOWN,
        },
    };
    let page = ds::list(c, tenant, &[false], &list)?;
    let rows = page
        .rows
        .into_iter()
        .map(|ty| row(c, tenant, ty))
        .collect::<crate::store::Result<_>>()?;
    Ok((rows, page.total, sm::live_by_name(c, tenant)?))
}

fn row(c: &mut AnyConnection, tenant: &str, ty: DsType) -> crate::store::Result<Row> {
    Ok(Row {
        mandatory: ds::modules(c, tenant, ty.id, true)?,
        optional: ds::modules(c, tenant, ty.id, false)?,
        ty,
    })
}

fn names(types: &[SmType]) -> Markup {
    html! {
        @if types.is_empty() { span.muted { "none" } }
        @for (i, t) in types.iter().enumerate() {
            @if i > 0 { ", " }
            (swatch::named(&t.name, t.colour.as_deref()))
        }
    }
}

/// What the form says about module type `sm`: "mandatory", "optional" or "" (not part of it).
fn choice(f: &TypeForm, sm: i64) -> &str {
    f.value(&format!("sm-{sm}"))
}

/// One select per module type: not part of the type, mandatory or optional.
fn module_choices(prefix: &str, modules: &[SmType], f: &TypeForm, locked: bool) -> Markup {
    html! {
        fieldset {
            legend { "Software module types" }
            @if modules.is_empty() { p.muted { "There is no software module type yet." } }
            @if locked { p.muted { "Distribution sets have this type, so its module types can no longer change." } }
            div.row {
                @for m in modules {
                    @let v = choice(f, m.id);
                    div {
                        label for={ (prefix) "-sm-" (m.id) } { (swatch::named(&m.name, m.colour.as_deref())) " " code { (m.type_key) } }
                        select id={ (prefix) "-sm-" (m.id) } name={ "sm-" (m.id) } disabled[locked] {
                            option value="" selected[v.is_empty()] { "not part of it" }
                            option value="mandatory" selected[v == "mandatory"] { "mandatory" }
                            option value="optional" selected[v == "optional"] { "optional" }
                        }
                    }
                }
            }
            p.muted { "A set of this type is complete when it holds a module of each mandatory type; it may also hold the optional ones." }
        }
    }
}

/// The set types' section of the types page, with the create form (`form`, `p`: as refused).
pub fn section(ctx: &Ctx, l: &Listing, form: &TypeForm, p: Option<&Problem>) -> Markup {
    let (rows, total, modules) = l;
    html! {
        section.card #set-types aria-labelledby="set-types-h" {
            h2 #set-types-h { "Distribution set types" }
            @if rows.is_empty() { p.muted { "No distribution set types yet." } } @else {
                div.table-wrap { table {
                    thead { tr { th { "Type" } th { "Key" } th { "Mandatory modules" } th { "Optional modules" } th { "Description" } th { span.sr { "Actions" } } } }
                    tbody { @for r in rows {
                        tr {
                            td { (swatch::named(&r.ty.name, r.ty.colour.as_deref())) }
                            td { code { (r.ty.type_key) } }
                            td { (names(&r.mandatory)) }
                            td { (names(&r.optional)) }
                            td { (r.ty.description.as_deref().unwrap_or("")) }
                            td {
                                @if ctx.can(Permission::UpdateDistributionSetType) {
                                    a href={ "/ui/types/sets/" (r.ty.id) } aria-label={ "Edit distribution set type " (r.ty.name) } { "Edit" } " "
                                }
                                @if ctx.can(Permission::DeleteDistributionSetType) {
                                    a href={ "/ui/types/sets/" (r.ty.id) "/delete" } aria-label={ "Delete distribution set type " (r.ty.name) } { "Delete" }
                                }
                            }
                        }
                    } }
                } }
                @if *total > SHOWN { p.muted { "The first " (SHOWN) " of " (total) " by name." } }
            }
            @if ctx.can(Permission::CreateDistributionSetType) {
                h3 { "New distribution set type" }
                form method="post" action="/ui/types/sets" {
                    (fe::general(p))
                    (type_form::texts("dst-new", form, true, true, p))
                    (module_choices("dst-new", modules, form, false))
                    button type="submit" { "Create distribution set type" }
                }
            }
        }
    }
}

/// The module types the form marks mandatory and optional.
fn chosen(f: &TypeForm, modules: &[SmType]) -> (Vec<i64>, Vec<i64>) {
    let pick = |want: &str| {
        modules
            .iter()
            .filter(|m| choice(f, m.id) == want)
            .map(|m| m.id)
            .collect()
    };
    (pick("mandatory"), pick("optional"))
}

pub async fn create(ctx: Ctx, req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::CreateDistributionSetType)?;
    let f = TypeForm::read(&req, &body)?;
    let fields = f.new_type();
    let form = f.clone();
    let (tenant, by, now) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let written = state
        .db
        .write(move |c| {
            let (mandatory, optional) = chosen(&form, &sm::live_by_name(c, &tenant)?);
            let new = ds::NewDsType {
                fields: fields.clone(),
                mandatory,
                optional,
            };
            ds::create(c, &tenant, std::slice::from_ref(&new), &by, now)
        })
        .await;
    match written {
        Ok(t) => Ok(layout::see_other(
            "/ui/types",
            Some(&format!(
                "Created the distribution set type {}.",
                t.first().map_or("", |t| t.name.as_str())
            )),
        )),
        Err(e) => {
            let p = Problem::of(e.into(), &FIELDS);
            super::types::render(&ctx, &state, Some(super::types::Refused::Set(&f, &p))).await
        }
    }
}

/// The edit page's data: the type, its modules, the module types, and whether sets have it.
struct Editing {
    row: Row,
    modules: Vec<SmType>,
    locked: bool,
}

async fn editing(ctx: &Ctx, state: &AppState, id: i64) -> Result<Editing, UiError> {
    let tenant = ctx.tenant();
    Ok(state
        .db
        .read(move |c| {
            let ty = ds::find(c, &tenant, id)?;
            Ok(Editing {
                row: row(c, &tenant, ty)?,
                modules: sm::live_by_name(c, &tenant)?,
                locked: ds::in_use(c, id)?,
            })
        })
        .await?)
}

fn edit_form(ctx: &Ctx, id: i64, f: &TypeForm, e: &Editing, p: Option<&Problem>) -> Markup {
    let body = html! {
        h1 { "Edit distribution set type " (swatch::named(&f.name, Some(&f.colour_was))) }
        form.card method="post" action={ "/ui/types/sets/" (id) } {
            (fe::general(p))
            (type_form::texts("dst-edit", f, false, true, p))
            (module_choices("dst-edit", &e.modules, f, e.locked))
            button type="submit" { "Save" }
        }
        p { a href="/ui/types" { "Back to the types" } }
    };
    layout::page(Some(ctx), "Edit distribution set type", &body)
}

fn require_update(ctx: &Ctx) -> Result<(), UiError> {
    ctx.require(Permission::UpdateDistributionSetType)?;
    ctx.require(Permission::ReadSoftwareModuleType)
}

pub async fn edit_page(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    require_update(&ctx)?;
    let id = path.into_inner();
    let e = editing(&ctx, &state, id).await?;
    let t = &e.row.ty;
    let mut f = TypeForm::of(
        &t.type_key,
        &t.name,
        t.description.as_deref(),
        t.colour.as_deref(),
    );
    for (list, v) in [(&e.row.mandatory, "mandatory"), (&e.row.optional, "optional")] {
        f.pairs
            .extend(list.iter().map(|m| (format!("sm-{}", m.id), v.to_owned())));
    }
    Ok(layout::html_response(
        StatusCode::OK,
        &edit_form(&ctx, id, &f, &e, None),
    ))
}

/// Saves the texts and the module types in one transaction; module types change only where the
/// form differs from the type (so a type that sets use can still be renamed).
pub async fn update(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> UiResult {
    require_update(&ctx)?;
    let id = path.into_inner();
    let mut f = TypeForm::read(&req, &body)?;
    let change = f.change();
    let form = f.clone();
    let (tenant, by, now) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let written = state
        .db
        .write(move |c| {
            let t = ds::update(c, &tenant, id, &change, &by, now)?;
            let now_row = row(c, &tenant, t.clone())?;
            let modules = sm::live_by_name(c, &tenant)?;
            // A locked form sends no selects: then the modules stay as they are.
            if form.pairs.iter().any(|(k, _)| k.starts_with("sm-")) {
                for m in &modules {
                    let had = if now_row.mandatory.iter().any(|x| x.id == m.id) {
                        Some(true)
                    } else if now_row.optional.iter().any(|x| x.id == m.id) {
                        Some(false)
                    } else {
                        None
                    };
                    let want = match choice(&form, m.id) {
                        "mandatory" => Some(true),
                        "optional" => Some(false),
                        _ => None,
                    };
                    if had != want {
                        ds::set_module(c, &tenant, id, m.id, want, &by, now)?;
                    }
                }
            }
            Ok(t)
        })
        .await;
    match written {
        Ok(t) => Ok(layout::see_other(
            "/ui/types",
            Some(&format!("Saved the distribution set type {}.", t.name)),
        )),
        Err(err) => {
            let p = Problem::of(err.into(), &FIELDS);
            let e = editing(&ctx, &state, id).await?;
            f.key.clone_from(&e.row.ty.type_key);
            Ok(layout::html_response(
                p.status,
                &edit_form(&ctx, id, &f, &e, Some(&p)),
            ))
        }
    }
}

pub async fn confirm_delete(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::DeleteDistributionSetType)?;
    let id = path.into_inner();
    let tenant = ctx.tenant();
    let (ty, used) = state
        .db
        .read(move |c| Ok((ds::find(c, &tenant, id)?, ds::in_use(c, id)?)))
        .await?;
    let body = html! {
        h1 { "Delete distribution set type " (swatch::named(&ty.name, ty.colour.as_deref())) "?" }
        section.card {
            @if used {
                p { "Distribution sets have this type, so it is only marked deleted: hidden here and from new sets, kept for theirs." }
            } @else {
                p { "No distribution set has this type; it is deleted for good." }
            }
            p { "Target types that accept it stop accepting it." }
            form method="post" action={ "/ui/types/sets/" (id) "/delete" } {
                button.danger type="submit" { "Delete the distribution set type " (ty.name) }
            }
            p { a href="/ui/types" { "Keep it and go back" } }
        }
    };
    Ok(layout::ok(&ctx, "Delete distribution set type", &body))
}

pub async fn delete(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::DeleteDistributionSetType)?;
    let id = path.into_inner();
    let (tenant, by, now) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let t = state
        .db
        .write(move |c| {
            let t = ds::find(c, &tenant, id)?;
            ds::delete(c, &tenant, id, &by, now)?;
            Ok(t)
        })
        .await?;
    Ok(layout::see_other(
        "/ui/types",
        Some(&format!("Deleted the distribution set type {}.", t.name)),
    ))
}
