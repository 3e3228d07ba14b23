//! No tenant sees or touches another's data: tenant A creates one of everything, then an admin of
//! tenant B calls every operation of the Management API document with A's ids. Reads of A's
//! entities answer 404, lists show none of them, writes are refused, and A's data is unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};
use support::Fixture;

backend_tests!(another_tenant_sees_and_touches_nothing);

const MARK: &str = "alpha";
const PASSWORD: &str = "isolation-test-password";

fn id(v: &Value) -> String {
    match &v[0]["id"] {
        Value::Number(n) => n.to_string(),
        other => panic!("no id in {v} ({other})"),
    }
}

/// Tenant A's entities, by the path parameter names of hawkBit's document.
fn populate(f: &Fixture) -> BTreeMap<&'static str, String> {
    let mut ids = BTreeMap::new();
    f.create_target(&format!("{MARK}-dev"));
    ids.insert("targetId", format!("{MARK}-dev"));
    ids.insert("controllerId", format!("{MARK}-dev"));
    let (sm, ds) = f.distribution_set(&format!("{MARK}-ds"), "alpha.swu", b"alpha bundle");
    ids.insert("softwareModuleId", sm.to_string());
    ids.insert("distributionSetId", ds.to_string());
    ids.insert("distributionsetId", ds.to_string());
    let (_, arts) = f.get(&format!("/rest/v1/softwaremodules/{sm}/artifacts"));
    ids.insert("artifactId", arts[0]["id"].to_string());
    let action = f.assign(ds, &format!("{MARK}-dev"), json!({}));
    ids.insert("actionId", action.to_string());

    let created = |path: &str, body: Value| {
        let (s, v) = f.post(path, body);
        assert_eq!(s, 201, "{path}: {v}");
        id(&v)
    };
    ids.insert(
        "targetTagId",
        created("/rest/v1/targettags", json!([{ "name": format!("{MARK}-tag") }])),
    );
    ids.insert(
        "distributionsetTagId",
        created(
            "/rest/v1/distributionsettags",
            json!([{ "name": format!("{MARK}-dstag") }]),
        ),
    );
    ids.insert(
        "targetTypeId",
        created(
            "/rest/v1/targettypes",
            json!([{ "name": format!("{MARK}-tt"), "key": format!("{MARK}-tt") }]),
        ),
    );
    ids.insert(
        "softwareModuleTypeId",
        created(
            "/rest/v1/softwaremoduletypes",
            json!([{ "name": format!("{MARK}-smt"), "key": format!("{MARK}-smt"), "maxAssignments": 1 }]),
        ),
    );
    ids.insert(
        "distributionSetTypeId",
        created(
            "/rest/v1/distributionsettypes",
            json!([{ "name": format!("{MARK}-dst"), "key": format!("{MARK}-dst") }]),
        ),
    );
    let (s, v) = f.post(
        "/rest/v1/targetfilters",
        json!({ "name": format!("{MARK}-filter"), "query": "name==alpha*" }),
    );
    assert_eq!(s, 201, "{v}");
    ids.insert("filterId", v["id"].to_string());
    for owner in [
        format!("/rest/v1/targets/{MARK}-dev"),
        format!("/rest/v1/distributionsets/{ds}"),
        format!("/rest/v1/softwaremodules/{sm}"),
    ] {
        let (s, v) = f.post(
            &format!("{owner}/metadata"),
            json!([{ "key": format!("{MARK}-key"), "value": format!("{MARK}-value") }]),
        );
        assert_eq!(s, 201, "{owner}: {v}");
    }
    ids.insert("metadataKey", format!("{MARK}-key"));
    let (s, r) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": format!("{MARK}-rollout"), "distributionSetId": ds, "targetFilterQuery": format!("id=={MARK}-*") }),
    );
    assert_eq!(s, 201, "{r}");
    ids.insert("rolloutId", r["id"].to_string());
    let (_, g) = f.get(&format!("/rest/v1/rollouts/{}/deploygroups", r["id"]));
    ids.insert("groupId", g["content"][0]["id"].to_string());
    ids
}

