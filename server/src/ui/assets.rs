//! The UI's stylesheet and script, compiled into the binary. Their URLs carry a hash of their
//! content, so browsers may cache them for a year and still get a changed file after an upgrade.

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

use super::UiError;

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

fn versioned(stem: &str, ext: &str, content: &str) -> String {
    let hash = crate::auth::hex(&Sha256::digest(content.as_bytes()));
    format!("/ui/assets/{stem}-{}.{ext}", &hash[..12])
}

static CSS_PATH: LazyLock<String> = LazyLock::new(|| versioned("app", "css", CSS));
static JS_PATH: LazyLock<String> = LazyLock::new(|| versioned("app", "js", JS));

pub fn css_path() -> &'static str {
    &CSS_PATH
}

pub fn js_path() -> &'static str {
    &JS_PATH
}

pub async fn serve(path: web::Path<String>) -> Result<HttpResponse, UiError> {
    let requested = format!("/ui/assets/{}", path.into_inner());
    let (body, content_type) = if requested == *CSS_PATH {
        (CSS, "text/css; charset=utf-8")
    } else if requested == *JS_PATH {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return Err(UiError::not_found());
    };
    Ok(HttpResponse::Ok()
        .insert_header(("content-type", content_type))
        .insert_header(("cache-control", "public, max-age=31536000, immutable"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(body))
}
