//! Target types: their section of the types page, create, edit (texts and the distribution set
//! types they accept, as checkboxes, in one transaction), delete after a confirmation page, and
//! giving a device its type from the device's page. Every write is the Management API's store call
//! (`store::types::target`) under the same permissions.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::field_errors::{self as fe, Problem};
use super::layout;
use super::session::Ctx;
use super::swatch;
use super::type_form::{self, FIELDS, TypeForm};
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::models::{DsType, TargetType};
use crate::store::types::{ds, target};
use crate::store::{AnyConnection, ListQuery, Page, query};

/// More types than this are listed in the Management API only.
pub const SHOWN: i64 = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/types/targets", web::post().to(create))
        .route("/types/targets/{id}", web::get().to(edit_page))
        .route("/types/targets/{id}", web::post().to(update))
        .route("/types/targets/{id}/delete", web::get().to(confirm_delete))
        .route("/types/targets/{id}/delete", web::post().to(delete))
        .route("/devices/{cid}/type", web::post().to(set_device_type));
}

fn by_name(entity: &query::Entity) -> crate::store::Result<ListQuery> {
    Ok(ListQuery {
        spec: query::list_spec(entity, None, Some("name:ASC"))?,
        page: Page {
            offset: 0,
            limit: SHOWN,
        },
    })
}

/// The tenant's target types by name, each with the set types it accepts, and how many there are.
pub type Listing = (Vec<(TargetType, Vec<DsType>)>, i64);

/// The target types for the types page.
pub fn listing(c: &mut AnyConnection, tenant: &str) -> crate::store::Result<Listing> {
    let page = target::list(c, tenant, &by_name(&query::TARGET_TYPES)?)?;
    let rows = page
        .rows
        .into_iter()
        .map(|t| {
            let takes = target::compatible(c, tenant, t.id)?;
            Ok((t, takes))
        })
        .collect::<crate::store::Result<_>>()?;
    Ok((rows, page.total))
}

/// The distribution set types a target type may accept (those not deleted), by name.
pub fn set_types(c: &mut AnyConnection, tenant: &str) -> crate::store::Result<Vec<DsType>> {
    Ok(ds::list(c, tenant, &[false], &by_name(&query::DS_TYPES)?)?.rows)
}

fn names(types: &[DsType]) -> Markup {
    html! {
        @if types.is_empty() { span.muted { "none" } }
        @for (i, t) in types.iter().enumerate() {
            @if i > 0 { ", " }
            (swatch::named(&t.name, t.colour.as_deref()))
        }
    }
}

/// The checkboxes of the set types `all`, those in `checked` ticked.
fn takes_boxes(prefix: &str, all: &[DsType], checked: &[i64]) -> Markup {
    html! {
        fieldset {
            legend { "Takes distribution sets of type" }
            @if all.is_empty() { p.muted { "There is no distribution set type yet." } }
            @for t in all {
                div {
                    input type="checkbox" name="ds_type" value=(t.id) id={ (prefix) "-ds-" (t.id) } checked[checked.contains(&t.id)];
                    label.check for={ (prefix) "-ds-" (t.id) } { " " (swatch::named(&t.name, t.colour.as_deref())) " " code { (t.type_key) } }
                }
            }
            p.muted { "A device of this type can take only sets of the types ticked here (directly and in rollouts); a device without a type takes any set." }
        }
    }
}

/// The target types' section of the types page, with the create form (`form`, `p`: as refused).
pub fn section(ctx: &Ctx, l: &Listing, all: &[DsType], form: &TypeForm, p: Option<&Problem>) -> Markup {
    let (rows, total) = l;
    let checked = form.ids("ds_type").unwrap_or_default();
    html! {
        section.card #target-types aria-labelledby="target-types-h" {
            h2 #target-types-h { "Target types" }
            @if rows.is_empty() { p.muted { "No target types yet." } } @else {
                div.table-wrap { table {
                    thead { tr { th { "Type" } th { "Key" } th { "Takes sets of type" } th { "Description" } th { span.sr { "Actions" } } } }
                    tbody { @for (t, takes) in rows {
                        tr {
                            td { (swatch::named(&t.name, t.colour.as_deref())) }
                            td { code { (t.type_key) } }
                            td { (names(takes)) }
                            td { (t.description.as_deref().unwrap_or("")) }
                            td {
                                @if ctx.can(Permission::UpdateTargetType) {
                                    a href={ "/ui/types/targets/" (t.id) } aria-label={ "Edit target type " (t.name) } { "Edit" } " "
                                }
                                @if ctx.can(Permission::DeleteTargetType) {
                                    a href={ "/ui/types/targets/" (t.id) "/delete" } aria-label={ "Delete target type " (t.name) } { "Delete" }
                                }
                            }
                        }
                    } }
                } }
                @if *total > SHOWN { p.muted { "The first " (SHOWN) " of " (total) " by name." } }
            }
            @if ctx.can(Permission::CreateTargetType) {
                h3 { "New target type" }
                form method="post" action="/ui/types/targets" {
                    (fe::general(p))
                    (type_form::texts("tt-new", form, true, false, p))
                    (takes_boxes("tt-new", all, &checked))
                    button type="submit" { "Create target type" }
                }
            }
        }
    }
}

