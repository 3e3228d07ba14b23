//! Request plumbing every front door shares: trailing slashes, HEAD, the docs pages' security
//! headers and the access log. (Trusted proxies: `proxy`; refused input: `guard`.)

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// hawkBit 0.3 (Spring Boot 2) accepted a trailing slash, so some devices send one. Only such paths
/// are rewritten; actix's `NormalizePath` ran a regex on every request, 15 % of a poll's CPU.
pub async fn trim_trailing_slash(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path();
    // The docs page lives at `/swagger-ui/` and resolves its assets relative to that slash.
    if path.len() > 1 && path.ends_with('/') && !path.starts_with("/swagger-ui/") {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.query_string() {
            "" => trimmed.to_owned(),
            q => format!("{trimmed}?{q}"),
        };
        if let Ok(uri) = pq.parse::<actix_web::http::Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
        }
    }
    next.call(req).await
}

/// Whether a path is the device API's (`/{tenant}/controller/v1/...`), which routes HEAD itself.
fn is_ddi(path: &str) -> bool {
    let mut segments = path.split('/').skip(2);
    segments.next() == Some("controller") && segments.next() == Some("v1")
}

/// In a request's extensions: it came as HEAD and is routed as GET ([`head_as_get`]). A body that
/// does not go through the HTTP layer (an artifact's `sendfile`) must not be sent for it.
pub struct RoutedFromHead;

/// Spring answers HEAD wherever GET works, with GET's status and headers and no body, and tools
/// rely on it (`curl --head --fail` waiting for the server). The request is routed as GET; the
/// HTTP layer already knows it was HEAD and sends no body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD && !is_ddi(req.path()) {
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(RoutedFromHead);
    }
    next.call(req).await
}

/// The API documentation pages get the web UI's security headers: not framed by other sites, no
/// content sniffing, no referrer leaving the server. Swagger UI styles elements inline.
pub async fn docs_security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::header::{HeaderName, HeaderValue};
    let docs = req.path().starts_with("/swagger-ui") || req.path().starts_with("/openapi/");
    let mut res = next.call(req).await?;
    if docs {
        let h = res.headers_mut();
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            ("x-frame-options", "DENY"),
            (
                "content-security-policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                 frame-ancestors 'none'; form-action 'self'",
            ),
        ] {
            h.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
    }
    Ok(res)
}

/// Who a request acted as, for the access log: set by the authentication of each front door.
#[derive(Debug, Clone)]
pub enum Principal {
    User { tenant: String, username: String },
}

/// One line per request on the `updraft_server::access` target: method, path (the query is left
/// out: it may carry tokens or search terms), status, duration, tenant and the device or user.
/// Device polls, successful health probes and partial artifact answers (a streaming or delta client
/// sends hundreds of range requests per update) are logged at debug, so a large fleet does not flood
/// an `info` log.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Level;
    const ACCESS: &str = "updraft_server::access";
    let started = Instant::now();
    let res = next.call(req).await?;
    let request = res.request();
    let path = request.path();
    let ddi = is_ddi(path);
    // `/{tenant}/controller/v1/{controllerId}` and nothing after it.
    let poll = ddi && path.split('/').count() == 5;
    // Health probes that succeed are as routine as polls.
    let quiet = poll
        || (crate::health::is_health_path(path) && res.status().is_success())
        || res.status() == actix_web::http::StatusCode::PARTIAL_CONTENT;
    let enabled = if quiet {
        tracing::enabled!(target: ACCESS, Level::DEBUG)
    } else {
        tracing::enabled!(target: ACCESS, Level::INFO)
    };
    if !enabled {
        return Ok(res);
    }
    let method = request.method();
    let status = res.status().as_u16();
    let ms = (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    if ddi {
        let mut s = path.split('/').skip(1);
        let tenant = percent_decoded(s.next().unwrap_or_default());
        let controller_id = percent_decoded(s.nth(2).unwrap_or_default());
        if quiet {
            tracing::debug!(target: ACCESS, %method, path, status, ms, %tenant, %controller_id, "request");
        } else {
            tracing::info!(target: ACCESS, %method, path, status, ms, %tenant, %controller_id, "request");
        }
    } else if quiet {
        tracing::debug!(target: ACCESS, %method, path, status, ms, "request");
    } else if let Some(Principal::User { tenant, username }) = request.extensions().get::<Principal>() {
        tracing::info!(target: ACCESS, %method, path, status, ms, %tenant, user = %username, "request");
    } else {
        tracing::info!(target: ACCESS, %method, path, status, ms, "request");
    }
    Ok(res)
}

fn percent_decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ddi_paths_are_told_apart() {
        assert!(super::is_ddi("/DEFAULT/controller/v1/dev"));
        assert!(super::is_ddi("/ui/controller/v1/dev/deploymentBase/1"));
        assert!(!super::is_ddi("/rest/v1/targets"));
        assert!(!super::is_ddi("/"));
    }
}