/// A's state as A sees it: every list and entity, to compare before and after B's calls.
fn snapshot(f: &Fixture, ids: &BTreeMap<&'static str, String>) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/rest/v1/targets".to_owned(),
        "/rest/v1/distributionsets".to_owned(),
        "/rest/v1/softwaremodules".to_owned(),
        "/rest/v1/targettags".to_owned(),
        "/rest/v1/distributionsettags".to_owned(),
        "/rest/v1/targettypes".to_owned(),
        "/rest/v1/softwaremoduletypes".to_owned(),
        "/rest/v1/distributionsettypes".to_owned(),
        "/rest/v1/targetfilters".to_owned(),
        "/rest/v1/actions".to_owned(),
        "/rest/v1/rollouts?representation=full".to_owned(),
        format!("/rest/v1/targets/{}/metadata", ids["targetId"]),
        format!("/rest/v1/softwaremodules/{}/artifacts", ids["softwareModuleId"]),
    ] {
        let (s, mut v) = f.get(&path);
        assert_eq!(s, 200, "{path}: {v}");
        // Poll times move on their own; everything else must stay.
        strip(
            &mut v,
            &["lastModifiedAt", "lastControllerRequestAt", "pollStatus"],
        );
        out.push(v);
    }
    out
}

fn strip(v: &mut Value, keys: &[&str]) {
    match v {
        Value::Object(m) => {
            for k in keys {
                m.remove(*k);
            }
            m.values_mut().for_each(|x| strip(x, keys));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip(x, keys)),
        _ => {}
    }
}

fn another_tenant_sees_and_touches_nothing(f: &Fixture) {
    let ids = populate(f);
    let before = snapshot(f, &ids);

    let (s, v) = f.post("/rest/v1/tenants", json!({ "name": "BETA" }));
    assert_eq!(s, 201, "{v}");
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "beta-admin", "password": PASSWORD, "tenant": "BETA", "permissions": ["TENANT_ADMIN"] }),
    );
    assert_eq!(s, 201, "{v}");

    let doc = serde_json::to_value(updraft_server::openapi::management()).unwrap();
    let mut checked = 0;
    let mut problems = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        // Users, tenants and the caller's own info are not tenant data; configs are per tenant by key.
        if [
            "/rest/v1/users",
            "/rest/v1/tenants",
            "/rest/v1/userinfo",
            "/rest/v1/system",
        ]
        .iter()
        .any(|p| template.starts_with(p))
        {
            continue;
        }
        let mut path = template.clone();
        for (name, value) in &ids {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        assert!(
            !path.contains('{'),
            "no tenant-A id for a parameter of {template}"
        );
        let has_params = path != *template;
        for method in ["get", "post", "put", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let body =
                if method == "post" && template.ends_with("/assigned") || template.ends_with("assignedSM") {
                    json!([ids["targetId"]])
                } else {
                    json!({})
                };
            let r = f
                .http
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    f.url(&path),
                )
                .basic_auth("beta-admin", Some(PASSWORD))
                .json(&body)
                .send()
                .unwrap();
            let (status, v) = support::read(r);
            checked += 1;
            let text = v.to_string();
            let leaked = text.contains(MARK);
            let ok = match (method, has_params) {
                ("get", true) => status == 404,
                ("get", false) => status == 200 && !leaked,
                // Writes to A's ids: not found (or refused as malformed before the lookup).
                (_, true) => status == 404 || status == 400,
                // Creations in B with an empty body are refused as malformed; nothing of A shows.
                (_, false) => !leaked && status != 500,
            };
            // An error may echo the id that was asked for; only a list may not show A's data at all.
            if !ok || (leaked && !has_params) {
                problems.push(format!("{} {path}: {status} {text}", method.to_uppercase()));
            }
        }
    }
    assert!(checked > 100, "only {checked} operations checked");
    assert!(
        problems.is_empty(),
        "tenant BETA reached tenant DEFAULT's data:\n{}",
        problems.join("\n")
    );
    assert_eq!(snapshot(f, &ids), before, "tenant DEFAULT's data changed");
}
