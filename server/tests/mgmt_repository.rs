#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The distribution set and software module endpoints beyond create/read/delete: updates, module
//! lists, target lists, statistics, invalidation, metadata, permissions and tenant isolation.

mod support;

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, controller_ids, read};

backend_tests!(
    ds_update,
    ds_lock_needs_complete_set,
    ds_assigned_modules,
    ds_target_lists,
    ds_auto_assign_filters,
    ds_statistics,
    ds_invalidate_soft,
    ds_invalidate_force,
    ds_invalidate_none,
    ds_invalidate_bad_body,
    sm_update,
    sm_metadata,
    sm_artifacts_representation,
    sm_delete,
    permission_denied,
    other_tenant_sees_nothing,
);

const NOT_FOUND: &str = "hawkbit.server.error.repo.entityNotFound";
const NOT_READABLE: &str = "hawkbit.server.error.rest.body.notReadable";
const LOCKED: &str = "hawkbit.server.error.locked";

fn ds_path(ds: i64) -> String {
    format!("/rest/v1/distributionsets/{ds}")
}

fn sm_path(sm: i64) -> String {
    format!("/rest/v1/softwaremodules/{sm}")
}

/// A software module without artifacts; returns its id.
fn module(f: &Fixture, name: &str, ty: &str) -> i64 {
    let (s, v) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": name, "version": "1.0", "type": ty }]),
    );
    assert_eq!(s, 201, "{v}");
    v[0]["id"].as_i64().unwrap()
}

/// A distribution set of type `ty` with the given modules; returns its id.
fn set(f: &Fixture, name: &str, ty: &str, modules: &[i64]) -> i64 {
    let modules: Vec<Value> = modules.iter().map(|m| json!({ "id": m })).collect();
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": name, "version": "1.0", "type": ty, "modules": modules }]),
    );
    assert_eq!(s, 201, "{v}");
    v[0]["id"].as_i64().unwrap()
}

fn assert_error(r: (u16, Value), status: u16, code: &str) {
    assert_eq!(r.0, status, "{}", r.1);
    assert_eq!(r.1["errorCode"], code, "{}", r.1);
}

fn ds_update(f: &Fixture) {
    let (sm, ds) = f.distribution_set("one", "a.bin", b"a");
    let (s, v) = f.put(
        &ds_path(ds),
        json!({ "name": "renamed", "description": "new text", "requiredMigrationStep": true }),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], ds);
    assert_eq!(v["name"], "renamed");
    assert_eq!(v["version"], "1.0");
    assert_eq!(v["description"], "new text");
    assert_eq!(v["requiredMigrationStep"], true);
    assert_eq!(v["locked"], false);
    assert_eq!(v["modules"][0]["id"], sm);
    assert_eq!(f.get(&ds_path(ds)).1["name"], "renamed");

    let (s, v) = f.put(&ds_path(ds), json!({ "locked": true }));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["locked"], true);
    assert_eq!(v["name"], "renamed");
    assert_eq!(f.get(&sm_path(sm)).1["locked"], true);
    let (s, v) = f.put(&ds_path(ds), json!({ "locked": false }));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["locked"], false);

    let (_, other) = f.distribution_set("two", "b.bin", b"b");
    assert_error(
        f.put(&ds_path(other), json!({ "name": "renamed" })),
        409,
        "hawkbit.server.error.repo.entityAlreadyExists",
    );
    assert_eq!(f.get(&ds_path(other)).1["name"], "two");
    // Unknown fields are ignored, as hawkBit's Jackson does.
    let before = f.get(&ds_path(ds)).1;
    let (s, v) = f.put(&ds_path(ds), json!({ "colour": "red" }));
    assert_eq!((s, &v["name"]), (200, &before["name"]), "{v}");
    assert_error(f.put(&ds_path(ds), json!({ "name": 5 })), 400, NOT_READABLE);
    assert_error(
        f.put(&ds_path(ds), json!({ "name": " " })),
        400,
        "hawkbit.server.error.repo.constraintViolation",
    );
    assert_error(f.put(&ds_path(999_999), json!({ "name": "x" })), 404, NOT_FOUND);

    f.create_target("u1");
    f.assign(other, "u1", json!({}));
    assert_error(
        f.put(&ds_path(other), json!({ "requiredMigrationStep": true })),
        403,
        "hawkbit.server.error.entityReadOnly",
    );
    let (s, v) = f.put(
        &ds_path(other),
        json!({ "requiredMigrationStep": false, "description": "still editable" }),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["requiredMigrationStep"], false);
    assert_eq!(v["description"], "still editable");
}

