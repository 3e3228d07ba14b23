//! Artifact list, download (RFC 7233 ranges, as hawkBit's `FileStreamingUtil`) and `.MD5SUM`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;

use super::{device, negotiate, parse_id, respond};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::ByteStream;
use crate::store::AnyConnection;
use crate::store::Changes;
use crate::store::actions::{self, SERVER_PREFIX};
use crate::store::models::{Artifact, Target};
use crate::store::software_modules;

const BOUNDARY: &str = "THIS_STRING_SEPARATES_MULTIPART";

pub async fn list(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid, sm) = path.into_inner();
    let format = negotiate(&req)?;
    let dev = device(&req, &state, &tenant, &cid).await?;
    let sm_id = parse_id(&sm)?;
    let target = dev.target()?.clone();
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

/// `Content-Disposition` as hawkBit writes it: no space, quoted only when needed.
pub fn content_disposition(name: &str) -> String {
    let name: String = name.chars().take(78).collect();
    if name
        .chars()
        .any(|c| "()<>@,;:\\\"/[]?= \t".contains(c) || c.is_control())
    {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("attachment;filename=\"{escaped}\"")
    } else {
        format!("attachment;filename={name}")
    }
}

fn http_date(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Parses a `Range` header into sorted, non-overlapping inclusive ranges; None means 416.
pub fn parse_ranges(value: &str, len: u64) -> Option<Vec<(u64, u64)>> {
    let spec = value.strip_prefix("bytes=")?;
    let mut ranges = Vec::new();
    for part in spec.split(',') {
        let (a, b) = part.split_once('-')?;
        if !a.chars().all(|c| c.is_ascii_digit()) || !b.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let (start, end) = match (a.is_empty(), b.is_empty()) {
            (true, true) => return None,
            (true, false) => {
                let n: u64 = b.parse().ok()?;
                (len.saturating_sub(n), len.checked_sub(1)?)
            }
            (false, true) => (a.parse().ok()?, len.checked_sub(1)?),
            (false, false) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(len.checked_sub(1)?)),
        };
        if start > end || start >= len {
            return None;
        }
        ranges.push((start, end));
    }
    ranges.sort_unstable();
    if ranges.windows(2).any(|w| w[1].0 <= w[0].1) {
        return None;
    }
    Some(ranges)
}

pub async fn download(
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid, sm, file_name) = path.into_inner();
    let dev = device(&req, &state, &tenant, &cid).await?;
    let sm_id = parse_id(&sm)?;
    let target = dev.target()?.clone();
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
            dev.target()?,
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
async fn log_download(state: &AppState, tenant: &str, cid: &str, target: &Target, sm_id: i64, uri: &str) {
    let target = target.clone();
    let message = format!("{SERVER_PREFIX}Target downloads {uri}");
    let quota = state.config.quotas.max_status_entries_per_action;
    let now = state.now();
    let logged = state
        .db
        .tx(move |c| Ok(actions::log_download(c, target.id, sm_id, &message, quota, now)?))
        .await;
    match logged {
        Ok(true) => state.apply(Changes::device(tenant, cid)),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not log a download"),
    }
}

/// The artifact bytes of `stream` counted as they go out (`/metrics`).
fn counted(state: &AppState, stream: ByteStream) -> ByteStream {
    let metrics = std::sync::Arc::clone(&state.metrics);
    Box::pin(stream.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            metrics.artifact_bytes.add(bytes.len() as u64);
        }
    }))
}

