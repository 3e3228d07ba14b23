//! The OpenAPI document: the committed copy matches the code, the server serves it with an
//! interactive page that needs nothing from the internet, and it covers hawkBit's operations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use updraft_server::openapi;

fn workspace_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn committed_documents_match_the_code() {
    for (file, doc) in [
        (openapi::MGMT_FILE, openapi::management()),
        (openapi::DDI_FILE, openapi::ddi()),
    ] {
        let committed = std::fs::read_to_string(workspace_file(file)).unwrap_or_default();
        assert!(
            committed == openapi::render(&doc),
            "{file} differs from what the code generates; regenerate it with `{}` and commit it",
            openapi::REGENERATE
        );
    }
}

fn operations(doc: &Value) -> BTreeSet<String> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    ops
}

/// hawkBit operations not served yet, each with the issue that brings it. The test fails both when
/// one of them starts being served (remove it here) and when anything else is missing.
const NOT_YET_SERVED: &[&str] = &[];

#[test]
fn every_hawkbit_operation_is_documented() {
    let reference = std::fs::read_to_string(workspace_file("openapi/hawkbit-mgmt-operations.txt")).unwrap();
    let ours = operations(&serde_json::to_value(openapi::management()).unwrap());
    let missing: BTreeSet<String> = reference
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter(|op| !ours.contains(*op))
        .map(str::to_owned)
        .collect();
    let expected: BTreeSet<String> = NOT_YET_SERVED.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(missing, expected, "hawkBit operations missing from our document");
}

#[test]
fn the_server_serves_the_document_and_an_offline_docs_page() {
    let f = support::Fixture::sqlite();
    let doc: Value = f
        .http
        .get(f.url("/openapi/mgmt.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(doc, serde_json::to_value(openapi::management()).unwrap());
    let ddi: Value = f
        .http
        .get(f.url("/openapi/ddi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        ddi["paths"].as_object().unwrap().len(),
        16,
        "hawkBit's 16 DDI operations"
    );

    let page = f.http.get(f.url("/swagger-ui/")).send().unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script and stylesheet comes from this server, none from a CDN.
    for tag in html
        .split('<')
        .filter(|t| t.starts_with("script") || t.starts_with("link"))
    {
        assert!(
            !tag.contains("http://") && !tag.contains("https://"),
            "external asset: <{tag}"
        );
    }
    let init = f
        .http
        .get(f.url("/swagger-ui/swagger-initializer.js"))
        .send()
        .unwrap();
    assert_eq!(init.status(), 200);
    assert!(init.text().unwrap().contains("/openapi/mgmt.json"));
    let bundle = f
        .http
        .get(f.url("/swagger-ui/swagger-ui-bundle.js"))
        .send()
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(
        bundle.bytes().unwrap().len() > 100_000,
        "the Swagger UI bundle is embedded"
    );
}

/// The JSON paths below `schema` where no example can be shown: neither the schema nor, for
/// objects and arrays, all of its parts carry one.
fn fields_without_example(
    doc: &Value,
    schema: &Value,
    at: &str,
    seen: &mut Vec<String>,
    out: &mut Vec<String>,
) {
    if schema.get("example").is_some() || schema.get("examples").is_some() || schema.get("enum").is_some() {
        return;
    }
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        if !seen.iter().any(|s| s == name) {
            seen.push(name.to_owned());
            fields_without_example(doc, &doc["components"]["schemas"][name], name, seen, out);
            seen.pop();
        }
        return;
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(parts) = schema[key].as_array() {
            for part in parts.iter().filter(|p| p["type"] != "null") {
                fields_without_example(doc, part, at, seen, out);
            }
            return;
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, prop) in props {
            fields_without_example(doc, prop, &format!("{at}.{name}"), seen, out);
        }
    } else if schema.get("items").is_some() {
        fields_without_example(doc, &schema["items"], &format!("{at}[]"), seen, out);
    } else if schema["additionalProperties"].is_object() {
        fields_without_example(
            doc,
            &schema["additionalProperties"],
            &format!("{at}{{}}"),
            seen,
            out,
        );
    } else if schema["format"] != "binary" {
        out.push(at.to_owned());
    }
}

/// A newcomer sees an example of every JSON request and response body (file downloads aside).
#[test]
fn every_json_body_has_an_example() {
    for doc in [openapi::management(), openapi::ddi()] {
        let doc = serde_json::to_value(doc).unwrap();
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let mut bodies = vec![("request".to_owned(), &op["requestBody"])];
                if let Some(responses) = op["responses"].as_object() {
                    bodies.extend(responses.iter().map(|(status, r)| (status.clone(), r)));
                }
                for (which, body) in bodies {
                    let Some(json) = body["content"].get("application/json") else {
                        continue;
                    };
                    if json.get("example").is_none() {
                        let at = format!("{method} {path} {which}");
                        fields_without_example(&doc, &json["schema"], &at, &mut Vec::new(), &mut missing);
                    }
                }
            }
        }
        assert!(missing.is_empty(), "bodies without an example: {missing:#?}");
    }
}
