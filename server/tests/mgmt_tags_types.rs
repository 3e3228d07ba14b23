//! Tags and types of the Management API (target and distribution set tags, target, software module and
//! distribution set types), black-box over HTTP, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, read};

backend_tests!(
    target_tags_are_created_listed_updated_and_deleted,
    tag_bodies_are_validated,
    target_tag_assignment_follows_the_not_found_policy,
    ds_tags_are_managed_and_assigned,
    sm_types_are_managed_and_soft_deleted_when_used,
    ds_types_manage_their_module_types,
    target_types_manage_compatibility_and_targets,
    direct_assignment_refuses_incompatible_target_types,
    every_resource_checks_permissions,
    another_tenant_sees_none_of_it,
);

const NOT_FOUND: &str = "hawkbit.server.error.repo.entityNotFound";
const EXISTS: &str = "hawkbit.server.error.repo.entityAlreadyExists";
const CONSTRAINT: &str = "hawkbit.server.error.repo.constraintViolation";
const UNREADABLE: &str = "hawkbit.server.error.rest.body.notReadable";
const FORBIDDEN: &str = "hawkbit.server.error.insufficientPermission";

fn request(f: &Fixture, m: Method, path: &str, body: Value) -> (u16, Value) {
    read(f.mgmt(m, path).json(&body).send().unwrap())
}

/// `(user, password)` of a new user of `tenant` holding `permissions`.
fn user_with(f: &Fixture, name: &str, tenant: &str, permissions: &[&str]) -> (String, String) {
    let password = format!("{name}-password-long");
    let (s, b) = f.post(
        "/rest/v1/users",
        json!({ "username": name, "password": password, "tenant": tenant, "permissions": permissions }),
    );
    assert_eq!(s, 201, "{b}");
    (name.to_owned(), password)
}

fn as_user(f: &Fixture, who: &(String, String), m: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = f.http.request(m, f.url(path)).basic_auth(&who.0, Some(&who.1));
    if let Some(b) = body {
        r = r.json(&b);
    }
    read(r.send().unwrap())
}

