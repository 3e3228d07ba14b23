//! The UI's error: always an HTML page in the layout with a readable message, never a blank page,
//! a JSON body or a stack trace. A missing session is a redirect to the login page instead.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;

#[derive(Debug)]
pub struct UiError {
    pub status: StatusCode,
    pub message: String,
    /// Set when the request had no valid session: where to go back after logging in.
    login_then: Option<String>,
}

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            login_then: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "There is no such page.")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn login_required(then: &str) -> Self {
        Self {
            status: StatusCode::SEE_OTHER,
            message: "Please log in.".into(),
            login_then: Some(then.to_owned()),
        }
    }
}

impl From<crate::store::Error> for UiError {
    fn from(e: crate::store::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        let message = match e.body {
            Some(b) => b.message,
            None => e
                .status
                .canonical_reason()
                .unwrap_or("The request failed.")
                .to_owned(),
        };
        Self::new(e.status, message)
    }
}

impl fmt::Display for UiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.message)
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(then) = &self.login_then {
            let target = format!(
                "/ui/login?next={}",
                percent_encoding::utf8_percent_encode(then, percent_encoding::NON_ALPHANUMERIC)
            );
            return HttpResponse::SeeOther()
                .insert_header(("location", target))
                .insert_header(("cache-control", "no-store"))
                .finish();
        }
        super::layout::error_page(self.status, &self.message)
    }
}

pub type UiResult = Result<HttpResponse, UiError>;

/// Renders a UI error page again with the user's navigation when the request has a session, so a
/// refused or missing page still leads somewhere. Costs one session lookup, on error pages only.
pub async fn with_navigation(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::FromRequest;
    let res = next.call(req).await?;
    let Some((status, message)) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<UiError>())
        .filter(|e| e.login_then.is_none())
        .map(|e| (e.status, e.message.clone()))
    else {
        return Ok(res.map_into_boxed_body());
    };
    // Cloned only now: before the handler ran, a second reference would keep actix from
    // mutating the request.
    let http_req = res.request().clone();
    let ctx = super::Ctx::from_request(&http_req, &mut actix_web::dev::Payload::None).await;
    drop(http_req);
    match ctx {
        Ok(ctx) => {
            let page = super::layout::error_page_for(Some(&ctx), status, &message);
            Ok(res.into_response(page).map_into_boxed_body())
        }
        Err(_) => Ok(res.map_into_boxed_body()),
    }
}
