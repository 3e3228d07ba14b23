//! The answer every front door gives for an artifact's bytes (the device API, the Management API's
//! download and capability links): RFC 7233 ranges as hawkBit's `FileStreamingUtil` serves them,
//! with `multipart/byteranges` for several ranges (`byteranges.rs`).

mod byteranges;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::ByteStream;
use crate::store::models::Artifact;

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

/// The artifact bytes of `stream` counted as they go out (`/metrics`).
pub(crate) fn counted(state: &AppState, stream: ByteStream) -> ByteStream {
    let metrics = std::sync::Arc::clone(&state.metrics);
    Box::pin(stream.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            metrics.artifact_bytes.add(bytes.len() as u64);
        }
    }))
}

/// The response `resp` (its head complete, `Content-Length` included) with `len` bytes of the
/// artifact from `offset`: sent by the kernel from the file (`sendfile`) on the server's own
/// connections when the store keeps files, streamed through the server otherwise (S3, or a
/// connection that is not the server's, as in `actix_web::test`).
async fn body(
    req: &HttpRequest,
    state: &AppState,
    a: &Artifact,
    offset: u64,
    len: u64,
    resp: &mut actix_web::HttpResponseBuilder,
) -> ApiResult<HttpResponse> {
    if actix_web::HttpMessage::extensions(req).contains::<crate::middleware::RoutedFromHead>() {
        // A HEAD answered as GET: the HTTP layer would drop streamed bytes, but not sent ones.
        return Ok(resp.streaming(futures_util::stream::empty::<std::io::Result<Bytes>>()));
    }
    if let Some(slot) = req.conn_data::<crate::sendfile::Slot>()
        && let Some(file) = state
            .store
            .open_file(&a.sha256)
            .await
            .map_err(ApiError::internal)?
    {
        let metrics = std::sync::Arc::clone(&state.metrics);
        let body = crate::sendfile::SendfileBody::new(slot.clone(), file, offset, len, metrics);
        return Ok(resp.body(body));
    }
    let stream = state
        .store
        .read(&a.sha256, offset, len)
        .await
        .map_err(ApiError::internal)?;
    Ok(resp.streaming(counted(state, stream)))
}

/// Answers a GET or HEAD of an artifact as hawkBit's `FileStreamingUtil` does: the whole file, one
/// range (206 with `Content-Range`), several (206 `multipart/byteranges`), or 416; `If-Match` and
/// `If-Range` on the SHA-1 ETag.
pub async fn serve_artifact(req: &HttpRequest, state: &AppState, a: &Artifact) -> ApiResult<HttpResponse> {
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
        return body(req, state, a, 0, len, resp.no_chunking(len)).await;
    };
    let Some(ranges) = parse_ranges(range, len) else {
        return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
            .insert_header((header::CONTENT_RANGE, format!("bytes */{len}")))
            .insert_header((header::ACCEPT_RANGES, "bytes"))
            .finish());
    };
    resp.status(StatusCode::PARTIAL_CONTENT);
    if let [(start, end)] = ranges[..] {
        resp.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")))
            .no_chunking(end - start + 1);
        return body(req, state, a, start, end - start + 1, &mut resp).await;
    }
    let (total, body) = byteranges::multipart(state, &a.sha256, &ranges, len);
    Ok(resp
        .insert_header((
            header::CONTENT_TYPE,
            format!("multipart/byteranges; boundary={}", byteranges::BOUNDARY),
        ))
        .no_chunking(total)
        .streaming(body))
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
