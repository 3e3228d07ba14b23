//! `/rest/v1/softwaremodules` (and their types): modules, metadata, artifact upload and download.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::soft_deleted::SoftDeleted;
use super::{PagedList, Paging, body, body_list, check_len, json, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::storage::PutError;
use crate::store::AnyConnection;
use crate::store::models::{Artifact, SmType, SoftwareModule};
use crate::store::schema::{artifacts, ds_modules, sm_metadata, sm_types, software_modules};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/softwaremodules", web::get().to(list))
        .route("/softwaremodules", web::post().to(create))
        .route("/softwaremodules/{id}", web::get().to(get_one))
        .route("/softwaremodules/{id}", web::put().to(update))
        .route("/softwaremodules/{id}", web::delete().to(delete))
        .route("/softwaremodules/{id}/artifacts", web::get().to(list_artifacts))
        .route("/softwaremodules/{id}/artifacts", web::post().to(upload))
        .route(
            "/softwaremodules/{id}/artifacts/{aid}",
            web::get().to(get_artifact),
        )
        .route(
            "/softwaremodules/{id}/artifacts/{aid}",
            web::delete().to(delete_artifact),
        )
        .route(
            "/softwaremodules/{id}/artifacts/{aid}/download",
            web::get().to(download),
        )
        .route("/softwaremodules/{id}/metadata", web::get().to(list_metadata))
        .route("/softwaremodules/{id}/metadata", web::post().to(create_metadata))
        .route(
            "/softwaremodules/{id}/metadata/{key}",
            web::get().to(get_metadata),
        )
        .route(
            "/softwaremodules/{id}/metadata/{key}",
            web::put().to(update_metadata),
        )
        .route(
            "/softwaremodules/{id}/metadata/{key}",
            web::delete().to(delete_metadata),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get_one,
        update,
        delete,
        list_artifacts,
        upload,
        get_artifact,
        delete_artifact,
        download,
        list_metadata,
        create_metadata,
        get_metadata,
        update_metadata,
        delete_metadata
    ),
    components(schemas(
        json::MgmtSoftwareModule,
        json::MgmtArtifact,
        json::ArtifactHashes,
        SmRequest,
        SmUpdate,
        ArtifactUpload,
        ArtifactBytes,
        MetadataRequest,
        MetadataUpdate,
        MgmtSoftwareModuleMetadata
    ))
)]
pub struct Api;

const SM_ID: &str = "The software module's id";