fn names(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

fn create_one(f: &Fixture, path: &str, body: Value) -> Value {
    let (s, v) = f.post(path, json!([body]));
    assert_eq!(s, 201, "{v}");
    v[0].clone()
}

fn target_tags_are_created_listed_updated_and_deleted(f: &Fixture) {
    let (s, created) = f.post(
        "/rest/v1/targettags",
        json!([
            { "name": "beta", "description": "second", "colour": "#00ff00" },
            { "name": "alpha" },
            { "name": "gamma", "colour": "red" },
        ]),
    );
    assert_eq!(s, 201, "{created}");
    let beta = &created[0];
    let id = beta["id"].as_i64().unwrap();
    assert_eq!(beta["name"], "beta");
    assert_eq!(beta["description"], "second");
    assert_eq!(beta["colour"], "#00ff00");
    assert_eq!(beta["createdBy"], f.srv.admin_user);
    assert!(beta["createdAt"].as_i64().unwrap() > 0);
    assert_eq!(beta["lastModifiedAt"], beta["createdAt"]);
    let self_href = beta["_links"]["self"]["href"].as_str().unwrap();
    assert!(
        self_href.ends_with(&format!("/rest/v1/targettags/{id}")),
        "{self_href}"
    );
    assert!(
        beta["_links"]["assignedTargets"]["href"]
            .as_str()
            .unwrap()
            .contains(&format!("/rest/v1/targettags/{id}/assigned")),
        "{beta}"
    );
    assert!(
        created[1].get("description").is_none(),
        "absent, not null: {}",
        created[1]
    );

    let (s, page) = f.get("/rest/v1/targettags");
    assert_eq!(s, 200);
    assert_eq!(
        (page["total"].as_i64(), page["size"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        names(&page),
        ["beta", "alpha", "gamma"],
        "default order is id ascending"
    );
    let (_, page) = f.get("/rest/v1/targettags?sort=id:DESC&offset=1&limit=1");
    assert_eq!(
        (page["total"].as_i64(), page["size"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(names(&page), ["alpha"]);
    let (s, b) = f.get("/rest/v1/targettags?sort=nosuchfield:ASC");
    assert_eq!(s, 400, "{b}");

    let (s, got) = f.get(&format!("/rest/v1/targettags/{id}"));
    assert_eq!(s, 200);
    assert_eq!(got["name"], "beta");

    // Partial update: absent fields stay.
    let (s, upd) = f.put(&format!("/rest/v1/targettags/{id}"), json!({ "colour": "blue" }));
    assert_eq!(s, 200, "{upd}");
    assert_eq!(
        (upd["name"].as_str(), upd["colour"].as_str()),
        (Some("beta"), Some("blue"))
    );
    assert_eq!(upd["description"], "second");
    let (s, upd) = f.put(&format!("/rest/v1/targettags/{id}"), json!({ "name": "delta" }));
    assert_eq!(s, 200, "{upd}");
    assert_eq!(upd["name"], "delta");
    let (s, b) = f.put(&format!("/rest/v1/targettags/{id}"), json!({ "name": "alpha" }));
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["errorCode"], EXISTS);

    let (s, b) = f.post("/rest/v1/targettags", json!([{ "name": "gamma" }]));
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["errorCode"], EXISTS);

    let (s, _) = f.delete(&format!("/rest/v1/targettags/{id}"));
    assert_eq!(s, 204);
    let (s, b) = f.get(&format!("/rest/v1/targettags/{id}"));
    assert_eq!(s, 404);
    assert_eq!(b["errorCode"], NOT_FOUND);
    let (s, _) = f.delete(&format!("/rest/v1/targettags/{id}"));
    assert_eq!(s, 404);
    let (s, _) = f.put(&format!("/rest/v1/targettags/{id}"), json!({ "colour": "x" }));
    assert_eq!(s, 404);
    assert_eq!(f.get("/rest/v1/targettags").1["total"], 2);
}

fn tag_bodies_are_validated(f: &Fixture) {
    for path in ["/rest/v1/targettags", "/rest/v1/distributionsettags"] {
        let long = "n".repeat(65);
        for (body, code) in [
            (json!([{ "description": "no name" }]), CONSTRAINT),
            (json!([{ "name": "" }]), CONSTRAINT),
            (json!([{ "name": long }]), CONSTRAINT),
            (
                json!([{ "name": "d", "description": "d".repeat(513) }]),
                CONSTRAINT,
            ),
            (json!([{ "name": "c", "colour": "c".repeat(17) }]), CONSTRAINT),
            (json!([{ "name": 5 }]), UNREADABLE),
        ] {
            let (s, b) = f.post(path, body.clone());
            assert_eq!(s, 400, "{path} {body}: {b}");
            assert_eq!(b["errorCode"], code, "{path} {body}");
        }
        // The longest allowed name passes; a duplicate inside one request creates nothing.
        let (s, b) = f.post(path, json!([{ "name": "n".repeat(64) }]));
        assert_eq!(s, 201, "{b}");
        let (s, b) = f.post(path, json!([{ "name": "twin" }, { "name": "twin" }]));
        assert_eq!(s, 409, "{b}");
        assert_eq!(f.get(path).1["total"], 1, "{path}");
        let id = f.get(path).1["content"][0]["id"].as_i64().unwrap();
        let (s, b) = f.put(&format!("{path}/{id}"), json!({ "name": "x".repeat(65) }));
        assert_eq!(s, 400, "{b}");
        // Unknown fields are ignored, as hawkBit's Jackson does.
        let (s, b) = f.put(&format!("{path}/{id}"), json!({ "title": "x" }));
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["name"], "n".repeat(64));
        let (s, _) = f.get(&format!("{path}/not-a-number"));
        assert_eq!(s, 400);
        let (s, b) = f.get(&format!("{path}/999999"));
        assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    }
}

fn tagged_ids(f: &Fixture, tag: i64) -> Vec<String> {
    let (s, page) = f.get(&format!("/rest/v1/targettags/{tag}/assigned"));
    assert_eq!(s, 200, "{page}");
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["controllerId"].as_str().unwrap().to_owned())
        .collect()
}

fn target_tag_assignment_follows_the_not_found_policy(f: &Fixture) {
    for cid in ["t1", "t2", "t3"] {
        f.create_target(cid);
    }
    let tag = create_one(f, "/rest/v1/targettags", json!({ "name": "lab" }))["id"]
        .as_i64()
        .unwrap();
    let assigned = format!("/rest/v1/targettags/{tag}/assigned");

    let (s, b) = request(f, Method::PUT, &assigned, json!(["t2", "t1"]));
    assert_eq!(s, 204, "{b}");
    assert_eq!(tagged_ids(f, tag), ["t1", "t2"]);
    // Targets in the shape of GET /targets, paged.
    let (_, page) = f.get(&format!("{assigned}?limit=1&offset=1"));
    assert_eq!(
        (page["total"].as_i64(), page["size"].as_i64()),
        (Some(2), Some(1))
    );
    let t2 = &page["content"][0];
    assert_eq!(t2["controllerId"], "t2");
    assert_eq!(t2["updateStatus"], "unknown");
    assert!(t2["securityToken"].is_string() && t2["_links"]["self"]["href"].is_string());
    let (_, page) = f.get(&format!("{assigned}?sort=id:DESC"));
    assert_eq!(page["content"][0]["controllerId"], "t2");
    // Tagging again is a no-op.
    let (s, _) = request(f, Method::PUT, &assigned, json!(["t1"]));
    assert_eq!(s, 204);

    let (s, tags) = f.get("/rest/v1/targets/t1/tags");
    assert_eq!(s, 200);
    assert_eq!(ids(&tags), [tag]);
    assert_eq!(tags[0]["name"], "lab");
    assert_eq!(f.get("/rest/v1/targets/t3/tags").1, json!([]));
    let (s, b) = f.get("/rest/v1/targets/nope/tags");
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));

    // FAIL (the default): nothing changes.
    let (s, b) = request(f, Method::PUT, &assigned, json!(["t3", "ghost"]));
    assert_eq!(s, 404, "{b}");
    assert_eq!(b["errorCode"], NOT_FOUND);
    assert!(b["message"].as_str().unwrap().contains("ghost"), "{b}");
    assert_eq!(tagged_ids(f, tag), ["t1", "t2"]);
    let (s, _) = request(
        f,
        Method::DELETE,
        &format!("{assigned}?onNotFoundPolicy=FAIL"),
        json!(["t1", "ghost"]),
    );
    assert_eq!(s, 404);
    assert_eq!(tagged_ids(f, tag), ["t1", "t2"]);
    // ON_WHAT_FOUND_AND_FAIL: the found ones change, the answer is still 404.
    let (s, b) = request(
        f,
        Method::PUT,
        &format!("{assigned}?onNotFoundPolicy=ON_WHAT_FOUND_AND_FAIL"),
        json!(["t3", "ghost"]),
    );
    assert_eq!(s, 404, "{b}");
    assert_eq!(tagged_ids(f, tag), ["t1", "t2", "t3"]);
    let (s, _) = request(
        f,
        Method::DELETE,
        &format!("{assigned}?onNotFoundPolicy=ON_WHAT_FOUND_AND_FAIL"),
        json!(["t3", "ghost"]),
    );
    assert_eq!(s, 404);
    assert_eq!(tagged_ids(f, tag), ["t1", "t2"]);
    // ON_WHAT_FOUND_AND_SUCCESS: the found ones change and all is well.
    let (s, b) = request(
        f,
        Method::DELETE,
        &format!("{assigned}?onNotFoundPolicy=ON_WHAT_FOUND_AND_SUCCESS"),
        json!(["t1", "ghost"]),
    );
    assert_eq!(s, 204, "{b}");
    assert_eq!(tagged_ids(f, tag), ["t2"]);
    let (s, _) = request(
        f,
        Method::POST,
        &format!("{assigned}?onNotFoundPolicy=ON_WHAT_FOUND_AND_SUCCESS"),
        json!(["t3", "ghost"]),
    );
    assert_eq!(s, 204);
    assert_eq!(tagged_ids(f, tag), ["t2", "t3"]);
    let (s, _) = request(f, Method::DELETE, &assigned, json!(["t2", "t3"]));
    assert_eq!(s, 204);
    assert!(tagged_ids(f, tag).is_empty());

    // Bad policy, bad body, unknown tag.
    let (s, _) = request(
        f,
        Method::PUT,
        &format!("{assigned}?onNotFoundPolicy=MAYBE"),
        json!(["t1"]),
    );
    assert_eq!(s, 400);
    let (s, b) = request(f, Method::PUT, &assigned, json!([1, 2]));
    assert_eq!((s, b["errorCode"].as_str()), (400, Some(UNREADABLE)));
    let (s, b) = request(
        f,
        Method::PUT,
        "/rest/v1/targettags/999999/assigned",
        json!(["t1"]),
    );
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    let (s, _) = f.get("/rest/v1/targettags/999999/assigned");
    assert_eq!(s, 404);

    // One at a time.
    let (s, _) = f.post(&format!("{assigned}/t1"), Value::Null);
    assert_eq!(s, 204);
    assert_eq!(tagged_ids(f, tag), ["t1"]);
    let (s, b) = f.post(&format!("{assigned}/ghost"), Value::Null);
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    let (s, _) = f.delete(&format!("{assigned}/t1"));
    assert_eq!(s, 204);
    assert!(tagged_ids(f, tag).is_empty());

    // Deleting the tag or the target drops the tagging.
    f.post(&format!("{assigned}/t1"), Value::Null);
    let (s, _) = f.delete("/rest/v1/targets/t1");
    assert_eq!(s, 204);
    assert!(tagged_ids(f, tag).is_empty());
    f.post(&format!("{assigned}/t2"), Value::Null);
    let (s, _) = f.delete(&format!("/rest/v1/targettags/{tag}"));
    assert_eq!(s, 204);
    assert_eq!(f.get("/rest/v1/targets/t2/tags").1, json!([]));
}