pub async fn create(ctx: Ctx, req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::CreateTargetType)?;
    let f = TypeForm::read(&req, &body)?;
    let new = target::NewTargetType {
        fields: f.new_type(),
        compatible: f.ids("ds_type")?,
    };
    let (tenant, by, now) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let written = state
        .db
        .write(move |c| target::create(c, &tenant, std::slice::from_ref(&new), &by, now))
        .await;
    match written {
        Ok(t) => Ok(layout::see_other(
            "/ui/types",
            Some(&format!(
                "Created the target type {}.",
                t.first().map_or("", |t| t.name.as_str())
            )),
        )),
        Err(e) => {
            let p = Problem::of(e.into(), &FIELDS);
            super::types::render(&ctx, &state, Some(super::types::Refused::Target(&f, &p))).await
        }
    }
}

fn edit_form(
    ctx: &Ctx,
    id: i64,
    f: &TypeForm,
    all: &[DsType],
    checked: &[i64],
    p: Option<&Problem>,
) -> Markup {
    let body = html! {
        h1 { "Edit target type " (swatch::named(&f.name, Some(&f.colour_was))) }
        form.card method="post" action={ "/ui/types/targets/" (id) } {
            (fe::general(p))
            (type_form::texts("tt-edit", f, false, false, p))
            (takes_boxes("tt-edit", all, checked))
            button type="submit" { "Save" }
        }
        p { a href="/ui/types" { "Back to the types" } }
    };
    layout::page(Some(ctx), "Edit target type", &body)
}

fn require_update(ctx: &Ctx) -> Result<(), UiError> {
    ctx.require(Permission::UpdateTargetType)?;
    ctx.require(Permission::ReadDistributionSetType)
}

pub async fn edit_page(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    require_update(&ctx)?;
    let (tenant, id) = (ctx.tenant(), path.into_inner());
    let (t, takes, all) = state
        .db
        .read(move |c| {
            Ok((
                target::find(c, &tenant, id)?,
                target::compatible(c, &tenant, id)?,
                set_types(c, &tenant)?,
            ))
        })
        .await?;
    let f = TypeForm::of(
        &t.type_key,
        &t.name,
        t.description.as_deref(),
        t.colour.as_deref(),
    );
    let checked: Vec<i64> = takes.iter().map(|d| d.id).collect();
    Ok(layout::html_response(
        StatusCode::OK,
        &edit_form(&ctx, id, &f, &all, &checked, None),
    ))
}

/// Saves the texts and the accepted set types in one transaction: all of it or nothing.
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
    let wanted = f.ids("ds_type")?;
    let change = f.change();
    let (tenant, by, now) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let w = wanted.clone();
    let written = state
        .db
        .write(move |c| {
            let t = target::update(c, &tenant, id, &change, &by, now)?;
            let had: Vec<i64> = target::compatible(c, &tenant, id)?.iter().map(|d| d.id).collect();
            let add: Vec<i64> = w.iter().copied().filter(|d| !had.contains(d)).collect();
            if !add.is_empty() {
                target::add_compatible(c, &tenant, id, &add, &by, now)?;
            }
            for gone in had.iter().filter(|d| !w.contains(d)) {
                target::remove_compatible(c, &tenant, id, *gone, &by, now)?;
            }
            Ok(t)
        })
        .await;
    match written {
        Ok(t) => Ok(layout::see_other(
            "/ui/types",
            Some(&format!("Saved the target type {}.", t.name)),
        )),
        Err(e) => {
            let p = Problem::of(e.into(), &FIELDS);
            let tenant = ctx.tenant();
            let (t, all) = state
                .db
                .read(move |c| Ok((target::find(c, &tenant, id)?, set_types(c, &tenant)?)))
                .await?;
            f.key = t.type_key;
            Ok(layout::html_response(
                p.status,
                &edit_form(&ctx, id, &f, &all, &wanted, Some(&p)),
            ))
        }
    }
}

