//! Auto-assignment, driven step by step: this server runs no background scheduler
//! (`scheduler_interval_ms = 0`), so each test calls `scheduler::run_once` itself and checks the
//! result right after, with no waiting. A target is checked when it registers or its attributes
//! change; a filter checks the whole fleet once when its auto-assignment is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Fixture, link, read};
use updraft_server::config::Config;

fn no_background_scheduler(c: &mut Config) {
    c.scheduler_interval_ms = 0;
}

backend_tests!(
    @tweak super::no_background_scheduler;
    a_filter_assigns_the_targets_it_already_matches,
    new_and_changed_targets_are_assigned_when_they_match,
    a_failed_set_is_not_assigned_again,
    targets_whose_type_refuses_the_set_are_left_out,
);

fn offered(f: &Fixture, cid: &str) -> bool {
    link(&f.poll(cid), "deploymentBase").is_some()
}

fn attributes(f: &Fixture, cid: &str, data: serde_json::Value) {
    let (s, v) = read(
        f.ddi(Method::PUT, cid, "/configData")
            .json(&json!({ "data": data }))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{v}");
}

fn step(f: &Fixture) {
    updraft_server::scheduler::run_once(&f.srv.state, false).unwrap();
}

/// A filter `attribute.site==lab` auto-assigning a new set; returns the set.
fn lab_filter(f: &Fixture, action_type: &str) -> i64 {
    let (_, ds) = f.distribution_set("aa", "aa.bin", b"payload");
    let (s, filter) = f.post(
        "/rest/v1/targetfilters",
        json!({ "name": "lab", "query": "attribute.site==lab" }),
    );
    assert_eq!(s, 201, "{filter}");
    let (s, v) = f.post(
        &format!("/rest/v1/targetfilters/{}/autoAssignDS", filter["id"]),
        json!({ "id": ds, "type": action_type }),
    );
    assert_eq!(s, 200, "{v}");
    ds
}

fn a_filter_assigns_the_targets_it_already_matches(f: &Fixture) {
    for (cid, site) in [("aa-lab", "lab"), ("aa-home", "home")] {
        f.poll(cid);
        attributes(f, cid, json!({ "site": site }));
    }
    step(f);
    lab_filter(f, "soft");
    assert!(!offered(f, "aa-lab"), "nothing before the scheduler ran");
    step(f);
    assert!(offered(f, "aa-lab"));
    assert!(!offered(f, "aa-home"));
    let (_, actions) = f.get("/rest/v1/targets/aa-lab/actions");
    assert_eq!(actions["content"][0]["forceType"], "soft");
    assert_eq!(actions["total"], 1);
    // Running again assigns nothing twice.
    step(f);
    let (_, actions) = f.get("/rest/v1/targets/aa-lab/actions");
    assert_eq!(actions["total"], 1);
}

fn new_and_changed_targets_are_assigned_when_they_match(f: &Fixture) {
    lab_filter(f, "forced");
    step(f);
    f.poll("aa-new");
    f.poll("aa-other");
    step(f);
    assert!(!offered(f, "aa-new"), "no attributes yet, no match");
    attributes(f, "aa-new", json!({ "site": "lab" }));
    attributes(f, "aa-other", json!({ "site": "home" }));
    step(f);
    assert!(offered(f, "aa-new"));
    assert!(!offered(f, "aa-other"));
    // A target created through the Management API is checked too (it matches by name here).
    let (s, filter) = f.post(
        "/rest/v1/targetfilters",
        json!({ "name": "by name", "query": "name==made-*" }),
    );
    assert_eq!(s, 201, "{filter}");
    let (_, ds2) = f.distribution_set("aa2", "aa2.bin", b"payload two");
    let (s, _) = f.post(
        &format!("/rest/v1/targetfilters/{}/autoAssignDS", filter["id"]),
        json!({ "id": ds2 }),
    );
    assert_eq!(s, 200);
    step(f);
    f.create_target("made-1");
    step(f);
    assert!(offered(f, "made-1"));
}

fn a_failed_set_is_not_assigned_again(f: &Fixture) {
    lab_filter(f, "forced");
    f.poll("aa-flaky");
    attributes(f, "aa-flaky", json!({ "site": "lab" }));
    step(f);
    let action = support::action_id_of(&link(&f.poll("aa-flaky"), "deploymentBase").unwrap());
    let (s, _) = f.feedback("aa-flaky", action, "closed", "failure");
    assert_eq!(s, 200);
    attributes(f, "aa-flaky", json!({ "site": "lab", "rev": "2" }));
    step(f);
    assert!(!offered(f, "aa-flaky"));
    let (_, actions) = f.get("/rest/v1/targets/aa-flaky/actions");
    assert_eq!(actions["total"], 1);
}

/// hawkBit's auto-assignment looks only at targets whose type accepts the set's type: a matching
/// target of another type is left alone (and not logged as a failed assignment every round).
fn targets_whose_type_refuses_the_set_are_left_out(f: &Fixture) {
    let (s, v) = f.post("/rest/v1/targettypes", json!([{ "name": "sensor" }]));
    assert_eq!(s, 201, "{v}");
    let sensor = v[0]["id"].as_i64().unwrap();
    for cid in ["tt-typed", "tt-untyped"] {
        f.poll(cid);
        attributes(f, cid, json!({ "site": "lab" }));
    }
    let (s, v) = f.post("/rest/v1/targets/tt-typed/targettype", json!({ "id": sensor }));
    assert_eq!(s, 204, "{v}");
    step(f);
    lab_filter(f, "forced");
    step(f);
    assert!(offered(f, "tt-untyped"));
    assert!(!offered(f, "tt-typed"));
    let (_, actions) = f.get("/rest/v1/targets/tt-typed/actions");
    assert_eq!(actions["total"], 0, "{actions}");
}
