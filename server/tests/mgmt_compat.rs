//! What hawkBit accepts that scripts and tools rely on: HEAD wherever GET works, and request bodies
//! read as hawkBit's Jackson reads them (one element for a list, ids as strings, unknown fields
//! ignored, the forms of older clients).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, read};

backend_tests!(
    head_answers_wherever_get_does,
    assigned_ds_takes_an_object_or_hawkbits_array,
    list_bodies_take_one_element_alone,
    ids_and_flags_may_be_strings,
    nested_lists_take_one_element_or_null,
    wrong_and_missing_bodies_answer_as_hawkbits_server,
    rollout_actions_and_config_values_read_as_hawkbit_does,
    unknown_fields_are_ignored,
    older_clients_forms_are_understood,
);

/// One of everything, with the ids the document's path examples name (1, device-01, hw.revision).
fn seed(f: &Fixture) {
    f.create_target("device-01");
    let (_, ds) = f.distribution_set("gateway", "rootfs.img", b"seed artifact");
    assert_eq!(ds, 1);
    f.assign(ds, "device-01", json!({ "type": "soft" }));
    for owner in ["targets/device-01", "distributionsets/1"] {
        let (s, v) = f.post(
            &format!("/rest/v1/{owner}/metadata"),
            json!([{ "key": "hw.revision", "value": "2" }]),
        );
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = f.post(
        "/rest/v1/softwaremodules/1/metadata",
        json!([{ "key": "hw.revision", "value": "2" }]),
    );
    assert_eq!(s, 201, "{v}");
    for (path, body) in [
        ("/rest/v1/targettags", json!([{ "name": "lab" }])),
        ("/rest/v1/distributionsettags", json!([{ "name": "stable" }])),
        ("/rest/v1/targettypes", json!([{ "name": "pi4", "key": "pi4" }])),
        (
            "/rest/v1/targetfilters",
            json!({ "name": "lab", "query": "name==Device*" }),
        ),
        (
            "/rest/v1/rollouts",
            json!({ "name": "campaign", "distributionSetId": 1, "targetFilterQuery": "id==device-01" }),
        ),
    ] {
        let (s, v) = f.post(path, body);
        assert_eq!(s, 201, "{path}: {v}");
    }
}

fn head_answers_wherever_get_does(f: &Fixture) {
    seed(f);
    let doc: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/mgmt.json"
    )))
    .unwrap();
    let mut checked = 0;
    for (template, ops) in doc["paths"].as_object().unwrap() {
        let Some(get) = ops.get("get") else { continue };
        let mut path = template.clone();
        for p in get["parameters"].as_array().into_iter().flatten() {
            if p["in"] == "path" {
                let example = match &p["example"] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => "1".to_owned(),
                };
                path = path.replace(&format!("{{{}}}", p["name"].as_str().unwrap()), &example);
            }
        }
        let got = f.mgmt(Method::GET, &path).send().unwrap();
        let head = f.mgmt(Method::HEAD, &path).send().unwrap();
        assert_eq!(head.status(), got.status(), "HEAD {path}");
        for name in ["content-type", "content-length", "etag"] {
            assert_eq!(
                head.headers().get(name),
                got.headers().get(name),
                "HEAD {path}: {name}"
            );
        }
        assert!(head.bytes().unwrap().is_empty(), "HEAD {path} sent a body");
        checked += 1;
    }
    assert!(checked >= 60, "{checked} GET operations");
    // Unauthenticated HEAD, as `curl --head --fail` waits for a server with: / answers like GET.
    let plain = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = plain.head(f.url("/")).send().unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/ui");
    assert_eq!(plain.head(f.url("/ui/login")).send().unwrap().status(), 200);
    assert_eq!(
        plain.head(f.url("/rest/v1/targets")).send().unwrap().status(),
        401
    );
}

fn assigned_ds_takes_an_object_or_hawkbits_array(f: &Fixture) {
    let (_, ds) = f.distribution_set("arr", "a.bin", b"a");
    let (_, other) = f.distribution_set("other", "b.bin", b"b");
    f.create_target("arr-1");
    let path = "/rest/v1/targets/arr-1/assignedDS";
    // The published document's form: an array of assignments; equal entries count once.
    let (s, v) = f.post(
        path,
        json!([{ "id": ds, "type": "forced" }, { "id": ds, "type": "forced" }]),
    );
    assert_eq!((s, v["assigned"].as_i64()), (200, Some(1)), "{v}");
    // One object, with the id as a string.
    let (s, v) = f.post(path, json!({ "id": ds.to_string(), "type": "forced" }));
    assert_eq!((s, v["alreadyAssigned"].as_i64()), (200, Some(1)), "{v}");
    // Different sets for one target are a multi-assignment, which is off.
    let (s, v) = f.post(path, json!([{ "id": ds }, { "id": other }]));
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["errorCode"], "hawkbit.server.error.multiAssignmentNotEnabled");
    for bad in [json!([]), json!("x"), json!([{ "type": "forced" }])] {
        let (s, v) = f.post(path, bad.clone());
        assert_eq!(
            (s, v["errorCode"].as_str()),
            (400, Some("hawkbit.server.error.rest.body.notReadable")),
            "{bad}"
        );
    }
}

