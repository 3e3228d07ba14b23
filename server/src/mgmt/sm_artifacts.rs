//! A software module's artifacts in the Management API: upload (multipart, with optional checksums),
//! list, read, download and delete.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::software_modules::SM_ID;
use super::{json, rest_base, tenant_of};
use crate::artifact_upload::release_blobs;
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::software_modules::artifacts;

super::routes::api! {
    paths: [list_artifacts, upload, get_artifact, delete_artifact, download],
    schemas: [json::MgmtArtifact, json::ArtifactHashes, ArtifactUpload, ArtifactBytes],
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
    let rows = state.db.read(move |c| artifacts::list(c, &tenant, id)).await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(
        rows.iter()
            .map(|a| json::artifact(a, &base, full))
            .collect::<Vec<_>>(),
    ))
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
    let a = state
        .db
        .read(move |c| artifacts::find(c, &tenant, sm, aid))
        .await?;
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
    let a = state
        .db
        .read(move |c| artifacts::find(c, &tenant, sm, aid))
        .await?;
    crate::artifact_download::serve_artifact(&req, &state, &a).await
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
        .write(move |c| artifacts::delete(c, &tenant, sm, aid))
        .await?;
    release_blobs(&state, vec![digest]).await;
    Ok(HttpResponse::NoContent().finish())
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
async fn upload(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    form: Multipart,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateSoftwareModule)?;
    let sm = path.into_inner();
    let a = crate::artifact_upload::receive(&state, &tenant_of(&user), &user.username, sm, form).await?;
    Ok(HttpResponse::Created().json(json::artifact(&a, &rest_base(&req, &state), true)))
}