fn ds_tags_are_managed_and_assigned(f: &Fixture) {
    let (_, ds1) = f.distribution_set("one", "one.bin", b"one");
    let (_, ds2) = f.distribution_set("two", "two.bin", b"two");
    let tag = create_one(
        f,
        "/rest/v1/distributionsettags",
        json!({ "name": "stable", "description": "released", "colour": "green" }),
    );
    let id = tag["id"].as_i64().unwrap();
    assert_eq!(
        (tag["name"].as_str(), tag["colour"].as_str()),
        (Some("stable"), Some("green"))
    );
    assert!(
        tag["_links"]["assignedDistributionSets"]["href"]
            .as_str()
            .unwrap()
            .contains(&format!("/rest/v1/distributionsettags/{id}/assigned")),
        "{tag}"
    );
    create_one(f, "/rest/v1/distributionsettags", json!({ "name": "beta" }));
    let (s, b) = f.post("/rest/v1/distributionsettags", json!([{ "name": "beta" }]));
    assert_eq!((s, b["errorCode"].as_str()), (409, Some(EXISTS)));
    let (_, page) = f.get("/rest/v1/distributionsettags?sort=id:DESC&limit=1");
    assert_eq!(
        (page["total"].as_i64(), page["size"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(names(&page), ["beta"]);

    let assigned = format!("/rest/v1/distributionsettags/{id}/assigned");
    let tagged = |f: &Fixture| -> Vec<i64> {
        let (s, page) = f.get(&assigned);
        assert_eq!(s, 200, "{page}");
        assert_eq!(
            page["total"].as_u64().unwrap() as usize,
            page["content"].as_array().unwrap().len()
        );
        ids(&page["content"])
    };
    let (s, b) = f.post(&assigned, json!([ds1]));
    assert_eq!(s, 204, "{b}");
    let (_, page) = f.get(&assigned);
    assert_eq!(page["content"][0]["name"], "one");
    assert_eq!(page["content"][0]["version"], "1.0");
    assert!(page["content"][0]["modules"].is_array());
    // FAIL by default: an unknown id changes nothing.
    let (s, b) = f.post(&assigned, json!([ds2, 999_999]));
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    assert_eq!(tagged(f), [ds1]);
    let (s, _) = f.put(
        &format!("{assigned}?onNotFoundPolicy=ON_WHAT_FOUND_AND_FAIL"),
        json!([ds2, 999_999]),
    );
    assert_eq!(s, 404);
    assert_eq!(tagged(f), [ds1, ds2]);
    let (s, _) = request(
        f,
        Method::DELETE,
        &format!("{assigned}?onNotFoundPolicy=ON_WHAT_FOUND_AND_SUCCESS"),
        json!([ds2, 999_999]),
    );
    assert_eq!(s, 204);
    assert_eq!(tagged(f), [ds1]);
    let (s, _) = f.put(&assigned, json!([ds2]));
    assert_eq!(s, 204);
    assert_eq!(tagged(f), [ds1, ds2]);
    let (s, _) = f.delete(&format!("{assigned}/{ds1}"));
    assert_eq!(s, 204);
    assert_eq!(tagged(f), [ds2]);
    let (s, _) = f.post(&format!("{assigned}/{ds1}"), Value::Null);
    assert_eq!(s, 204);
    let (s, _) = f.post(&format!("{assigned}/999999"), Value::Null);
    assert_eq!(s, 404);
    let (s, _) = request(f, Method::DELETE, &assigned, json!([ds1, ds2]));
    assert_eq!(s, 204);
    assert!(tagged(f).is_empty());
    let (s, b) = f.post(&assigned, json!(["one"]));
    assert_eq!((s, b["errorCode"].as_str()), (400, Some(UNREADABLE)));

    let (s, upd) = f.put(
        &format!("/rest/v1/distributionsettags/{id}"),
        json!({ "description": "old" }),
    );
    assert_eq!(s, 200, "{upd}");
    assert_eq!(
        (upd["name"].as_str(), upd["description"].as_str()),
        (Some("stable"), Some("old"))
    );
    let (s, _) = f.put(
        &format!("/rest/v1/distributionsettags/{id}"),
        json!({ "name": "beta" }),
    );
    assert_eq!(s, 409);
    let (s, _) = f.delete(&format!("/rest/v1/distributionsettags/{id}"));
    assert_eq!(s, 204);
    let (s, b) = f.get(&format!("/rest/v1/distributionsettags/{id}"));
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    let (s, _) = f.get(&assigned);
    assert_eq!(s, 404);
}

fn sm_type_id(f: &Fixture, key: &str) -> i64 {
    let (_, page) = f.get("/rest/v1/softwaremoduletypes?limit=500");
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no SM type {key}: {page}"))["id"]
        .as_i64()
        .unwrap()
}

fn sm_types_are_managed_and_soft_deleted_when_used(f: &Fixture) {
    let (s, page) = f.get("/rest/v1/softwaremoduletypes");
    assert_eq!(s, 200);
    let os = page["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "os")
        .unwrap();
    assert_eq!(
        (os["maxAssignments"].as_i64(), os["deleted"].as_bool()),
        (Some(1), Some(false))
    );
    let defaults = page["total"].as_i64().unwrap();

    let fw = create_one(
        f,
        "/rest/v1/softwaremoduletypes",
        json!({ "name": "Firmware", "key": "fw", "description": "blobs", "colour": "#123456", "maxAssignments": 3 }),
    );
    let id = fw["id"].as_i64().unwrap();
    assert_eq!(fw["key"], "fw");
    assert_eq!(fw["name"], "Firmware");
    assert_eq!(
        (fw["maxAssignments"].as_i64(), fw["minArtifacts"].as_i64()),
        (Some(3), Some(0))
    );
    assert_eq!(fw["deleted"], false);
    assert!(
        fw["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/softwaremoduletypes/{id}"))
    );
    let lib = create_one(
        f,
        "/rest/v1/softwaremoduletypes",
        json!({ "name": "Lib", "key": "lib", "minArtifacts": 2 }),
    );
    assert_eq!(
        (lib["maxAssignments"].as_i64(), lib["minArtifacts"].as_i64()),
        (Some(1), Some(2))
    );

    for (body, code) in [
        (json!({ "name": "X" }), CONSTRAINT),
        (json!({ "key": "x" }), CONSTRAINT),
        (json!({ "name": "X", "key": "k".repeat(65) }), CONSTRAINT),
        (json!({ "name": "X".repeat(65), "key": "x" }), CONSTRAINT),
        (
            json!({ "name": "X", "key": "x", "maxAssignments": 0 }),
            CONSTRAINT,
        ),
        (json!({ "name": "X", "key": "x", "minArtifacts": -1 }), CONSTRAINT),
        (
            json!({ "name": "X", "key": "x", "maxAssignments": "many" }),
            UNREADABLE,
        ),
    ] {
        let (s, b) = f.post("/rest/v1/softwaremoduletypes", json!([body.clone()]));
        assert_eq!((s, b["errorCode"].as_str()), (400, Some(code)), "{body}: {b}");
    }
    let (s, b) = f.post(
        "/rest/v1/softwaremoduletypes",
        json!([{ "name": "Other", "key": "fw" }]),
    );
    assert_eq!((s, b["errorCode"].as_str()), (409, Some(EXISTS)), "duplicate key");
    let (s, _) = f.post(
        "/rest/v1/softwaremoduletypes",
        json!([{ "name": "Firmware", "key": "fw2" }]),
    );
    assert_eq!(s, 409, "duplicate name");

    let (_, page) = f.get("/rest/v1/softwaremoduletypes?sort=id:DESC&limit=2");
    assert_eq!(page["total"].as_i64(), Some(defaults + 2));
    assert_eq!(names(&page), ["Lib", "Firmware"]);

    let (s, upd) = f.put(
        &format!("/rest/v1/softwaremoduletypes/{id}"),
        json!({ "description": "firmware blobs" }),
    );
    assert_eq!(s, 200, "{upd}");
    assert_eq!(
        (upd["description"].as_str(), upd["colour"].as_str()),
        (Some("firmware blobs"), Some("#123456"))
    );
    // Only description and colour change; hawkBit ignores other fields, and so do we.
    let (s, b) = f.put(
        &format!("/rest/v1/softwaremoduletypes/{id}"),
        json!({ "name": "renamed" }),
    );
    assert_eq!(s, 200, "{b}");
    assert_ne!(b["name"], "renamed", "only description and colour change");
    let (s, _) = f.put("/rest/v1/softwaremoduletypes/999999", json!({ "colour": "x" }));
    assert_eq!(s, 404);

    // Unused: gone for good.
    let (s, _) = f.delete(&format!("/rest/v1/softwaremoduletypes/{}", lib["id"]));
    assert_eq!(s, 204);
    let (s, b) = f.get(&format!("/rest/v1/softwaremoduletypes/{}", lib["id"]));
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    // Used by a module: only marked deleted, hidden from the list.
    let (s, b) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": "blob", "version": "1", "type": "fw" }]),
    );
    assert_eq!(s, 201, "{b}");
    let (s, _) = f.delete(&format!("/rest/v1/softwaremoduletypes/{id}"));
    assert_eq!(s, 204);
    let (s, got) = f.get(&format!("/rest/v1/softwaremoduletypes/{id}"));
    assert_eq!(s, 200);
    assert_eq!(got["deleted"], true);
    let (_, page) = f.get("/rest/v1/softwaremoduletypes");
    assert_eq!(page["total"].as_i64(), Some(defaults));
    assert!(!ids(&page["content"]).contains(&id));
    let (s, _) = f.delete("/rest/v1/softwaremoduletypes/999999");
    assert_eq!(s, 404);
}

fn ds_types_manage_their_module_types(f: &Fixture) {
    let os = sm_type_id(f, "os");
    let app = sm_type_id(f, "application");
    let fw = create_one(
        f,
        "/rest/v1/softwaremoduletypes",
        json!({ "name": "Firmware", "key": "fw" }),
    )["id"]
        .as_i64()
        .unwrap();
    let (_, page) = f.get("/rest/v1/distributionsettypes");
    let defaults = page["total"].as_i64().unwrap();
    assert!(
        page["content"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "os_app"),
        "{page}"
    );

    let t = create_one(
        f,
        "/rest/v1/distributionsettypes",
        json!({ "name": "Device", "key": "device", "description": "os + fw", "colour": "blue",
                "mandatorymodules": [{ "id": os }], "optionalmodules": [{ "id": fw }] }),
    );
    let id = t["id"].as_i64().unwrap();
    assert_eq!(
        (t["key"].as_str(), t["name"].as_str(), t["deleted"].as_bool()),
        (Some("device"), Some("Device"), Some(false))
    );
    let base = format!("/rest/v1/distributionsettypes/{id}");
    for rel in ["mandatorymodules", "optionalmodules"] {
        let href = t["_links"][rel]["href"].as_str().unwrap();
        assert!(
            href.ends_with(&format!("{base}/{}", rel.replace("modules", "moduletypes"))),
            "{href}"
        );
    }
    let list = |f: &Fixture, kind: &str| -> Vec<i64> {
        let (s, v) = f.get(&format!("{base}/{kind}"));
        assert_eq!(s, 200, "{v}");
        ids(&v)
    };
    assert_eq!(list(f, "mandatorymoduletypes"), [os]);
    assert_eq!(list(f, "optionalmoduletypes"), [fw]);
    let (s, one) = f.get(&format!("{base}/mandatorymoduletypes/{os}"));
    assert_eq!((s, one["key"].as_str()), (200, Some("os")));
    let (s, _) = f.get(&format!("{base}/mandatorymoduletypes/{fw}"));
    assert_eq!(s, 404, "fw is optional, not mandatory");
    let (s, one) = f.get(&format!("{base}/optionalmoduletypes/{fw}"));
    assert_eq!((s, one["key"].as_str()), (200, Some("fw")));

    let (s, b) = f.post(&format!("{base}/optionalmoduletypes"), json!({ "id": app }));
    assert_eq!(s, 204, "{b}");
    assert_eq!(list(f, "optionalmoduletypes"), [app, fw]);
    let (s, _) = f.post(&format!("{base}/mandatorymoduletypes"), json!({ "id": fw }));
    assert_eq!(s, 204);
    assert_eq!(list(f, "mandatorymoduletypes"), [os, fw]);
    assert_eq!(list(f, "optionalmoduletypes"), [app]);
    let (s, _) = f.delete(&format!("{base}/mandatorymoduletypes/{fw}"));
    assert_eq!(s, 204);
    assert_eq!(list(f, "mandatorymoduletypes"), [os]);
    let (s, _) = f.delete(&format!("{base}/optionalmoduletypes/{app}"));
    assert_eq!(s, 204);
    assert!(list(f, "optionalmoduletypes").is_empty());
    let (s, b) = f.post(&format!("{base}/optionalmoduletypes"), json!({ "id": 999_999 }));
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    let (s, b) = f.post(&format!("{base}/optionalmoduletypes"), json!({ "id": "fw" }));
    assert_eq!((s, b["errorCode"].as_str()), (400, Some(UNREADABLE)));
    let (s, _) = f.get("/rest/v1/distributionsettypes/999999/mandatorymoduletypes");
    assert_eq!(s, 404);

    // Bad bodies; an unknown module type creates nothing.
    for (body, status, code) in [
        (json!({ "name": "N" }), 400, CONSTRAINT),
        (json!({ "key": "n" }), 400, CONSTRAINT),
        (
            json!({ "name": "N", "key": "n", "mandatorymodules": [{ "id": os }], "optionalmodules": [{ "id": os }] }),
            400,
            CONSTRAINT,
        ),
        (json!({ "name": "N".repeat(65), "key": "n" }), 400, CONSTRAINT),
        (
            json!({ "name": "N", "key": "n", "description": "d".repeat(513) }),
            400,
            CONSTRAINT,
        ),
        (
            json!({ "name": "N", "key": "n", "mandatorymodules": [os] }),
            400,
            UNREADABLE,
        ),
        (json!({ "name": ["N"], "key": "n" }), 400, UNREADABLE),
        (
            json!({ "name": "N", "key": "n", "mandatorymodules": [{ "id": 999_999 }] }),
            404,
            NOT_FOUND,
        ),
        (json!({ "name": "Device", "key": "other" }), 409, EXISTS),
        (json!({ "name": "Other", "key": "device" }), 409, EXISTS),
    ] {
        let (s, b) = f.post("/rest/v1/distributionsettypes", json!([body.clone()]));
        assert_eq!((s, b["errorCode"].as_str()), (status, Some(code)), "{body}: {b}");
    }
    let (_, page) = f.get("/rest/v1/distributionsettypes?sort=id:DESC&limit=1");
    assert_eq!(page["total"].as_i64(), Some(defaults + 1));
    assert_eq!(names(&page), ["Device"]);

    let (s, upd) = f.put(&base, json!({ "colour": "red" }));
    assert_eq!(s, 200, "{upd}");
    assert_eq!(
        (upd["colour"].as_str(), upd["description"].as_str()),
        (Some("red"), Some("os + fw"))
    );
    let (s, b) = f.put(&base, json!({ "key": "renamed" }));
    assert_eq!(s, 200, "an unknown field is ignored: {b}");
    assert_ne!(b["key"], "renamed");

    // In use by a distribution set: module lists are frozen, delete only marks it.
    let (s, b) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": "dev-ds", "version": "1", "type": "device" }]),
    );
    assert_eq!(s, 201, "{b}");
    for (m, path, body) in [
        (
            Method::POST,
            format!("{base}/optionalmoduletypes"),
            json!({ "id": app }),
        ),
        (
            Method::DELETE,
            format!("{base}/mandatorymoduletypes/{os}"),
            Value::Null,
        ),
    ] {
        let (s, b) = request(f, m, &path, body);
        assert_eq!(
            (s, b["errorCode"].as_str()),
            (403, Some("hawkbit.server.error.entityReadOnly")),
            "{path}"
        );
    }
    assert_eq!(list(f, "mandatorymoduletypes"), [os]);
    let (s, _) = f.delete(&base);
    assert_eq!(s, 204);
    let (s, got) = f.get(&base);
    assert_eq!((s, got["deleted"].as_bool()), (200, Some(true)));
    assert_eq!(
        f.get("/rest/v1/distributionsettypes").1["total"].as_i64(),
        Some(defaults)
    );

    // Unused: gone for good.
    let spare = create_one(
        f,
        "/rest/v1/distributionsettypes",
        json!({ "name": "Spare", "key": "spare" }),
    )["id"]
        .as_i64()
        .unwrap();
    let (s, _) = f.delete(&format!("/rest/v1/distributionsettypes/{spare}"));
    assert_eq!(s, 204);
    let (s, _) = f.get(&format!("/rest/v1/distributionsettypes/{spare}"));
    assert_eq!(s, 404);
}

fn target_types_manage_compatibility_and_targets(f: &Fixture) {
    let ds_a = create_one(
        f,
        "/rest/v1/distributionsettypes",
        json!({ "name": "A", "key": "a" }),
    )["id"]
        .as_i64()
        .unwrap();
    let ds_b = create_one(
        f,
        "/rest/v1/distributionsettypes",
        json!({ "name": "B", "key": "b" }),
    )["id"]
        .as_i64()
        .unwrap();
    let gw = create_one(
        f,
        "/rest/v1/targettypes",
        json!({ "name": "gateway", "description": "edge", "colour": "#fff",
                "compatibledistributionsettypes": [{ "id": ds_a }] }),
    );
    let id = gw["id"].as_i64().unwrap();
    assert_eq!(
        (gw["key"].as_str(), gw["name"].as_str()),
        (Some("gateway"), Some("gateway")),
        "key defaults to name"
    );
    assert_eq!(gw["deleted"], false);
    let base = format!("/rest/v1/targettypes/{id}");
    assert!(
        gw["_links"]["compatibledistributionsettypes"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{base}/compatibledistributionsettypes")),
        "{gw}"
    );
    let sensor = create_one(f, "/rest/v1/targettypes", json!({ "key": "sensor" }));
    assert_eq!(sensor["name"], "sensor", "name defaults to key");

    for (body, status, code) in [
        (
            json!({ "description": "nameless" }),
            400,
            "hawkbit.server.error.target.type.keyOrNameRequired",
        ),
        (json!({ "name": "n".repeat(65) }), 400, CONSTRAINT),
        (json!({ "name": "x", "colour": "c".repeat(17) }), 400, CONSTRAINT),
        (
            json!({ "name": "x", "compatibledistributionsettypes": [5] }),
            400,
            UNREADABLE,
        ),
        (
            json!({ "name": "x", "compatibledistributionsettypes": [{ "id": 999_999 }] }),
            404,
            NOT_FOUND,
        ),
        (json!({ "name": "gateway", "key": "gw2" }), 409, EXISTS),
        (json!({ "name": "gw2", "key": "sensor" }), 409, EXISTS),
    ] {
        let (s, b) = f.post("/rest/v1/targettypes", json!([body.clone()]));
        assert_eq!((s, b["errorCode"].as_str()), (status, Some(code)), "{body}: {b}");
    }
    let (_, page) = f.get("/rest/v1/targettypes");
    assert_eq!(page["total"], 2);
    let (_, page) = f.get("/rest/v1/targettypes?sort=id:DESC&limit=1&offset=0");
    assert_eq!(
        (page["size"].as_i64(), names(&page)),
        (Some(1), vec!["sensor".to_owned()])
    );

    let compat = format!("{base}/compatibledistributionsettypes");
    let (s, v) = f.get(&compat);
    assert_eq!(s, 200);
    assert_eq!(ids(&v), [ds_a]);
    assert_eq!(v[0]["key"], "a");
    let (s, b) = f.post(&compat, json!([{ "id": ds_b }, { "id": ds_a }]));
    assert_eq!(s, 204, "{b}");
    assert_eq!(ids(&f.get(&compat).1), [ds_a, ds_b]);
    let (s, b) = f.post(&compat, json!([{ "id": 999_999 }]));
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    let (s, _) = f.delete(&format!("{compat}/{ds_a}"));
    assert_eq!(s, 204);
    assert_eq!(ids(&f.get(&compat).1), [ds_b]);
    let (s, _) = f.delete(&format!("{compat}/999999"));
    assert_eq!(s, 404);
    // Deleting a distribution set type removes it from the compatible ones.
    let (s, _) = f.delete(&format!("/rest/v1/distributionsettypes/{ds_b}"));
    assert_eq!(s, 204);
    assert!(ids(&f.get(&compat).1).is_empty());

    let (s, upd) = f.put(&base, json!({ "name": "edge gateway", "colour": "black" }));
    assert_eq!(s, 200, "{upd}");
    assert_eq!(
        (
            upd["name"].as_str(),
            upd["key"].as_str(),
            upd["description"].as_str(),
            upd["colour"].as_str()
        ),
        (Some("edge gateway"), Some("gateway"), Some("edge"), Some("black"))
    );
    let (s, _) = f.put(&base, json!({ "name": "sensor" }));
    assert_eq!(s, 409);
    let (s, b) = f.put(&base, json!({ "key": "k" }));
    assert_eq!(s, 200, "the key cannot change; the field is ignored: {b}");
    assert_ne!(b["key"], "k");

    // A target of the type keeps the type from being deleted.
    f.create_target("gw-1");
    let (s, b) = f.post("/rest/v1/targets/gw-1/targettype", json!({ "id": id }));
    assert_eq!(s, 204, "{b}");
    assert_eq!(f.target("gw-1")["targetType"], id);
    let (s, b) = f.post("/rest/v1/targets/gw-1/targettype", json!({ "id": 999_999 }));
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    assert_eq!(f.target("gw-1")["targetType"], id);
    let (s, _) = f.post("/rest/v1/targets/nope/targettype", json!({ "id": id }));
    assert_eq!(s, 404);
    let (s, b) = f.post("/rest/v1/targets/gw-1/targettype", json!({ "id": "gateway" }));
    assert_eq!((s, b["errorCode"].as_str()), (400, Some(UNREADABLE)));
    let (s, b) = f.delete(&base);
    assert_eq!(
        (s, b["errorCode"].as_str()),
        (409, Some("hawkbit.server.error.target.type.used"))
    );
    let (s, _) = f.delete("/rest/v1/targets/gw-1/targettype");
    assert_eq!(s, 204);
    assert!(f.target("gw-1").get("targetType").is_none());
    let (s, _) = f.delete(&base);
    assert_eq!(s, 204);
    let (s, b) = f.get(&base);
    assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)));
    let (s, _) = f.get(&compat);
    assert_eq!(s, 404);
}