fn find_sm(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<SoftwareModule> {
    software_modules::table
        .filter(
            software_modules::id
                .eq(id)
                .and(software_modules::tenant.eq(tenant)),
        )
        .select(SoftwareModule::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("SoftwareModule", id))
}

pub fn sm_json(c: &mut AnyConnection, id: i64, base: &str) -> ApiResult<json::MgmtSoftwareModule> {
    let (sm, ty): (SoftwareModule, SmType) = software_modules::table
        .inner_join(sm_types::table)
        .filter(software_modules::id.eq(id))
        .select((SoftwareModule::as_select(), SmType::as_select()))
        .first(c)?;
    let count: i64 = artifacts::table
        .filter(artifacts::sm_id.eq(id))
        .count()
        .get_result(c)?;
    Ok(json::software_module(
        &sm,
        &ty.type_key,
        &ty.name,
        count >= i64::from(ty.min_artifacts),
        base,
    ))
}

/// Lists the software modules of the tenant; soft-deleted ones only as `soft_deleted_mode` asks.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules",
    tag = "Software Modules",
    params(Paging, SoftDeleted),
    responses(
        (status = 200, description = "One page of software modules", body = PagedList<json::MgmtSoftwareModule>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    mode: web::Query<SoftDeleted>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let spec = q.spec(&crate::store::query::SOFTWARE_MODULES)?;
    let tenant = tenant_of(&user);
    let deleted = mode.soft_deleted_mode.deleted();
    let (offset, limit) = (q.offset(), q.limit());
    let base = rest_base(&req, &state);
    let page = state
        .db
        .run(move |c| {
            let filter = software_modules::tenant
                .eq(tenant.clone())
                .and(software_modules::deleted.eq_any(deleted.clone()));
            let total: i64 = software_modules::table
                .filter(filter.clone())
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let ids: Vec<i64> = software_modules::table
                .filter(filter)
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .select(software_modules::id)
                .offset(offset)
                .limit(limit)
                .load(c)?;
            let content = ids
                .iter()
                .map(|id| sm_json(c, *id, &base))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(PagedList::new(content, total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One software module to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SmRequest {
    #[schema(example = "rootfs")]
    pub(crate) name: String,
    #[schema(example = "1.0.0")]
    pub(crate) version: String,
    /// The software module type's key.
    #[serde(rename = "type")]
    #[schema(example = "os")]
    pub(crate) type_key: String,
    #[schema(example = "Root file system of the gateway image")]
    pub(crate) description: Option<String>,
    #[schema(example = "Updraft Ltd.")]
    pub(crate) vendor: Option<String>,
    #[serde(default)]
    #[schema(example = false)]
    pub(crate) encrypted: bool,
}

/// Creates software modules.
#[utoipa::path(
    post,
    path = "/rest/v1/softwaremodules",
    tag = "Software Modules",
    request_body = Vec<SmRequest>,
    responses(
        (status = 201, description = "The created modules", body = Vec<json::MgmtSoftwareModule>),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module type", body = ExceptionInfo),
        (status = 409, description = "Name, version and type taken", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateSoftwareModule)?;
    let requests: Vec<SmRequest> = body_list(&req, payload, &state).await?;
    for r in &requests {
        validate_sm_request(r)?;
    }
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let base = rest_base(&req, &state);
    let created = state
        .db
        .tx(move |c| create_modules(c, &tenant, &by, now, &base, &requests))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Checks one module to create: lengths, non-empty name and version, no encryption.
pub(crate) fn validate_sm_request(r: &SmRequest) -> ApiResult<()> {
    check_len("name", &r.name, 128)?;
    check_len("version", &r.version, 64)?;
    check_len("description", r.description.as_deref().unwrap_or(""), 512)?;
    check_len("vendor", r.vendor.as_deref().unwrap_or(""), 256)?;
    if r.name.trim().is_empty() || r.version.trim().is_empty() {
        return Err(ApiError::constraint_violation(
            "name and version must not be empty.",
        ));
    }
    if r.encrypted {
        return Err(ApiError::upload_failed("Artifact encryption is not supported."));
    }
    Ok(())
}

/// Creates software modules of `tenant` (the Management API's and the web UI's create).
pub(crate) fn create_modules(
    c: &mut AnyConnection,
    tenant: &str,
    by: &str,
    now: i64,
    base: &str,
    requests: &[SmRequest],
) -> ApiResult<Vec<json::MgmtSoftwareModule>> {
    let mut out = Vec::new();
    for r in requests {
        let sm_type: i64 = sm_types::table
            .filter(
                sm_types::tenant
                    .eq(tenant)
                    .and(sm_types::type_key.eq(&r.type_key)),
            )
            .select(sm_types::id)
            .first(c)
            .optional()?
            .ok_or_else(|| ApiError::not_found("SoftwareModuleType", &r.type_key))?;
        let id: i64 = diesel::insert_into(software_modules::table)
            .values((
                software_modules::tenant.eq(tenant),
                software_modules::sm_type_id.eq(sm_type),
                software_modules::name.eq(&r.name),
                software_modules::version.eq(&r.version),
                software_modules::vendor.eq(&r.vendor),
                software_modules::description.eq(&r.description),
                software_modules::encrypted.eq(false),
                software_modules::locked.eq(false),
                software_modules::deleted.eq(false),
                software_modules::created_at.eq(now),
                software_modules::created_by.eq(by),
                software_modules::last_modified_at.eq(now),
                software_modules::last_modified_by.eq(by),
            ))
            .returning(software_modules::id)
            .get_result(c)
            .map_err(|e| match ApiError::from(e) {
                e if e.status == actix_web::http::StatusCode::CONFLICT => ApiError::already_exists(format!(
                    "Software module {}:{} of type {} already exists.",
                    r.name, r.version, r.type_key
                )),
                e => e,
            })?;
        out.push(sm_json(c, id, base)?);
    }
    Ok(out)
}

/// One software module.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules/{softwareModuleId}",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID)),
    responses(
        (status = 200, description = "The software module", body = json::MgmtSoftwareModule),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let base = rest_base(&req, &state);
    let v = state
        .db
        .run(move |c| {
            find_sm(c, &tenant, id)?;
            sm_json(c, id, &base)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `PUT /softwaremodules/{id}`: only the fields given change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SmUpdate {
    #[schema(example = "Root file system, signed")]
    description: Option<String>,
    #[schema(example = "Updraft Ltd.")]
    vendor: Option<String>,
    /// `true` locks the module (its artifacts can no longer change), `false` unlocks it.
    #[schema(example = true)]
    locked: Option<bool>,
}

/// Updates description, vendor and the lock of a module.
#[utoipa::path(
    put,
    path = "/rest/v1/softwaremodules/{softwareModuleId}",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID)),
    request_body = SmUpdate,
    responses(
        (status = 200, description = "The updated software module", body = json::MgmtSoftwareModule),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateSoftwareModule)?;
    let r: SmUpdate = body(&req, payload, &state).await?;
    check_len("description", r.description.as_deref().unwrap_or(""), 512)?;
    check_len("vendor", r.vendor.as_deref().unwrap_or(""), 256)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let base = rest_base(&req, &state);
    let v = state
        .db
        .tx(move |c| {
            let sm = find_sm(c, &tenant, id)?;
            if sm.deleted {
                return Err(ApiError::not_found("SoftwareModule", id));
            }
            diesel::update(software_modules::table.find(id))
                .set((
                    software_modules::description.eq(r.description.clone().or(sm.description)),
                    software_modules::vendor.eq(r.vendor.clone().or(sm.vendor)),
                    software_modules::locked.eq(r.locked.unwrap_or(sm.locked)),
                    software_modules::last_modified_at.eq(now),
                    software_modules::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            sm_json(c, id, &base)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Removes blobs that no artifact refers to any more (content addressing shares them).
async fn release_blobs(state: &AppState, digests: Vec<String>) {
    for sha in digests {
        let s = sha.clone();
        let used = state
            .db
            .run(move |c| {
                Ok(diesel::select(diesel::dsl::exists(
                    artifacts::table.filter(artifacts::sha256.eq(s.clone())),
                ))
                .get_result::<bool>(c)?)
            })
            .await;
        if matches!(used, Ok(false))
            && let Err(e) = state.store.delete(&sha).await
        {
            tracing::warn!(error = %e, sha256 = %sha, "could not remove an unused artifact blob");
        }
    }
}

/// Deletes a module; one that a distribution set contains is only marked deleted, as hawkBit does.
#[utoipa::path(
    delete,
    path = "/rest/v1/softwaremodules/{softwareModuleId}",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID)),
    responses(
        (status = 204, description = "Deleted (or marked deleted when in a distribution set)"),
        (status = 403, description = "Lacks DELETE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteSoftwareModule)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let digests = state
        .db
        .tx(move |c| {
            find_sm(c, &tenant, id)?;
            let in_ds: bool = diesel::select(diesel::dsl::exists(
                ds_modules::table.filter(ds_modules::sm_id.eq(id)),
            ))
            .get_result(c)?;
            if in_ds {
                // hawkBit keeps modules that distribution sets refer to, marked deleted.
                diesel::update(software_modules::table.find(id))
                    .set(software_modules::deleted.eq(true))
                    .execute(c)?;
                return Ok(Vec::new());
            }
            let digests: Vec<String> = artifacts::table
                .filter(artifacts::sm_id.eq(id))
                .select(artifacts::sha256)
                .load(c)?;
            diesel::delete(software_modules::table.find(id)).execute(c)?;
            Ok(digests)
        })
        .await?;
    release_blobs(&state, digests).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `representation` and `useartifacturlhandler` of the artifact reads.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ArtifactQuery {
    /// `compact` (default: only the `self` link) or `full` (adds the `download` link).
    #[serde(default)]
    representation: Option<String>,
    /// Accepted for compatibility; links always point at this server.
    #[serde(default)]
    #[allow(dead_code)]
    useartifacturlhandler: Option<bool>,
}

impl ArtifactQuery {
    fn full(&self) -> ApiResult<bool> {
        match self.representation.as_deref() {
            None => Ok(false),
            Some(r) if r.eq_ignore_ascii_case("compact") => Ok(false),
            Some(r) if r.eq_ignore_ascii_case("full") => Ok(true),
            Some(r) => Err(ApiError::constraint_violation(format!(
                "representation must be compact or full, not {r}."
            ))),
        }
    }
}

/// The artifacts of a module (not paged).
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/artifacts",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID), ArtifactQuery),
    responses(
        (status = 200, description = "The artifacts", body = Vec<json::MgmtArtifact>),
        (status = 400, description = "Bad representation", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
    )
)]
async fn list_artifacts(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<ArtifactQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let full = q.full()?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let rows: Vec<Artifact> = state
        .db
        .run(move |c| {
            find_sm(c, &tenant, id)?;
            Ok(artifacts::table
                .filter(artifacts::sm_id.eq(id))
                .order(artifacts::id.asc())
                .select(Artifact::as_select())
                .load(c)?)
        })
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(
        rows.iter()
            .map(|a| json::artifact(a, &base, full))
            .collect::<Vec<_>>(),
    ))
}

fn find_artifact(c: &mut AnyConnection, tenant: &str, sm: i64, aid: i64) -> ApiResult<Artifact> {
    find_sm(c, tenant, sm)?;
    artifacts::table
        .filter(artifacts::id.eq(aid).and(artifacts::sm_id.eq(sm)))
        .select(Artifact::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("Artifact", aid))
}

/// One artifact's metadata, with its download link.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/artifacts/{artifactId}",
    tag = "Software Modules",
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("artifactId" = i64, Path, description = "The artifact's id"),
        ("useartifacturlhandler" = Option<bool>, Query, description = "Accepted for compatibility"),
    ),
    responses(
        (status = 200, description = "The artifact", body = json::MgmtArtifact),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module or artifact", body = ExceptionInfo),
    )
)]
async fn get_artifact(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let (sm, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let a = state.db.run(move |c| find_artifact(c, &tenant, sm, aid)).await?;
    Ok(HttpResponse::Ok().json(json::artifact(&a, &rest_base(&req, &state), true)))
}

/// The artifact's bytes (with `Range` and `If-Match` support as on the device API).
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/artifacts/{artifactId}/download",
    tag = "Software Modules",
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("artifactId" = i64, Path, description = "The artifact's id"),
    ),
    responses(
        (status = 200, description = "The artifact's content", content_type = "application/octet-stream", body = ArtifactBytes),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", body = ArtifactBytes),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE_ARTIFACT", body = ExceptionInfo),
        (status = 404, description = "No such software module or artifact", body = ExceptionInfo),
        (status = 416, description = "Unsatisfiable range"),
    )
)]
async fn download(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModuleArtifact)?;
    let (sm, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let a = state.db.run(move |c| find_artifact(c, &tenant, sm, aid)).await?;
    crate::ddi::serve_artifact(&req, &state, &a).await
}

/// Deletes an artifact of an unlocked module.
#[utoipa::path(
    delete,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/artifacts/{artifactId}",
    tag = "Software Modules",
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("artifactId" = i64, Path, description = "The artifact's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks DELETE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module or artifact", body = ExceptionInfo),
        (status = 423, description = "The module is locked", body = ExceptionInfo),
    )
)]
async fn delete_artifact(
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteSoftwareModule)?;
    let (sm, aid) = path.into_inner();
    let tenant = tenant_of(&user);
    let digest = state
        .db
        .tx(move |c| {
            let a = find_artifact(c, &tenant, sm, aid)?;
            if find_sm(c, &tenant, sm)?.locked {
                return Err(ApiError::locked(format!(
                    "Software module {sm} is locked: it was assigned."
                )));
            }
            diesel::delete(artifacts::table.find(a.id)).execute(c)?;
            Ok(a.sha256)
        })
        .await?;
    release_blobs(&state, vec![digest]).await;
    Ok(HttpResponse::NoContent().finish())
}

/// A name an uploaded artifact may have: no path separators, no dot names, no control characters.
pub fn valid_filename(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 256
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

async fn text_field(field: &mut actix_multipart::Field) -> ApiResult<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| ApiError::body_not_readable())?;
        if buf.len() + chunk.len() > 4096 {
            return Err(ApiError::body_not_readable());
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| ApiError::body_not_readable())
}