fn ds_lock_needs_complete_set(f: &Fixture) {
    let ds = set(f, "empty", "os", &[]);
    assert_eq!(f.get(&ds_path(ds)).1["complete"], false);
    assert_error(
        f.put(&ds_path(ds), json!({ "locked": true })),
        400,
        "hawkbit.server.error.distributionset.incomplete",
    );
    assert_eq!(f.get(&ds_path(ds)).1["locked"], false);
}

fn ds_assigned_modules(f: &Fixture) {
    let os = module(f, "os", "os");
    let os2 = module(f, "os2", "os");
    let app = module(f, "app", "application");
    let ds = set(f, "set", "os", &[]);
    let path = format!("{}/assignedSM", ds_path(ds));

    let r = f
        .mgmt(Method::POST, &path)
        .json(&json!([{ "id": os }]))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (s, v) = f.get(&path);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 1);
    assert_eq!(v["size"], 1);
    assert_eq!(v["content"][0]["id"], os);
    assert_eq!(v["content"][0]["type"], "os");
    assert_eq!(f.get(&ds_path(ds)).1["complete"], true);

    let unsupported = "hawkbit.server.error.distributionset.modules.unsupported";
    assert_error(f.post(&path, json!([{ "id": app }])), 400, unsupported);
    assert_error(f.post(&path, json!([{ "id": os2 }])), 400, unsupported);
    assert_error(f.post(&path, json!([{ "id": 999_999 }])), 404, NOT_FOUND);
    assert_eq!(f.get(&path).1["total"], 1);
    assert_error(
        f.get("/rest/v1/distributionsets/999999/assignedSM"),
        404,
        NOT_FOUND,
    );

    let both = set(f, "both", "os_app", &[os]);
    let both_path = format!("{}/assignedSM", ds_path(both));
    let (s, v) = f.post(&both_path, json!([{ "id": app }]));
    assert_eq!(s, 204, "{v}");
    let (_, v) = f.get(&format!("{both_path}?sort=id:DESC&limit=1"));
    assert_eq!(v["total"], 2);
    assert_eq!(v["size"], 1);
    assert_eq!(v["content"][0]["id"], app);

    let (s, v) = f.delete(&format!("{path}/{os}"));
    assert_eq!(s, 204, "{v}");
    assert_eq!(f.get(&path).1["total"], 0);
    assert_error(f.delete(&format!("{path}/{os}")), 404, NOT_FOUND);

    let (s, v) = f.put(&ds_path(both), json!({ "locked": true }));
    assert_eq!(s, 200, "{v}");
    assert_error(f.post(&both_path, json!([{ "id": os2 }])), 423, LOCKED);
    assert_error(f.delete(&format!("{both_path}/{app}")), 423, LOCKED);
    assert_eq!(f.get(&both_path).1["total"], 2);
}