/// hawkBit's `checkCompatibilityForSingleDsAssignment`: a direct assignment naming a target whose
/// type does not accept the set's type is refused as a whole (400 `target.type.incompatible`), from
/// either side; targets without a type take any set.
fn direct_assignment_refuses_incompatible_target_types(f: &Fixture) {
    let (_, ds) = f.distribution_set("fw", "fw.bin", b"fw");
    let other = create_one(
        f,
        "/rest/v1/distributionsettypes",
        json!({ "name": "Other", "key": "other" }),
    )["id"]
        .as_i64()
        .unwrap();
    let sensor = create_one(
        f,
        "/rest/v1/targettypes",
        json!({ "name": "sensor", "compatibledistributionsettypes": [{ "id": other }] }),
    )["id"]
        .as_i64()
        .unwrap();
    for cid in ["typed", "untyped"] {
        f.create_target(cid);
    }
    let (s, v) = f.post("/rest/v1/targets/typed/targettype", json!({ "id": sensor }));
    assert_eq!(s, 204, "{v}");

    let refused = |(s, v): (u16, Value)| {
        assert_eq!(s, 400, "{v}");
        assert_eq!(
            v["errorCode"], "hawkbit.server.error.target.type.incompatible",
            "{v}"
        );
        assert_eq!(
            v["message"],
            "Targets of types [sensor] are not compatible with distribution set of type OS only",
            "{v}"
        );
    };
    refused(f.post("/rest/v1/targets/typed/assignedDS", json!({ "id": ds })));
    refused(f.post(
        &format!("/rest/v1/distributionsets/{ds}/assignedTargets"),
        json!([{ "id": "untyped" }, { "id": "typed" }]),
    ));
    // Refused as a whole: the compatible target in the same request was not assigned either.
    for cid in ["typed", "untyped"] {
        let (s, v) = f.get(&format!("/rest/v1/targets/{cid}/actions"));
        assert_eq!((s, v["total"].as_i64()), (200, Some(0)), "{cid}: {v}");
    }

    let (s, v) = f.post(
        &format!("/rest/v1/distributionsets/{ds}/assignedTargets"),
        json!([{ "id": "untyped" }]),
    );
    assert_eq!((s, v["assigned"].as_i64()), (200, Some(1)), "{v}");
    // Once the type accepts the set's type, the typed target takes it too.
    let (s, v) = f.get("/rest/v1/distributionsettypes?q=key==os");
    assert_eq!(s, 200, "{v}");
    let os = v["content"][0]["id"].as_i64().unwrap();
    let (s, v) = f.post(
        &format!("/rest/v1/targettypes/{sensor}/compatibledistributionsettypes"),
        json!([{ "id": os }]),
    );
    assert_eq!(s, 204, "{v}");
    let (s, v) = f.post("/rest/v1/targets/typed/assignedDS", json!({ "id": ds }));
    assert_eq!((s, v["assigned"].as_i64()), (200, Some(1)), "{v}");
}

