//! The capability-URL front door: `GET /{tenant}/download/{artifactId}/{fileName}?expires=&sig=`
//! serves one artifact, with `Range`, to whoever holds a link the Management API signed
//! (`POST /rest/v1/softwaremodules/{id}/artifacts/{id}/downloadlink`), without any credentials.
//!
//! For clients that cannot send a device token: SWUpdate's delta downloader fetches the `.zck`
//! from the URL written in `sw-description` (Debian's 2022.12 has no `[delta]` token settings),
//! and hawkBit dropped `anonymous.download.enabled` in 0.8. The rules are `store::download_links`';
//! a refused link gets 403 with hawkBit's error body, a deleted artifact 404.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::download_links::{self, Grant, Refusal};

/// The route, as actix matches it.
pub const ROUTE: &str = "/{tenant}/download/{artifactId}/{fileName}";

/// Serves [`ROUTE`] (HEAD arrives as GET, `middleware::head_as_get`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(ROUTE, web::get().to(download));
}

/// The path of the link to `grant`'s artifact, with its query.
pub fn path_of(grant: &Grant, signature: &str) -> String {
    format!(
        "/{}/download/{}/{}?expires={}&sig={signature}",
        crate::links::encode_segment(&grant.tenant),
        grant.artifact_id,
        crate::links::encode_segment(&grant.filename),
        grant.expires
    )
}

#[derive(Deserialize)]
struct LinkQuery {
    expires: Option<String>,
    sig: Option<String>,
}

async fn download(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, artifact_id, filename) = path.into_inner();
    let query = web::Query::<LinkQuery>::from_query(req.query_string()).ok();
    let (Some(artifact_id), Some(expires), Some(sig)) = (
        artifact_id.parse::<i64>().ok(),
        query
            .as_ref()
            .and_then(|q| q.expires.as_deref()?.parse::<i64>().ok()),
        query.as_ref().and_then(|q| q.sig.clone()),
    ) else {
        return Err(refused(Refusal::BadSignature, 0));
    };
    let grant = Grant {
        tenant: tenant.to_ascii_uppercase(),
        artifact_id,
        filename,
        expires,
    };
    let now = state.now();
    let redeemed = {
        let grant = grant.clone();
        state
            .db
            .read(move |c| download_links::redeem(c, &grant, &sig, now))
            .await?
    };
    match redeemed {
        Ok(artifact) => {
            let mut res = crate::artifact_download::serve_artifact(&req, &state, &artifact).await?;
            // The URL is the credential: no shared cache may keep the bytes past a rotation.
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("private, no-store"),
            );
            Ok(res)
        }
        Err(Refusal::Gone) => Err(ApiError::not_found("Artifact", grant.artifact_id)),
        Err(why) => Err(refused(why, grant.expires)),
    }
}

/// hawkBit's 403 body for a link that is forged, altered, revoked or expired.
fn refused(why: Refusal, expires: i64) -> ApiError {
    let message = match why {
        Refusal::Expired => format!(
            "This download link expired at {}; ask for a new one.",
            chrono::DateTime::from_timestamp(expires, 0)
                .map_or_else(|| expires.to_string(), |t| t.to_rfc3339())
        ),
        _ => "This download link is not valid: it was altered, or its tenant's signing key was rotated."
            .to_owned(),
    };
    ApiError::download_link_refused(message)
}
