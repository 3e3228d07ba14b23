//! Management API behaviour and bad input, black-box over HTTP, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Fixture, read};

backend_tests!(
    every_management_call_needs_credentials,
    system_configs_validate_keys_and_values,
    targets_are_created_listed_and_deleted,
    bad_bodies_and_unknown_ids_get_hawkbit_errors,
    uploads_with_bad_names_or_sizes_leave_nothing_behind,
    assignment_supersedes_the_open_action,
    tenants_see_only_their_own_data,
    targets_take_a_target_type,
    nobody_can_lock_the_administrators_out,
);

s3_tests!(
    @tweak |_: &mut updraft_server::config::Config| {};
    uploads_with_bad_names_or_sizes_leave_nothing_behind,
);

fn every_management_call_needs_credentials(f: &Fixture) {
    for path in [
        "/rest/v1/targets",
        "/rest/v1/system/configs",
        "/rest/v1/softwaremodules",
        "/rest/v1/distributionsets",
    ] {
        let r = f.http.get(f.url(path)).send().unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = f
            .http
            .get(f.url(path))
            .basic_auth("admin", Some("wrong"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    // A device token is not a management credential.
    let token = f.create_target("dev-not-admin");
    let r = f
        .http
        .get(f.url("/rest/v1/targets"))
        .header("authorization", format!("TargetToken {token}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

fn system_configs_validate_keys_and_values(f: &Fixture) {
    let (s, all) = f.get("/rest/v1/system/configs");
    assert_eq!(s, 200);
    assert_eq!(all["authentication.targettoken.enabled"]["value"], true);
    assert_eq!(all["pollingTime"]["value"], "00:05:00");
    let (s, b) = f.put("/rest/v1/system/configs/no.such.key", json!({"value": 1}));
    assert_eq!(s, 400);
    assert_eq!(b["errorCode"], "hawkbit.server.error.configKeyInvalid");
    let (s, b) = f.put("/rest/v1/system/configs/pollingTime", json!({"value": "soon"}));
    assert_eq!(s, 400);
    assert_eq!(b["errorCode"], "hawkbit.server.error.configValueInvalid");
    let (s, _) = f.put(
        "/rest/v1/system/configs/authentication.header.enabled",
        json!({"value": "maybe"}),
    );
    assert_eq!(s, 400);
    f.set_config("pollingTime", json!("00:00:07"));
    assert_eq!(f.poll("cfgpoll")["config"]["polling"]["sleep"], "00:00:07");
    // hawkBit ≥ 0.10 overrides: the first matching rule wins.
    f.set_config(
        "pollingTime",
        json!("00:02:00, controllerid == ovr1 -> 00:01:00, name == 'ovr*' -> 00:03:00"),
    );
    assert_eq!(f.poll("ovr1")["config"]["polling"]["sleep"], "00:01:00");
    assert_eq!(f.poll("ovr2")["config"]["polling"]["sleep"], "00:03:00");
    assert_eq!(f.poll("other")["config"]["polling"]["sleep"], "00:02:00");
    let (s, b) = f.put(
        "/rest/v1/system/configs/pollingTime",
        json!({"value": "00:02:00, tag == x -> 00:01:00"}),
    );
    assert_eq!(s, 400, "{b}");
    let (s, _) = f.put(
        "/rest/v1/system/configs/pollingTime",
        json!({"value": "00:00:00"}),
    );
    assert_eq!(s, 400, "below the minimum polling time");
    let (s, _) = f.delete("/rest/v1/system/configs/pollingTime");
    assert_eq!(s, 204);
    assert_eq!(f.poll("cfgpoll")["config"]["polling"]["sleep"], "00:05:00");
    // A batch with one bad value stores nothing.
    let (s, _) = f.put(
        "/rest/v1/system/configs",
        json!({"pollingTime": "00:01:00", "maintenanceWindowPollCount": "x"}),
    );
    assert_eq!(s, 400);
    assert_eq!(
        f.get("/rest/v1/system/configs/pollingTime").1["value"],
        "00:05:00"
    );
}

fn targets_are_created_listed_and_deleted(f: &Fixture) {
    let (s, v) = f.post(
        "/rest/v1/targets",
        json!([{"controllerId": "t1", "name": "one", "securityToken": "tok-1"}, {"controllerId": "t2"}]),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v[0]["securityToken"], "tok-1");
    assert_eq!(v[1]["securityToken"].as_str().unwrap().len(), 32);
    assert_eq!(v[0]["updateStatus"], "unknown");
    let (s, v) = f.post("/rest/v1/targets", json!([{"controllerId": "t1"}]));
    assert_eq!(s, 409);
    assert_eq!(v["errorCode"], "hawkbit.server.error.repo.entityAlreadyExists");
    let (s, b) = f.get("/rest/v1/targets?q=controllerId==t1");
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["total"].as_i64(), b["content"][0]["controllerId"].as_str()),
        (Some(1), Some("t1"))
    );
    let (_, list) = f.get("/rest/v1/targets?limit=1");
    assert_eq!(
        (list["total"].as_i64(), list["size"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(list["content"][0]["controllerId"], "t1");
    let (s, v) = f.put(
        "/rest/v1/targets/t1",
        json!({"name": "renamed", "requestAttributes": false}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "renamed");
    let (s, _) = f.delete("/rest/v1/targets/t1");
    assert_eq!(s, 204);
    assert_eq!(f.get("/rest/v1/targets/t1").0, 404);
    // A deleted device's token no longer works.
    let r = f
        .http
        .get(f.url("/DEFAULT/controller/v1/t1"))
        .header("authorization", "TargetToken tok-1")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

fn bad_bodies_and_unknown_ids_get_hawkbit_errors(f: &Fixture) {
    let r = f
        .mgmt(Method::POST, "/rest/v1/targets")
        .header("content-type", "application/json")
        .body("[{")
        .send()
        .unwrap();
    let (s, b) = read(r);
    assert_eq!(s, 400);
    assert_eq!(b["errorCode"], "hawkbit.server.error.rest.body.notReadable");
    let (s, _) = f.post("/rest/v1/targets", json!([{"controllerId": "has space"}]));
    assert_eq!(s, 400);
    let (s, b) = f.post(
        "/rest/v1/targets",
        json!([{"controllerId": "n", "name": "x".repeat(129)}]),
    );
    assert_eq!(s, 400);
    assert_eq!(b["errorCode"], "hawkbit.server.error.repo.constraintViolation");
    let (s, _) = f.get("/rest/v1/targets?limit=1");
    assert_eq!(s, 200);
    assert_eq!(
        f.get("/rest/v1/targets?limit=1").1["total"],
        0,
        "refused creations left no rows"
    );
    let r = f
        .mgmt(Method::POST, "/rest/v1/targets")
        .header("content-type", "text/plain")
        .body("[]")
        .send()
        .unwrap();
    assert_eq!(r.status(), 415);
    let (s, b) = f.get("/rest/v1/targets/nope");
    assert_eq!(s, 404);
    assert_eq!(b["errorCode"], "hawkbit.server.error.repo.entityNotFound");
    assert_eq!(f.get("/rest/v1/softwaremodules/424242").0, 404);
    assert_eq!(f.get("/rest/v1/distributionsets/424242").0, 404);
    assert_eq!(
        f.post(
            "/rest/v1/distributionsets/424242/assignedTargets",
            json!([{"id": "x"}])
        )
        .0,
        404
    );
    let (s, _) = f.post(
        "/rest/v1/softwaremodules",
        json!([{"name": "a", "version": "1", "type": "nosuchtype"}]),
    );
    assert_eq!(s, 404);
    let (s, _) = f.post(
        "/rest/v1/softwaremodules",
        json!([{"name": "dup", "version": "1", "type": "os"}, {"name": "dup", "version": "1", "type": "os"}]),
    );
    assert_eq!(s, 409);
    assert_eq!(
        f.get("/rest/v1/softwaremodules").1["total"],
        0,
        "the whole batch was rolled back"
    );
    // An incomplete set (type os needs an os module) cannot be assigned.
    let (_, ds) = f.post(
        "/rest/v1/distributionsets",
        json!([{"name": "empty", "version": "1", "type": "os"}]),
    );
    f.poll("inc1");
    let (s, b) = f.post(
        &format!("/rest/v1/distributionsets/{}/assignedTargets", ds[0]["id"]),
        json!([{"id": "inc1"}]),
    );
    assert_eq!(s, 400);
    assert_eq!(b["errorCode"], "hawkbit.server.error.distributionset.incomplete");
}

/// Blobs the server keeps: files in its data dir, or objects in its bucket.
fn blob_files(f: &Fixture) -> usize {
    fn walk(p: &std::path::Path) -> usize {
        std::fs::read_dir(p).map_or(0, |rd| {
            rd.flatten()
                .map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 })
                .sum()
        })
    }
    let config = &f.srv.state.config;
    if config.storage == updraft_server::storage::StorageKind::S3 {
        return support::s3::object_keys(&config.s3).len();
    }
    walk(&f.srv.data_dir.join("artifacts"))
}

fn uploads_with_bad_names_or_sizes_leave_nothing_behind(f: &Fixture) {
    let (_, sm) = f.post(
        "/rest/v1/softwaremodules",
        json!([{"name": "up", "version": "1", "type": "os"}]),
    );
    let sm = sm[0]["id"].as_i64().unwrap();
    for name in ["../../etc/passwd", "a/b.bin", "..", "a\\b"] {
        let (s, b) = f.upload(sm, name, b"evil".to_vec());
        assert_eq!(s, 400, "{name}: {b}");
    }
    assert_eq!(blob_files(f), 0, "refused uploads leave no files");
    assert!(!f.srv.data_dir.parent().unwrap().join("etc").exists());
    let (s, _) = f.upload(sm, "ok.bin", b"fine".to_vec());
    assert_eq!(s, 201);
    let (s, b) = f.upload(sm, "ok.bin", b"other".to_vec());
    assert_eq!(s, 409, "{b}");
    assert_eq!(blob_files(f), 1, "the refused duplicate's blob was removed");
    let (_, list) = f.get(&format!("/rest/v1/softwaremodules/{sm}/artifacts"));
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Deleting the artifact removes the blob.
    let aid = list[0]["id"].as_i64().unwrap();
    let r = f
        .mgmt(
            Method::GET,
            &format!("/rest/v1/softwaremodules/{sm}/artifacts/{aid}/download"),
        )
        .send()
        .unwrap();
    assert_eq!(r.bytes().unwrap().as_ref(), b"fine");
    assert_eq!(
        f.delete(&format!("/rest/v1/softwaremodules/{sm}/artifacts/{aid}"))
            .0,
        204
    );
    assert_eq!(blob_files(f), 0);
}

fn assignment_supersedes_the_open_action(f: &Fixture) {
    let (_, ds1) = f.distribution_set("first", "1.swu", b"1");
    let (_, ds2) = f.distribution_set("second", "2.swu", b"2");
    f.poll("sup1");
    let a1 = f.assign(ds1, "sup1", json!({}));
    let (s, v) = f.post(
        &format!("/rest/v1/distributionsets/{ds1}/assignedTargets"),
        json!([{"id": "sup1"}]),
    );
    assert_eq!(s, 200);
    assert_eq!(
        (v["assigned"].as_i64(), v["alreadyAssigned"].as_i64()),
        (Some(0), Some(1))
    );
    let a2 = f.assign(ds2, "sup1", json!({}));
    assert_eq!(f.action("sup1", a1)["status"], "canceling");
    // The device is told to cancel the old action first.
    let root = f.poll("sup1");
    assert!(
        support::link(&root, "cancelAction")
            .unwrap()
            .ends_with(&format!("/{a1}"))
    );
    assert_eq!(f.cancel_feedback("sup1", a1, "closed", "success").0, 200);
    let root = f.poll("sup1");
    assert_eq!(
        support::action_id_of(&support::link(&root, "deploymentBase").unwrap()),
        a2
    );
    assert_eq!(f.get("/rest/v1/targets/sup1/assignedDS").1["id"], ds2);
    // The implicit lock: an assigned module takes no new artifacts.
    let sm = f.get(&format!("/rest/v1/distributionsets/{ds2}")).1["modules"][0]["id"]
        .as_i64()
        .unwrap();
    let (s, b) = f.upload(sm, "late.bin", b"late".to_vec());
    assert_eq!(s, 423, "{b}");
}

/// A second tenant with its own admin, made directly in the database (tenants and users get an API
/// with the users-and-roles issue).
fn other_tenant(f: &Fixture) -> (String, String) {
    let state = &f.srv.state;
    let now = state.now();
    state
        .db
        .tx_blocking(|c| updraft_server::bootstrap::ensure_tenant(c, "OTHER", now))
        .unwrap();
    updraft_server::auth::users::add_user(
        &state.db,
        "OTHER",
        "other-admin",
        "other-password",
        "TENANT_ADMIN",
        now,
    )
    .unwrap();
    ("other-admin".into(), "other-password".into())
}

fn tenants_see_only_their_own_data(f: &Fixture) {
    let (_, ds) = f.distribution_set("mine", "m.swu", b"mine");
    let sm = f.get(&format!("/rest/v1/distributionsets/{ds}")).1["modules"][0]["id"]
        .as_i64()
        .unwrap();
    f.poll("shared-id");
    let action = f.assign(ds, "shared-id", json!({}));
    let (user, password) = other_tenant(f);
    let as_other = |m: Method, path: &str| {
        read(
            f.http
                .request(m, f.url(path))
                .basic_auth(&user, Some(&password))
                .send()
                .unwrap(),
        )
    };
    assert_eq!(as_other(Method::GET, "/rest/v1/targets").1["total"], 0);
    assert_eq!(as_other(Method::GET, "/rest/v1/targets/shared-id").0, 404);
    assert_eq!(
        as_other(
            Method::GET,
            &format!("/rest/v1/targets/shared-id/actions/{action}")
        )
        .0,
        404
    );
    assert_eq!(
        as_other(
            Method::DELETE,
            &format!("/rest/v1/targets/shared-id/actions/{action}")
        )
        .0,
        404
    );
    assert_eq!(
        as_other(Method::GET, &format!("/rest/v1/softwaremodules/{sm}")).0,
        404
    );
    assert_eq!(
        as_other(Method::GET, &format!("/rest/v1/softwaremodules/{sm}/artifacts")).0,
        404
    );
    assert_eq!(
        as_other(Method::GET, &format!("/rest/v1/distributionsets/{ds}")).0,
        404
    );
    assert_eq!(as_other(Method::GET, "/rest/v1/distributionsets").1["total"], 0);
    assert_eq!(
        as_other(Method::DELETE, &format!("/rest/v1/distributionsets/{ds}")).0,
        404
    );
    let (s, _) = read(
        f.http
            .post(f.url(&format!("/rest/v1/distributionsets/{ds}/assignedTargets")))
            .basic_auth(&user, Some(&password))
            .json(&json!([{"id": "shared-id"}]))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 404, "another tenant's set cannot be assigned");
    // Tenant settings are separate: DEFAULT's gateway token does not open tenant OTHER.
    assert_eq!(
        as_other(
            Method::GET,
            "/rest/v1/system/configs/authentication.gatewaytoken.enabled"
        )
        .1["value"],
        false
    );
    let r = f
        .http
        .get(f.url("/OTHER/controller/v1/shared-id"))
        .header("authorization", format!("GatewayToken {}", support::GW))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // The same controller id in the other tenant is another target.
    let (s, _) = read(
        f.http
            .post(f.url("/rest/v1/targets"))
            .basic_auth(&user, Some(&password))
            .json(&json!([{"controllerId": "shared-id", "securityToken": "other-token"}]))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 201);
    let r = f
        .http
        .get(f.url("/OTHER/controller/v1/shared-id"))
        .header("authorization", "TargetToken other-token")
        .send()
        .unwrap();
    let root: serde_json::Value = r.json().unwrap();
    assert!(
        support::link(&root, "deploymentBase").is_none(),
        "the DEFAULT tenant's action is not visible: {root}"
    );
    assert_eq!(f.action("shared-id", action)["status"], "running");
}

fn targets_take_a_target_type(f: &Fixture) {
    let (s, v) = f.post(
        "/rest/v1/targettypes",
        json!([{ "name": "Raspberry Pi 4", "key": "pi4" }]),
    );
    assert_eq!(s, 201, "{v}");
    let pi4 = v[0]["id"].as_i64().unwrap();
    let (s, v) = f.post("/rest/v1/targettypes", json!([{ "name": "Pi 5", "key": "pi5" }]));
    assert_eq!(s, 201, "{v}");
    let pi5 = v[0]["id"].as_i64().unwrap();

    let (s, v) = f.post(
        "/rest/v1/targets",
        json!([{ "controllerId": "typed", "targetType": pi4, "requestAttributes": false }]),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v[0]["targetType"], pi4);
    assert_eq!(v[0]["targetTypeName"], "Raspberry Pi 4");
    assert_eq!(v[0]["requestAttributes"], false);
    let (_, t) = f.get("/rest/v1/targets/typed");
    assert!(
        t["_links"]["targetType"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/targettypes/{pi4}"))
    );

    let (s, v) = f.put("/rest/v1/targets/typed", json!({ "targetType": pi5 }));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["targetTypeName"], "Pi 5");

    // An unknown type is a 404 for the type, and nothing is created or changed.
    let (s, v) = f.post(
        "/rest/v1/targets",
        json!([{ "controllerId": "untyped", "targetType": 9999 }]),
    );
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["info"]["type"], "TargetType", "{v}");
    assert_eq!(f.get("/rest/v1/targets/untyped").0, 404);
    let (s, _) = f.put("/rest/v1/targets/typed", json!({ "targetType": 9999 }));
    assert_eq!(s, 404);
    assert_eq!(f.get("/rest/v1/targets/typed").1["targetType"], pi5);
}

fn nobody_can_lock_the_administrators_out(f: &Fixture) {
    // Alone, the admin can neither delete itself nor be deleted.
    let (s, v) = f.delete("/rest/v1/users/admin");
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["errorCode"], "updraft.server.error.user.notDeletable", "{v}");
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "second-admin", "password": "second-admin-password", "permissions": ["SYSTEM_ADMIN"] }),
    );
    assert_eq!(s, 201, "{v}");
    let second = |m: Method, path: &str| {
        read(
            f.http
                .request(m, f.url(path))
                .basic_auth("second-admin", Some("second-admin-password"))
                .send()
                .unwrap(),
        )
    };
    // With a second SYSTEM_ADMIN, the first can go, but the last one stays.
    assert_eq!(second(Method::DELETE, "/rest/v1/users/admin").0, 204);
    assert_eq!(
        f.get("/rest/v1/userinfo").0,
        401,
        "the deleted admin's credentials stop working"
    );
    let (s, v) = second(Method::DELETE, "/rest/v1/users/second-admin");
    assert_eq!(s, 409, "{v}");
    assert_eq!(second(Method::GET, "/rest/v1/userinfo").0, 200);
}
