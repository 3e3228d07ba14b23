#![allow(clippy::unwrap_used, clippy::expect_used)]
//! hawkBit's listing conventions beyond plain entity lists: `q`, `sort` and paging on the metadata
//! of targets, distribution sets and software modules, and `soft_deleted_mode` on the lists of
//! distribution sets, software modules and their types.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, read};

backend_tests!(
    target_metadata_is_searched_sorted_and_paged,
    ds_metadata_is_searched_sorted_and_paged,
    sm_metadata_is_searched_sorted_and_paged,
    metadata_lists_reject_bad_queries,
    soft_deleted_sets_and_modules,
    soft_deleted_types,
    soft_deleted_mode_rejects_unknown_values,
);

const INVALID_FIELD: &str = "hawkbit.server.error.rest.param.rsqlInvalidField";
const RSQL_SYNTAX: &str = "hawkbit.server.error.rest.param.rsqlParamSyntax";
const SORT_FIELD: &str = "hawkbit.server.error.rest.param.invalidField";
const CONSTRAINT: &str = "hawkbit.server.error.repo.constraintViolation";
const NOT_FOUND: &str = "hawkbit.server.error.repo.entityNotFound";
const DENIED: &str = "hawkbit.server.error.insufficientPermission";

/// `GET path` with the query parameters encoded.
fn list(f: &Fixture, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    read(f.mgmt(Method::GET, path).query(params).send().unwrap())
}

/// `GET path` that must answer 200; the page.
fn page(f: &Fixture, path: &str, params: &[(&str, &str)]) -> Value {
    let (s, v) = list(f, path, params);
    assert_eq!(s, 200, "{path} {params:?}: {v}");
    v
}

fn assert_error(r: (u16, Value), status: u16, code: &str) {
    assert_eq!(r.0, status, "{}", r.1);
    assert_eq!(r.1["errorCode"], code, "{}", r.1);
}

/// The `key`s of a metadata page, in order.
fn keys(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect()
}

/// The `id`s of a page, in order.
fn ids(page: &Value) -> Vec<i64> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

/// `(total, size)` of a page, checking that `size` counts `content`.
fn counts(page: &Value) -> (i64, i64) {
    let size = page["size"].as_i64().unwrap();
    assert_eq!(size as usize, page["content"].as_array().unwrap().len(), "{page}");
    (page["total"].as_i64().unwrap(), size)
}

/// The entries every metadata test starts from: two `build.*` keys, two keys with the value `eu`.
const ENTRIES: [(&str, &str); 5] = [
    ("region", "eu"),
    ("build.id", "42"),
    ("owner", "team-a"),
    ("zone", "eu"),
    ("build.date", "2026"),
];

fn add_entries(f: &Fixture, base: &str) {
    let body: Vec<Value> = ENTRIES
        .iter()
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect();
    let (s, v) = f.post(base, Value::Array(body));
    assert_eq!(s, 201, "{v}");
}