/// An artifact's raw content.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct ArtifactBytes(Vec<u8>);

/// The multipart form of an artifact upload.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ArtifactUpload {
    /// The artifact's content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Overrides the file name of the `file` part.
    #[schema(example = "rootfs.img")]
    filename: Option<String>,
    #[schema(example = "bacad3f53debf7466f8f10a8de430526")]
    md5sum: Option<String>,
    #[schema(example = "f508d923bc9c11fee6c3d132d92e795839c6c4c6")]
    sha1sum: Option<String>,
    #[schema(example = "bac821ddfad573f5c0fd0e4bbd9bb24c34e9b36a8444171df37285771d69eae8")]
    sha256sum: Option<String>,
}

/// `POST /softwaremodules/{id}/artifacts`: multipart field `file`, optional `filename`, `md5sum`,
/// `sha1sum`, `sha256sum`. The file streams to storage; nothing remains if any check fails.
#[utoipa::path(
    post,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/artifacts",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID)),
    request_body(content = ArtifactUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The stored artifact", body = json::MgmtArtifact),
        (status = 400, description = "Malformed upload or checksum mismatch", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
        (status = 409, description = "The module has an artifact of that name", body = ExceptionInfo),
        (status = 413, description = "The artifact is too large", body = ExceptionInfo),
        (status = 423, description = "The module is locked", body = ExceptionInfo),
        (status = 500, description = "Storing failed", body = ExceptionInfo),
    )
)]
pub(crate) async fn upload(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    mut form: Multipart,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateSoftwareModule)?;
    let sm = path.into_inner();
    let tenant = tenant_of(&user);
    let t = tenant.clone();
    let module = state.db.run(move |c| find_sm(c, &t, sm)).await?;
    if module.locked {
        return Err(ApiError::locked(format!(
            "Software module {sm} is locked: it was assigned."
        )));
    }
    let limit = state.config.max_artifact_size;
    let mut blob = None;
    let mut filename = None;
    let (mut md5, mut sha1, mut sha256) = (None, None, None);
    let outcome: ApiResult<()> = async {
        while let Some(field) = form.next().await {
            let mut field =
                field.map_err(|e| ApiError::upload_failed(format!("Malformed multipart body: {e}")))?;
            let name = field.name().unwrap_or_default().to_owned();
            match name.as_str() {
                "file" if blob.is_none() => {
                    if filename.is_none() {
                        filename = field
                            .content_disposition()
                            .and_then(|d| d.get_filename())
                            .map(str::to_owned);
                    }
                    let stream = (&mut field).map_err(|e| e.to_string());
                    let stored = state
                        .store
                        .put(Box::pin(stream), limit)
                        .await
                        .map_err(|e| match e {
                            PutError::TooLarge(l) => ApiError::payload_too_large(l),
                            PutError::Input(m) => {
                                ApiError::upload_failed(format!("Reading the upload failed: {m}"))
                            }
                            // ENOSPC, EDQUOT
                            PutError::Io(e) if matches!(e.raw_os_error(), Some(28 | 122)) => {
                                ApiError::insufficient_storage()
                            }
                            PutError::Io(e) => ApiError::internal(e),
                        })?;
                    blob = Some(stored);
                }
                "filename" => filename = Some(text_field(&mut field).await?),
                "md5sum" => md5 = Some(text_field(&mut field).await?.to_ascii_lowercase()),
                "sha1sum" => sha1 = Some(text_field(&mut field).await?.to_ascii_lowercase()),
                "sha256sum" => sha256 = Some(text_field(&mut field).await?.to_ascii_lowercase()),
                _ => while field.next().await.is_some() {},
            }
        }
        Ok(())
    }
    .await;
    let result = async {
        outcome?;
        let b = blob
            .clone()
            .ok_or_else(|| ApiError::upload_failed("The multipart field `file` is missing."))?;
        let filename = filename.filter(|f| valid_filename(f)).ok_or_else(|| {
            ApiError::upload_failed(
                "The file name is missing or invalid (no path separators, `.`/`..` or control characters).",
            )
        })?;
        for (kind, given, actual) in [
            ("md5", &md5, &b.md5),
            ("sha1", &sha1, &b.sha1),
            ("sha256", &sha256, &b.sha256),
        ] {
            if given.as_ref().is_some_and(|g| g != actual) {
                return Err(ApiError::artifact_checksum_mismatch(kind));
            }
        }
        let by = user.username.clone();
        let now = state.now();
        let t = tenant.clone();
        state
            .db
            .tx(move |c| {
                if find_sm(c, &t, sm)?.locked {
                    return Err(ApiError::locked(format!(
                        "Software module {sm} is locked: it was assigned."
                    )));
                }
                let id: i64 = diesel::insert_into(artifacts::table)
                    .values((
                        artifacts::sm_id.eq(sm),
                        artifacts::filename.eq(&filename),
                        artifacts::size.eq(b.size as i64),
                        artifacts::sha1.eq(&b.sha1),
                        artifacts::md5.eq(&b.md5),
                        artifacts::sha256.eq(&b.sha256),
                        artifacts::created_at.eq(now),
                        artifacts::created_by.eq(&by),
                        artifacts::last_modified_at.eq(now),
                        artifacts::last_modified_by.eq(&by),
                    ))
                    .returning(artifacts::id)
                    .get_result(c)
                    .map_err(|e| match ApiError::from(e) {
                        e if e.status == actix_web::http::StatusCode::CONFLICT => ApiError::already_exists(
                            format!("Software module {sm} already has an artifact named {filename}."),
                        ),
                        e => e,
                    })?;
                Ok(artifacts::table.find(id).select(Artifact::as_select()).first(c)?)
            })
            .await
    }
    .await;
    match result {
        Ok(a) => Ok(HttpResponse::Created().json(json::artifact(&a, &rest_base(&req, &state), true))),
        Err(e) => {
            if let Some(b) = blob {
                release_blobs(&state, vec![b.sha256]).await;
            }
            Err(e)
        }
    }
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
    let entries: Vec<(String, String, bool)> = entries
        .into_iter()
        .map(|e| (e.key, e.value, e.target_visible))
        .collect();
    let tenant = tenant_of(&user);
    state
        .db
        .tx(move |c| add_metadata(c, &tenant, sm, &entries))
        .await?;
    Ok(HttpResponse::Created().finish())
}

