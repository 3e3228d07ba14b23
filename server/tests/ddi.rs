//! The hawkBit DDI behaviours of reference section 5.2, black-box over HTTP, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, action_id_of, link, read};

/// These tests speak as a TLS-terminating proxy on loopback would (certificate headers,
/// `X-Forwarded-*`), so loopback is trusted; `hostile.rs` checks that nobody is by default.
fn behind_proxy(c: &mut updraft_server::config::Config) {
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

backend_tests!(
    @tweak super::behind_proxy;
    content_negotiation_follows_hawkbit,
    unknown_device_registers_on_first_poll,
    target_token_gates_devices,
    poll_etag_gives_304_until_an_assignment,
    forced_assignment_offers_complete_deployment_base,
    action_types_map_to_handling_types,
    closed_success_sets_target_in_sync_and_installed_base,
    closed_failure_sets_target_error_and_feedback_after_close_is_gone,
    cancel_is_offered_confirmed_and_closes_the_action,
    rejected_cancel_returns_action_to_running,
    device_may_ignore_a_cancel_and_finish,
    config_data_modes_validation_and_quota,
    malformed_feedback_is_rejected_with_hawkbit_body,
    artifact_download_supports_ranges_and_checks,
    artifacts_of_unassigned_modules_are_hidden,
    confirmation_flow_waits_for_the_device,
    action_history_lists_device_messages_newest_first,
    wrong_methods_and_unknown_tenants_are_refused,
    installed_base_reports_offline_installations,
    maintenance_window_controls_update,
);

s3_tests!(
    @tweak super::behind_proxy;
    artifact_download_supports_ranges_and_checks,
    artifacts_of_unassigned_modules_are_hidden,
);

fn content_negotiation_follows_hawkbit(f: &Fixture) {
    let r = f.ddi(Method::GET, "neg1", "").send().unwrap();
    assert_eq!(r.headers()["content-type"], "application/hal+json");
    let r = f
        .ddi(Method::GET, "neg1", "")
        .header("accept", "application/json")
        .send()
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().unwrap();
    assert!(v["config"]["polling"]["sleep"].is_string());
    let r = f
        .ddi(Method::GET, "neg1", "")
        .header("accept", "application/cbor")
        .send()
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/cbor");
    let v: Value = ciborium::from_reader(&r.bytes().unwrap()[..]).unwrap();
    assert_eq!(v["config"]["polling"]["sleep"], "00:05:00");
    let r = f
        .ddi(Method::GET, "neg1", "")
        .header("accept", "application/atom+xml")
        .send()
        .unwrap();
    assert_eq!(r.status(), 406);
    // CBOR bodies are accepted too.
    let mut body = Vec::new();
    ciborium::into_writer(&json!({"data": {"hw": "1"}}), &mut body).unwrap();
    let r = f
        .ddi(Method::PUT, "neg1", "/configData")
        .header("content-type", "application/cbor")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, attrs) = f.get("/rest/v1/targets/neg1/attributes");
    assert_eq!(attrs, json!({"hw": "1"}));
}

fn unknown_device_registers_on_first_poll(f: &Fixture) {
    let root = f.poll("pnp1");
    assert!(
        link(&root, "configData").is_some(),
        "new targets are asked for attributes: {root}"
    );
    assert!(link(&root, "deploymentBase").is_none());
    let t = f.target("pnp1");
    assert_eq!(t["updateStatus"], "registered");
    assert_eq!(t["address"], "http://127.0.0.1");
    assert_eq!(t["createdBy"], "CONTROLLER_PLUG_AND_PLAY");
    assert!(t["lastControllerRequestAt"].is_i64());
    // A target created over the Management API is `unknown` until its first poll.
    f.create_target("pre1");
    assert_eq!(f.target("pre1")["updateStatus"], "unknown");
    let before = f.target("pre1")["lastModifiedAt"].clone();
    f.poll("pre1");
    assert_eq!(f.target("pre1")["updateStatus"], "registered");
    // A later plain poll does not touch the audit fields (hawkBit `targetPollDoesNotModifyAuditData`).
    let modified = f.target("pre1")["lastModifiedAt"].clone();
    f.poll("pre1");
    assert_eq!(f.target("pre1")["lastModifiedAt"], modified);
    let _ = before;
    // X-Forwarded-For decides the recorded address.
    f.ddi(Method::GET, "pnp2", "")
        .header("x-forwarded-for", "10.1.2.3")
        .send()
        .unwrap();
    assert_eq!(f.target("pnp2")["address"], "http://10.1.2.3");
}