fn ds_target_lists(f: &Fixture) {
    let (_, ds) = f.distribution_set("lists", "l.bin", b"l");
    let mut actions = Vec::new();
    for cid in ["t1", "t2", "t3"] {
        f.create_target(cid);
        actions.push(f.assign(ds, cid, json!({})));
    }
    f.create_target("other");
    let assigned = format!("{}/assignedTargets", ds_path(ds));
    let (s, v) = f.get(&assigned);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 3);
    assert_eq!(controller_ids(&v), ["t1", "t2", "t3"]);
    assert_eq!(v["content"][0]["updateStatus"], "pending");
    assert!(
        v["content"][0]["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/targets/t1")
    );
    let (_, v) = f.get(&format!("{assigned}?sort=id:DESC&limit=2"));
    assert_eq!(v["total"], 3);
    assert_eq!(v["size"], 2);
    assert_eq!(controller_ids(&v), ["t3", "t2"]);
    let (_, v) = f.get(&format!("{assigned}?sort=id:DESC&offset=2&limit=2"));
    assert_eq!(controller_ids(&v), ["t1"]);
    assert_eq!(f.get(&format!("{assigned}?sort=nosuchfield:ASC")).0, 400);

    let installed = format!("{}/installedTargets", ds_path(ds));
    let (s, v) = f.get(&installed);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 0);
    let (s, v) = f.feedback("t2", actions[1], "closed", "success");
    assert_eq!(s, 200, "{v}");
    let (_, v) = f.get(&installed);
    assert_eq!(v["total"], 1);
    assert_eq!(controller_ids(&v), ["t2"]);
    assert_eq!(v["content"][0]["updateStatus"], "in_sync");

    assert_error(
        f.get("/rest/v1/distributionsets/999999/assignedTargets"),
        404,
        NOT_FOUND,
    );
    assert_error(
        f.get("/rest/v1/distributionsets/999999/installedTargets"),
        404,
        NOT_FOUND,
    );
}

/// Stores a target filter query directly: the `/targetfilters` resource is built elsewhere.
fn filter_row(f: &Fixture, name: &str, ds: Option<i64>) {
    use updraft_server::store::schema::target_filter_queries as tfq;
    let state = &f.srv.state;
    let now = state.now();
    let name = name.to_owned();
    state
        .db
        .tx_blocking(move |c| {
            diesel::insert_into(tfq::table)
                .values((
                    tfq::tenant.eq("DEFAULT"),
                    tfq::name.eq(&name),
                    tfq::query.eq("name==*"),
                    tfq::auto_assign_ds_id.eq(ds),
                    tfq::auto_assign_action_type.eq(ds.map(|_| "forced")),
                    tfq::auto_assign_weight.eq(ds.map(|_| 600)),
                    tfq::confirmation_required.eq(false),
                    tfq::created_at.eq(now),
                    tfq::created_by.eq("admin"),
                    tfq::last_modified_at.eq(now),
                    tfq::last_modified_by.eq("admin"),
                ))
                .execute(c)?;
            Ok(())
        })
        .unwrap();
}

fn ds_auto_assign_filters(f: &Fixture) {
    let (_, ds) = f.distribution_set("auto", "a.bin", b"a");
    let path = format!("{}/autoAssignTargetFilters", ds_path(ds));
    let (s, v) = f.get(&path);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 0);
    filter_row(f, "first", Some(ds));
    filter_row(f, "second", Some(ds));
    filter_row(f, "unrelated", None);
    let (_, v) = f.get(&path);
    assert_eq!(v["total"], 2);
    assert_eq!(v["content"][0]["name"], "first");
    assert_eq!(v["content"][0]["query"], "name==*");
    assert_eq!(v["content"][0]["autoAssignDistributionSet"], ds);
    assert_eq!(v["content"][0]["autoAssignActionType"], "forced");
    assert_eq!(v["content"][0]["autoAssignWeight"], 600);
    assert_eq!(v["content"][0]["confirmationRequired"], false);
    assert!(v["content"][0]["_links"]["autoAssignDS"]["href"].is_string());
    let (_, v) = f.get(&format!("{path}?sort=id:DESC&limit=1"));
    assert_eq!((v["total"].clone(), v["size"].clone()), (json!(2), json!(1)));
    assert_eq!(v["content"][0]["name"], "second");
    let (s, v) = f.get(&format!("{}/statistics/autoassignments", ds_path(ds)));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({ "totalAutoAssignments": 2 }));
    assert_error(
        f.get("/rest/v1/distributionsets/999999/autoAssignTargetFilters"),
        404,
        NOT_FOUND,
    );

    let (s, v) = f.post(
        &format!("{}/invalidate", ds_path(ds)),
        json!({ "actionCancelationType": "none" }),
    );
    assert_eq!(s, 204, "{v}");
    assert_eq!(f.get(&path).1["total"], 0);
}

