//! The OpenAPI documents, generated from the handlers' `#[utoipa::path]` annotations: one for the
//! Management API, one for the device API (DDI). `openapi/` holds the committed copies; the
//! `openapi_spec` test fails when they differ from what the code generates.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, SecurityRequirement};
use utoipa::{Modify, OpenApi as _};

/// Where the committed documents live, relative to the workspace root.
pub const MGMT_FILE: &str = "openapi/mgmt.json";
pub const DDI_FILE: &str = "openapi/ddi.json";

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

/// The answers every Management API operation can give besides its own: 401 without valid
/// credentials, 403 without the permission, 400/413/415 for a bad body or parameter, 404 for an
/// unknown id in the path. Added here once instead of on each handler.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ExceptionInfo")))
                        .build(),
                )
                .build()
        };
        let bare = |description: &str| ResponseBuilder::new().description(description).build();
        // Spring Boot's error map, which hawkBit's server answers for what Spring refuses itself.
        {
            use utoipa::openapi::schema::{ObjectBuilder, Type};
            let schema = ObjectBuilder::new()
                .description(Some(
                    "Spring Boot's error body (e.g. 415), as hawkBit's server answers it",
                ))
                .property(
                    "timestamp",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .examples([serde_json::json!("2026-12-06T12:00:00.000+00:00")]),
                )
                .property(
                    "status",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .examples([serde_json::json!(415)]),
                )
                .property(
                    "error",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .examples([serde_json::json!("Unsupported Media Type")]),
                )
                .required("status")
                .required("error")
                .build();
            doc.components
                .get_or_insert_with(Default::default)
                .schemas
                .insert("SpringError".to_owned(), schema.into());
        }
        let spring = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("SpringError")))
                        .build(),
                )
                .build()
        };
        for (path, item) in &mut doc.paths.paths {
            let ops = [
                ("get", item.get.as_mut()),
                ("put", item.put.as_mut()),
                ("post", item.post.as_mut()),
                ("delete", item.delete.as_mut()),
                ("patch", item.patch.as_mut()),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                op.operation_id = Some(operation_id(method, path));
                for p in op.parameters.iter_mut().flatten() {
                    if matches!(p.parameter_in, ParameterIn::Path) {
                        let example = path_example(&p.name);
                        *p = ParameterBuilder::from(p.clone()).example(Some(example)).build();
                    }
                }
                let has_path_param = op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Path));
                let has_query = op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query));
                let has_body = op.request_body.is_some();
                let r = &mut op.responses.responses;
                let mut add = |code: &str, resp: utoipa::openapi::Response| {
                    r.entry(code.to_owned()).or_insert_with(|| resp.into());
                };
                add("401", bare("No or wrong credentials"));
                add("403", error("The user lacks the permission this call needs"));
                if has_body || has_query || has_path_param {
                    add(
                        "400",
                        error("Bad request: malformed body, path parameter or query"),
                    );
                }
                if has_body {
                    add("413", error("The body is larger than the server accepts"));
                    add("415", spring("The body is not JSON (or multipart for uploads)"));
                }
                if has_path_param {
                    add("404", error("No such entity"));
                }
            }
        }
    }
}

/// An example for a path parameter. `.ci/api-fuzz.sh` creates entities with exactly these ids, so
/// the fuzzer's example phase reaches real entities and checks their full responses.
fn path_example(name: &str) -> serde_json::Value {
    match name {
        "targetId" | "controllerId" => "device-01".into(),
        "metadataKey" => "hw.revision".into(),
        "keyName" => "pollingTime".into(),
        "username" => "ci-bot".into(),
        _ => 1.into(),
    }
}

/// A unique operation id from method and path (handler names repeat across modules):
/// `GET /rest/v1/targets/{targetId}/actions` → `getTargetsByTargetIdActions`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for seg in path
        .trim_start_matches("/rest/v1")
        .split('/')
        .filter(|s| !s.is_empty())
    {
        let (prefix, name) = match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => ("By", param),
            None => ("", seg),
        };
        id.push_str(prefix);
        let mut chars = name.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.extend(chars);
        }
    }
    id
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
    CommonResponses.modify(&mut doc);
    doc
}

/// The device API (DDI) document.
pub fn ddi() -> OpenApi {
    crate::ddi::openapi::Document::openapi()
}

/// A document as the committed file holds it: pretty JSON with a final newline.
pub fn render(doc: &OpenApi) -> String {
    let mut s = doc
        .to_pretty_json()
        .unwrap_or_else(|e| panic!("the OpenAPI document does not serialize: {e}"));
    s.push('\n');
    s
}
