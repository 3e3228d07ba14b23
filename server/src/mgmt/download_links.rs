//! Capability URLs for artifacts (an Updraft extension; hawkBit has none): minting a signed,
//! time-limited download link for one artifact, and rotating the tenant's signing key, which
//! revokes every link. The links themselves are served by `crate::download_links`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::body;
use super::software_modules::SM_ID;
use super::tenant_of;
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::download_links::{self, SigningKey};

super::routes::api! {
    paths: [create_download_link, rotate_download_key],
    schemas: [DownloadLinkRequest, DownloadLink],
}

const TAG: &str = "Download links (Updraft extension)";

/// How long the link should work (optional body).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DownloadLinkRequest {
    /// Seconds from now, 60 to 31 622 400 (366 days); 604 800 (7 days) when absent.
    #[schema(example = 86_400)]
    expires_in_seconds: Option<i64>,
}

/// A signed link to one artifact.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DownloadLink {
    /// Fetch it with GET (and `Range`), without credentials, until `expiresAt`.
    #[schema(
        example = "https://updraft.example.com/DEFAULT/download/7/rootfs.ext4.zck?expires=1767225600&sig=3f7a…"
    )]
    url: String,
    /// When the link stops working, in milliseconds since the epoch.
    #[schema(example = 1_767_225_600_000_i64)]
    expires_at: i64,
    #[schema(example = 7)]
    artifact_id: i64,
    #[schema(example = "rootfs.ext4.zck")]
    filename: String,
}

fn fresh_key() -> ApiResult<SigningKey> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(SigningKey::from_bytes(bytes))
}

/// A signed link to an artifact that downloads without credentials until it expires.
///
/// For clients that cannot send a device token, such as SWUpdate's delta handler fetching the
/// `.zck` named in `sw-description`. `GET <url>` answers like the device API's artifact download (200, 206 for one
/// range, `multipart/byteranges` for several, 416), or 403 with hawkBit's error body once the link
/// expired, was altered or was revoked, 404 once the artifact is deleted. The link's host is
/// `external_url` when configured, else what the request reached (behind a trusted proxy, its
/// forwarded host). Anyone holding the link can download the artifact until then: revoke all links
/// of the tenant with `POST /rest/v1/system/downloadkey/rotate`.
#[utoipa::path(
    post,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/artifacts/{artifactId}/downloadlink",
    tag = TAG,
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("artifactId" = i64, Path, description = "The artifact's id"),
    ),
    request_body(content = Option<DownloadLinkRequest>, description = "Optional: the link's lifetime"),
    responses(
        (status = 200, description = "The signed link", body = DownloadLink),
        (status = 400, description = "expiresInSeconds out of bounds", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE_ARTIFACT", body = ExceptionInfo),
        (status = 404, description = "No such software module or artifact", body = ExceptionInfo),
    )
)]
async fn create_download_link(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, i64)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModuleArtifact)?;
    let (sm, aid) = path.into_inner();
    // The body is optional: none (no Content-Type) means the default lifetime.
    let requested = if req.headers().contains_key(header::CONTENT_TYPE) {
        body::<Option<DownloadLinkRequest>>(&req, payload, &state)
            .await?
            .and_then(|b| b.expires_in_seconds)
    } else {
        None
    };
    let secs = download_links::expiry_secs(requested)?;
    let (tenant, fresh, now) = (tenant_of(&user), fresh_key()?, state.now());
    let (artifact, grant, signature) = state
        .db
        .write(move |c| download_links::mint(c, &tenant, sm, aid, secs, &fresh, now))
        .await?;
    let origin = crate::links::base_url(&req, state.config.external_url.as_deref());
    Ok(HttpResponse::Ok().json(DownloadLink {
        url: format!("{origin}{}", crate::download_links::path_of(&grant, &signature)),
        expires_at: grant.expires * 1000,
        artifact_id: artifact.id,
        filename: artifact.filename,
    }))
}

/// Rotates the tenant's key for signing download links, revoking every link made so far.
///
/// The new key is random; links made before are refused (403) from now on.
#[utoipa::path(
    post,
    path = "/rest/v1/system/downloadkey/rotate",
    tag = TAG,
    responses(
        (status = 204, description = "Rotated: all earlier links are revoked"),
        (status = 403, description = "Lacks UPDATE_TENANT_CONFIGURATION", body = ExceptionInfo),
    )
)]
async fn rotate_download_key(user: User, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTenantConfiguration)?;
    let (tenant, fresh, now) = (tenant_of(&user), fresh_key()?, state.now());
    state
        .db
        .write(move |c| download_links::rotate(c, &tenant, &fresh, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