fn ds_statistics(f: &Fixture) {
    let (_, ds) = f.distribution_set("stats", "s.bin", b"s");
    let base = format!("{}/statistics", ds_path(ds));
    let (s, v) = f.get(&base);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({ "totalAutoAssignments": 0 }));

    let mut actions = Vec::new();
    for cid in ["s1", "s2", "s3"] {
        f.create_target(cid);
        actions.push(f.assign(ds, cid, json!({})));
    }
    assert_eq!(f.feedback("s1", actions[0], "closed", "success").0, 200);
    assert_eq!(f.feedback("s2", actions[1], "closed", "failure").0, 200);
    let expected = json!({ "FINISHED": 1, "ERROR": 1, "RUNNING": 1, "total": 3 });
    let (_, v) = f.get(&base);
    assert_eq!(v, json!({ "actions": expected, "totalAutoAssignments": 0 }));
    let (s, v) = f.get(&format!("{base}/actions"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({ "actions": expected }));
    let (s, v) = f.get(&format!("{base}/rollouts"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({}));
    for part in ["", "/actions", "/rollouts", "/autoassignments"] {
        assert_error(
            f.get(&format!("/rest/v1/distributionsets/999999/statistics{part}")),
            404,
            NOT_FOUND,
        );
    }
}

/// A set assigned to one target; returns (ds, action).
fn assigned_set(f: &Fixture, cid: &str) -> (i64, i64) {
    let (_, ds) = f.distribution_set(cid, "i.bin", b"i");
    f.create_target(cid);
    (ds, f.assign(ds, cid, json!({})))
}

fn invalidate(f: &Fixture, ds: i64, kind: &str) {
    let (s, v) = f.post(
        &format!("{}/invalidate", ds_path(ds)),
        json!({ "actionCancelationType": kind, "cancelRollouts": true }),
    );
    assert_eq!(s, 204, "{v}");
    let v = f.get(&ds_path(ds)).1;
    assert_eq!(v["valid"], false);
    assert_eq!(v["complete"], true);
    f.create_target("late");
    assert_error(
        f.post(
            &format!("{}/assignedTargets", ds_path(ds)),
            json!([{ "id": "late" }]),
        ),
        400,
        "hawkbit.server.error.distributionset.invalid",
    );
    assert_eq!(f.target("late")["updateStatus"], "unknown");
}

fn ds_invalidate_soft(f: &Fixture) {
    let (ds, action) = assigned_set(f, "soft");
    invalidate(f, ds, "soft");
    let a = f.action("soft", action);
    assert_eq!(a["status"], "canceling");
    assert_eq!(a["active"], true);
    assert_eq!(a["type"], "cancel");
    assert!(f.poll("soft")["_links"]["cancelAction"].is_object());
}

fn ds_invalidate_force(f: &Fixture) {
    let (ds, action) = assigned_set(f, "force");
    invalidate(f, ds, "force");
    let a = f.action("force", action);
    assert_eq!(a["status"], "canceled");
    assert_eq!(a["active"], false);
    assert!(f.poll("force")["_links"].get("deploymentBase").is_none());
}

fn ds_invalidate_none(f: &Fixture) {
    let (ds, action) = assigned_set(f, "none");
    invalidate(f, ds, "none");
    let a = f.action("none", action);
    assert_eq!(a["status"], "running");
    assert_eq!(a["active"], true);
}

fn ds_invalidate_bad_body(f: &Fixture) {
    let (ds, action) = assigned_set(f, "bad");
    let path = format!("{}/invalidate", ds_path(ds));
    assert_error(
        f.post(&path, json!({ "actionCancelationType": "later" })),
        400,
        NOT_READABLE,
    );
    assert_error(f.post(&path, json!({})), 400, NOT_READABLE);
    assert_eq!(f.get(&ds_path(ds)).1["valid"], true);
    assert_eq!(f.action("bad", action)["status"], "running");
    assert_error(
        f.post(
            "/rest/v1/distributionsets/999999/invalidate",
            json!({ "actionCancelationType": "soft" }),
        ),
        404,
        NOT_FOUND,
    );
    let incomplete = set(f, "incomplete", "os", &[]);
    assert_error(
        f.post(
            &format!("{}/invalidate", ds_path(incomplete)),
            json!({ "actionCancelationType": "none" }),
        ),
        400,
        "hawkbit.server.error.distributionset.incomplete",
    );
}

fn sm_update(f: &Fixture) {
    let sm = module(f, "mod", "os");
    let (s, v) = f.put(&sm_path(sm), json!({ "description": "d", "vendor": "acme" }));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], sm);
    assert_eq!(v["description"], "d");
    assert_eq!(v["vendor"], "acme");
    assert_eq!(v["name"], "mod");
    assert_eq!(v["locked"], false);
    let (s, v) = f.put(&sm_path(sm), json!({ "locked": true }));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["locked"], true);
    assert_eq!(v["vendor"], "acme");
    assert_error(f.upload(sm, "x.bin", b"x".to_vec()), 423, LOCKED);
    let (s, v) = f.put(&sm_path(sm), json!({ "locked": false }));
    assert_eq!(s, 200, "{v}");
    assert_eq!(f.upload(sm, "x.bin", b"x".to_vec()).0, 201);

    // A module's name cannot change; hawkBit ignores the field, and so do we.
    let (s, v) = f.put(&sm_path(sm), json!({ "name": "renamed" }));
    assert_eq!(s, 200, "{v}");
    assert_ne!(v["name"], "renamed");
    assert_error(
        f.put(&sm_path(sm), json!({ "vendor": "v".repeat(300) })),
        400,
        "hawkbit.server.error.repo.constraintViolation",
    );
    assert_error(f.put(&sm_path(999_999), json!({ "vendor": "x" })), 404, NOT_FOUND);
}

