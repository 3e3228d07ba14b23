//! Software modules: the list with their types, one module with its artifacts and metadata, and
//! artifact upload (the Management API's upload handler, so the file streams to the store the same way).

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use maud::html;
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::layout::{self, size, when};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::schema::{artifacts, sm_metadata, sm_types, software_modules};

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

type SmRow = (i64, String, String, String, Option<String>, bool);

pub async fn list(ctx: Ctx, q: web::Query<Paging>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadSoftwareModule)?;
    let offset = q.offset.unwrap_or(0).max(0);
    let tenant = ctx.tenant();
    let (rows, total, counts, types) = state
        .db
        .run(move |c| {
            let mine = || {
                software_modules::table
                    .filter(software_modules::tenant.eq(&tenant))
                    .filter(software_modules::deleted.eq(false))
            };
            let total: i64 = mine().count().get_result(c)?;
            let rows: Vec<SmRow> = mine()
                .inner_join(sm_types::table)
                .order(software_modules::id.desc())
                .offset(offset)
                .limit(50)
                .select((
                    software_modules::id,
                    software_modules::name,
                    software_modules::version,
                    sm_types::name,
                    software_modules::vendor,
                    software_modules::locked,
                ))
                .load(c)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let counts: Vec<(i64, i64)> = artifacts::table
                .filter(artifacts::sm_id.eq_any(&ids))
                .group_by(artifacts::sm_id)
                .select((artifacts::sm_id, diesel::dsl::count_star()))
                .load(c)?;
            let types: Vec<(String, String, i32)> = sm_types::table
                .filter(sm_types::tenant.eq(&tenant).and(sm_types::deleted.eq(false)))
                .order(sm_types::name.asc())
                .select((sm_types::type_key, sm_types::name, sm_types::max_assignments))
                .load(c)?;
            Ok((rows, total, counts, types))
        })
        .await?;
    let body = html! {
        h1 { "Software modules" }
        div.table-wrap { table {
            thead { tr { th { "Name" } th { "Version" } th { "Type" } th.opt { "Vendor" } th { "Artifacts" } } }
            tbody { @for (id, name, version, ty, vendor, locked) in &rows {
                tr {
                    td { a href={ "/ui/software/" (id) } { (name) } @if *locked { " " span.badge { "locked" } } }
                    td { (version) } td { (ty) } td.opt { (vendor.as_deref().unwrap_or("")) }
                    td { (counts.iter().find(|c| c.0 == *id).map_or(0, |c| c.1)) }
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
                            select #sm-type name="type_key" { @for (key, name, _) in &types { option value=(key) { (name) } } }
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
                tbody { @for (key, name, max) in &types { tr { td { code { (key) } } td { (name) } td { (max) } } } }
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
    let request = crate::mgmt::SmRequest {
        name: f.name,
        version: f.version,
        type_key: f.type_key,
        vendor: opt(f.vendor),
        description: opt(f.description),
        encrypted: false,
    };
    crate::mgmt::validate_sm_request(&request)?;
    let (tenant, by, now) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let created = state
        .db
        .tx(move |c| crate::mgmt::create_modules(c, &tenant, &by, now, "", std::slice::from_ref(&request)))
        .await?;
    let id = created.first().map_or(0, |m| m.id);
    Ok(layout::see_other(
        &format!("/ui/software/{id}"),
        Some("Software module created."),
    ))
}

pub async fn module(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadSoftwareModule)?;
    let id = path.into_inner();
    let tenant = ctx.tenant();
    let (sm, arts, meta) = state
        .db
        .run(move |c| {
            let sm: (String, String, String, Option<String>, Option<String>, bool) = software_modules::table
                .inner_join(sm_types::table)
                .filter(
                    software_modules::id
                        .eq(id)
                        .and(software_modules::tenant.eq(&tenant)),
                )
                .filter(software_modules::deleted.eq(false))
                .select((
                    software_modules::name,
                    software_modules::version,
                    sm_types::name,
                    software_modules::vendor,
                    software_modules::description,
                    software_modules::locked,
                ))
                .first(c)
                .optional()?
                .ok_or_else(|| crate::error::ApiError::not_found("SoftwareModule", id))?;
            let arts: Vec<(String, i64, String, i64)> = artifacts::table
                .filter(artifacts::sm_id.eq(id))
                .order(artifacts::filename.asc())
                .select((
                    artifacts::filename,
                    artifacts::size,
                    artifacts::sha256,
                    artifacts::created_at,
                ))
                .load(c)?;
            let meta: Vec<(String, String, bool)> = sm_metadata::table
                .filter(sm_metadata::sm_id.eq(id))
                .order(sm_metadata::meta_key.asc())
                .select((
                    sm_metadata::meta_key,
                    sm_metadata::meta_value,
                    sm_metadata::target_visible,
                ))
                .load(c)?;
            Ok((sm, arts, meta))
        })
        .await?;
    let (name, version, ty, vendor, description, locked) = sm;
    let body = html! {
        h1 { "Software module " (name) " " (version) }
        section.card {
            p { "Type: " (ty) " · Vendor: " (vendor.as_deref().unwrap_or("-"))
                @if locked { " · " span.badge { "locked (assigned)" } } }
            @if let Some(d) = &description { p { (d) } }
        }
        section.card {
            h2 { "Artifacts" }
            @if arts.is_empty() { p.muted { "No artifacts yet." } }
            div.table-wrap { table {
                thead { tr { th { "File" } th { "Size" } th.opt { "SHA-256" } th.opt { "Uploaded" } } }
                tbody { @for (file, bytes, sha, at) in &arts {
                    tr { td { (file) } td { (size(*bytes)) } td.opt { code { (sha.get(..16).unwrap_or(sha)) "…" } } td.opt { (when(*at)) } }
                } }
            } }
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

/// The upload, streamed to the artifact store by the Management API's handler. A script asks for
/// JSON (`Accept: application/json`) and gets the API's answer; a plain form gets a page.
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
    let result = crate::mgmt::upload_artifact(req, ctx.user, path, form, state).await;
    match (result, wants_json) {
        (Ok(res), true) => Ok(res),
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