/// What all three metadata lists answer alike for [`ENTRIES`] under `base`.
fn check_metadata_listing(f: &Fixture, base: &str) {
    add_entries(f, base);

    let all = page(f, base, &[]);
    assert_eq!(counts(&all), (5, 5));
    assert_eq!(keys(&all), ["build.date", "build.id", "owner", "region", "zone"]);

    // Wildcards on the key, case-insensitive.
    let build = page(f, base, &[("q", "key==BUILD.*")]);
    assert_eq!(counts(&build), (2, 2));
    assert_eq!(keys(&build), ["build.date", "build.id"]);
    assert_eq!(build["content"][1]["value"], "42");
    assert_eq!(
        keys(&page(f, base, &[("q", "key==*o*")])),
        ["owner", "region", "zone"]
    );

    // By value, and combined.
    let eu = page(f, base, &[("q", "value==EU")]);
    assert_eq!(keys(&eu), ["region", "zone"]);
    assert_eq!(counts(&eu), (2, 2));
    assert_eq!(keys(&page(f, base, &[("q", "value==eu;key!=zone")])), ["region"]);
    assert_eq!(
        keys(&page(f, base, &[("q", "value=in=(42,2026),key==owner")])),
        ["build.date", "build.id", "owner"]
    );
    assert_eq!(counts(&page(f, base, &[("q", "value==nothing")])), (0, 0));

    // Sorting by key and by value (ties by key).
    assert_eq!(
        keys(&page(f, base, &[("sort", "key:DESC")])),
        ["zone", "region", "owner", "build.id", "build.date"]
    );
    assert_eq!(
        keys(&page(f, base, &[("sort", "value:ASC")])),
        ["build.date", "build.id", "region", "zone", "owner"]
    );
    assert_eq!(
        keys(&page(f, base, &[("sort", "value:DESC,key:DESC")])),
        ["owner", "zone", "region", "build.id", "build.date"]
    );

    // Paging: total counts every match, size the page.
    let p = page(f, base, &[("sort", "key:DESC"), ("offset", "1"), ("limit", "2")]);
    assert_eq!(counts(&p), (5, 2));
    assert_eq!(keys(&p), ["region", "owner"]);
    let last = page(f, base, &[("sort", "key:DESC"), ("offset", "4"), ("limit", "2")]);
    assert_eq!(counts(&last), (5, 1));
    assert_eq!(keys(&last), ["build.date"]);
    let beyond = page(f, base, &[("offset", "10")]);
    assert_eq!(counts(&beyond), (5, 0));
    let filtered = page(f, base, &[("q", "value==eu"), ("offset", "1"), ("limit", "1")]);
    assert_eq!(counts(&filtered), (2, 1));
    assert_eq!(keys(&filtered), ["zone"]);

    // Bad fields and syntax.
    assert_error(list(f, base, &[("q", "name==x")]), 400, INVALID_FIELD);
    assert_error(list(f, base, &[("q", "targetVisible==true")]), 400, INVALID_FIELD);
    assert_error(list(f, base, &[("q", "key=x")]), 400, RSQL_SYNTAX);
    assert_error(list(f, base, &[("sort", "name:ASC")]), 400, SORT_FIELD);
}

fn target_metadata_is_searched_sorted_and_paged(f: &Fixture) {
    f.create_target("dev1");
    // Another target's entries stay out of the list.
    f.create_target("dev2");
    let (s, v) = f.post(
        "/rest/v1/targets/dev2/metadata",
        json!([{ "key": "build.x", "value": "eu" }]),
    );
    assert_eq!(s, 201, "{v}");
    check_metadata_listing(f, "/rest/v1/targets/dev1/metadata");
    assert_error(
        list(f, "/rest/v1/targets/nope/metadata", &[("q", "key==a")]),
        404,
        NOT_FOUND,
    );
}

fn ds_metadata_is_searched_sorted_and_paged(f: &Fixture) {
    let (_, ds) = f.distribution_set("meta", "m.bin", b"m");
    let (_, other) = f.distribution_set("other", "o.bin", b"o");
    let (s, v) = f.post(
        &format!("/rest/v1/distributionsets/{other}/metadata"),
        json!([{ "key": "build.x", "value": "eu" }]),
    );
    assert_eq!(s, 201, "{v}");
    check_metadata_listing(f, &format!("/rest/v1/distributionsets/{ds}/metadata"));
    assert_error(
        list(f, "/rest/v1/distributionsets/999999/metadata", &[("q", "key==a")]),
        404,
        NOT_FOUND,
    );
}