fn sm_metadata(f: &Fixture) {
    let sm = module(f, "meta", "os");
    let base = format!("{}/metadata", sm_path(sm));
    let (s, v) = f.post(&base, json!([{ "key": "k1", "value": "v1" }]));
    assert_eq!(s, 201, "{v}");
    assert_error(
        f.post(&base, json!([{ "key": "k1", "value": "again" }])),
        409,
        "hawkbit.server.error.repo.entityAlreadyExists",
    );
    let (s, v) = f.get(&format!("{base}/k1"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({ "key": "k1", "value": "v1", "targetVisible": false }));

    let (s, v) = f.put(
        &format!("{base}/k1"),
        json!({ "value": "v2", "targetVisible": true }),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({ "key": "k1", "value": "v2", "targetVisible": true }));
    let (_, v) = f.put(&format!("{base}/k1"), json!({ "value": "v3" }));
    assert_eq!(v, json!({ "key": "k1", "value": "v3", "targetVisible": true }));
    assert_eq!(f.get(&base).1["content"][0]["value"], "v3");
    // The key comes from the path; a key in the body is ignored, as in hawkBit.
    let (s, v) = f.put(&format!("{base}/k1"), json!({ "key": "k9", "value": "v4" }));
    assert_eq!(
        (s, v["key"].as_str(), v["value"].as_str()),
        (200, Some("k1"), Some("v4")),
        "{v}"
    );
    assert_error(
        f.put(&format!("{base}/nope"), json!({ "value": "x" })),
        404,
        NOT_FOUND,
    );
    assert_error(f.get(&format!("{base}/nope")), 404, NOT_FOUND);
    assert_error(
        f.get("/rest/v1/softwaremodules/999999/metadata/k1"),
        404,
        NOT_FOUND,
    );

    let (s, v) = f.delete(&format!("{base}/k1"));
    assert_eq!(s, 204, "{v}");
    assert_error(f.get(&format!("{base}/k1")), 404, NOT_FOUND);
    assert_error(f.delete(&format!("{base}/k1")), 404, NOT_FOUND);
    assert_eq!(f.get(&base).1["total"], 0);
}

fn sm_artifacts_representation(f: &Fixture) {
    let (sm, _) = f.distribution_set("arts", "a.bin", b"abc");
    let path = format!("{}/artifacts", sm_path(sm));
    let (s, v) = f.get(&path);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v[0]["providedFilename"], "a.bin");
    assert_eq!(v[0]["size"], 3);
    assert!(v[0]["_links"]["self"].is_object());
    assert!(v[0]["_links"].get("download").is_none());
    let (s, v) = f.get(&format!("{path}?representation=full&useartifacturlhandler=true"));
    assert_eq!(s, 200, "{v}");
    assert!(
        v[0]["_links"]["download"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/download")
    );
    assert_eq!(f.get(&format!("{path}?representation=compact")).0, 200);
    assert_eq!(f.get(&format!("{path}?representation=huge")).0, 400);
    let aid = v[0]["id"].as_i64().unwrap();
    let (s, v) = f.get(&format!("{path}/{aid}?useartifacturlhandler=false"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["hashes"]["sha256"].as_str().unwrap().len(), 64);
    assert!(v["_links"]["download"].is_object());
}

fn sm_delete(f: &Fixture) {
    let (sm, ds) = f.distribution_set("used", "u.bin", b"u");
    f.create_target("d1");
    f.assign(ds, "d1", json!({}));
    let (s, v) = f.delete(&sm_path(sm));
    assert_eq!(s, 204, "{v}");
    let (s, v) = f.get(&sm_path(sm));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["deleted"], true);
    assert_eq!(f.get(&ds_path(ds)).1["modules"][0]["id"], sm);

    let loose = module(f, "loose", "os");
    assert_eq!(f.delete(&sm_path(loose)).0, 204);
    assert_error(f.get(&sm_path(loose)), 404, NOT_FOUND);
    assert_error(f.delete(&sm_path(loose)), 404, NOT_FOUND);
}

fn limited_user(f: &Fixture, name: &str, permissions: &[&str]) -> (String, String) {
    let password = "a-long-password-123".to_owned();
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": name, "password": password, "permissions": permissions }),
    );
    assert_eq!(s, 201, "{v}");
    (name.to_owned(), password)
}