pub async fn confirm_delete(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::DeleteTargetType)?;
    let (tenant, id) = (ctx.tenant(), path.into_inner());
    let t = state.db.read(move |c| target::find(c, &tenant, id)).await?;
    let devices = format!("/ui/devices?type={id}");
    let body = html! {
        h1 { "Delete target type " (swatch::named(&t.name, t.colour.as_deref())) "?" }
        section.card {
            p { "A target type is deleted for good, and only while no device has it: give "
                a href=(devices) { "the devices of this type" } " another type first." }
            form method="post" action={ "/ui/types/targets/" (id) "/delete" } {
                button.danger type="submit" { "Delete the target type " (t.name) }
            }
            p { a href="/ui/types" { "Keep it and go back" } }
        }
    };
    Ok(layout::ok(&ctx, "Delete target type", &body))
}

pub async fn delete(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::DeleteTargetType)?;
    let (tenant, id) = (ctx.tenant(), path.into_inner());
    let t = state
        .db
        .write(move |c| {
            let t = target::find(c, &tenant, id)?;
            target::delete(c, &tenant, id)?;
            Ok(t)
        })
        .await?;
    Ok(layout::see_other(
        "/ui/types",
        Some(&format!("Deleted the target type {}.", t.name)),
    ))
}

/// What the device page's type panel shows: the tenant's target types and what the device's own
/// type accepts.
pub struct DeviceType {
    pub current: Option<i64>,
    pub types: Vec<TargetType>,
    pub takes: Vec<DsType>,
}

/// The panel's data for a device whose type is `current`.
pub fn device_type(
    c: &mut AnyConnection,
    tenant: &str,
    current: Option<i64>,
) -> crate::store::Result<DeviceType> {
    let types = target::list(c, tenant, &by_name(&query::TARGET_TYPES)?)?.rows;
    let takes = match current {
        Some(t) => target::compatible(c, tenant, t)?,
        None => Vec::new(),
    };
    Ok(DeviceType {
        current,
        types,
        takes,
    })
}

/// What the device page adds for tags and types: the colours of the tenant's device tags, and
/// (`types`: the user may read target and set types) the type panel's data.
pub fn device_extras(
    c: &mut AnyConnection,
    tenant: &str,
    current: Option<i64>,
    types: bool,
) -> crate::store::Result<(std::collections::HashMap<String, String>, Option<DeviceType>)> {
    let colours = crate::store::tags::colours(c, crate::store::tags::Kind::Target, tenant)?;
    let ty = types.then(|| device_type(c, tenant, current)).transpose()?;
    Ok((colours, ty))
}

/// The device page's type panel: the type with its colour and what it accepts, and the form to
/// change it.
pub fn device_section(ctx: &Ctx, cid: &str, d: &DeviceType) -> Markup {
    let current = d.current.and_then(|id| d.types.iter().find(|t| t.id == id));
    html! {
        section.card #device-type aria-labelledby="device-type-h" {
            h2 #device-type-h { "Target type" }
            @match current {
                Some(t) => p { (swatch::named(&t.name, t.colour.as_deref())) " takes distribution sets of type " (names(&d.takes)) "." },
                None => p.muted { "No type: the device takes any distribution set." },
            }
            @if ctx.can(Permission::UpdateTarget) {
                form method="post" action={ "/ui/devices/" (layout::encode(cid)) "/type" } {
                    div.row {
                        div {
                            label for="device-type-select" { "Type" }
                            select #device-type-select name="type" {
                                option value="" selected[d.current.is_none()] { "no type" }
                                @for t in &d.types { option value=(t.id) selected[d.current == Some(t.id)] { (t.name) } }
                            }
                        }
                    }
                    button type="submit" { "Set type" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct DeviceTypeForm {
    #[serde(default, rename = "type")]
    ty: String,
}

/// Gives the device the chosen type (or none), as `POST/DELETE /rest/v1/targets/{id}/targettype` does.
pub async fn set_device_type(
    ctx: Ctx,
    path: web::Path<String>,
    form: web::Form<DeviceTypeForm>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::UpdateTarget)?;
    let cid = path.into_inner();
    let ty = match form.ty.trim() {
        "" => None,
        t => Some(
            t.parse::<i64>()
                .map_err(|_| UiError::bad_request("Choose a target type."))?,
        ),
    };
    let (tenant, by, now, c2) = (ctx.tenant(), ctx.user.username.clone(), state.now(), cid.clone());
    let changes = state
        .db
        .write(move |c| target::set_target_type(c, &tenant, &c2, ty, &by, now))
        .await?;
    state.apply(changes);
    Ok(layout::see_other(
        &format!("/ui/devices/{}", layout::encode(&cid)),
        Some(if ty.is_some() {
            "Type set."
        } else {
            "Type removed."
        }),
    ))
}