pub(crate) async fn serve_artifact(
    req: &HttpRequest,
    state: &AppState,
    a: &Artifact,
) -> ApiResult<HttpResponse> {
    let len = a.size as u64;
    let etag = format!("\"{}\"", a.sha1);
    // hawkBit compares If-Match tokens with the unquoted SHA-1 (a quoted one does not match).
    if let Some(if_match) = req.headers().get(header::IF_MATCH).and_then(|v| v.to_str().ok())
        && !if_match.split(',').any(|t| t.trim() == a.sha1 || t.trim() == "*")
    {
        return Err(ApiError::bare(StatusCode::PRECONDITION_FAILED));
    }
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(&a.filename)))
        .insert_header((header::LAST_MODIFIED, http_date(a.created_at)))
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header(("x-content-type-options", "nosniff"));
    let is_head = req.method() == actix_web::http::Method::HEAD;
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| !is_head);
    let if_range_ok = req
        .headers()
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v == etag
                || DateTime::parse_from_rfc2822(v)
                    .is_ok_and(|d| d.timestamp_millis() >= a.created_at - a.created_at % 1000)
        });
    let Some(range) = range.filter(|_| if_range_ok) else {
        if is_head {
            // The declared size becomes Content-Length; HEAD sends no body.
            let empty = futures_util::stream::empty::<std::io::Result<Bytes>>();
            return Ok(resp.no_chunking(len).streaming(empty));
        }
        let stream = state
            .store
            .read(&a.sha256, 0, len)
            .await
            .map_err(ApiError::internal)?;
        let stream = counted(state, stream);
        return Ok(resp.no_chunking(len).streaming(stream));
    };
    let Some(ranges) = parse_ranges(range, len) else {
        return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
            .insert_header((header::CONTENT_RANGE, format!("bytes */{len}")))
            .insert_header((header::ACCEPT_RANGES, "bytes"))
            .finish());
    };
    resp.status(StatusCode::PARTIAL_CONTENT);
    if let [(start, end)] = ranges[..] {
        let stream = state
            .store
            .read(&a.sha256, start, end - start + 1)
            .await
            .map_err(ApiError::internal)?;
        let stream = counted(state, stream);
        return Ok(resp
            .insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")))
            .no_chunking(end - start + 1)
            .streaming(stream));
    }
    let mut parts: Vec<ByteStream> = Vec::new();
    let mut total = 0u64;
    for (i, (start, end)) in ranges.iter().enumerate() {
        let head = format!(
            "{}--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {start}-{end}/{len}\r\n\r\n",
            if i == 0 { "" } else { "\r\n" }
        );
        total += head.len() as u64 + (end - start + 1);
        parts.push(Box::pin(futures_util::stream::once(async move {
            Ok(Bytes::from(head))
        })));
        parts.push(counted(
            state,
            state
                .store
                .read(&a.sha256, *start, end - start + 1)
                .await
                .map_err(ApiError::internal)?,
        ));
    }
    let tail = format!("\r\n--{BOUNDARY}--");
    total += tail.len() as u64;
    parts.push(Box::pin(futures_util::stream::once(async move {
        Ok(Bytes::from(tail))
    })));
    Ok(resp
        .insert_header((
            header::CONTENT_TYPE,
            format!("multipart/byteranges; boundary={BOUNDARY}"),
        ))
        .no_chunking(total)
        .streaming(futures_util::stream::iter(parts).flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_hawkbit() {
        assert_eq!(parse_ranges("bytes=0-9", 100), Some(vec![(0, 9)]));
        assert_eq!(parse_ranges("bytes=-10", 100), Some(vec![(90, 99)]));
        assert_eq!(parse_ranges("bytes=90-", 100), Some(vec![(90, 99)]));
        assert_eq!(parse_ranges("bytes=90-200", 100), Some(vec![(90, 99)]));
        assert_eq!(parse_ranges("bytes=10-19,0-9", 100), Some(vec![(0, 9), (10, 19)]));
        assert_eq!(parse_ranges("bytes=100-", 100), None);
        assert_eq!(parse_ranges("bytes=100-10", 100), None);
        assert_eq!(parse_ranges("bytes=1-10,hdsfjksdh", 100), None);
        assert_eq!(parse_ranges("bytes=0-10,5-20", 100), None);
        assert_eq!(parse_ranges("items=0-1", 100), None);
    }

    #[test]
    fn disposition_quotes_only_when_needed() {
        assert_eq!(content_disposition("a.swu"), "attachment;filename=a.swu");
        assert_eq!(content_disposition("a b.swu"), "attachment;filename=\"a b.swu\"");
    }
}