fn as_user(f: &Fixture, user: &(String, String), m: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = f.http.request(m, f.url(path)).basic_auth(&user.0, Some(&user.1));
    if let Some(b) = body {
        r = r.json(&b);
    }
    read(r.send().unwrap())
}

fn permission_denied(f: &Fixture) {
    let (sm, ds) = f.distribution_set("perm", "p.bin", b"p");
    let reader = limited_user(f, "reader", &["READ_TARGET"]);
    let denied = "hawkbit.server.error.insufficientPermission";
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PUT, ds_path(ds), Some(json!({ "name": "x" }))),
        (Method::GET, format!("{}/assignedSM", ds_path(ds)), None),
        (
            Method::POST,
            format!("{}/assignedSM", ds_path(ds)),
            Some(json!([{ "id": sm }])),
        ),
        (Method::DELETE, format!("{}/assignedSM/{sm}", ds_path(ds)), None),
        (Method::GET, format!("{}/assignedTargets", ds_path(ds)), None),
        (Method::GET, format!("{}/statistics", ds_path(ds)), None),
        (
            Method::POST,
            format!("{}/invalidate", ds_path(ds)),
            Some(json!({ "actionCancelationType": "none" })),
        ),
        (Method::PUT, sm_path(sm), Some(json!({ "vendor": "x" }))),
        (Method::GET, format!("{}/metadata/k", sm_path(sm)), None),
        (
            Method::PUT,
            format!("{}/metadata/k", sm_path(sm)),
            Some(json!({ "value": "x" })),
        ),
        (Method::DELETE, format!("{}/metadata/k", sm_path(sm)), None),
    ];
    for (m, path, body) in calls {
        assert_error(as_user(f, &reader, m.clone(), &path, body), 403, denied);
    }
    // Invalidating with cancelation also needs UPDATE_TARGET.
    let ds_admin = limited_user(
        f,
        "dsadmin",
        &["UPDATE_DISTRIBUTION_SET", "READ_DISTRIBUTION_SET"],
    );
    assert_error(
        as_user(
            f,
            &ds_admin,
            Method::POST,
            &format!("{}/invalidate", ds_path(ds)),
            Some(json!({ "actionCancelationType": "soft" })),
        ),
        403,
        denied,
    );
    assert_eq!(f.get(&ds_path(ds)).1["valid"], true);
    assert_eq!(f.get(&ds_path(ds)).1["name"], "perm");
}

