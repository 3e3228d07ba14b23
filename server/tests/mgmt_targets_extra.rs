#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Management API: target and distribution set metadata, target filters, the tenant-wide action list,
//! auto-confirm, forcing and confirming actions, target groups and security-token visibility.

mod support;

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, read};

backend_tests!(
    target_metadata_crud,
    ds_metadata_crud,
    metadata_validation_and_quota,
    metadata_permissions,
    target_filters_validate_input,
    target_filters_crud,
    target_filter_names_are_unique,
    target_filter_auto_assign,
    target_filter_permissions,
    tenant_actions_list_and_get,
    auto_confirm_can_be_turned_on_and_off,
    auto_confirm_confirms_waiting_actions,
    soft_action_can_be_forced,
    actions_are_confirmed_through_management,
    security_token_needs_its_permission,
    targets_have_groups,
    other_tenant_sees_nothing,
);

const NOT_FOUND: &str = "hawkbit.server.error.repo.entityNotFound";
const CONSTRAINT: &str = "hawkbit.server.error.repo.constraintViolation";
const EXISTS: &str = "hawkbit.server.error.repo.entityAlreadyExists";
const FORBIDDEN: &str = "hawkbit.server.error.insufficientPermission";
const PASSWORD: &str = "a-long-enough-password";

/// A user of the DEFAULT tenant with exactly `permissions`; returns its name.
fn limited_user(f: &Fixture, name: &str, permissions: &[&str]) -> String {
    let (s, b) = f.post(
        "/rest/v1/users",
        json!({ "username": name, "password": PASSWORD, "permissions": permissions }),
    );
    assert_eq!(s, 201, "{b}");
    name.to_owned()
}

fn as_user(f: &Fixture, user: &str, m: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = f.http.request(m, f.url(path)).basic_auth(user, Some(PASSWORD));
    if let Some(b) = body {
        r = r.json(&b);
    }
    read(r.send().unwrap())
}

fn assert_error(got: (u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["errorCode"], code, "{}", got.1);
}

fn keys(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap().to_owned())
        .collect()
}

