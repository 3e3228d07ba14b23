//! A software module's artifacts in the Management API: upload (multipart, with optional checksums),
//! list, read, download and delete.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;

use super::software_modules::{SM_ID, find_sm, release_blobs};
use super::{json, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::storage::PutError;
use crate::store::AnyConnection;
use crate::store::models::Artifact;
use crate::store::schema::artifacts;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/softwaremodules/{id}/artifacts", web::get().to(list_artifacts))
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
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_artifacts, upload, get_artifact, delete_artifact, download),
    components(schemas(json::MgmtArtifact, json::ArtifactHashes, ArtifactUpload, ArtifactBytes))
)]
pub struct Api;

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