fn every_resource_checks_permissions(f: &Fixture) {
    f.create_target("perm-1");
    let tt = create_one(f, "/rest/v1/targettags", json!({ "name": "t" }))["id"]
        .as_i64()
        .unwrap();
    let dt = create_one(f, "/rest/v1/distributionsettags", json!({ "name": "d" }))["id"]
        .as_i64()
        .unwrap();
    let ty = create_one(f, "/rest/v1/targettypes", json!({ "name": "ty" }))["id"]
        .as_i64()
        .unwrap();
    let reader = user_with(f, "reader", "DEFAULT", &["READ_TARGET"]);

    // READ_TARGET reads target tags and types (it implies READ_TARGET_TYPE) but changes nothing.
    for path in [
        "/rest/v1/targettags".to_owned(),
        format!("/rest/v1/targettags/{tt}/assigned"),
        "/rest/v1/targets/perm-1/tags".to_owned(),
        "/rest/v1/targettypes".to_owned(),
        format!("/rest/v1/targettypes/{ty}"),
    ] {
        let (s, b) = as_user(f, &reader, Method::GET, &path, None);
        assert_eq!(s, 200, "{path}: {b}");
    }
    for (m, path, body) in [
        (
            Method::POST,
            "/rest/v1/targettags".to_owned(),
            json!([{ "name": "x" }]),
        ),
        (
            Method::PUT,
            format!("/rest/v1/targettags/{tt}"),
            json!({ "name": "x" }),
        ),
        (Method::DELETE, format!("/rest/v1/targettags/{tt}"), Value::Null),
        (
            Method::PUT,
            format!("/rest/v1/targettags/{tt}/assigned"),
            json!(["perm-1"]),
        ),
        (
            Method::POST,
            format!("/rest/v1/targettags/{tt}/assigned/perm-1"),
            Value::Null,
        ),
        (
            Method::GET,
            "/rest/v1/distributionsettags".to_owned(),
            Value::Null,
        ),
        (
            Method::POST,
            "/rest/v1/distributionsettags".to_owned(),
            json!([{ "name": "x" }]),
        ),
        (
            Method::POST,
            format!("/rest/v1/distributionsettags/{dt}/assigned"),
            json!([]),
        ),
        (
            Method::POST,
            "/rest/v1/targettypes".to_owned(),
            json!([{ "name": "x" }]),
        ),
        (
            Method::PUT,
            format!("/rest/v1/targettypes/{ty}"),
            json!({ "name": "x" }),
        ),
        (Method::DELETE, format!("/rest/v1/targettypes/{ty}"), Value::Null),
        (
            Method::POST,
            "/rest/v1/targets/perm-1/targettype".to_owned(),
            json!({ "id": ty }),
        ),
        (
            Method::GET,
            "/rest/v1/softwaremoduletypes".to_owned(),
            Value::Null,
        ),
        (
            Method::POST,
            "/rest/v1/softwaremoduletypes".to_owned(),
            json!([{ "name": "x", "key": "x" }]),
        ),
        (
            Method::GET,
            "/rest/v1/distributionsettypes".to_owned(),
            Value::Null,
        ),
        (
            Method::POST,
            "/rest/v1/distributionsettypes".to_owned(),
            json!([{ "name": "x", "key": "x" }]),
        ),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (s, b) = as_user(f, &reader, m.clone(), &path, body);
        assert_eq!((s, b["errorCode"].as_str()), (403, Some(FORBIDDEN)), "{m} {path}");
    }
    // Distribution set rights read DS tags and DS types, not SM types' changes.
    let repo = user_with(f, "repo-reader", "DEFAULT", &["READ_DISTRIBUTION_SET"]);
    for path in ["/rest/v1/distributionsettags", "/rest/v1/distributionsettypes"] {
        let (s, b) = as_user(f, &repo, Method::GET, path, None);
        assert_eq!(s, 200, "{path}: {b}");
    }
    let os = sm_type_id(f, "os");
    let (s, b) = as_user(
        f,
        &repo,
        Method::DELETE,
        &format!("/rest/v1/softwaremoduletypes/{os}"),
        None,
    );
    assert_eq!((s, b["errorCode"].as_str()), (403, Some(FORBIDDEN)));
    let (s, b) = as_user(
        f,
        &repo,
        Method::PUT,
        &format!("/rest/v1/distributionsettags/{dt}"),
        Some(json!({})),
    );
    assert_eq!((s, b["errorCode"].as_str()), (403, Some(FORBIDDEN)));
    // Nothing changed.
    assert_eq!(f.get("/rest/v1/targettags").1["total"], 1);
    assert_eq!(f.get("/rest/v1/targets/perm-1/tags").1, json!([]));
    assert!(f.target("perm-1").get("targetType").is_none());
}