fn other_tenant_sees_nothing(f: &Fixture) {
    let (sm, ds) = f.distribution_set("mine", "m.bin", b"m");
    let (s, v) = f.post(
        &format!("{}/metadata", sm_path(sm)),
        json!([{ "key": "k", "value": "v" }]),
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = f.post("/rest/v1/tenants", json!({ "name": "OTHER" }));
    assert!(s == 201 || s == 200, "{s} {v}");
    let password = "other-password-123".to_owned();
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "other", "password": password, "tenant": "OTHER", "permissions": ["TENANT_ADMIN"] }),
    );
    assert_eq!(s, 201, "{v}");
    let other = ("other".to_owned(), password);
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, ds_path(ds), None),
        (Method::PUT, ds_path(ds), Some(json!({ "name": "stolen" }))),
        (Method::GET, format!("{}/assignedSM", ds_path(ds)), None),
        (
            Method::POST,
            format!("{}/assignedSM", ds_path(ds)),
            Some(json!([{ "id": sm }])),
        ),
        (Method::DELETE, format!("{}/assignedSM/{sm}", ds_path(ds)), None),
        (Method::GET, format!("{}/assignedTargets", ds_path(ds)), None),
        (Method::GET, format!("{}/installedTargets", ds_path(ds)), None),
        (
            Method::GET,
            format!("{}/autoAssignTargetFilters", ds_path(ds)),
            None,
        ),
        (Method::GET, format!("{}/statistics", ds_path(ds)), None),
        (
            Method::POST,
            format!("{}/invalidate", ds_path(ds)),
            Some(json!({ "actionCancelationType": "force" })),
        ),
        (Method::GET, sm_path(sm), None),
        (Method::PUT, sm_path(sm), Some(json!({ "vendor": "stolen" }))),
        (Method::GET, format!("{}/metadata/k", sm_path(sm)), None),
        (
            Method::PUT,
            format!("{}/metadata/k", sm_path(sm)),
            Some(json!({ "value": "x" })),
        ),
        (Method::DELETE, format!("{}/metadata/k", sm_path(sm)), None),
        (Method::GET, format!("{}/artifacts", sm_path(sm)), None),
    ];
    for (m, path, body) in calls {
        assert_error(as_user(f, &other, m.clone(), &path, body), 404, NOT_FOUND);
    }
    // Nor can it put the first tenant's module into a set of its own.
    let (s, v) = as_user(
        f,
        &other,
        Method::POST,
        "/rest/v1/distributionsets",
        Some(json!([{ "name": "theirs", "version": "1", "type": "os", "modules": [{ "id": sm }] }])),
    );
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["info"]["type"], "SoftwareModule", "{v}");
    let v = f.get(&ds_path(ds)).1;
    assert_eq!(
        (v["name"].clone(), v["valid"].clone()),
        (json!("mine"), json!(true))
    );
    assert_eq!(v["modules"][0]["id"], sm);
    assert_eq!(f.get(&format!("{}/metadata/k", sm_path(sm))).1["value"], "v");
}
