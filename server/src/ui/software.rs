//! Software modules: the list with their types, one module with its artifacts (`artifacts.rs`) and
//! metadata, and artifact upload (taken as the Management API takes it, `crate::artifact_upload`,
//! so the file streams to the artifact store the same way).

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::layout;
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::software_modules as modules;
use crate::store::types::sm;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/software", web::get().to(list))
        .route("/software", web::post().to(create))
        .route("/software/{id}", web::get().to(module))
        .route("/software/{id}/artifacts", web::post().to(upload))
        .route("/software/{id}/metadata", web::post().to(add_metadata));
}

#[derive(Deserialize)]
pub struct Paging {
    offset: Option<i64>,
}

pub async fn list(ctx: Ctx, q: web::Query<Paging>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadSoftwareModule)?;
    let offset = q.offset.unwrap_or(0).max(0);
    let tenant = ctx.tenant();
    let (page, types) = state
        .db
        .read(move |c| {
            let page = modules::summaries(c, &tenant, offset, 50)?;
            Ok((page, sm::live_by_name(c, &tenant)?))
        })
        .await?;
    let total = page.total;
    let body = html! {
        h1 { "Software modules" }
        div.table-wrap { table {
            thead { tr { th { "Name" } th { "Version" } th { "Type" } th.opt { "Vendor" } th { "Artifacts" } } }
            tbody { @for m in &page.rows {
                tr {
                    td { a href={ "/ui/software/" (m.id) } { (m.name) } @if m.locked { " " span.badge { "locked" } } }
                    td { (m.version) } td { (m.type_name) } td.opt { (m.vendor.as_deref().unwrap_or("")) }
                    td { (m.artifacts) }
                }
            } }
        } }
        (layout::pager("", offset, 50, total))
        @if ctx.can(Permission::CreateSoftwareModule) {
            section.card {
                h2 { "New software module" }
                form method="post" action="/ui/software" {
                    div.row {
                        div { label for="sm-name" { "Name" } input #sm-name name="name" required maxlength="128"; }
                        div { label for="sm-version" { "Version" } input #sm-version name="version" required maxlength="64"; }
                        div {
                            label for="sm-type" { "Type" }
                            select #sm-type name="type_key" { @for t in &types { option value=(t.type_key) { (t.name) } } }
                        }
                        div { label for="sm-vendor" { "Vendor" } input #sm-vendor name="vendor" maxlength="256"; }
                    }
                    label for="sm-desc" { "Description" }
                    input #sm-desc name="description" maxlength="512";
                    button type="submit" { "Create module" }
                }
            }
        }
        section.card {
            h2 { "Software module types" }
            div.table-wrap { table {
                thead { tr { th { "Key" } th { "Name" } th { "Modules per set" } } }
                tbody { @for t in &types { tr { td { code { (t.type_key) } } td { (t.name) } td { (t.max_assignments) } } } }
            } }
        }
    };
    Ok(layout::ok(&ctx, "Software", &body))
}

#[derive(Deserialize)]
pub struct NewModule {
    name: String,
    version: String,
    type_key: String,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    description: String,
}

pub async fn create(ctx: Ctx, form: web::Form<NewModule>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::CreateSoftwareModule)?;
    let f = form.into_inner();
    let opt = |s: String| (!s.trim().is_empty()).then_some(s);
    let module = modules::NewModule {
        name: f.name,
        version: f.version,
        type_key: f.type_key,
        vendor: opt(f.vendor),
        description: opt(f.description),
        encrypted: false,
    };
    let (tenant, by, now) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let created = state
        .db
        .write(move |c| modules::create_modules(c, &tenant, std::slice::from_ref(&module), &by, now))
        .await?;
    let id = created.first().map_or(0, |m| m.module.id);
    Ok(layout::see_other(
        &format!("/ui/software/{id}"),
        Some("Software module created."),
    ))
}

pub async fn module(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadSoftwareModule)?;
    let id = path.into_inner();
    let tenant = ctx.tenant();
    let page = state
        .db
        .read(move |c| modules::module_page(c, &tenant, id))
        .await?;
    let (sm, ty, arts, meta) = (page.module, page.type_name, page.artifacts, page.metadata);
    let (name, version, vendor, description, locked) =
        (sm.name, sm.version, sm.vendor, sm.description, sm.locked);
    let body = html! {
        h1 { "Software module " (name) " " (version) }
        section.card {
            p { "Type: " (ty) " · Vendor: " (vendor.as_deref().unwrap_or("-"))
                @if locked { " · " span.badge { "locked (assigned)" } } }
            @if let Some(d) = &description { p { (d) } }
        }
        section.card {
            h2 { "Artifacts" }
            (super::artifacts::listing(&ctx, id, locked, &arts))
            @if ctx.can(Permission::CreateSoftwareModule) && !locked {
                form method="post" action={ "/ui/software/" (id) "/artifacts" } enctype="multipart/form-data" data-upload {
                    div.dropzone {
                        label for="file" { "Drop a file here, or choose one" }
                        input #file type="file" name="file" required;
                    }
                    progress max="1" value="0" hidden aria-label="Upload progress" {}
                    p data-upload-status role="status" aria-live="polite" {}
                    button type="submit" { "Upload" }
                }
            }
        }
        section.card {
            h2 { "Metadata" }
            @if meta.is_empty() { p.muted { "No metadata." } }
            div.table-wrap { table { tbody { @for (k, v, visible) in &meta {
                tr { th scope="row" { (k) } td { (v) } td { @if *visible { "visible to devices" } } }
            } } } }
            @if ctx.can(Permission::UpdateSoftwareModule) {
                form method="post" action={ "/ui/software/" (id) "/metadata" } {
                    div.row {
                        div { label for="meta-key" { "Key" } input #meta-key name="key" required maxlength="128"; }
                        div { label for="meta-value" { "Value" } input #meta-value name="value" maxlength="4000"; }
                    }
                    div {
                        input #meta-visible type="checkbox" name="target_visible" value="true";
                        " " label.check for="meta-visible" { "Visible to devices (sent in the deployment)" }
                    }
                    button type="submit" { "Add metadata" }
                }
            }
        }
    };
    Ok(layout::ok(&ctx, &format!("Software {name}"), &body))
}

/// The upload, streamed to the artifact store as the Management API takes it. A script asks for
/// JSON (`Accept: application/json`) and gets the artifact's id and name, or the API's error; a
/// plain form gets a page.
pub async fn upload(
    req: HttpRequest,
    ctx: Ctx,
    path: web::Path<i64>,
    form: Multipart,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    ctx.require(Permission::CreateSoftwareModule)?;
    let id = *path;
    let wants_json = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let (tenant, by) = (ctx.tenant(), ctx.user.username.clone());
    let result = crate::artifact_upload::receive(&state, &tenant, &by, id, form).await;
    match (result, wants_json) {
        (Ok(a), true) => Ok(HttpResponse::Created().json(serde_json::json!({
            "id": a.id,
            "providedFilename": a.filename,
            "size": a.size,
        }))),
        (Ok(_), false) => Ok(layout::see_other(
            &format!("/ui/software/{id}"),
            Some("Artifact uploaded."),
        )),
        (Err(e), true) => Ok(actix_web::ResponseError::error_response(&e)),
        (Err(e), false) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct MetaForm {
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    target_visible: Option<String>,
}

pub async fn add_metadata(
    ctx: Ctx,
    path: web::Path<i64>,
    form: web::Form<MetaForm>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::UpdateSoftwareModule)?;
    let id = path.into_inner();
    let f = form.into_inner();
    if f.key.trim().is_empty() {
        return Err(UiError::bad_request("The key must not be empty."));
    }
    let entry = crate::store::metadata::Entry {
        key: f.key,
        value: f.value,
        target_visible: f.target_visible.as_deref() == Some("true"),
    };
    let (tenant, owner) = (ctx.tenant(), crate::store::metadata::Owner::Sm(id));
    state
        .db
        .write(move |c| crate::store::metadata::create(c, &tenant, &owner, std::slice::from_ref(&entry)))
        .await?;
    Ok(layout::see_other(
        &format!("/ui/software/{id}"),
        Some("Metadata added."),
    ))
}

/// The list link of a module, for other pages.
pub fn link(id: i64, label: &str) -> maud::Markup {
    html! { a href={ "/ui/software/" (id) } { (label) } }
}