/// Create, list (paged and sorted), read, update and delete — the same for targets and sets.
fn metadata_round_trip(f: &Fixture, base: &str) {
    let (s, v) = f.post(
        base,
        json!([{"key": "b", "value": "2"}, {"key": "a", "value": "1"}, {"key": "c", "value": "0"}]),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v,
        json!([{"key": "b", "value": "2"}, {"key": "a", "value": "1"}, {"key": "c", "value": "0"}])
    );
    let (s, page) = f.get(base);
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        (page["total"].clone(), page["size"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(keys(&page), ["a", "b", "c"]);
    let page = f.get(&format!("{base}?offset=1&limit=1")).1;
    assert_eq!(
        (keys(&page), page["total"].clone(), page["size"].clone()),
        (vec!["b".to_owned()], json!(3), json!(1))
    );
    assert_eq!(keys(&f.get(&format!("{base}?sort=key:DESC")).1), ["c", "b", "a"]);
    assert_eq!(keys(&f.get(&format!("{base}?sort=value:ASC")).1), ["c", "a", "b"]);
    assert_error(
        f.get(&format!("{base}?sort=colour:ASC")),
        400,
        "hawkbit.server.error.rest.param.invalidField",
    );
    assert_eq!(
        f.get(&format!("{base}/a")),
        (200, json!({"key": "a", "value": "1"}))
    );
    assert_eq!(
        f.put(&format!("{base}/a"), json!({"value": "one"})),
        (200, json!({"key": "a", "value": "one"}))
    );
    assert_eq!(f.get(&format!("{base}/a")).1["value"], "one");
    assert_eq!(f.delete(&format!("{base}/a")).0, 204);
    assert_error(f.get(&format!("{base}/a")), 404, NOT_FOUND);
    assert_error(f.delete(&format!("{base}/a")), 404, NOT_FOUND);
    assert_error(f.put(&format!("{base}/a"), json!({"value": "x"})), 404, NOT_FOUND);
    assert_eq!(f.get(base).1["total"], 2);
}

fn target_metadata_crud(f: &Fixture) {
    f.create_target("meta1");
    metadata_round_trip(f, "/rest/v1/targets/meta1/metadata");
    assert_error(f.get("/rest/v1/targets/nobody/metadata"), 404, NOT_FOUND);
    assert_error(
        f.post(
            "/rest/v1/targets/nobody/metadata",
            json!([{"key": "k", "value": "v"}]),
        ),
        404,
        NOT_FOUND,
    );
    assert_error(f.get("/rest/v1/targets/nobody/metadata/k"), 404, NOT_FOUND);
    // The target links to its metadata.
    let link = f.target("meta1")["_links"]["metadata"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        link.ends_with("/rest/v1/targets/meta1/metadata?offset=0&limit=50"),
        "{link}"
    );
}

fn ds_metadata_crud(f: &Fixture) {
    let (_, ds) = f.distribution_set("meta", "m.swu", b"m");
    metadata_round_trip(f, &format!("/rest/v1/distributionsets/{ds}/metadata"));
    assert_error(f.get("/rest/v1/distributionsets/999999/metadata"), 404, NOT_FOUND);
    assert_error(
        f.post(
            "/rest/v1/distributionsets/999999/metadata",
            json!([{"key": "k", "value": "v"}]),
        ),
        404,
        NOT_FOUND,
    );
}

fn metadata_validation_and_quota(f: &Fixture) {
    f.create_target("meta2");
    let (_, ds) = f.distribution_set("quota", "q.swu", b"q");
    for base in [
        "/rest/v1/targets/meta2/metadata".to_owned(),
        format!("/rest/v1/distributionsets/{ds}/metadata"),
    ] {
        assert_eq!(f.post(&base, json!([{"key": "k", "value": "v"}])).0, 201);
        // An existing key and a key repeated within one request are both conflicts; nothing is stored.
        assert_error(
            f.post(&base, json!([{"key": "k", "value": "again"}])),
            409,
            EXISTS,
        );
        assert_error(
            f.post(
                &base,
                json!([{"key": "x", "value": "1"}, {"key": "x", "value": "2"}]),
            ),
            409,
            EXISTS,
        );
        assert_eq!(f.get(&base).1["total"], 1);
        assert_error(
            f.post(&base, json!([{"key": "k".repeat(129), "value": "v"}])),
            400,
            CONSTRAINT,
        );
        assert_error(f.post(&base, json!([{"key": "", "value": "v"}])), 400, CONSTRAINT);
        assert_error(
            f.post(&base, json!([{"key": "long", "value": "v".repeat(4001)}])),
            400,
            CONSTRAINT,
        );
        assert_eq!(
            f.post(
                &base,
                json!([{"key": "k".repeat(128), "value": "v".repeat(4000)}])
            )
            .0,
            201
        );
        assert_error(
            f.put(&format!("{base}/k"), json!({"value": "v".repeat(4001)})),
            400,
            CONSTRAINT,
        );
        // 2 entries exist; 98 more reach the quota of 100, one beyond is refused.
        let many: Vec<Value> = (0..98)
            .map(|i| json!({"key": format!("m{i}"), "value": "v"}))
            .collect();
        assert_eq!(f.post(&base, Value::Array(many)).0, 201);
        assert_error(
            f.post(&base, json!([{"key": "over", "value": "v"}])),
            429,
            "hawkbit.server.error.quota.tooManyEntries",
        );
        assert_eq!(f.get(&base).1["total"], 100);
    }
}

fn metadata_permissions(f: &Fixture) {
    f.create_target("meta3");
    let (_, ds) = f.distribution_set("perm", "p.swu", b"p");
    assert_eq!(
        f.post(
            "/rest/v1/targets/meta3/metadata",
            json!([{"key": "k", "value": "v"}])
        )
        .0,
        201
    );
    let reader = limited_user(f, "reader", &["READ_TARGET"]);
    let t = "/rest/v1/targets/meta3/metadata";
    assert_eq!(as_user(f, &reader, Method::GET, t, None).0, 200);
    assert_eq!(as_user(f, &reader, Method::GET, &format!("{t}/k"), None).0, 200);
    assert_error(
        as_user(
            f,
            &reader,
            Method::POST,
            t,
            Some(json!([{"key": "n", "value": "v"}])),
        ),
        403,
        FORBIDDEN,
    );
    assert_error(
        as_user(
            f,
            &reader,
            Method::PUT,
            &format!("{t}/k"),
            Some(json!({"value": "v"})),
        ),
        403,
        FORBIDDEN,
    );
    assert_error(
        as_user(f, &reader, Method::DELETE, &format!("{t}/k"), None),
        403,
        FORBIDDEN,
    );
    let d = format!("/rest/v1/distributionsets/{ds}/metadata");
    assert_error(as_user(f, &reader, Method::GET, &d, None), 403, FORBIDDEN);
}

/// A target filter stored directly, for the behaviours that do not depend on RSQL parsing.
fn seed_filter(f: &Fixture, tenant: &str, name: &str) -> i64 {
    use updraft_server::store::schema::target_filter_queries as tfq;
    let (tenant, name) = (tenant.to_owned(), name.to_owned());
    f.srv
        .state
        .db
        .tx_blocking(move |c| {
            Ok(diesel::insert_into(tfq::table)
                .values((
                    tfq::tenant.eq(&tenant),
                    tfq::name.eq(&name),
                    tfq::query.eq("name==*"),
                    tfq::confirmation_required.eq(false),
                    tfq::created_at.eq(1),
                    tfq::created_by.eq("seed"),
                    tfq::last_modified_at.eq(1),
                    tfq::last_modified_by.eq("seed"),
                ))
                .returning(tfq::id)
                .get_result::<i64>(c)?)
        })
        .unwrap()
}

fn target_filters_validate_input(f: &Fixture) {
    assert_error(
        f.post("/rest/v1/targetfilters", json!({"name": "n"})),
        400,
        CONSTRAINT,
    );
    assert_error(
        f.post("/rest/v1/targetfilters", json!({"query": "name==a"})),
        400,
        CONSTRAINT,
    );
    assert_error(
        f.post("/rest/v1/targetfilters", json!({"name": "", "query": "name==a"})),
        400,
        CONSTRAINT,
    );
    assert_error(
        f.post("/rest/v1/targetfilters", json!({"name": "n", "query": ""})),
        400,
        CONSTRAINT,
    );
    let long = format!("name=={}", "a".repeat(1020));
    assert_error(
        f.post("/rest/v1/targetfilters", json!({"name": "n", "query": long})),
        400,
        CONSTRAINT,
    );
    assert_error(
        f.post(
            "/rest/v1/targetfilters",
            json!({"name": "n".repeat(129), "query": "name==a"}),
        ),
        400,
        CONSTRAINT,
    );
    // Not RSQL at all: refused with hawkBit's RSQL syntax error, with or without a real parser.
    assert_error(
        f.post(
            "/rest/v1/targetfilters",
            json!({"name": "n", "query": "this is not rsql"}),
        ),
        400,
        "hawkbit.server.error.rest.param.rsqlParamSyntax",
    );
    assert_eq!(
        f.get("/rest/v1/targetfilters").1,
        json!({"content": [], "total": 0, "size": 0})
    );
    assert_error(f.get("/rest/v1/targetfilters/4711"), 404, NOT_FOUND);
    assert_error(
        f.put("/rest/v1/targetfilters/4711", json!({"name": "x"})),
        404,
        NOT_FOUND,
    );
    assert_error(f.delete("/rest/v1/targetfilters/4711"), 404, NOT_FOUND);
    assert_error(f.get("/rest/v1/targetfilters/4711/autoAssignDS"), 404, NOT_FOUND);
    assert_error(
        f.delete("/rest/v1/targetfilters/4711/autoAssignDS"),
        404,
        NOT_FOUND,
    );
    assert_error(
        f.get("/rest/v1/targetfilters?representation=huge"),
        400,
        CONSTRAINT,
    );
}

/// Needs real RSQL: creating a filter validates its query against the target fields.
fn target_filters_crud(f: &Fixture) {
    let (s, v) = f.post(
        "/rest/v1/targetfilters",
        json!({"name": "eu", "query": "name==*eu*"}),
    );
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["name"], "eu");
    assert_eq!(v["query"], "name==*eu*");
    assert_eq!(v["createdBy"], "admin");
    assert_eq!(v["confirmationRequired"], false);
    assert!(v.get("autoAssignDistributionSet").is_none(), "{v}");
    assert!(
        v["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/rest/v1/targetfilters/{id}"))
    );
    assert!(
        v["_links"]["autoAssignDS"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/autoAssignDS")
    );
    let (s, v2) = f.post(
        "/rest/v1/targetfilters",
        json!({"name": "us", "query": "updateStatus==pending"}),
    );
    assert_eq!(s, 201, "{v2}");
    let id2 = v2["id"].as_i64().unwrap();
    // Unknown fields are refused once queries are really parsed.
    assert_error(
        f.post(
            "/rest/v1/targetfilters",
            json!({"name": "bad", "query": "colour==red"}),
        ),
        400,
        "hawkbit.server.error.rest.param.rsqlInvalidField",
    );
    let page = f.get("/rest/v1/targetfilters").1;
    assert_eq!(page["total"], 2);
    assert_eq!(page["content"][0]["id"], id);
    assert!(
        page["content"][0]["_links"].get("autoAssignDS").is_none(),
        "compact: {page}"
    );
    let full = f.get("/rest/v1/targetfilters?representation=full").1;
    assert!(full["content"][0]["_links"]["autoAssignDS"].is_object(), "{full}");
    let page = f.get("/rest/v1/targetfilters?sort=id:DESC&limit=1").1;
    assert_eq!(
        (page["total"].clone(), page["size"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(page["content"][0]["id"], id2);
    assert_eq!(f.get(&format!("/rest/v1/targetfilters/{id}")).1["name"], "eu");
    let (s, u) = f.put(
        &format!("/rest/v1/targetfilters/{id}"),
        json!({"query": "name==*europe*"}),
    );
    assert_eq!(s, 200, "{u}");
    assert_eq!(
        (u["name"].clone(), u["query"].clone()),
        (json!("eu"), json!("name==*europe*"))
    );
    assert_eq!(f.delete(&format!("/rest/v1/targetfilters/{id}")).0, 204);
    assert_error(f.get(&format!("/rest/v1/targetfilters/{id}")), 404, NOT_FOUND);
    assert_eq!(f.get("/rest/v1/targetfilters").1["total"], 1);
}

/// Needs real RSQL (the filters are created through the API).
fn target_filter_names_are_unique(f: &Fixture) {
    assert_eq!(
        f.post("/rest/v1/targetfilters", json!({"name": "a", "query": "name==a"}))
            .0,
        201
    );
    let (s, b) = f.post("/rest/v1/targetfilters", json!({"name": "b", "query": "name==b"}));
    assert_eq!(s, 201, "{b}");
    assert_error(
        f.post("/rest/v1/targetfilters", json!({"name": "a", "query": "name==c"})),
        409,
        EXISTS,
    );
    let id = b["id"].as_i64().unwrap();
    assert_error(
        f.put(&format!("/rest/v1/targetfilters/{id}"), json!({"name": "a"})),
        409,
        EXISTS,
    );
    // Renaming to its own name is no conflict.
    assert_eq!(
        f.put(&format!("/rest/v1/targetfilters/{id}"), json!({"name": "b"}))
            .0,
        200
    );
}

fn target_filter_auto_assign(f: &Fixture) {
    let id = seed_filter(f, "DEFAULT", "auto");
    let (_, ds) = f.distribution_set("auto", "a.swu", b"a");
    let path = format!("/rest/v1/targetfilters/{id}/autoAssignDS");
    let (s, _) = f.get(&path);
    assert_eq!(s, 204);
    // Renaming works without touching the query.
    let (s, v) = f.put(
        &format!("/rest/v1/targetfilters/{id}"),
        json!({"name": "renamed"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["name"].clone(), v["query"].clone()),
        (json!("renamed"), json!("name==*"))
    );
    assert_eq!(v["lastModifiedBy"], "admin");
    let (s, v) = f.post(
        &path,
        json!({"id": ds, "type": "soft", "weight": 300, "confirmationRequired": true}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["autoAssignDistributionSet"], ds);
    assert_eq!(v["autoAssignActionType"], "soft");
    assert_eq!(v["autoAssignWeight"], 300);
    assert_eq!(v["confirmationRequired"], true);
    let (s, d) = f.get(&path);
    assert_eq!(s, 200, "{d}");
    assert_eq!((d["id"].clone(), d["name"].clone()), (json!(ds), json!("auto")));
    // Defaults: forced, no weight, and consent as the tenant's flow says (off here).
    let (s, v) = f.post(&path, json!({"id": ds}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["autoAssignActionType"], "forced");
    assert!(v.get("autoAssignWeight").is_none(), "{v}");
    assert_eq!(v["confirmationRequired"], false);
    assert_error(
        f.post(&path, json!({"id": ds, "type": "timeforced"})),
        400,
        "hawkbit.server.error.repo.invalidAutoAssignActionType",
    );
    assert_error(f.post(&path, json!({"id": 999_999})), 404, NOT_FOUND);
    assert_error(f.post(&path, json!({"type": "forced"})), 400, CONSTRAINT);
    assert_error(f.post(&path, json!({"id": ds, "weight": 1001})), 400, CONSTRAINT);
    assert_error(
        f.post(&path, json!({"id": ds, "type": "sometimes"})),
        400,
        "hawkbit.server.error.rest.body.notReadable",
    );
    // A set without its mandatory module cannot be auto-assigned.
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{"name": "empty", "version": "1", "type": "os"}]),
    );
    assert_eq!(s, 201, "{v}");
    let empty = v[0]["id"].as_i64().unwrap();
    assert_error(
        f.post(&path, json!({"id": empty})),
        400,
        "hawkbit.server.error.distributionset.incomplete",
    );
    // The failed attempts left the previous setting alone.
    assert_eq!(
        f.get(&format!("/rest/v1/targetfilters/{id}")).1["autoAssignDistributionSet"],
        ds
    );
    assert_eq!(f.delete(&path).0, 204);
    assert_eq!(f.get(&path).0, 204);
    let v = f.get(&format!("/rest/v1/targetfilters/{id}")).1;
    assert!(
        v.get("autoAssignDistributionSet").is_none() && v.get("autoAssignActionType").is_none(),
        "{v}"
    );
    let list = f.get("/rest/v1/targetfilters?offset=0&limit=10&sort=id:ASC").1;
    assert_eq!(
        (list["total"].clone(), list["content"][0]["name"].clone()),
        (json!(1), json!("renamed"))
    );
    assert_eq!(f.delete(&format!("/rest/v1/targetfilters/{id}")).0, 204);
    assert_eq!(f.get("/rest/v1/targetfilters").1["total"], 0);
}

fn target_filter_permissions(f: &Fixture) {
    let id = seed_filter(f, "DEFAULT", "perm");
    let nobody = limited_user(f, "nobody", &["READ_DISTRIBUTION_SET"]);
    assert_error(
        as_user(f, &nobody, Method::GET, "/rest/v1/targetfilters", None),
        403,
        FORBIDDEN,
    );
    assert_error(
        as_user(
            f,
            &nobody,
            Method::GET,
            &format!("/rest/v1/targetfilters/{id}"),
            None,
        ),
        403,
        FORBIDDEN,
    );
    let reader = limited_user(f, "reader", &["READ_TARGET"]);
    assert_eq!(
        as_user(
            f,
            &reader,
            Method::GET,
            &format!("/rest/v1/targetfilters/{id}"),
            None
        )
        .0,
        200
    );
    assert_error(
        as_user(
            f,
            &reader,
            Method::POST,
            "/rest/v1/targetfilters",
            Some(json!({"name": "x", "query": "name==x"})),
        ),
        403,
        FORBIDDEN,
    );
    assert_error(
        as_user(
            f,
            &reader,
            Method::PUT,
            &format!("/rest/v1/targetfilters/{id}"),
            Some(json!({"name": "y"})),
        ),
        403,
        FORBIDDEN,
    );
    assert_error(
        as_user(
            f,
            &reader,
            Method::DELETE,
            &format!("/rest/v1/targetfilters/{id}"),
            None,
        ),
        403,
        FORBIDDEN,
    );
    assert_error(
        as_user(
            f,
            &reader,
            Method::POST,
            &format!("/rest/v1/targetfilters/{id}/autoAssignDS"),
            Some(json!({"id": 1})),
        ),
        403,
        FORBIDDEN,
    );
}

fn tenant_actions_list_and_get(f: &Fixture) {
    let (_, ds) = f.distribution_set("acts", "a.swu", b"a");
    f.create_target("act1");
    f.create_target("act2");
    let a1 = f.assign(ds, "act1", json!({"type": "soft"}));
    let a2 = f.assign(ds, "act2", json!({"type": "forced"}));
    let (s, page) = f.get("/rest/v1/actions");
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        (page["total"].clone(), page["size"].clone()),
        (json!(2), json!(2))
    );
    // Newest first by default; compact entries link only to themselves.
    assert_eq!(page["content"][0]["id"], a2);
    assert_eq!(page["content"][1]["id"], a1);
    let first = &page["content"][0];
    assert_eq!(first["forceType"], "forced");
    assert_eq!(first["status"], "running");
    assert_eq!(first["type"], "update");
    assert_eq!(first["active"], true);
    let links = first["_links"].as_object().unwrap();
    assert_eq!(links.keys().collect::<Vec<_>>(), ["self"], "{first}");
    assert!(
        links["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/rest/v1/targets/act2/actions/{a2}"))
    );
    let asc = f.get("/rest/v1/actions?sort=id:ASC&limit=1").1;
    assert_eq!(
        (
            asc["total"].clone(),
            asc["size"].clone(),
            asc["content"][0]["id"].clone()
        ),
        (json!(2), json!(1), json!(a1))
    );
    let next = f.get("/rest/v1/actions?sort=id:ASC&limit=1&offset=1").1;
    assert_eq!(next["content"][0]["id"], a2);
    let full = f.get("/rest/v1/actions?representation=full").1;
    let l = &full["content"][1]["_links"];
    assert!(
        l["target"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/rest/v1/targets/act1"),
        "{l}"
    );
    assert!(
        l["distributionset"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/rest/v1/distributionsets/{ds}"))
    );
    assert_eq!(l["distributionset"]["name"], "acts:1.0");
    assert_error(f.get("/rest/v1/actions?representation=tiny"), 400, CONSTRAINT);
    assert_error(
        f.get("/rest/v1/actions?sort=id:SIDEWAYS"),
        400,
        "hawkbit.server.error.rest.param.invalidDirection",
    );
    let (s, one) = f.get(&format!("/rest/v1/actions/{a1}"));
    assert_eq!(s, 200, "{one}");
    assert_eq!(one, f.action("act1", a1));
    assert_eq!(one["forceType"], "soft");
    assert!(
        one["_links"]["status"]["href"]
            .as_str()
            .unwrap()
            .contains(&format!("/actions/{a1}/status"))
    );
    assert_error(f.get("/rest/v1/actions/999999"), 404, NOT_FOUND);
    let nobody = limited_user(f, "nobody", &["READ_DISTRIBUTION_SET"]);
    assert_error(
        as_user(f, &nobody, Method::GET, "/rest/v1/actions", None),
        403,
        FORBIDDEN,
    );
    assert_error(
        as_user(f, &nobody, Method::GET, &format!("/rest/v1/actions/{a1}"), None),
        403,
        FORBIDDEN,
    );
}

fn auto_confirm_can_be_turned_on_and_off(f: &Fixture) {
    f.create_target("ac1");
    let path = "/rest/v1/targets/ac1/autoConfirm";
    let (s, v) = f.get(path);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["active"], false);
    assert!(
        v.get("initiator").is_none() && v.get("activatedAt").is_none(),
        "{v}"
    );
    assert!(
        v["_links"]["activate"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/rest/v1/targets/ac1/autoConfirm/activate")
    );
    let (s, b) = f.post(
        &format!("{path}/activate"),
        json!({"initiator": "op", "remark": "night shift"}),
    );
    assert_eq!(s, 204, "{b}");
    let v = f.get(path).1;
    assert_eq!(
        (v["active"].clone(), v["initiator"].clone(), v["remark"].clone()),
        (json!(true), json!("op"), json!("night shift"))
    );
    assert!(v["activatedAt"].as_i64().unwrap() > 0, "{v}");
    assert!(
        v["_links"]["deactivate"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/autoConfirm/deactivate")
    );
    assert_error(
        f.post(&format!("{path}/activate"), json!({})),
        409,
        "hawkbit.server.error.repo.autoConfAlreadyActive",
    );
    let (s, _) = read(
        f.mgmt(Method::POST, &format!("{path}/deactivate"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 204);
    assert_eq!(f.get(path).1["active"], false);
    // Without a body the caller is the initiator.
    let (s, _) = read(f.mgmt(Method::POST, &format!("{path}/activate")).send().unwrap());
    assert_eq!(s, 204);
    let v = f.get(path).1;
    assert_eq!(v["initiator"], "admin");
    assert!(v.get("remark").is_none(), "no remark given, none stored: {v}");
    assert_error(f.get("/rest/v1/targets/nobody/autoConfirm"), 404, NOT_FOUND);
    assert_error(
        f.post("/rest/v1/targets/nobody/autoConfirm/deactivate", json!({})),
        404,
        NOT_FOUND,
    );
    let reader = limited_user(f, "reader", &["READ_TARGET"]);
    assert_eq!(as_user(f, &reader, Method::GET, path, None).0, 200);
    assert_error(
        as_user(f, &reader, Method::POST, &format!("{path}/deactivate"), None),
        403,
        FORBIDDEN,
    );
    assert_error(
        as_user(f, &reader, Method::POST, &format!("{path}/activate"), None),
        403,
        FORBIDDEN,
    );
}

fn auto_confirm_confirms_waiting_actions(f: &Fixture) {
    f.set_config("user.confirmation.flow.enabled", json!(true));
    let (_, ds) = f.distribution_set("wait", "w.swu", b"w");
    f.poll("ac2");
    let action = f.assign(ds, "ac2", json!({}));
    assert_eq!(f.action("ac2", action)["status"], "wait_for_confirmation");
    assert_eq!(f.target("ac2")["autoConfirmActive"], false);
    let (s, _) = read(
        f.mgmt(Method::POST, "/rest/v1/targets/ac2/autoConfirm/activate")
            .send()
            .unwrap(),
    );
    assert_eq!(s, 204);
    assert_eq!(f.action("ac2", action)["status"], "running");
    assert_eq!(f.target("ac2")["autoConfirmActive"], true);
    assert!(support::link(&f.poll("ac2"), "deploymentBase").is_some());
}

fn deployment(f: &Fixture, cid: &str, action: i64) -> Value {
    let (s, d) = read(
        f.ddi(Method::GET, cid, &format!("/deploymentBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{d}");
    d["deployment"].clone()
}

fn soft_action_can_be_forced(f: &Fixture) {
    let (_, ds) = f.distribution_set("soft", "s.swu", b"s");
    f.poll("force1");
    let action = f.assign(ds, "force1", json!({"type": "soft"}));
    let d = deployment(f, "force1", action);
    assert_eq!(
        (d["download"].clone(), d["update"].clone()),
        (json!("attempt"), json!("attempt"))
    );
    let path = format!("/rest/v1/targets/force1/actions/{action}");
    assert_error(f.put(&path, json!({"forceType": "soft"})), 400, CONSTRAINT);
    assert_error(f.put(&path, json!({"forceType": "timeforced"})), 400, CONSTRAINT);
    assert_error(f.put(&path, json!({})), 400, CONSTRAINT);
    assert_eq!(f.action("force1", action)["forceType"], "soft");
    let (s, v) = f.put(&path, json!({"forceType": "forced"}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["id"].clone(), v["forceType"].clone()),
        (json!(action), json!("forced"))
    );
    assert_eq!(f.action("force1", action)["forceType"], "forced");
    let d = deployment(f, "force1", action);
    assert_eq!(
        (d["download"].clone(), d["update"].clone()),
        (json!("forced"), json!("forced"))
    );
    // Forcing again changes nothing.
    assert_eq!(
        f.put(&path, json!({"forceType": "forced"})).1["forceType"],
        "forced"
    );
    assert_error(
        f.put(
            "/rest/v1/targets/force1/actions/999999",
            json!({"forceType": "forced"}),
        ),
        404,
        NOT_FOUND,
    );
    assert_error(
        f.put(
            &format!("/rest/v1/targets/nobody/actions/{action}"),
            json!({"forceType": "forced"}),
        ),
        404,
        NOT_FOUND,
    );
    let reader = limited_user(f, "reader", &["READ_TARGET"]);
    assert_error(
        as_user(
            f,
            &reader,
            Method::PUT,
            &path,
            Some(json!({"forceType": "forced"})),
        ),
        403,
        FORBIDDEN,
    );
}

fn statuses(f: &Fixture, cid: &str, action: i64) -> Vec<Value> {
    let (s, v) = f.get(&format!("/rest/v1/targets/{cid}/actions/{action}/status"));
    assert_eq!(s, 200, "{v}");
    v["content"].as_array().unwrap().clone()
}

fn actions_are_confirmed_through_management(f: &Fixture) {
    f.set_config("user.confirmation.flow.enabled", json!(true));
    let (_, ds) = f.distribution_set("consent", "c.swu", b"c");
    f.poll("conf1");
    let action = f.assign(ds, "conf1", json!({}));
    let path = format!("/rest/v1/targets/conf1/actions/{action}/confirmation");
    assert_eq!(f.action("conf1", action)["status"], "wait_for_confirmation");
    assert_error(
        f.put(&path, json!({"confirmation": "maybe"})),
        400,
        "hawkbit.server.error.rest.body.notReadable",
    );
    assert_error(
        f.put(&path, json!({})),
        400,
        "hawkbit.server.error.rest.body.notReadable",
    );
    let reader = limited_user(f, "reader", &["READ_TARGET"]);
    assert_error(
        as_user(
            f,
            &reader,
            Method::PUT,
            &path,
            Some(json!({"confirmation": "confirmed"})),
        ),
        403,
        FORBIDDEN,
    );
    let (s, b) = f.put(
        &path,
        json!({"confirmation": "denied", "code": 7, "details": ["not now"]}),
    );
    assert_eq!(s, 204, "{b}");
    assert_eq!(f.action("conf1", action)["status"], "wait_for_confirmation");
    let newest = &statuses(f, "conf1", action)[0];
    assert_eq!(
        (newest["type"].clone(), newest["code"].clone()),
        (json!("wait_for_confirmation"), json!(7))
    );
    assert!(
        newest["messages"].as_array().unwrap().contains(&json!("not now")),
        "{newest}"
    );
    let (s, b) = f.put(
        &path,
        json!({"confirmation": "confirmed", "code": 200, "details": ["user said yes"]}),
    );
    assert_eq!(s, 204, "{b}");
    assert_eq!(f.action("conf1", action)["status"], "running");
    let newest = &statuses(f, "conf1", action)[0];
    assert_eq!(newest["type"], "running");
    assert!(
        newest["messages"]
            .as_array()
            .unwrap()
            .contains(&json!("user said yes")),
        "{newest}"
    );
    assert!(support::link(&f.poll("conf1"), "deploymentBase").is_some());
    // No longer waiting: 409; once closed: 410.
    assert_eq!(f.put(&path, json!({"confirmation": "confirmed"})).0, 409);
    let (s, _) = f.feedback("conf1", action, "closed", "success");
    assert_eq!(s, 200);
    assert_eq!(f.put(&path, json!({"confirmation": "confirmed"})).0, 410);
    assert_error(
        f.put(
            "/rest/v1/targets/conf1/actions/999999/confirmation",
            json!({"confirmation": "confirmed"}),
        ),
        404,
        NOT_FOUND,
    );
}

fn security_token_needs_its_permission(f: &Fixture) {
    let token = f.create_target("tok1");
    assert_eq!(f.target("tok1")["securityToken"], token);
    assert_eq!(f.get("/rest/v1/targets").1["content"][0]["securityToken"], token);
    let reader = limited_user(f, "reader", &["READ_TARGET"]);
    let (s, v) = as_user(f, &reader, Method::GET, "/rest/v1/targets/tok1", None);
    assert_eq!(s, 200, "{v}");
    assert!(v.get("securityToken").is_none(), "{v}");
    assert_eq!(v["controllerId"], "tok1");
    let list = as_user(f, &reader, Method::GET, "/rest/v1/targets", None).1;
    assert!(list["content"][0].get("securityToken").is_none(), "{list}");
    let both = limited_user(f, "both", &["READ_TARGET", "READ_TARGET_SECURITY_TOKEN"]);
    assert_eq!(
        as_user(f, &both, Method::GET, "/rest/v1/targets/tok1", None).1["securityToken"],
        token
    );
    // A creator without the token permission does not see the token it was given.
    let creator = limited_user(f, "creator", &["CREATE_TARGET", "READ_TARGET"]);
    let (s, v) = as_user(
        f,
        &creator,
        Method::POST,
        "/rest/v1/targets",
        Some(json!([{"controllerId": "tok2"}])),
    );
    assert_eq!(s, 201, "{v}");
    assert!(v[0].get("securityToken").is_none(), "{v}");
    assert_error(
        as_user(f, &reader, Method::DELETE, "/rest/v1/targets/tok1", None),
        403,
        FORBIDDEN,
    );
}

fn targets_have_groups(f: &Fixture) {
    let (s, v) = f.post(
        "/rest/v1/targets",
        json!([{"controllerId": "grp1", "group": "Europe/East"}]),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v[0]["group"], "Europe/East");
    assert_eq!(f.target("grp1")["group"], "Europe/East");
    f.create_target("grp2");
    assert!(f.target("grp2").get("group").is_none());
    let (s, v) = f.put("/rest/v1/targets/grp2", json!({"group": "Asia"}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["group"], "Asia");
    // Updates without a group keep it.
    assert_eq!(
        f.put("/rest/v1/targets/grp2", json!({"name": "renamed"})).1["group"],
        "Asia"
    );
    assert_error(
        f.put("/rest/v1/targets/grp2", json!({"group": "g".repeat(257)})),
        400,
        CONSTRAINT,
    );
}

fn other_tenant_sees_nothing(f: &Fixture) {
    let (s, v) = f.post("/rest/v1/tenants", json!({"name": "OTHER"}));
    assert_eq!(s, 201, "{v}");
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({"username": "other-admin", "password": PASSWORD, "tenant": "OTHER", "permissions": ["TENANT_ADMIN"]}),
    );
    assert_eq!(s, 201, "{v}");
    let (_, ds) = f.distribution_set("mine", "m.swu", b"m");
    f.create_target("mine1");
    assert_eq!(
        f.post(
            "/rest/v1/targets/mine1/metadata",
            json!([{"key": "k", "value": "v"}])
        )
        .0,
        201
    );
    let ds_meta = format!("/rest/v1/distributionsets/{ds}/metadata");
    assert_eq!(f.post(&ds_meta, json!([{"key": "k", "value": "v"}])).0, 201);
    let action = f.assign(ds, "mine1", json!({}));
    let filter = seed_filter(f, "DEFAULT", "mine");
    let other = |m: Method, path: &str, body: Option<Value>| as_user(f, "other-admin", m, path, body);
    for path in [
        "/rest/v1/targets/mine1/metadata".to_owned(),
        "/rest/v1/targets/mine1/metadata/k".to_owned(),
        ds_meta.clone(),
        format!("{ds_meta}/k"),
        format!("/rest/v1/targetfilters/{filter}"),
        format!("/rest/v1/targetfilters/{filter}/autoAssignDS"),
        format!("/rest/v1/actions/{action}"),
        "/rest/v1/targets/mine1/autoConfirm".to_owned(),
    ] {
        assert_error(other(Method::GET, &path, None), 404, NOT_FOUND);
    }
    assert_error(
        other(
            Method::PUT,
            "/rest/v1/targets/mine1/metadata/k",
            Some(json!({"value": "x"})),
        ),
        404,
        NOT_FOUND,
    );
    assert_error(
        other(Method::DELETE, &format!("{ds_meta}/k"), None),
        404,
        NOT_FOUND,
    );
    assert_error(
        other(Method::DELETE, &format!("/rest/v1/targetfilters/{filter}"), None),
        404,
        NOT_FOUND,
    );
    assert_error(
        other(
            Method::PUT,
            &format!("/rest/v1/targets/mine1/actions/{action}"),
            Some(json!({"forceType": "forced"})),
        ),
        404,
        NOT_FOUND,
    );
    assert_error(
        other(Method::POST, "/rest/v1/targets/mine1/autoConfirm/activate", None),
        404,
        NOT_FOUND,
    );
    assert_eq!(other(Method::GET, "/rest/v1/actions", None).1["total"], 0);
    assert_eq!(other(Method::GET, "/rest/v1/targetfilters", None).1["total"], 0);
    // The other tenant's own filter with the same name is no conflict, and is its own.
    let theirs = seed_filter(f, "OTHER", "mine");
    assert_eq!(
        other(Method::GET, &format!("/rest/v1/targetfilters/{theirs}"), None).0,
        200
    );
    assert_error(f.get(&format!("/rest/v1/targetfilters/{theirs}")), 404, NOT_FOUND);
    // Everything is still there for the owner.
    assert_eq!(f.get("/rest/v1/targets/mine1/metadata/k").0, 200);
    assert_eq!(f.get(&format!("/rest/v1/targetfilters/{filter}")).0, 200);
}