fn target_token_gates_devices(f: &Fixture) {
    let token = f.create_target("tok1");
    let url = f.url("/DEFAULT/controller/v1/tok1");
    let ok = f
        .http
        .get(&url)
        .header("authorization", format!("TargetToken {token}"))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = f
        .http
        .get(&url)
        .header("authorization", "TargetToken wrong")
        .send()
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(
        bad.text().unwrap().is_empty(),
        "hawkBit answers 401 without a body"
    );
    let none = f.http.get(&url).send().unwrap();
    assert_eq!(none.status(), 401);
    // Another device's token does not open this device.
    let other = f.create_target("tok2");
    let r = f
        .http
        .get(&url)
        .header("authorization", format!("TargetToken {other}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // A target token cannot register a new device; a wrong gateway token is refused.
    let r = f
        .http
        .get(f.url("/DEFAULT/controller/v1/tok3"))
        .header("authorization", format!("TargetToken {token}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = f
        .http
        .get(f.url("/DEFAULT/controller/v1/tok3"))
        .header("authorization", "GatewayToken nope")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // Disabling target tokens closes the door again.
    f.set_config("authentication.targettoken.enabled", json!(false));
    let r = f
        .http
        .get(&url)
        .header("authorization", format!("TargetToken {token}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // Certificate headers from a TLS-terminating proxy, both generations of names.
    f.set_config("authentication.header.enabled", json!(true));
    f.set_config("authentication.header.authority", json!("abc123;def456"));
    let r = f
        .http
        .get(&url)
        .header("x-controller-id", "tok1")
        .header("x-authority-1", "DEF456")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = f
        .http
        .get(&url)
        .header("x-ssl-client-cn", "tok1")
        .header("x-ssl-issuer-hash-1", "abc123")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = f
        .http
        .get(&url)
        .header("x-controller-id", "tok2")
        .header("x-authority-1", "abc123")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "the certificate must name this controller");
}

fn poll_etag_gives_304_until_an_assignment(f: &Fixture) {
    let (_, ds) = f.distribution_set("etag", "etag.swu", b"payload");
    f.poll("etag1");
    let first = f.ddi(Method::GET, "etag1", "").send().unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = f
        .ddi(Method::GET, "etag1", "")
        .header("if-none-match", &etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    let action = f.assign(ds, "etag1", json!({}));
    let changed = f
        .ddi(Method::GET, "etag1", "")
        .header("if-none-match", &etag)
        .send()
        .unwrap();
    assert_eq!(changed.status(), 200);
    let etag2 = changed.headers()["etag"].to_str().unwrap().to_owned();
    let root: Value = changed.json().unwrap();
    assert_eq!(action_id_of(&link(&root, "deploymentBase").unwrap()), action);
    f.feedback("etag1", action, "closed", "success");
    let after = f
        .ddi(Method::GET, "etag1", "")
        .header("if-none-match", &etag2)
        .send()
        .unwrap();
    assert_eq!(after.status(), 200);
    let root: Value = after.json().unwrap();
    assert!(link(&root, "deploymentBase").is_none());
}

fn forced_assignment_offers_complete_deployment_base(f: &Fixture) {
    let (sm, ds) = f.distribution_set("full", "image.swu", b"hello world");
    let (s, _) = f.post(
        &format!("/rest/v1/softwaremodules/{sm}/metadata"),
        json!([
            {"key": "visible", "value": "yes", "targetVisible": true},
            {"key": "hidden", "value": "no"}
        ]),
    );
    assert_eq!(s, 201);
    f.poll("dep1");
    let action = f.assign(ds, "dep1", json!({"type": "forced"}));
    let root = f.poll("dep1");
    let href = link(&root, "deploymentBase").unwrap();
    assert!(
        href.contains(&format!("/DEFAULT/controller/v1/dep1/deploymentBase/{action}?c=")),
        "{href}"
    );
    let (s, d) = read(
        f.ddi(Method::GET, "dep1", &format!("/deploymentBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    assert_eq!(d["id"], action.to_string());
    assert_eq!(d["deployment"]["download"], "forced");
    assert_eq!(d["deployment"]["update"], "forced");
    assert!(d["deployment"].get("maintenanceWindow").is_none());
    let chunk = &d["deployment"]["chunks"][0];
    assert_eq!(chunk["part"], "os");
    assert_eq!(chunk["name"], "full");
    assert_eq!(chunk["version"], "1.0");
    assert_eq!(chunk["metadata"], json!([{"key": "visible", "value": "yes"}]));
    let art = &chunk["artifacts"][0];
    assert_eq!(art["filename"], "image.swu");
    assert_eq!(art["size"], 11);
    assert_eq!(art["hashes"]["sha1"], "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed");
    assert_eq!(art["hashes"]["md5"], "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(
        art["hashes"]["sha256"],
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );
    let dl = art["_links"]["download-http"]["href"].as_str().unwrap();
    assert!(dl.ends_with(&format!(
        "/DEFAULT/controller/v1/dep1/softwaremodules/{sm}/artifacts/image.swu"
    )));
    assert_eq!(
        art["_links"]["md5sum-http"]["href"].as_str().unwrap(),
        format!("{dl}.MD5SUM")
    );
    // Fetching logs one RETRIEVED status, not one per fetch.
    f.ddi(Method::GET, "dep1", &format!("/deploymentBase/{action}"))
        .send()
        .unwrap();
    let (_, st) = f.get(&format!("/rest/v1/targets/dep1/actions/{action}/status"));
    let retrieved = st["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["type"] == "retrieved")
        .count();
    assert_eq!(retrieved, 1, "{st}");
    assert_eq!(f.action("dep1", action)["status"], "retrieved");
    // Behind a TLS proxy the links follow the forwarded scheme and host.
    let (_, d) = read(
        f.ddi(Method::GET, "dep1", &format!("/deploymentBase/{action}"))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "ota.example.com")
            .send()
            .unwrap(),
    );
    let art = &d["deployment"]["chunks"][0]["artifacts"][0];
    assert!(
        art["_links"]["download"]["href"]
            .as_str()
            .unwrap()
            .starts_with("https://ota.example.com/DEFAULT/")
    );
    // Unknown actions are 404.
    let (s, _) = read(
        f.ddi(Method::GET, "dep1", "/deploymentBase/999999")
            .send()
            .unwrap(),
    );
    assert_eq!(s, 404);
}

fn action_types_map_to_handling_types(f: &Fixture) {
    let (_, ds) = f.distribution_set("types", "t.swu", b"x");
    let cases = [
        ("soft", json!({"type": "soft"}), "attempt", "attempt"),
        ("dlonly", json!({"type": "downloadonly"}), "forced", "skip"),
        (
            "tfpast",
            json!({"type": "timeforced", "forcetime": 1}),
            "forced",
            "forced",
        ),
        (
            "tffuture",
            json!({"type": "timeforced", "forcetime": 4_102_444_800_000_i64}),
            "attempt",
            "attempt",
        ),
    ];
    for (cid, extra, download, update) in cases {
        f.poll(cid);
        let action = f.assign(ds, cid, extra);
        let (_, d) = read(
            f.ddi(Method::GET, cid, &format!("/deploymentBase/{action}"))
                .send()
                .unwrap(),
        );
        assert_eq!(d["deployment"]["download"], download, "{cid}");
        assert_eq!(d["deployment"]["update"], update, "{cid}");
    }
    // A download-only action is closed by `downloaded` and never shown as installed.
    let action = action_id_of(&link(&f.poll("dlonly"), "deploymentBase").unwrap());
    let (s, _) = f.feedback("dlonly", action, "downloaded", "none");
    assert_eq!(s, 200);
    assert_eq!(f.action("dlonly", action)["status"], "downloaded");
    assert_eq!(f.target("dlonly")["updateStatus"], "in_sync");
    assert!(link(&f.poll("dlonly"), "installedBase").is_none());
}

fn closed_success_sets_target_in_sync_and_installed_base(f: &Fixture) {
    let (_, ds) = f.distribution_set("ok", "ok.swu", b"ok");
    f.poll("ok1");
    f.ddi(Method::PUT, "ok1", "/configData")
        .json(&json!({"data": {"a": "b"}}))
        .send()
        .unwrap();
    assert!(link(&f.poll("ok1"), "configData").is_none());
    let action = f.assign(ds, "ok1", json!({}));
    assert_eq!(f.target("ok1")["updateStatus"], "pending");
    for (execution, finished) in [
        ("proceeding", "none"),
        ("download", "none"),
        ("downloaded", "none"),
        ("scheduled", "none"),
        ("resumed", "none"),
    ] {
        let (s, _) = f.feedback("ok1", action, execution, finished);
        assert_eq!(s, 200);
        assert_eq!(
            f.action("ok1", action)["active"],
            true,
            "{execution} is informational"
        );
    }
    let (s, _) = f.feedback("ok1", action, "closed", "success");
    assert_eq!(s, 200);
    let a = f.action("ok1", action);
    assert_eq!(a["status"], "finished");
    assert_eq!(a["active"], false);
    let t = f.target("ok1");
    assert_eq!(t["updateStatus"], "in_sync");
    let (_, installed) = f.get("/rest/v1/targets/ok1/installedDS");
    assert_eq!(installed["id"], ds);
    let root = f.poll("ok1");
    assert_eq!(action_id_of(&link(&root, "installedBase").unwrap()), action);
    assert!(
        link(&root, "configData").is_some(),
        "attributes are requested again after success"
    );
    let (s, d) = read(
        f.ddi(Method::GET, "ok1", &format!("/installedBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    assert_eq!(d["deployment"]["chunks"][0]["name"], "ok");
}

fn closed_failure_sets_target_error_and_feedback_after_close_is_gone(f: &Fixture) {
    let (_, ds) = f.distribution_set("bad", "bad.swu", b"bad");
    f.poll("err1");
    f.ddi(Method::PUT, "err1", "/configData")
        .json(&json!({"data": {"a": "b"}}))
        .send()
        .unwrap();
    let action = f.assign(ds, "err1", json!({}));
    let (s, _) = f.feedback("err1", action, "closed", "failure");
    assert_eq!(s, 200);
    assert_eq!(f.action("err1", action)["status"], "error");
    let t = f.target("err1");
    assert_eq!(t["updateStatus"], "error");
    let (s, _) = f.get("/rest/v1/targets/err1/assignedDS");
    assert_eq!(s, 204, "hawkBit forgets a failed assignment");
    let root = f.poll("err1");
    assert!(link(&root, "installedBase").is_none());
    assert!(link(&root, "configData").is_none());
    let (s, _) = f.feedback("err1", action, "closed", "success");
    assert_eq!(s, 410);
    // hawkBit serves installedBase for any inactive action that was not canceled; only the root
    // link leaves failed ones out.
    let (s, _) = read(
        f.ddi(Method::GET, "err1", &format!("/installedBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
}

fn cancel_is_offered_confirmed_and_closes_the_action(f: &Fixture) {
    let (_, ds) = f.distribution_set("cancel", "c.swu", b"c");
    f.poll("can1");
    let action = f.assign(ds, "can1", json!({}));
    let (s, _) = f.delete(&format!("/rest/v1/targets/can1/actions/{action}"));
    assert_eq!(s, 204);
    let (s, b) = f.delete(&format!("/rest/v1/targets/can1/actions/{action}"));
    assert_eq!(s, 405);
    assert_eq!(b["errorCode"], "hawkbit.server.error.action.notCancelable");
    let root = f.poll("can1");
    let href = link(&root, "cancelAction").unwrap();
    assert!(
        href.ends_with(&format!("/cancelAction/{action}")),
        "no query on cancel links: {href}"
    );
    assert!(link(&root, "deploymentBase").is_none());
    let (s, c) = read(
        f.ddi(Method::GET, "can1", &format!("/cancelAction/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    assert_eq!(
        c,
        json!({"id": action.to_string(), "cancelAction": {"stopId": action.to_string()}})
    );
    let (s, _) = read(
        f.ddi(Method::GET, "can1", &format!("/deploymentBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 404);
    let body = json!({"id": action, "time": "20261127T160744", "status": {"result": {"finished": "success"}, "execution": "closed", "details": ["cancellation acknowledged."]}});
    let (s, _) = read(
        f.ddi(Method::POST, "can1", &format!("/cancelAction/{action}/feedback"))
            .json(&body)
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    let a = f.action("can1", action);
    assert_eq!(
        (a["status"].as_str(), a["active"].as_bool(), a["type"].as_str()),
        (Some("canceled"), Some(false), Some("cancel"))
    );
    assert_eq!(f.target("can1")["updateStatus"], "in_sync");
    assert!(link(&f.poll("can1"), "cancelAction").is_none());
    // Cancel feedback for an action that is not being canceled is 405.
    let a2 = f.assign(ds, "can1", json!({}));
    assert_eq!(f.cancel_feedback("can1", a2, "closed", "success").0, 405);
    // Force quit works only while canceling.
    let (s, _) = f.delete(&format!("/rest/v1/targets/can1/actions/{a2}?force=true"));
    assert_eq!(s, 405);
    f.delete(&format!("/rest/v1/targets/can1/actions/{a2}"));
    let (s, _) = f.delete(&format!("/rest/v1/targets/can1/actions/{a2}?force=true"));
    assert_eq!(s, 204);
    assert_eq!(f.action("can1", a2)["status"], "canceled");
}

fn rejected_cancel_returns_action_to_running(f: &Fixture) {
    let (_, ds) = f.distribution_set("rej", "r.swu", b"r");
    f.poll("rej1");
    let action = f.assign(ds, "rej1", json!({}));
    f.delete(&format!("/rest/v1/targets/rej1/actions/{action}"));
    assert_eq!(f.cancel_feedback("rej1", action, "rejected", "success").0, 200);
    let a = f.action("rej1", action);
    assert_eq!(
        (a["status"].as_str(), a["active"].as_bool()),
        (Some("running"), Some(true))
    );
    assert!(link(&f.poll("rej1"), "deploymentBase").is_some());
}

fn device_may_ignore_a_cancel_and_finish(f: &Fixture) {
    let (_, ds) = f.distribution_set("ign", "i.swu", b"i");
    f.poll("ign1");
    let action = f.assign(ds, "ign1", json!({}));
    f.delete(&format!("/rest/v1/targets/ign1/actions/{action}"));
    // A cancel the device cannot honour: closed + failure keeps the action running.
    assert_eq!(f.cancel_feedback("ign1", action, "closed", "failure").0, 200);
    let a = f.action("ign1", action);
    assert_eq!(
        (a["status"].as_str(), a["active"].as_bool()),
        (Some("running"), Some(true))
    );
    let (_, st) = f.get(&format!("/rest/v1/targets/ign1/actions/{action}/status"));
    assert_eq!(st["content"][0]["type"], "error", "{st}");
    // Cancel again, and the device finishes the update anyway (hawkBit `rootRsCancelActionButContinueAnyway`).
    f.delete(&format!("/rest/v1/targets/ign1/actions/{action}"));
    assert_eq!(f.feedback("ign1", action, "closed", "success").0, 200);
    let a = f.action("ign1", action);
    assert_eq!(
        (a["status"].as_str(), a["active"].as_bool()),
        (Some("finished"), Some(false))
    );
    assert_eq!(f.target("ign1")["updateStatus"], "in_sync");
}

fn config_data_modes_validation_and_quota(f: &Fixture) {
    f.poll("cfg1");
    let put = |body: Value| {
        read(
            f.ddi(Method::PUT, "cfg1", "/configData")
                .json(&body)
                .send()
                .unwrap(),
        )
        .0
    };
    let attrs = || f.get("/rest/v1/targets/cfg1/attributes").1;
    assert_eq!(put(json!({"data": {"a": "1", "b": "2"}})), 200);
    assert_eq!(put(json!({"mode": "merge", "data": {"b": null, "c": "3"}})), 200);
    assert_eq!(attrs(), json!({"a": "1", "c": "3"}));
    assert_eq!(put(json!({"mode": "remove", "data": {"a": ""}})), 200);
    assert_eq!(attrs(), json!({"c": "3"}));
    // SWUpdate's body: legacy fields, replace.
    assert_eq!(
        put(
            json!({"id": "", "time": "20261127T160744", "mode": "replace", "status": {"result": {"finished": "success"}, "execution": "closed", "details": [""]}, "data": {"hw_revision": "1.0"}})
        ),
        200
    );
    assert_eq!(attrs(), json!({"hw_revision": "1.0"}));
    assert_eq!(put(json!({"id": "51659181"})), 400);
    assert_eq!(put(json!({"mode": "sideways", "data": {"a": "1"}})), 400);
    let (s, b) = read(
        f.ddi(Method::PUT, "cfg1", "/configData")
            .json(&json!({"data": {"k".repeat(129): "v"}}))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 400);
    assert_eq!(
        b["errorCode"],
        "hawkbit.server.error.repo.invalidTargetAttributes"
    );
    let r = f
        .ddi(Method::PUT, "cfg1", "/configData")
        .header("content-type", "application/hal+json")
        .body("{\"data\":{\"a\":\"b\"}}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 415);
    let many: serde_json::Map<String, Value> = (0..101).map(|i| (format!("k{i}"), json!("v"))).collect();
    let (s, b) = read(
        f.ddi(Method::PUT, "cfg1", "/configData")
            .json(&json!({"data": many}))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 429);
    assert_eq!(b["errorCode"], "hawkbit.server.error.quota.tooManyEntries");
    assert_eq!(
        attrs(),
        json!({"hw_revision": "1.0"}),
        "a refused update changes nothing"
    );
    let (s, _) = read(
        f.ddi(Method::PUT, "nobody", "/configData")
            .json(&json!({"data": {"a": "1"}}))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 404, "configData does not register devices");
}

fn malformed_feedback_is_rejected_with_hawkbit_body(f: &Fixture) {
    let (_, ds) = f.distribution_set("mal", "m.swu", b"m");
    f.poll("mal1");
    let action = f.assign(ds, "mal1", json!({}));
    let path = format!("/deploymentBase/{action}/feedback");
    for body in [
        json!({"status": {"execution": "closed"}}),
        json!({"status": {"execution": "closed", "result": {}}}),
        json!({"status": {"execution": "CLOSED", "result": {"finished": "success"}}}),
    ] {
        let (s, b) = read(f.ddi(Method::POST, "mal1", &path).json(&body).send().unwrap());
        assert_eq!(s, 400, "{body}");
        assert_eq!(b.as_object().unwrap().len(), 3, "{b}");
        assert_eq!(
            b["exceptionClass"],
            "org.eclipse.hawkbit.rest.exception.MessageNotReadableException"
        );
        assert_eq!(b["errorCode"], "hawkbit.server.error.rest.body.notReadable");
    }
    let (s, _) = read(
        f.ddi(Method::POST, "mal1", &path)
            .header("content-type", "application/json")
            .body("{\"status\": {")
            .send()
            .unwrap(),
    );
    assert_eq!(s, 400);
    let (s, b) = read(
        f.ddi(Method::POST, "mal1", &path)
            .header("content-type", "application/json")
            .body(vec![b' '; 600 * 1024])
            .send()
            .unwrap(),
    );
    assert_eq!(s, 413);
    assert!(b["errorCode"].is_string());
    // Legacy inputs: numeric id, compact time, progress with of = 0, a single detail string.
    let legacy = json!({"id": 42, "time": "20261127T160744", "status": {"execution": "proceeding", "result": {"finished": "none", "progress": {"cnt": 5, "of": 0}}, "details": "one string"}});
    let (s, _) = read(f.ddi(Method::POST, "mal1", &path).json(&legacy).send().unwrap());
    assert_eq!(s, 200);
    assert_eq!(f.action("mal1", action)["active"], true);
}

fn artifact_download_supports_ranges_and_checks(f: &Fixture) {
    let content: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let (sm, ds) = f.distribution_set("dl", "data.bin", &content);
    f.poll("dl1");
    f.assign(ds, "dl1", json!({}));
    let path = format!("/softwaremodules/{sm}/artifacts/data.bin");
    let full = f.ddi(Method::GET, "dl1", &path).send().unwrap();
    assert_eq!(full.status(), 200);
    let h = full.headers().clone();
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-disposition"], "attachment;filename=data.bin");
    assert!(h.contains_key("last-modified"));
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert_eq!(full.bytes().unwrap().as_ref(), &content[..]);
    let range = |r: &str| f.ddi_range("dl1", &path, r);
    let r = range("bytes=10-19");
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 10-19/5000");
    assert_eq!(r.bytes().unwrap().as_ref(), &content[10..20]);
    assert_eq!(range("bytes=-100").bytes().unwrap().as_ref(), &content[4900..]);
    assert_eq!(range("bytes=4990-").bytes().unwrap().as_ref(), &content[4990..]);
    let r = range("bytes=5000-");
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */5000");
    assert_eq!(range("bytes=100-10").status(), 416);
    assert_eq!(range("bytes=1-10,hdsfjksdh").status(), 416);
    let r = range("bytes=0-9,10-19");
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-type"],
        "multipart/byteranges; boundary=THIS_STRING_SEPARATES_MULTIPART"
    );
    let mut expected = b"--THIS_STRING_SEPARATES_MULTIPART\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-9/5000\r\n\r\n".to_vec();
    expected.extend_from_slice(&content[0..10]);
    expected.extend_from_slice(b"\r\n--THIS_STRING_SEPARATES_MULTIPART\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 10-19/5000\r\n\r\n");
    expected.extend_from_slice(&content[10..20]);
    expected.extend_from_slice(b"\r\n--THIS_STRING_SEPARATES_MULTIPART--");
    assert_eq!(r.bytes().unwrap().as_ref(), &expected[..]);
    // If-Match compares the unquoted SHA-1.
    let sha1 = etag.trim_matches('"').to_owned();
    assert_eq!(
        f.ddi(Method::GET, "dl1", &path)
            .header("if-match", &sha1)
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        f.ddi(Method::GET, "dl1", &path)
            .header("if-match", "deadbeef")
            .send()
            .unwrap()
            .status(),
        412
    );
    let head = f.ddi(Method::HEAD, "dl1", &path).send().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "5000");
    let md5 = f
        .ddi(Method::GET, "dl1", &format!("{path}.MD5SUM"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let expected_md5 = format!(
        "{}  data.bin",
        f.get(&format!("/rest/v1/softwaremodules/{sm}/artifacts")).1[0]["hashes"]["md5"]
            .as_str()
            .unwrap()
    );
    assert_eq!(md5, expected_md5);
    assert_eq!(
        f.ddi(
            Method::GET,
            "dl1",
            &format!("/softwaremodules/{sm}/artifacts/missing.bin")
        )
        .send()
        .unwrap()
        .status(),
        404
    );
    let (s, list) = read(
        f.ddi(Method::GET, "dl1", &format!("/softwaremodules/{sm}/artifacts"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    assert_eq!(list[0]["filename"], "data.bin");
    // A full download of an active action's artifact is logged.
    f.assert_download_logged("dl1");
}

fn artifacts_of_unassigned_modules_are_hidden(f: &Fixture) {
    let (sm, ds) = f.distribution_set("secret", "s.bin", b"secret");
    f.poll("mine");
    f.poll("other");
    f.assign(ds, "mine", json!({}));
    assert_eq!(
        f.ddi(
            Method::GET,
            "mine",
            &format!("/softwaremodules/{sm}/artifacts/s.bin")
        )
        .send()
        .unwrap()
        .status(),
        200
    );
    for rest in [
        format!("/softwaremodules/{sm}/artifacts/s.bin"),
        format!("/softwaremodules/{sm}/artifacts/s.bin.MD5SUM"),
        format!("/softwaremodules/{sm}/artifacts"),
    ] {
        assert_eq!(
            f.ddi(Method::GET, "other", &rest).send().unwrap().status(),
            404,
            "{rest}"
        );
    }
    // Another device cannot read this device's action either.
    let (_, acts) = f.get("/rest/v1/targets/mine/actions");
    let action = acts["content"][0]["id"].as_i64().unwrap();
    assert_eq!(
        f.ddi(Method::GET, "other", &format!("/deploymentBase/{action}"))
            .send()
            .unwrap()
            .status(),
        404
    );
    assert_eq!(f.feedback("other", action, "closed", "success").0, 404);
    assert_eq!(f.action("mine", action)["active"], true);
}

fn confirmation_flow_waits_for_the_device(f: &Fixture) {
    f.set_config("user.confirmation.flow.enabled", json!(true));
    let (_, ds) = f.distribution_set("consent", "c.swu", b"c");
    f.poll("con1");
    let action = f.assign(ds, "con1", json!({}));
    assert_eq!(f.action("con1", action)["status"], "wait_for_confirmation");
    let root = f.poll("con1");
    assert!(link(&root, "deploymentBase").is_none());
    assert_eq!(action_id_of(&link(&root, "confirmationBase").unwrap()), action);
    assert_eq!(
        f.ddi(Method::GET, "con1", &format!("/deploymentBase/{action}"))
            .send()
            .unwrap()
            .status(),
        404
    );
    let (s, base) = read(f.ddi(Method::GET, "con1", "/confirmationBase").send().unwrap());
    assert_eq!(s, 200);
    assert_eq!(base["autoConfirm"]["active"], false);
    assert!(link(&base, "activateAutoConfirm").is_some());
    let (s, c) = read(
        f.ddi(Method::GET, "con1", &format!("/confirmationBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    assert_eq!(c["confirmation"]["chunks"][0]["name"], "consent");
    let fb = |c: &str| {
        read(
            f.ddi(
                Method::POST,
                "con1",
                &format!("/confirmationBase/{action}/feedback"),
            )
            .json(&json!({"confirmation": c, "code": 200, "details": ["via HMI"]}))
            .send()
            .unwrap(),
        )
        .0
    };
    assert_eq!(fb("denied"), 200);
    assert_eq!(f.action("con1", action)["status"], "wait_for_confirmation");
    assert_eq!(fb("confirmed"), 200);
    assert_eq!(f.action("con1", action)["status"], "running");
    assert!(link(&f.poll("con1"), "deploymentBase").is_some());
    // Auto-confirm confirms waiting actions at once; activating twice is 409.
    let a2 = f.assign(
        f.distribution_set("consent2", "c2.swu", b"c2").1,
        "con1",
        json!({}),
    );
    assert_eq!(f.action("con1", a2)["status"], "wait_for_confirmation");
    let r = f
        .ddi(Method::POST, "con1", "/confirmationBase/activateAutoConfirm")
        .json(&json!({"initiator": "op", "remark": "ok"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(f.action("con1", a2)["status"], "running");
    let r = f
        .ddi(Method::POST, "con1", "/confirmationBase/activateAutoConfirm")
        .send()
        .unwrap();
    assert_eq!(r.status(), 409);
    let (_, base) = read(f.ddi(Method::GET, "con1", "/confirmationBase").send().unwrap());
    assert_eq!(base["autoConfirm"]["active"], true);
    assert_eq!(base["autoConfirm"]["initiator"], "op");
    assert_eq!(
        f.ddi(Method::POST, "con1", "/confirmationBase/deactivateAutoConfirm")
            .send()
            .unwrap()
            .status(),
        200
    );
}

fn action_history_lists_device_messages_newest_first(f: &Fixture) {
    let (_, ds) = f.distribution_set("hist", "h.swu", b"h");
    f.poll("his1");
    let action = f.assign(ds, "his1", json!({}));
    for m in ["one", "two", "three"] {
        let body =
            json!({"status": {"execution": "proceeding", "result": {"finished": "none"}, "details": [m]}});
        f.ddi(
            Method::POST,
            "his1",
            &format!("/deploymentBase/{action}/feedback"),
        )
        .json(&body)
        .send()
        .unwrap();
    }
    let get = |q: &str| {
        read(
            f.ddi(Method::GET, "his1", &format!("/deploymentBase/{action}{q}"))
                .send()
                .unwrap(),
        )
        .1
    };
    let h = get("?actionHistory=2");
    assert_eq!(h["actionHistory"]["messages"], json!(["three", "two"]));
    assert_eq!(h["actionHistory"]["status"], "RETRIEVED");
    let all = get("?actionHistory=-1")["actionHistory"]["messages"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(all[..3], [json!("three"), json!("two"), json!("one")]);
    assert!(
        all.iter()
            .all(|m| !m.as_str().unwrap().starts_with("Update Server: "))
    );
    assert!(get("?actionHistory=0").get("actionHistory").is_none());
    assert!(get("?actionHistory").get("actionHistory").is_none());
}

fn wrong_methods_and_unknown_tenants_are_refused(f: &Fixture) {
    f.poll("meth1");
    for (m, rest) in [
        (Method::POST, ""),
        (Method::DELETE, ""),
        (Method::PUT, "/deploymentBase/1"),
        (Method::GET, "/configData"),
        (Method::DELETE, "/softwaremodules/1/artifacts/x"),
    ] {
        assert_eq!(
            f.ddi(m.clone(), "meth1", rest).send().unwrap().status(),
            405,
            "{m} {rest}"
        );
    }
    let r = f
        .http
        .get(f.url("/nosuchtenant/controller/v1/dev"))
        .header("authorization", format!("GatewayToken {}", support::GW))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().unwrap();
    assert_eq!(b["errorCode"], "hawkbit.server.error.repo.tenantNotExists");
    // The tenant is case-insensitive, and links keep the device's spelling.
    let r = f
        .http
        .get(f.url("/default/controller/v1/meth1"))
        .header("authorization", format!("GatewayToken {}", support::GW))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let root: Value = r.json().unwrap();
    assert!(
        link(&root, "configData")
            .unwrap()
            .contains("/default/controller/v1/meth1/")
    );
    let long = "x".repeat(257);
    assert_eq!(f.ddi(Method::GET, &long, "").send().unwrap().status(), 400);
    assert_eq!(
        f.ddi(Method::GET, "meth1", "/deploymentBase/notanumber")
            .send()
            .unwrap()
            .status(),
        400
    );
    // No controller id is no resource (hawkBit `rootRsWithoutId`).
    let r = f
        .http
        .get(f.url("/DEFAULT/controller/v1/"))
        .header("authorization", format!("GatewayToken {}", support::GW))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    // Trailing slashes are accepted, as in hawkBit 0.3.
    assert_eq!(f.ddi(Method::GET, "meth1", "/").send().unwrap().status(), 200);
}

fn installed_base_reports_offline_installations(f: &Fixture) {
    let (_, ds) = f.distribution_set("factory", "f.swu", b"f");
    f.poll("ib1");
    let put = |name: &str| {
        f.ddi(Method::PUT, "ib1", "/installedBase")
            .json(&json!({"name": name, "version": "1.0"}))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(put("factory"), 201);
    assert_eq!(put("factory"), 200);
    assert_eq!(put("nonexistent"), 404);
    let t = f.target("ib1");
    assert_eq!(t["updateStatus"], "in_sync");
    assert_eq!(f.get("/rest/v1/targets/ib1/installedDS").1["id"], ds);
}

fn maintenance_window_controls_update(f: &Fixture) {
    let (_, ds) = f.distribution_set("mw", "m.swu", b"m");
    // Always open: every minute, for a minute.
    f.poll("mwopen");
    let a = f.assign(ds, "mwopen", json!({"maintenanceWindow": {"schedule": "0 * * * * ?", "duration": "00:01:00", "timezone": "+00:00"}}));
    let (_, d) = read(
        f.ddi(Method::GET, "mwopen", &format!("/deploymentBase/{a}"))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (
            d["deployment"]["update"].as_str(),
            d["deployment"]["maintenanceWindow"].as_str()
        ),
        (Some("forced"), Some("available"))
    );
    // Far away: once a year, in an hour-long window starting on 1 January.
    f.poll("mwclosed");
    let now = chrono_like_month();
    let schedule = if now == 1 { "0 0 0 1 7 ?" } else { "0 0 0 1 1 ?" };
    let a = f.assign(
        ds,
        "mwclosed",
        json!({"maintenanceWindow": {"schedule": schedule, "duration": "01:00:00", "timezone": "+00:00"}}),
    );
    let (_, d) = read(
        f.ddi(Method::GET, "mwclosed", &format!("/deploymentBase/{a}"))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (
            d["deployment"]["download"].as_str(),
            d["deployment"]["update"].as_str(),
            d["deployment"]["maintenanceWindow"].as_str()
        ),
        (Some("forced"), Some("skip"), Some("unavailable"))
    );
    // An invalid schedule is refused with hawkBit's code.
    f.poll("mwbad");
    let (s, b) = f.post(&format!("/rest/v1/distributionsets/{ds}/assignedTargets"),
        json!([{"id": "mwbad", "maintenanceWindow": {"schedule": "bogus", "duration": "01:00:00", "timezone": "+00:00"}}]));
    assert_eq!(s, 400);
    assert_eq!(b["errorCode"], "hawkbit.server.error.maintenanceScheduleInvalid");
}

/// The current month (1-12), without a date library in the tests.
fn chrono_like_month() -> u32 {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    // Civil-from-days (Howard Hinnant).
    let z = days as i64 + 719_468;
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    (if mp < 10 { mp + 3 } else { mp - 9 }) as u32
}
