//! A software module's metadata in the Management API (with `targetVisible`, which devices see in
//! their deployment).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::software_modules::SM_ID;
use super::{PagedList, Paging, body, body_list, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::metadata::{self, Entry, Owner};

super::routes::api! {
    paths: [list_metadata, create_metadata, get_metadata, update_metadata, delete_metadata],
    schemas: [MetadataRequest, MetadataUpdate, MgmtSoftwareModuleMetadata],
}

/// One metadata entry to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct MetadataRequest {
    #[schema(example = "hw.revision")]
    key: String,
    #[schema(example = "2")]
    value: String,
    #[serde(default)]
    #[schema(example = true)]
    target_visible: bool,
}

/// Creates metadata entries of a module.
#[utoipa::path(
    post,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID)),
    request_body = Vec<MetadataRequest>,
    responses(
        (status = 201, description = "Created"),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
        (status = 409, description = "A key exists already", body = ExceptionInfo),
    )
)]
async fn create_metadata(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateSoftwareModule)?;
    let sm = path.into_inner();
    let entries: Vec<MetadataRequest> = body_list(&req, payload, &state).await?;
    let entries: Vec<Entry> = entries
        .into_iter()
        .map(|e| Entry {
            key: e.key,
            value: e.value,
            target_visible: e.target_visible,
        })
        .collect();
    let tenant = tenant_of(&user);
    state
        .db
        .write(move |c| metadata::create(c, &tenant, &Owner::Sm(sm), &entries))
        .await?;
    Ok(HttpResponse::Created().finish())
}

/// The metadata of a module: `q` and `sort` on `key`, `value` and `targetVisible` (default
/// `key:ASC`), paged.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID), Paging),
    responses(
        (status = 200, description = "One page of metadata", body = PagedList<MgmtSoftwareModuleMetadata>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
    )
)]
async fn list_metadata(
    user: User,
    path: web::Path<i64>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let list = q.list(&crate::store::query::SM_METADATA)?;
    let sm = path.into_inner();
    let tenant = tenant_of(&user);
    let page = state
        .db
        .read(move |c| metadata::list(c, &tenant, &Owner::Sm(sm), &list))
        .await?;
    let content: Vec<MgmtSoftwareModuleMetadata> = page.rows.into_iter().map(to_json).collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, page.total)))
}

/// hawkBit's `MgmtSoftwareModuleMetadata`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct MgmtSoftwareModuleMetadata {
    #[schema(example = "hw.revision")]
    key: String,
    #[schema(example = "2")]
    value: String,
    #[schema(example = true)]
    target_visible: bool,
}

fn to_json(e: Entry) -> MgmtSoftwareModuleMetadata {
    MgmtSoftwareModuleMetadata {
        key: e.key,
        value: e.value,
        target_visible: e.target_visible,
    }
}

/// One metadata entry of a module.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata/{metadataKey}",
    tag = "Software Modules",
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("metadataKey" = String, Path, description = "The metadata key"),
    ),
    responses(
        (status = 200, description = "The entry", body = MgmtSoftwareModuleMetadata),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module or key", body = ExceptionInfo),
    )
)]
async fn get_metadata(
    user: User,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let (sm, key) = path.into_inner();
    let tenant = tenant_of(&user);
    let m = state
        .db
        .read(move |c| metadata::get(c, &tenant, &Owner::Sm(sm), &key))
        .await?;
    Ok(HttpResponse::Ok().json(to_json(m)))
}

/// `PUT /softwaremodules/{id}/metadata/{key}`: only the fields given change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct MetadataUpdate {
    #[schema(example = "3")]
    value: Option<String>,
    #[schema(example = false)]
    target_visible: Option<bool>,
}

/// Changes the value or visibility of one metadata entry.
#[utoipa::path(
    put,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata/{metadataKey}",
    tag = "Software Modules",
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("metadataKey" = String, Path, description = "The metadata key"),
    ),
    request_body = MetadataUpdate,
    responses(
        (status = 200, description = "The updated entry", body = MgmtSoftwareModuleMetadata),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module or key", body = ExceptionInfo),
    )
)]
async fn update_metadata(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateSoftwareModule)?;
    let r: MetadataUpdate = body(&req, payload, &state).await?;
    let (sm, key) = path.into_inner();
    let tenant = tenant_of(&user);
    let m = state
        .db
        .write(move |c| {
            let owner = Owner::Sm(sm);
            metadata::update(c, &tenant, &owner, &key, r.value.as_deref(), r.target_visible)
        })
        .await?;
    Ok(HttpResponse::Ok().json(to_json(m)))
}

/// Deletes one metadata entry.
#[utoipa::path(
    delete,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata/{metadataKey}",
    tag = "Software Modules",
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("metadataKey" = String, Path, description = "The metadata key"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks UPDATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module or key", body = ExceptionInfo),
    )
)]
async fn delete_metadata(
    user: User,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateSoftwareModule)?;
    let (sm, key) = path.into_inner();
    let tenant = tenant_of(&user);
    state
        .db
        .write(move |c| metadata::delete(c, &tenant, &Owner::Sm(sm), &key))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
