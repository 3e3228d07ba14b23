//! hawkBit's `q=` (RSQL) and `sort=` on the Management API lists, checked on real rows of both
//! backends: which rows match, in which order, and hawkBit's 400s for bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, read};

backend_tests!(
    target_text_queries,
    target_attribute_status_ds_and_time_queries,
    ds_and_sm_queries,
    action_and_action_status_queries,
    sorting_and_paging_over_a_filtered_list,
    sql_looking_input_matches_nothing,
    query_and_sort_errors,
    every_field_and_operator_answers_200_or_400,
);

/// `GET path` with the given `q`, `sort` and other query parameters.
fn list(f: &Fixture, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    read(f.mgmt(Method::GET, path).query(params).send().unwrap())
}

/// The values of `key` in the content of a successful list answer.
fn column(v: &Value, key: &str) -> Vec<String> {
    v["content"]
        .as_array()
        .unwrap_or_else(|| panic!("no content in {v}"))
        .iter()
        .map(|e| match &e[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// The controller ids of the targets matching `q` (default order: controllerId ascending).
fn targets(f: &Fixture, q: &str) -> Vec<String> {
    let (s, v) = list(f, "/rest/v1/targets", &[("q", q), ("limit", "500")]);
    assert_eq!(s, 200, "{q}: {v}");
    assert_eq!(
        v["total"].as_u64().unwrap() as usize,
        v["content"].as_array().unwrap().len(),
        "{q}"
    );
    column(&v, "controllerId")
}

fn create_targets(f: &Fixture, body: Value) -> Value {
    let (s, v) = f.post("/rest/v1/targets", body);
    assert_eq!(s, 201, "{v}");
    v
}

fn assert_error(status_body: (u16, Value), code: &str) -> String {
    let (s, v) = status_body;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["errorCode"], code, "{v}");
    v["message"].as_str().unwrap().to_owned()
}

fn target_text_queries(f: &Fixture) {
    create_targets(
        f,
        json!([
            { "controllerId": "dev-01", "name": "Alpha Device", "description": "first" },
            { "controllerId": "dev-02", "name": "alpha-probe" },
            { "controllerId": "dev-03", "name": "Beta", "description": "" },
            { "controllerId": "lab-01", "name": "gamma_1", "description": "lab" },
            { "controllerId": "lab-02", "name": "gammaX1" },
        ]),
    );
    let all = ["dev-01", "dev-02", "dev-03", "lab-01", "lab-02"];
    assert_eq!(targets(f, ""), all);
    // Wildcards at both ends, case-insensitive.
    assert_eq!(targets(f, "name==*LPHA*"), ["dev-01", "dev-02"]);
    assert_eq!(targets(f, "name==ALPHA*"), ["dev-01", "dev-02"]);
    assert_eq!(targets(f, "name==*device"), ["dev-01"]);
    // `_` is not a wildcard.
    assert_eq!(targets(f, "name==*a_1"), ["lab-01"]);
    assert_eq!(targets(f, "controllerId==DEV-*"), ["dev-01", "dev-02", "dev-03"]);
    assert_eq!(targets(f, "id==dev-02"), ["dev-02"]);
    assert_eq!(targets(f, "name==beta"), ["dev-03"]);
    assert_eq!(targets(f, "name=='alpha device'"), ["dev-01"]);
    // `!=` also matches rows without a value.
    assert_eq!(targets(f, "name!=beta"), ["dev-01", "dev-02", "lab-01", "lab-02"]);
    assert_eq!(
        targets(f, "description!=FIRST"),
        ["dev-02", "dev-03", "lab-01", "lab-02"]
    );
    assert_eq!(
        targets(f, "description!=*a*"),
        ["dev-01", "dev-02", "dev-03", "lab-02"]
    );
    assert_eq!(targets(f, "description==''"), ["dev-02", "dev-03", "lab-02"]);
    assert_eq!(targets(f, "description=is=null"), ["dev-02", "lab-02"]);
    assert_eq!(targets(f, "description=not=null"), ["dev-01", "dev-03", "lab-01"]);
    assert_eq!(
        targets(f, "controllerId=in=(dev-01,LAB-01)"),
        ["dev-01", "lab-01"]
    );
    assert_eq!(
        targets(f, "controllerId=out=(dev-01,LAB-01)"),
        ["dev-02", "dev-03", "lab-02"]
    );
    // `;` binds tighter than `,`; parentheses change that.
    assert_eq!(
        targets(f, "controllerId==dev-01,controllerId==dev-02;name==beta"),
        ["dev-01"]
    );
    assert_eq!(
        targets(f, "(controllerId==dev-01,controllerId==dev-03);name==beta"),
        ["dev-03"]
    );
    assert_eq!(
        targets(f, "controllerId==dev-01 or controllerId==dev-03 and name==beta"),
        ["dev-01", "dev-03"]
    );
    assert_eq!(targets(f, "name=lt=b"), ["dev-01", "dev-02"]);
}

/// Waits until the server has written the polls of `cids` (it batches them).
fn wait_for_polls(f: &Fixture, cids: &[&str]) {
    for _ in 0..100 {
        if targets(f, "lastControllerRequestAt=not=null") == cids {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("polls of {cids:?} never written");
}

fn put_config_data(f: &Fixture, cid: &str, data: Value) {
    let r = f
        .ddi(Method::PUT, cid, "/configData")
        .json(&json!({ "data": data }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

fn target_attribute_status_ds_and_time_queries(f: &Fixture) {
    let first = create_targets(f, json!([{ "controllerId": "t1" }, { "controllerId": "t2" }]));
    std::thread::sleep(std::time::Duration::from_millis(30));
    let second = create_targets(f, json!([{ "controllerId": "t3" }, { "controllerId": "t4" }]));
    f.poll("t1");
    f.poll("t2");
    put_config_data(f, "t1", json!({ "hw": "rev2", "region": "EU" }));
    put_config_data(f, "t2", json!({ "hw": "rev3" }));
    assert_eq!(targets(f, "attribute.hw==rev2"), ["t1"]);
    assert_eq!(targets(f, "attribute.hw==REV*"), ["t1", "t2"]);
    assert_eq!(targets(f, "attribute.hw!=rev2"), ["t2", "t3", "t4"]);
    assert_eq!(targets(f, "attribute.region==eu;attribute.hw==rev2"), ["t1"]);
    assert_eq!(
        targets(f, "attribute.region==eu;attribute.hw==rev3"),
        Vec::<String>::new()
    );
    assert_eq!(targets(f, "attribute.nothing==*"), Vec::<String>::new());

    let (_, ds) = f.distribution_set("os-image", "os.swu", b"image");
    f.assign(ds, "t1", json!({}));
    assert_eq!(targets(f, "updateStatus==pending"), ["t1"]);
    assert_eq!(targets(f, "updateStatus==PENDING"), ["t1"]);
    assert_eq!(targets(f, "updateStatus=out=(pending)"), ["t2", "t3", "t4"]);
    assert_eq!(targets(f, "assignedDS.name==os-image"), ["t1"]);
    assert_eq!(
        targets(f, "assignedDS.name==OS-*;assignedDS.version==1.0"),
        ["t1"]
    );
    assert_eq!(targets(f, "assignedDS.name!=os-image"), ["t2", "t3", "t4"]);
    assert_eq!(targets(f, "installedDS.name==os-image"), Vec::<String>::new());

    let created = second[0]["createdAt"].as_i64().unwrap();
    assert!(first[0]["createdAt"].as_i64().unwrap() < created);
    assert_eq!(targets(f, &format!("createdAt=ge={created}")), ["t3", "t4"]);
    assert_eq!(targets(f, &format!("createdAt=lt={created}")), ["t1", "t2"]);

    wait_for_polls(f, &["t1", "t2"]);
    let later = created + 3_600_000;
    assert_eq!(
        targets(f, &format!("lastControllerRequestAt=lt={later}")),
        ["t1", "t2"]
    );
    assert_eq!(
        targets(f, &format!("lastControllerRequestAt=ge={later}")),
        Vec::<String>::new()
    );
    assert_eq!(targets(f, "lastControllerRequestAt=is=null"), ["t3", "t4"]);
}

fn create_sm(f: &Fixture, name: &str, version: &str, ty: &str) -> i64 {
    let (s, v) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": name, "version": version, "type": ty }]),
    );
    assert_eq!(s, 201, "{v}");
    v[0]["id"].as_i64().unwrap()
}

fn create_ds(f: &Fixture, name: &str, version: &str, modules: &[i64]) -> i64 {
    let modules: Vec<Value> = modules.iter().map(|id| json!({ "id": id })).collect();
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": name, "version": version, "type": "os_app", "modules": modules }]),
    );
    assert_eq!(s, 201, "{v}");
    v[0]["id"].as_i64().unwrap()
}

/// `name:version` of the distribution sets or software modules at `path` matching `q`, sorted by `sort`.
fn names(f: &Fixture, path: &str, q: &str, sort: &str) -> Vec<String> {
    let (s, v) = list(f, path, &[("q", q), ("sort", sort)]);
    assert_eq!(s, 200, "{q}: {v}");
    assert_eq!(
        v["total"].as_u64().unwrap() as usize,
        v["content"].as_array().unwrap().len()
    );
    column(&v, "name")
        .into_iter()
        .zip(column(&v, "version"))
        .map(|(n, v)| format!("{n}:{v}"))
        .collect()
}

fn ds_and_sm_queries(f: &Fixture) {
    let kernel1 = create_sm(f, "kernel", "1.0", "os");
    create_sm(f, "kernel", "2.0", "os");
    let app = create_sm(f, "app", "1.0", "application");
    let (s, v) = f.post(
        &format!("/rest/v1/softwaremodules/{app}/metadata"),
        json!([{ "key": "channel", "value": "beta" }]),
    );
    assert_eq!(s, 201, "{v}");
    create_ds(f, "x", "1.0", &[kernel1]);
    create_ds(f, "x", "1.5", &[]);
    create_ds(f, "x", "2.0", &[]);
    create_ds(f, "y", "1.0", &[app]);

    let ds = "/rest/v1/distributionsets";
    assert_eq!(names(f, ds, "name==x;version==1.*", "id:ASC"), ["x:1.0", "x:1.5"]);
    assert_eq!(
        names(f, ds, "name==X", "version:DESC"),
        ["x:2.0", "x:1.5", "x:1.0"]
    );
    assert_eq!(
        names(f, ds, "version=ge=1.5", "name:DESC,version:ASC"),
        ["x:1.5", "x:2.0"]
    );
    assert_eq!(names(f, ds, "module.name==kernel", ""), ["x:1.0"]);
    assert_eq!(names(f, ds, "type==os_app;name!=x", ""), ["y:1.0"]);
    assert_eq!(
        names(f, ds, "version==1.0", "name:DESC,id:ASC"),
        ["y:1.0", "x:1.0"]
    );

    let sm = "/rest/v1/softwaremodules";
    assert_eq!(
        names(f, sm, "type==os", "version:DESC"),
        ["kernel:2.0", "kernel:1.0"]
    );
    assert_eq!(names(f, sm, "type.key==APPLICATION", ""), ["app:1.0"]);
    assert_eq!(names(f, sm, "type.name==application", ""), ["app:1.0"]);
    assert_eq!(names(f, sm, "metadata.channel==beta", ""), ["app:1.0"]);
    assert_eq!(
        names(f, sm, "metadata.channel!=beta", "id:ASC"),
        ["kernel:1.0", "kernel:2.0"]
    );
    assert_eq!(names(f, sm, "name==kernel;version=out=(2.0)", ""), ["kernel:1.0"]);
}

fn action_and_action_status_queries(f: &Fixture) {
    let (_, ds1) = f.distribution_set("first", "a.swu", b"a");
    let (_, ds2) = f.distribution_set("second", "b.swu", b"b");
    f.poll("dev");
    let a1 = f.assign(ds1, "dev", json!({}));
    let (s, v) = f.feedback("dev", a1, "closed", "success");
    assert_eq!(s, 200, "{v}");
    let a2 = f.assign(ds2, "dev", json!({}));
    let path = "/rest/v1/targets/dev/actions";
    let ids = |q: &str, sort: &str| {
        let (s, v) = list(f, path, &[("q", q), ("sort", sort)]);
        assert_eq!(s, 200, "{q}: {v}");
        assert_eq!(
            v["total"].as_u64().unwrap() as usize,
            v["content"].as_array().unwrap().len()
        );
        column(&v, "id")
    };
    let (a1s, a2s) = (a1.to_string(), a2.to_string());
    let (a1s, a2s) = (a1s.as_str(), a2s.as_str());
    assert_eq!(ids("", ""), [a2s, a1s]);
    assert_eq!(ids("", "id:ASC"), [a1s, a2s]);
    assert_eq!(ids("status==FINISHED", ""), [a1s]);
    assert_eq!(ids("active==true", ""), [a2s]);
    assert_eq!(ids("distributionSet.name==second", ""), [a2s]);
    assert_eq!(ids(&format!("distributionSet.id=={ds1}"), ""), [a1s]);
    assert_eq!(ids("target.controllerId==DEV;weight=gt=-1", "id:ASC"), [a1s, a2s]);

    let status_path = format!("{path}/{a1}/status");
    let (s, v) = list(f, &status_path, &[("sort", "id:ASC")]);
    assert_eq!(s, 200, "{v}");
    let statuses = column(&v, "id");
    assert!(statuses.len() >= 2, "{v}");
    let (s, v) = list(
        f,
        &status_path,
        &[("q", &format!("id=gt={}", statuses[0])), ("sort", "id:ASC")],
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(column(&v, "id"), statuses[1..]);
    assert_eq!(v["total"].as_u64().unwrap() as usize, statuses.len() - 1);
    assert_error(
        list(f, &status_path, &[("q", "message==x")]),
        "hawkbit.server.error.rest.param.rsqlInvalidField",
    );
    assert_error(
        list(f, path, &[("q", "status==nope")]),
        "hawkbit.server.error.rest.param.rsqlParamSyntax",
    );
}

fn sorting_and_paging_over_a_filtered_list(f: &Fixture) {
    let names = ["b", "a", "c", "a", "b", "c", "a"];
    let body: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| json!({ "controllerId": format!("s-{i}"), "name": n }))
        .collect();
    create_targets(f, Value::Array(body));
    create_targets(f, json!([{ "controllerId": "other", "name": "a" }]));
    let page = |sort: &str, offset: &str, limit: &str| {
        let (s, v) = list(
            f,
            "/rest/v1/targets",
            &[
                ("q", "controllerId==s-*"),
                ("sort", sort),
                ("offset", offset),
                ("limit", limit),
            ],
        );
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["total"], 7, "{v}");
        assert_eq!(
            v["size"].as_u64().unwrap() as usize,
            v["content"].as_array().unwrap().len()
        );
        column(&v, "controllerId")
    };
    // a: s-1 s-3 s-6, b: s-0 s-4, c: s-2 s-5
    assert_eq!(
        page("name:ASC,controllerId:DESC", "0", "50"),
        ["s-6", "s-3", "s-1", "s-4", "s-0", "s-5", "s-2"]
    );
    assert_eq!(
        page("name:ASC,controllerId:DESC", "2", "3"),
        ["s-1", "s-4", "s-0"]
    );
    assert_eq!(
        page("NAME:desc,controllerid:asc", "0", "3"),
        ["s-2", "s-5", "s-0"]
    );
    assert_eq!(page("name:desc,controllerId:asc", "6", "3"), ["s-6"]);
    assert_eq!(page("name:asc", "7", "3"), Vec::<String>::new());
    assert_eq!(page("controllerId:DESC", "0", "2"), ["s-6", "s-5"]);
}

fn sql_looking_input_matches_nothing(f: &Fixture) {
    create_targets(
        f,
        json!([{ "controllerId": "a", "name": "x" }, { "controllerId": "b", "name": "y" }]),
    );
    assert_eq!(targets(f, "name==\"x' OR 1=1 --\""), Vec::<String>::new());
    assert_eq!(targets(f, "name==\"x' OR '1'='1\""), Vec::<String>::new());
    assert_eq!(targets(f, "name==\"%\""), Vec::<String>::new());
    assert_eq!(targets(f, "attribute.x==\"y') OR 1=1 --\""), Vec::<String>::new());
    // An unbalanced quote is refused, not run.
    assert_error(
        list(f, "/rest/v1/targets", &[("q", "name=='x'' OR 1=1 --'")]),
        "hawkbit.server.error.rest.param.rsqlParamSyntax",
    );
}

fn query_and_sort_errors(f: &Fixture) {
    f.create_target("e1");
    let t = "/rest/v1/targets";
    let msg = assert_error(
        list(f, t, &[("q", "name==a;")]),
        "hawkbit.server.error.rest.param.rsqlParamSyntax",
    );
    assert!(msg.contains("position 8") && msg.contains("expected"), "{msg}");
    let msg = assert_error(
        list(f, t, &[("q", "name=foo=a")]),
        "hawkbit.server.error.rest.param.rsqlParamSyntax",
    );
    assert!(msg.contains("position 4"), "{msg}");
    let (s, v) = list(f, t, &[("q", "nme==a")]);
    assert_eq!(s, 400);
    assert_eq!(v["errorCode"], "hawkbit.server.error.rest.param.rsqlInvalidField");
    assert_eq!(
        v["exceptionClass"],
        "org.eclipse.hawkbit.repository.exception.RSQLParameterUnsupportedFieldException"
    );
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.contains("nme") && msg.contains("controllerId") && msg.contains("attribute.<key>"),
        "{msg}"
    );
    let (s, v) = list(f, "/rest/v1/distributionsets", &[("q", "id==abc")]);
    assert_eq!(s, 400);
    assert_eq!(v["errorCode"], "hawkbit.server.error.rest.param.rsqlParamSyntax");
    assert_eq!(
        v["exceptionClass"],
        "org.eclipse.hawkbit.repository.exception.RSQLParameterSyntaxException"
    );
    assert!(v["message"].as_str().unwrap().contains("'abc'"), "{v}");
    assert_error(
        list(f, "/rest/v1/softwaremodules", &[("q", "controllerId==x")]),
        "hawkbit.server.error.rest.param.rsqlInvalidField",
    );
    assert_error(
        list(f, t, &[("q", "updateStatus==done")]),
        "hawkbit.server.error.rest.param.rsqlParamSyntax",
    );
    let long = format!("name=={}", "x".repeat(5000));
    let msg = assert_error(
        list(f, t, &[("q", &long)]),
        "hawkbit.server.error.rest.param.rsqlParamSyntax",
    );
    assert!(msg.contains("longer than 4096"), "{msg}");
    let deep = format!("{}name==a{}", "(".repeat(40), ")".repeat(40));
    let msg = assert_error(
        list(f, t, &[("q", &deep)]),
        "hawkbit.server.error.rest.param.rsqlParamSyntax",
    );
    assert!(msg.contains("nested deeper than 32"), "{msg}");

    let (s, v) = list(f, t, &[("sort", "name")]);
    assert_eq!(s, 400);
    assert_eq!(v["errorCode"], "hawkbit.server.error.rest.param.sortParamSyntax");
    assert_eq!(
        v["exceptionClass"],
        "org.eclipse.hawkbit.rest.exception.SortParameterSyntaxErrorException"
    );
    let (s, v) = list(f, t, &[("sort", "nope:ASC")]);
    assert_eq!(s, 400);
    assert_eq!(v["errorCode"], "hawkbit.server.error.rest.param.invalidField");
    assert_eq!(
        v["exceptionClass"],
        "org.eclipse.hawkbit.rest.exception.SortParameterUnsupportedFieldException"
    );
    let (s, v) = list(f, t, &[("sort", "name:sideways")]);
    assert_eq!(s, 400);
    assert_eq!(v["errorCode"], "hawkbit.server.error.rest.param.invalidDirection");
    assert_eq!(
        v["exceptionClass"],
        "org.eclipse.hawkbit.rest.exception.SortParameterUnsupportedDirectionException"
    );
    for path in [
        "/rest/v1/distributionsets",
        "/rest/v1/softwaremodules",
        "/rest/v1/targets/e1/actions",
    ] {
        assert_error(
            list(f, path, &[("sort", "id:ASC,,createdAt:DESC")]),
            "hawkbit.server.error.rest.param.sortParamSyntax",
        );
        assert_error(
            list(f, path, &[("sort", "bogus:ASC")]),
            "hawkbit.server.error.rest.param.invalidField",
        );
        assert_error(
            list(f, path, &[("q", "(id==1")]),
            "hawkbit.server.error.rest.param.rsqlParamSyntax",
        );
    }
}

/// The fields a list accepts, read from the unknown-field error (`metadata.<key>` becomes `metadata.k`).
fn fields_of(f: &Fixture, path: &str) -> Vec<String> {
    let (s, v) = list(f, path, &[("q", "noSuchField==1")]);
    assert_eq!(s, 400, "{v}");
    let msg = v["message"].as_str().unwrap();
    let fields = msg.split("valid fields: ").nth(1).unwrap().trim_end_matches('.');
    fields
        .split(", ")
        .map(|name| name.replace("<key>", "k"))
        .collect()
}

/// No field and operator combination makes the database fail: every answer is a result or a 400.
fn every_field_and_operator_answers_200_or_400(f: &Fixture) {
    let (_, ds) = f.distribution_set("every", "e.swu", b"e");
    f.poll("dev");
    let action = f.assign(ds, "dev", json!({}));
    put_config_data(f, "dev", json!({ "k": "v" }));
    let paths = [
        "/rest/v1/targets".to_owned(),
        "/rest/v1/distributionsets".to_owned(),
        "/rest/v1/softwaremodules".to_owned(),
        "/rest/v1/targets/dev/actions".to_owned(),
        format!("/rest/v1/targets/dev/actions/{action}/status"),
    ];
    let args = [
        "==1",
        "!=1",
        "==x*",
        "!=*x",
        "==''",
        "=in=(1,2)",
        "=out=(a,1)",
        "=lt=1",
        "=ge=a",
        "=is=null",
        "=not=null",
        "==true",
        "==pending",
        "==9223372036854775807",
    ];
    for path in &paths {
        let fields = fields_of(f, path);
        assert!(fields.len() >= 4, "{path}: {fields:?}");
        for field in &fields {
            for arg in args {
                let q = format!("{field}{arg}");
                let (s, v) = list(f, path, &[("q", &q)]);
                match s {
                    200 => assert_eq!(
                        v["total"].as_u64().unwrap() as usize,
                        v["content"].as_array().unwrap().len(),
                        "{path}?q={q}"
                    ),
                    400 => assert_eq!(
                        v["errorCode"], "hawkbit.server.error.rest.param.rsqlParamSyntax",
                        "{path}?q={q}: {v}"
                    ),
                    _ => panic!("{path}?q={q}: {s} {v}"),
                }
            }
            let (s, v) = list(f, path, &[("sort", &format!("{field}:DESC"))]);
            assert!(
                s == 200 || v["errorCode"] == "hawkbit.server.error.rest.param.invalidField",
                "{path}?sort={field}:DESC: {s} {v}"
            );
        }
    }
    // Spot checks that the map, tag and joined fields really select.
    assert_eq!(targets(f, "attribute.k==v;assignedDS.name==every"), ["dev"]);
    assert_eq!(targets(f, "tag==x,metadata.k==v"), Vec::<String>::new());
    assert_eq!(targets(f, "tag!=x;metadata.k!=v"), ["dev"]);
}