fn list_bodies_take_one_element_alone(f: &Fixture) {
    let (s, v) = f.post("/rest/v1/targets", json!({ "controllerId": "single-1" }));
    assert_eq!(s, 201, "{v}");
    assert_eq!(v[0]["controllerId"], "single-1");
    let (s, v) = f.post("/rest/v1/targettags", json!({ "name": "solo" }));
    assert_eq!(s, 201, "{v}");
    let tag = v[0]["id"].as_i64().unwrap();
    let (s, v) = f.post(&format!("/rest/v1/targettags/{tag}/assigned"), json!("single-1"));
    assert_eq!(s, 204, "{v}");
    assert_eq!(
        f.get(&format!("/rest/v1/targettags/{tag}/assigned")).1["total"],
        1
    );
    let (s, v) = f.post(
        "/rest/v1/targets/single-1/metadata",
        json!({ "key": "k", "value": "v" }),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(f.get("/rest/v1/targets/single-1/metadata/k").1["value"], "v");
}

fn ids_and_flags_may_be_strings(f: &Fixture) {
    let (sm, ds) = f.distribution_set("strings", "s.bin", b"s");
    f.create_target("str-1");
    let (s, v) = f.post(
        &format!("/rest/v1/distributionsets/{ds}/assignedTargets"),
        json!([{ "id": "str-1", "type": "timeforced", "forcetime": "1691065930359", "weight": "600",
                 "confirmationRequired": "false" }]),
    );
    assert_eq!((s, v["assigned"].as_i64()), (200, Some(1)), "{v}");
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": "strings2", "version": "1", "type": "os", "modules": [{ "id": sm.to_string() }],
                 "requiredMigrationStep": "true" }]),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v[0]["requiredMigrationStep"], true);
    let (s, v) = f.post("/rest/v1/distributionsettags", json!([{ "name": "t" }]));
    assert_eq!(s, 201, "{v}");
    let tag = v[0]["id"].as_i64().unwrap();
    let (s, v) = f.post(
        &format!("/rest/v1/distributionsettags/{tag}/assigned"),
        json!([ds.to_string()]),
    );
    assert_eq!(s, 204, "{v}");
    let (_, v) = f.get(&format!("/rest/v1/distributionsettags/{tag}/assigned"));
    assert_eq!(v["total"], 1, "{v}");
}

fn unknown_fields_are_ignored(f: &Fixture) {
    // A GET answer sent back as the update, as scripts do.
    let (s, v) = f.post(
        "/rest/v1/targets",
        json!([{ "controllerId": "echo-1", "name": "Echo", "updateStatus": "in_sync", "_links": {} }]),
    );
    assert_eq!(s, 201, "{v}");
    let mut target = f.target("echo-1");
    target["description"] = json!("changed");
    let (s, v) = f.put("/rest/v1/targets/echo-1", target);
    assert_eq!((s, v["description"].as_str()), (200, Some("changed")), "{v}");
    // `locked` is part of hawkBit's documented create body; it is ignored there, and here.
    let (sm, _) = f.distribution_set("lock", "l.bin", b"l");
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": "locked", "version": "1", "type": "os", "locked": true, "modules": [{ "id": sm, "name": "x" }] }]),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v[0]["locked"], false);
}

fn older_clients_forms_are_understood(f: &Fixture) {
    // hawkBit ≤ 0.9 named a set's modules by role.
    let (sm, _) = f.distribution_set("roles", "r.bin", b"r");
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": "by-role", "version": "1", "type": "os", "os": { "id": sm } }]),
    );
    assert_eq!(s, 201, "{v}");
    let id = v[0]["id"].as_i64().unwrap();
    let (_, modules) = f.get(&format!("/rest/v1/distributionsets/{id}/assignedSM"));
    assert_eq!(modules["content"][0]["id"], sm, "{modules}");
    // hawkBit ≤ 0.6 tag assignments with objects.
    f.create_target("old-1");
    let (_, v) = f.post("/rest/v1/targettags", json!([{ "name": "old" }]));
    let tag = v[0]["id"].as_i64().unwrap();
    let (s, v) = read(
        f.mgmt(Method::POST, &format!("/rest/v1/targettags/{tag}/assigned"))
            .json(&json!([{ "controllerId": "old-1" }]))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 204, "{v}");
    assert_eq!(
        f.get(&format!("/rest/v1/targettags/{tag}/assigned")).1["total"],
        1
    );
}

