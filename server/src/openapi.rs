//! The OpenAPI documents, generated from the handlers' `#[utoipa::path]` annotations: one for the
//! Management API, one for the device API (DDI). `openapi/` holds the committed copies; the
//! `openapi_spec` test fails when they differ from what the code generates.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, SecurityRequirement};
use utoipa::{Modify, OpenApi as _};

/// Where the committed documents live, relative to the workspace root.
pub const MGMT_FILE: &str = "openapi/mgmt.json";

/// The command that rewrites the committed documents.
pub const REGENERATE: &str = "cargo run -p updraft-server -- openapi --out openapi";

struct BasicAuth;

impl Modify for BasicAuth {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basicAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A Management API user (`updraft-server user add`); realm `hawkBit`.",
                    ))
                    .build(),
            ),
        );
        doc.security = Some(vec![SecurityRequirement::new("basicAuth", Vec::<String>::new())]);
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Updraft Management API",
        description = "hawkBit's Management REST API (`/rest/v1`) as served by Updraft: targets, software \
                       modules, distribution sets, assignment, tags, types, target filters and tenant \
                       configuration. Lists take `offset`, `limit`, `sort` and an RSQL query `q`; errors \
                       carry hawkBit's `ExceptionInfo` body."
    ),
    components(schemas(crate::error::ExceptionInfo)),
    modifiers(&BasicAuth)
)]
struct Management;

/// The Management API document.
pub fn management() -> OpenApi {
    let mut doc = Management::openapi();
    for part in crate::mgmt::openapi_parts() {
        doc.merge(part);
    }
    doc
}

/// A document as the committed file holds it: pretty JSON with a final newline.
pub fn render(doc: &OpenApi) -> String {
    let mut s = doc.to_pretty_json().unwrap_or_else(|e| panic!("the OpenAPI document does not serialize: {e}"));
    s.push('\n');
    s
}