/// Adds `(key, value, targetVisible)` entries to a module's metadata (the web UI's form too).
pub(crate) fn add_metadata(
    c: &mut AnyConnection,
    tenant: &str,
    sm: i64,
    entries: &[(String, String, bool)],
) -> ApiResult<()> {
    for (key, value, _) in entries {
        check_len("key", key, 128)?;
        check_len("value", value, 4000)?;
    }
    find_sm(c, tenant, sm)?;
    for (key, value, visible) in entries {
        diesel::insert_into(sm_metadata::table)
            .values((
                sm_metadata::sm_id.eq(sm),
                sm_metadata::meta_key.eq(key),
                sm_metadata::meta_value.eq(value),
                sm_metadata::target_visible.eq(visible),
            ))
            .execute(c)?;
    }
    Ok(())
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
    let spec = q.spec(&crate::store::query::SM_METADATA)?;
    let sm = path.into_inner();
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            find_sm(c, &tenant, sm)?;
            let mine = sm_metadata::sm_id.eq(sm);
            let total: i64 = sm_metadata::table
                .filter(mine)
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows: Vec<(String, String, bool)> = sm_metadata::table
                .filter(mine)
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select((
                    sm_metadata::meta_key,
                    sm_metadata::meta_value,
                    sm_metadata::target_visible,
                ))
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let content: Vec<MgmtSoftwareModuleMetadata> = rows
        .into_iter()
        .map(|(key, value, target_visible)| MgmtSoftwareModuleMetadata {
            key,
            value,
            target_visible,
        })
        .collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
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

fn find_metadata(
    c: &mut AnyConnection,
    tenant: &str,
    sm: i64,
    key: &str,
) -> ApiResult<MgmtSoftwareModuleMetadata> {
    find_sm(c, tenant, sm)?;
    let (value, target_visible): (String, bool) = sm_metadata::table
        .filter(sm_metadata::sm_id.eq(sm).and(sm_metadata::meta_key.eq(key)))
        .select((sm_metadata::meta_value, sm_metadata::target_visible))
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("SoftwareModuleMetadata", key))?;
    Ok(MgmtSoftwareModuleMetadata {
        key: key.to_owned(),
        value,
        target_visible,
    })
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
    let m = state.db.run(move |c| find_metadata(c, &tenant, sm, &key)).await?;
    Ok(HttpResponse::Ok().json(m))
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
    check_len("value", r.value.as_deref().unwrap_or(""), 4000)?;
    let (sm, key) = path.into_inner();
    let tenant = tenant_of(&user);
    let m = state
        .db
        .tx(move |c| {
            let old = find_metadata(c, &tenant, sm, &key)?;
            diesel::update(
                sm_metadata::table.filter(sm_metadata::sm_id.eq(sm).and(sm_metadata::meta_key.eq(&key))),
            )
            .set((
                sm_metadata::meta_value.eq(r.value.clone().unwrap_or(old.value)),
                sm_metadata::target_visible.eq(r.target_visible.unwrap_or(old.target_visible)),
            ))
            .execute(c)?;
            find_metadata(c, &tenant, sm, &key)
        })
        .await?;
    Ok(HttpResponse::Ok().json(m))
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
        .tx(move |c| {
            find_metadata(c, &tenant, sm, &key)?;
            diesel::delete(
                sm_metadata::table.filter(sm_metadata::sm_id.eq(sm).and(sm_metadata::meta_key.eq(&key))),
            )
            .execute(c)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
