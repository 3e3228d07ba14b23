//! Refuses input no id, name or credential may hold, before it reaches a query: control characters
//! in paths, queries and credentials, NUL anywhere in a JSON body (PostgreSQL cannot store it in a
//! text column and answered 500; SQLite stored it), and controller ids that read as path steps.

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::{ApiError, ApiResult};

/// C0 controls and DEL.
pub fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_control())
}

/// Whether a JSON text holds a `\u0000` escape (raw control characters are invalid JSON anyway).
/// An escaped backslash followed by `u0000` is text, not NUL.
pub fn json_has_nul(body: &[u8]) -> bool {
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' {
            if body.get(i + 1) == Some(&b'u') && body.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Whether a raw path or query (still percent-encoded) encodes or holds a control character.
fn uri_has_control(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c.is_ascii_control()
            || (c == b'%'
                && match (b.get(i + 1), b.get(i + 2)) {
                    (Some(b'0' | b'1'), Some(d)) => d.is_ascii_hexdigit(),
                    (Some(b'7'), Some(b'f' | b'F')) => true,
                    _ => false,
                })
    })
}

/// A controller id a device or an operator may use: 1 to 256 characters, no whitespace or control
/// characters, no `/`, and not `.` or `..` (which a proxy or a client library would resolve as a
/// path step, so the device could never be reached).
pub fn check_controller_id(cid: &str) -> ApiResult<()> {
    if cid.is_empty()
        || cid.chars().count() > 256
        || cid
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        || cid == "."
        || cid == ".."
    {
        return Err(ApiError::constraint_violation(
            "controllerId must be 1 to 256 characters without whitespace, control characters or '/', \
             and not '.' or '..'.",
        ));
    }
    Ok(())
}

/// The middleware: 400 with hawkBit's constraint-violation body for a control character anywhere in
/// the path or the query.
pub async fn refuse_control_characters(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if uri_has_control(req.path()) || uri_has_control(req.query_string()) {
        let e = ApiError::constraint_violation(
            "The request path or query contains a control character, which no id, name or query may hold.",
        );
        let resp: HttpResponse = actix_web::ResponseError::error_response(&e);
        return Ok(req.into_response(resp).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not() {
        assert!(json_has_nul(br#"{"name":"a\u0000b"}"#));
        assert!(!json_has_nul(br#"{"name":"a\\u0000b"}"#));
        assert!(json_has_nul(br#"{"name":"a\\\u0000b"}"#));
        assert!(!json_has_nul(br#"{"name":"a\n\u0001b"}"#));
    }

    #[test]
    fn encoded_controls_in_uris_are_found() {
        assert!(uri_has_control("/DEFAULT/controller/v1/a%00b"));
        assert!(uri_has_control("q=name==a%1fb"));
        assert!(uri_has_control("q=a%7F"));
        assert!(!uri_has_control("q=name==a%20b%2F%7E"));
    }

    #[test]
    fn controller_ids_that_are_path_steps_are_refused() {
        for bad in ["", ".", "..", "a/b", "a b", "a\u{0}b", "a\u{7f}"] {
            assert!(check_controller_id(bad).is_err(), "{bad:?}");
        }
        for good in ["dev-01", "a.b", "...", "ü"] {
            assert!(check_controller_id(good).is_ok(), "{good:?}");
        }
    }
}