fn nested_lists_take_one_element_or_null(f: &Fixture) {
    let (s, v) = f.post(
        "/rest/v1/softwaremoduletypes",
        json!([{ "name": "Blob", "key": "blob" }]),
    );
    assert_eq!(s, 201, "{v}");
    let smt = v[0]["id"].as_i64().unwrap();
    let (s, v) = f.post(
        "/rest/v1/distributionsettypes",
        json!([{ "name": "One", "key": "one", "mandatorymodules": { "id": smt }, "optionalmodules": null }]),
    );
    assert_eq!(s, 201, "{v}");
    let dst = v[0]["id"].as_i64().unwrap();
    let (_, v) = f.get(&format!(
        "/rest/v1/distributionsettypes/{dst}/mandatorymoduletypes"
    ));
    assert_eq!(v[0]["id"], smt, "{v}");
    let (s, v) = f.post(
        "/rest/v1/targettypes",
        json!([{ "name": "board", "compatibledistributionsettypes": { "id": dst } }]),
    );
    assert_eq!(s, 201, "{v}");
    let (sm, _) = f.distribution_set("nested", "n.bin", b"n");
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": "one-module", "version": "1", "type": "os", "modules": { "id": sm } },
               { "name": "no-modules", "version": "1", "type": "os", "modules": null }]),
    );
    assert_eq!(s, 201, "{v}");
    let one = v[0]["id"].as_i64().unwrap();
    assert_eq!(
        f.get(&format!("/rest/v1/distributionsets/{one}/assignedSM")).1["total"],
        1
    );
}

fn rollout_actions_and_config_values_read_as_hawkbit_does(f: &Fixture) {
    f.create_target("ro-1");
    let (_, ds) = f.distribution_set("ro", "ro.bin", b"r");
    // An action object with only an expression takes hawkBit's defaults (NEXTGROUP, PAUSE).
    let (s, v) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": "defaults", "distributionSetId": ds, "targetFilterQuery": "id==ro-*",
                "successAction": { "expression": "" }, "errorAction": {} }),
    );
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let (_, g) = f.get(&format!(
        "/rest/v1/rollouts/{id}/deploygroups?representation=full"
    ));
    let group = &g["content"][0];
    assert_eq!(group["successAction"]["action"], "NEXTGROUP", "{group}");
    assert_eq!(group["errorAction"]["action"], "PAUSE", "{group}");
    // Tenant settings: Spring's boolean spellings, and scalars for text keys.
    for (value, stored) in [("yes", true), ("OFF", false), ("1", true), ("on", true)] {
        f.set_config("authentication.gatewaytoken.enabled", json!(value));
        let (_, v) = f.get("/rest/v1/system/configs/authentication.gatewaytoken.enabled");
        assert_eq!(v["value"], stored, "{value}: {v}");
    }
    f.set_config("authentication.gatewaytoken.key", json!(12345));
    let (_, v) = f.get("/rest/v1/system/configs/authentication.gatewaytoken.key");
    assert_eq!(v["value"], "12345");
    let (s, v) = f.put(
        "/rest/v1/system/configs/authentication.gatewaytoken.enabled",
        json!({ "value": "maybe" }),
    );
    assert_eq!(
        (s, v["errorCode"].as_str()),
        (400, Some("hawkbit.server.error.configValueInvalid")),
        "{v}"
    );
}

fn wrong_and_missing_bodies_answer_as_hawkbits_server(f: &Fixture) {
    // A body of another type: Spring's 415, with Spring Boot's error map.
    let r = f
        .mgmt(Method::POST, "/rest/v1/targettags")
        .header("content-type", "text/plain")
        .body(r#"[{"name":"x"}]"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().unwrap();
    assert_eq!(
        (v["status"].as_i64(), v["error"].as_str()),
        (Some(415), Some("Unsupported Media Type")),
        "{v}"
    );
    assert!(v["timestamp"].as_str().is_some_and(|t| t.contains('T')), "{v}");
    // No body and no type: the required body is missing, hawkBit's 400.
    f.create_target("nobody-1");
    let (s, v) = f.post(
        "/rest/v1/targets/nobody-1/metadata",
        json!([{ "key": "k", "value": "v" }]),
    );
    assert_eq!(s, 201, "{v}");
    for (method, path) in [
        (Method::PUT, "/rest/v1/targets/nobody-1/metadata/k"),
        (Method::POST, "/rest/v1/targettags"),
    ] {
        let (s, v) = read(f.mgmt(method.clone(), path).send().unwrap());
        assert_eq!(
            (s, v["errorCode"].as_str()),
            (400, Some("hawkbit.server.error.rest.body.notReadable")),
            "{method} {path}: {v}"
        );
    }
}