fn sm_metadata_is_searched_sorted_and_paged(f: &Fixture) {
    let (sm, _) = f.distribution_set("meta", "m.bin", b"m");
    let base = format!("/rest/v1/softwaremodules/{sm}/metadata");
    let (s, v) = f.post(
        &base,
        json!([
            { "key": "region", "value": "eu", "targetVisible": true },
            { "key": "build.id", "value": "42" },
            { "key": "owner", "value": "team-a", "targetVisible": true },
            { "key": "zone", "value": "eu" },
            { "key": "build.date", "value": "2026", "targetVisible": false },
        ]),
    );
    assert_eq!(s, 201, "{v}");

    let all = page(f, &base, &[]);
    assert_eq!(counts(&all), (5, 5));
    assert_eq!(keys(&all), ["build.date", "build.id", "owner", "region", "zone"]);
    assert_eq!(
        all["content"][3],
        json!({ "key": "region", "value": "eu", "targetVisible": true })
    );

    let visible = page(f, &base, &[("q", "targetVisible==true")]);
    assert_eq!(keys(&visible), ["owner", "region"]);
    assert_eq!(counts(&visible), (2, 2));
    assert_eq!(
        keys(&page(f, &base, &[("q", "targetVisible==false;key==build*")])),
        ["build.date", "build.id"]
    );
    assert_eq!(
        keys(&page(f, &base, &[("q", "value==EU;targetVisible==false")])),
        ["zone"]
    );
    assert_eq!(
        keys(&page(f, &base, &[("sort", "targetVisible:DESC,key:DESC")])),
        ["region", "owner", "zone", "build.id", "build.date"]
    );
    assert_eq!(
        keys(&page(f, &base, &[("sort", "key:DESC")])),
        ["zone", "region", "owner", "build.id", "build.date"]
    );
    let p = page(
        f,
        &base,
        &[("sort", "value:ASC"), ("offset", "2"), ("limit", "2")],
    );
    assert_eq!(counts(&p), (5, 2));
    assert_eq!(keys(&p), ["region", "zone"]);

    assert_error(list(f, &base, &[("q", "version==1")]), 400, INVALID_FIELD);
    assert_error(list(f, &base, &[("q", "targetVisible==maybe")]), 400, RSQL_SYNTAX);
    assert_error(list(f, &base, &[("sort", "name:DESC")]), 400, SORT_FIELD);
    assert_error(
        list(f, "/rest/v1/softwaremodules/999999/metadata", &[]),
        404,
        NOT_FOUND,
    );
}

/// A user with only `permissions`; (name, password).
fn limited_user(f: &Fixture, name: &str, permissions: &[&str]) -> (String, String) {
    let pw = format!("{name}-password-123");
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": name, "password": pw, "permissions": permissions }),
    );
    assert_eq!(s, 201, "{v}");
    (name.to_owned(), pw)
}