fn another_tenant_sees_none_of_it(f: &Fixture) {
    f.create_target("mine-1");
    let tt = create_one(f, "/rest/v1/targettags", json!({ "name": "mine" }))["id"]
        .as_i64()
        .unwrap();
    let dt = create_one(f, "/rest/v1/distributionsettags", json!({ "name": "mine" }))["id"]
        .as_i64()
        .unwrap();
    let smt = create_one(
        f,
        "/rest/v1/softwaremoduletypes",
        json!({ "name": "Mine", "key": "mine" }),
    )["id"]
        .as_i64()
        .unwrap();
    let dst = create_one(
        f,
        "/rest/v1/distributionsettypes",
        json!({ "name": "Mine", "key": "mine" }),
    )["id"]
        .as_i64()
        .unwrap();
    let ty = create_one(f, "/rest/v1/targettypes", json!({ "name": "mine" }))["id"]
        .as_i64()
        .unwrap();
    let os = sm_type_id(f, "os");

    let (s, b) = f.post("/rest/v1/tenants", json!({ "name": "OTHER" }));
    assert_eq!(s, 201, "{b}");
    let other = user_with(f, "other-admin", "OTHER", &["TENANT_ADMIN"]);
    let get = |path: &str| as_user(f, &other, Method::GET, path, None);

    for path in [
        "/rest/v1/targettags",
        "/rest/v1/distributionsettags",
        "/rest/v1/targettypes",
    ] {
        let (s, page) = get(path);
        assert_eq!((s, page["total"].as_i64()), (200, Some(0)), "{path}: {page}");
    }
    // Their own default types, none of ours.
    for (path, mine) in [
        ("/rest/v1/softwaremoduletypes", [smt, os]),
        ("/rest/v1/distributionsettypes", [dst, dst]),
    ] {
        let (s, page) = get(path);
        assert_eq!(s, 200);
        let theirs = ids(&page["content"]);
        assert!(
            !theirs.is_empty() && mine.iter().all(|m| !theirs.contains(m)),
            "{path}: {page}"
        );
    }
    for path in [
        format!("/rest/v1/targettags/{tt}"),
        format!("/rest/v1/targettags/{tt}/assigned"),
        format!("/rest/v1/distributionsettags/{dt}"),
        format!("/rest/v1/distributionsettags/{dt}/assigned"),
        format!("/rest/v1/softwaremoduletypes/{smt}"),
        format!("/rest/v1/softwaremoduletypes/{os}"),
        format!("/rest/v1/distributionsettypes/{dst}"),
        format!("/rest/v1/distributionsettypes/{dst}/mandatorymoduletypes"),
        format!("/rest/v1/targettypes/{ty}"),
        format!("/rest/v1/targettypes/{ty}/compatibledistributionsettypes"),
        "/rest/v1/targets/mine-1/tags".to_owned(),
    ] {
        let (s, b) = get(&path);
        assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)), "{path}");
    }
    for (m, path, body) in [
        (
            Method::PUT,
            format!("/rest/v1/targettags/{tt}"),
            json!({ "name": "theirs" }),
        ),
        (Method::DELETE, format!("/rest/v1/targettags/{tt}"), Value::Null),
        (
            Method::PUT,
            format!("/rest/v1/targettags/{tt}/assigned"),
            json!([]),
        ),
        (
            Method::DELETE,
            format!("/rest/v1/distributionsettags/{dt}"),
            Value::Null,
        ),
        (
            Method::DELETE,
            format!("/rest/v1/softwaremoduletypes/{smt}"),
            Value::Null,
        ),
        (
            Method::PUT,
            format!("/rest/v1/distributionsettypes/{dst}"),
            json!({ "colour": "x" }),
        ),
        (
            Method::POST,
            format!("/rest/v1/distributionsettypes/{dst}/optionalmoduletypes"),
            json!({ "id": os }),
        ),
        (Method::DELETE, format!("/rest/v1/targettypes/{ty}"), Value::Null),
        (
            Method::POST,
            format!("/rest/v1/targettypes/{ty}/compatibledistributionsettypes"),
            json!([]),
        ),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (s, b) = as_user(f, &other, m.clone(), &path, body);
        assert_eq!((s, b["errorCode"].as_str()), (404, Some(NOT_FOUND)), "{m} {path}");
    }
    // Their target may not take our type, their tag may not take our target.
    create_as(
        f,
        &other,
        "/rest/v1/targets",
        json!([{ "controllerId": "theirs-1" }]),
    );
    let (s, _) = as_user(
        f,
        &other,
        Method::POST,
        "/rest/v1/targets/theirs-1/targettype",
        Some(json!({ "id": ty })),
    );
    assert_eq!(s, 404);
    let theirs = create_as(f, &other, "/rest/v1/targettags", json!([{ "name": "mine" }]))[0]["id"]
        .as_i64()
        .unwrap();
    let (s, _) = as_user(
        f,
        &other,
        Method::PUT,
        &format!("/rest/v1/targettags/{theirs}/assigned"),
        Some(json!(["mine-1"])),
    );
    assert_eq!(s, 404);
    // Ours are untouched.
    assert_eq!(f.get(&format!("/rest/v1/targettags/{tt}")).1["name"], "mine");
    assert_eq!(f.get("/rest/v1/targettags").1["total"], 1);
}

fn create_as(f: &Fixture, who: &(String, String), path: &str, body: Value) -> Value {
    let (s, v) = as_user(f, who, Method::POST, path, Some(body));
    assert_eq!(s, 201, "{v}");
    v
}
