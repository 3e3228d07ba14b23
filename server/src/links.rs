//! Absolute links for HAL `_links`: from `external_url` when configured, else from the request's
//! `Forwarded` / `X-Forwarded-*` and `Host` headers, so links work behind a TLS-terminating proxy.

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderName};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left alone in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// [`encode_segment`] as pieces, for appending without an allocation of its own.
pub fn segment(s: &str) -> impl Iterator<Item = &str> {
    utf8_percent_encode(s, SEGMENT)
}

static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

/// `scheme://host[:port]` as the client sees this server.
pub fn base_url(req: &HttpRequest, external_url: Option<&str>) -> String {
    if let Some(url) = external_url {
        return url.trim_end_matches('/').to_owned();
    }
    let headers = req.headers();
    let get = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let mut proto = None;
    let mut host = None;
    if let Some(fwd) = get(&header::FORWARDED) {
        // Only the first (client-most) element counts.
        for pair in fwd.split(',').next().unwrap_or_default().split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                let v = v.trim_matches('"');
                match k.trim().to_ascii_lowercase().as_str() {
                    "proto" => proto = Some(v.to_owned()),
                    "host" => host = Some(v.to_owned()),
                    _ => {}
                }
            }
        }
    }
    let first = |v: &str| v.split(',').next().unwrap_or_default().trim().to_owned();
    let proto = proto
        .or_else(|| get(&X_FORWARDED_PROTO).map(first))
        .filter(|p| p == "http" || p == "https")
        .unwrap_or_else(|| {
            if req.app_config().secure() {
                "https"
            } else {
                "http"
            }
            .to_owned()
        });
    let mut host = host
        .or_else(|| get(&X_FORWARDED_HOST).map(first))
        .unwrap_or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost")
                .to_owned()
        });
    if let Some(port) = get(&X_FORWARDED_PORT)
        && !host.contains(':')
        && port.chars().all(|c| c.is_ascii_digit())
    {
        let default = (proto == "https" && port == "443") || (proto == "http" && port == "80");
        if !default {
            host = format!("{host}:{port}");
        }
    }
    // A Host header is client input: refuse anything that could break out of the authority.
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '\\' | '@' | '?' | '#'))
    {
        "localhost".clone_into(&mut host);
    }
    format!("{proto}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_headers_win_over_host() {
        let req = TestRequest::default()
            .insert_header(("host", "internal:8080"))
            .insert_header(("x-forwarded-proto", "https"))
            .insert_header(("x-forwarded-host", "ota.example.com"))
            .to_http_request();
        assert_eq!(base_url(&req, None), "https://ota.example.com");
        let req = TestRequest::default()
            .insert_header(("forwarded", "for=1.2.3.4;proto=https;host=a.example"))
            .to_http_request();
        assert_eq!(base_url(&req, None), "https://a.example");
        let req = TestRequest::default()
            .insert_header(("host", "evil/path"))
            .to_http_request();
        assert_eq!(base_url(&req, None), "http://localhost");
        assert_eq!(base_url(&req, Some("https://x.example/")), "https://x.example");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