fn metadata_lists_reject_bad_queries(f: &Fixture) {
    f.create_target("dev1");
    let (sm, ds) = f.distribution_set("meta", "m.bin", b"m");
    let bases = [
        "/rest/v1/targets/dev1/metadata".to_owned(),
        format!("/rest/v1/distributionsets/{ds}/metadata"),
        format!("/rest/v1/softwaremodules/{sm}/metadata"),
    ];
    for base in &bases {
        assert_error(list(f, base, &[("q", "name==x")]), 400, INVALID_FIELD);
        assert_error(
            list(f, base, &[("sort", "key")]),
            400,
            "hawkbit.server.error.rest.param.sortParamSyntax",
        );
        assert_error(
            list(f, base, &[("sort", "key:UP")]),
            400,
            "hawkbit.server.error.rest.param.invalidDirection",
        );
    }
    // Reading needs the owner's read permission, whatever the query.
    let user = limited_user(f, "reader", &["READ_TARGET"]);
    let (s, _) = read(
        f.http
            .get(f.url("/rest/v1/targets/dev1/metadata?q=key==a*"))
            .basic_auth(&user.0, Some(&user.1))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    for base in &bases[1..] {
        let r = read(
            f.http
                .get(f.url(&format!("{base}?q=key==a*")))
                .basic_auth(&user.0, Some(&user.1))
                .send()
                .unwrap(),
        );
        assert_error(r, 403, DENIED);
    }
}

/// The page of `path` in soft-deleted `mode` (none: the parameter left out), with extra parameters.
fn in_mode(f: &Fixture, path: &str, mode: Option<&str>, extra: &[(&str, &str)]) -> Value {
    let mut params: Vec<(&str, &str)> = extra.to_vec();
    if let Some(mode) = mode {
        params.push(("soft_deleted_mode", mode));
    }
    page(f, path, &params)
}

/// Checks each mode of `path` against the ids of the live and the soft-deleted rows (both in id
/// order), restricted by `extra` (a `q`) so that only the test's own rows count.
fn check_modes(f: &Fixture, path: &str, extra: &[(&str, &str)], live: &[i64], deleted: &[i64]) {
    let mut all: Vec<i64> = live.iter().chain(deleted).copied().collect();
    all.sort_unstable();
    for (mode, want) in [
        (None, live),
        (Some("EXCLUDE_SOFT_DELETED"), live),
        (Some("INCLUDE_SOFT_DELETED"), &all[..]),
        (Some("ONLY_SOFT_DELETED"), deleted),
    ] {
        let p = in_mode(f, path, mode, extra);
        assert_eq!(ids(&p), want, "{path} {mode:?}: {p}");
        assert_eq!(
            counts(&p),
            (want.len() as i64, want.len() as i64),
            "{path} {mode:?}"
        );
        for e in p["content"].as_array().unwrap() {
            let id = e["id"].as_i64().unwrap();
            assert_eq!(e["deleted"], deleted.contains(&id), "{path} {mode:?}: {e}");
        }
    }
}

/// `DELETE path` that must answer 204.
fn delete(f: &Fixture, path: &str) {
    let (s, v) = f.delete(path);
    assert_eq!(s, 204, "{path}: {v}");
}

fn soft_deleted_sets_and_modules(f: &Fixture) {
    // A set with actions and a module that a set uses are only marked deleted.
    let (sm_a, ds_a) = f.distribution_set("a", "a.bin", b"a");
    let (sm_b, ds_b) = f.distribution_set("b", "b.bin", b"b");
    let (sm_c, ds_c) = f.distribution_set("c", "c.bin", b"c");
    f.create_target("dev1");
    f.assign(ds_a, "dev1", json!({}));
    delete(f, &format!("/rest/v1/distributionsets/{ds_a}"));
    delete(f, &format!("/rest/v1/softwaremodules/{sm_b}"));
    // Unused ones are gone for good, in every mode.
    delete(f, &format!("/rest/v1/distributionsets/{ds_c}"));
    delete(f, &format!("/rest/v1/softwaremodules/{sm_c}"));

    check_modes(f, "/rest/v1/distributionsets", &[], &[ds_b], &[ds_a]);
    check_modes(f, "/rest/v1/softwaremodules", &[], &[sm_a], &[sm_b]);

    // The mode combines with `q`, `sort` and paging.
    let named_a = [("q", "name==a")];
    check_modes(f, "/rest/v1/distributionsets", &named_a, &[], &[ds_a]);
    check_modes(f, "/rest/v1/softwaremodules", &named_a, &[sm_a], &[]);
    let p = in_mode(
        f,
        "/rest/v1/distributionsets",
        Some("INCLUDE_SOFT_DELETED"),
        &[("sort", "id:DESC"), ("limit", "1")],
    );
    assert_eq!((ids(&p), counts(&p)), (vec![ds_b], (2, 1)));
    let p = in_mode(
        f,
        "/rest/v1/softwaremodules",
        Some("INCLUDE_SOFT_DELETED"),
        &[("offset", "1"), ("limit", "1")],
    );
    assert_eq!((ids(&p), counts(&p)), (vec![sm_b], (2, 1)));
    let p = in_mode(
        f,
        "/rest/v1/softwaremodules",
        Some("ONLY_SOFT_DELETED"),
        &[("q", "name==a")],
    );
    assert_eq!(counts(&p), (0, 0));
}

/// Creates one type under `path`; its id.
fn create_type(f: &Fixture, path: &str, body: Value) -> i64 {
    let (s, v) = f.post(path, json!([body]));
    assert_eq!(s, 201, "{v}");
    v[0]["id"].as_i64().unwrap()
}

fn soft_deleted_types(f: &Fixture) {
    let sm_types = "/rest/v1/softwaremoduletypes";
    let ds_types = "/rest/v1/distributionsettypes";
    let default_sm_types = counts(&page(f, sm_types, &[])).0;
    let default_ds_types = counts(&page(f, ds_types, &[])).0;

    // An SM type that a module uses, and a DS type that a set uses, are only marked deleted.
    let legacy = create_type(f, sm_types, json!({ "key": "legacy", "name": "Legacy" }));
    let spare = create_type(f, sm_types, json!({ "key": "spare", "name": "Spare" }));
    let (s, v) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": "old", "version": "1", "type": "legacy" }]),
    );
    assert_eq!(s, 201, "{v}");
    let old_set = create_type(
        f,
        ds_types,
        json!({ "key": "oldset", "name": "Old set", "optionalmodules": [{ "id": legacy }] }),
    );
    let new_set = create_type(f, ds_types, json!({ "key": "newset", "name": "New set" }));
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": "old", "version": "1", "type": "oldset" }]),
    );
    assert_eq!(s, 201, "{v}");
    delete(f, &format!("{sm_types}/{legacy}"));
    delete(f, &format!("{ds_types}/{old_set}"));
    // Unused: gone for good.
    let unused = create_type(f, sm_types, json!({ "key": "unused", "name": "Unused" }));
    delete(f, &format!("{sm_types}/{unused}"));

    let mine = [("q", "key==legacy,key==spare,key==unused")];
    check_modes(f, sm_types, &mine, &[spare], &[legacy]);
    let mine = [("q", "key==*set")];
    check_modes(f, ds_types, &mine, &[new_set], &[old_set]);

    // Without `q`: the default types are live, the one deleted type is only there on request.
    let totals = |path: &str, mode: &str| counts(&in_mode(f, path, Some(mode), &[])).0;
    assert_eq!(counts(&page(f, sm_types, &[])).0, default_sm_types + 1);
    assert_eq!(totals(sm_types, "INCLUDE_SOFT_DELETED"), default_sm_types + 2);
    assert_eq!(totals(sm_types, "ONLY_SOFT_DELETED"), 1);
    assert_eq!(counts(&page(f, ds_types, &[])).0, default_ds_types + 1);
    assert_eq!(totals(ds_types, "INCLUDE_SOFT_DELETED"), default_ds_types + 2);
    let only = in_mode(f, ds_types, Some("ONLY_SOFT_DELETED"), &[]);
    assert_eq!(ids(&only), [old_set]);
    assert_eq!(only["content"][0]["key"], "oldset");
}

