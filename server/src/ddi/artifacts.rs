//! Artifact list, download (RFC 7233 ranges, served by `crate::artifact_download`) and `.MD5SUM`.
//! Range requests log nothing: RAUC's streaming and SWUpdate's delta handler send hundreds per
//! update, which as status rows would fill the action's quota (hawkBit #1249, fixed by its #2261).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{device, negotiate, parse_id, respond};
use crate::artifact_download::{content_disposition, serve_artifact};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::Changes;
use crate::store::actions::{self, SERVER_PREFIX};
use crate::store::models::Artifact;
use crate::store::software_modules;

pub async fn list(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid, sm) = path.into_inner();
    let format = negotiate(&req)?;
    let dev = device(&req, &state, &tenant, &cid).await?;
    let sm_id = parse_id(&sm)?;
    let target = dev.target(&state).await?;
    let skip = skips_access_check(&state, &dev.tenant);
    let body = state
        .db
        .run(move |c| {
            if !software_modules::module_visible(c, &target, sm_id, skip)? {
                return Err(ApiError::not_found("SoftwareModule", sm_id));
            }
            Ok(software_modules::artifacts_of(c, sm_id)?)
        })
        .await?;
    let links_base = dev.link_base(&req, &state);
    let https = links_base.starts_with("https://");
    let json: Vec<updraft_ddi::Artifact> = body
        .iter()
        .map(|a| super::deployment::artifact_json(a, &links_base, https))
        .collect();
    respond(&req, format, &json)
}

fn skips_access_check(state: &AppState, tenant: &str) -> bool {
    state
        .config
        .skip_artifact_access_check_tenants
        .iter()
        .any(|t| t == "*" || t.eq_ignore_ascii_case(tenant))
}

pub async fn download(
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid, sm, file_name) = path.into_inner();
    let dev = device(&req, &state, &tenant, &cid).await?;
    let sm_id = parse_id(&sm)?;
    let target = dev.target(&state).await?;
    let target_id = target.id;
    let skip = skips_access_check(&state, &dev.tenant);
    let name = file_name.clone();
    let (artifact, md5sum) = state
        .db
        .run(move |c| {
            if !software_modules::module_visible(c, &target, sm_id, skip)? {
                return Err(ApiError::not_found("SoftwareModule", sm_id));
            }
            let find = |c: &mut AnyConnection, n: &str| software_modules::artifact_named(c, sm_id, n);
            if let Some(a) = find(c, &name)? {
                return Ok((a, false));
            }
            if let Some(stripped) = name.strip_suffix(".MD5SUM")
                && let Some(a) = find(c, stripped)?
            {
                return Ok((a, true));
            }
            Err(ApiError::not_found("Artifact", &name))
        })
        .await?;
    let is_get = req.method() == actix_web::http::Method::GET;
    let ranged = req.headers().contains_key(header::RANGE);
    if is_get && !ranged {
        log_download(
            &state,
            &dev.tenant,
            &dev.controller_id,
            target_id,
            sm_id,
            req.uri().path(),
        )
        .await;
    }
    if md5sum {
        let body = format!("{}  {}", artifact.md5, artifact.filename);
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                content_disposition(&format!("{}.MD5SUM", artifact.filename)),
            ))
            .body(body));
    }
    if is_get && let Some(url) = presigned(&state, &artifact).await? {
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }
    serve_artifact(&req, &state, &artifact).await
}

/// In redirect mode (`[s3] redirect`), a short-lived URL of the store's own that the device
/// downloads from (with its `Range`, for resuming), so the bytes bypass this server.
async fn presigned(state: &AppState, a: &Artifact) -> ApiResult<Option<String>> {
    if !state.config.s3.redirect {
        return Ok(None);
    }
    let expires = std::time::Duration::from_secs(state.config.s3.redirect_expiry_secs);
    state
        .store
        .presign(&a.sha256, expires)
        .await
        .map_err(ApiError::internal)
}

/// A full download of an active action's module is logged as a DOWNLOAD status, as hawkBit does;
/// range requests are not (they would flood the history). Logging never fails a download.
async fn log_download(state: &AppState, tenant: &str, cid: &str, target_id: i64, sm_id: i64, uri: &str) {
    let message = format!("{SERVER_PREFIX}Target downloads {uri}");
    let quota = state.config.quotas.max_status_entries_per_action;
    let now = state.now();
    let logged = state
        .db
        .tx(move |c| Ok(actions::log_download(c, target_id, sm_id, &message, quota, now)?))
        .await;
    match logged {
        Ok(true) => state.apply(Changes::device(tenant, cid)),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not log a download"),
    }
}
