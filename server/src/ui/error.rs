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