fn soft_deleted_mode_rejects_unknown_values(f: &Fixture) {
    let (sm, ds) = f.distribution_set("a", "a.bin", b"a");
    f.create_target("dev1");
    f.assign(ds, "dev1", json!({}));
    delete(f, &format!("/rest/v1/distributionsets/{ds}"));
    for path in [
        "/rest/v1/distributionsets",
        "/rest/v1/softwaremodules",
        "/rest/v1/softwaremoduletypes",
        "/rest/v1/distributionsettypes",
    ] {
        for bad in ["ALL", "EXCLUDE", "SOFT_DELETED"] {
            assert_error(list(f, path, &[("soft_deleted_mode", bad)]), 400, CONSTRAINT);
        }
        // An empty value means the default, as for Spring's `defaultValue`.
        let empty = page(f, path, &[("soft_deleted_mode", "")]);
        assert_eq!(empty, page(f, path, &[]), "{path}");
    }
    assert_eq!(
        ids(&page(
            f,
            "/rest/v1/distributionsets",
            &[("soft_deleted_mode", "")]
        )),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&page(
            f,
            "/rest/v1/softwaremodules",
            &[("soft_deleted_mode", " ")]
        )),
        [sm]
    );
    // Lists without the parameter ignore it, as Spring does with unknown parameters.
    assert_eq!(
        list(f, "/rest/v1/targets", &[("soft_deleted_mode", "ALL")]).0,
        200
    );
}
