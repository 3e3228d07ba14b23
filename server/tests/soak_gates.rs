//! Health gates (RSQL) on rollouts, and soak time for auto-assignments, over a simulated fleet
//! (`updraft-sim`, real HTTP), time driven by the server's shiftable clock (as `rollout_soak.rs`):
//!
//! - a rollout with a soak time and the gate `attribute.updraft.health==ok` pauses on the group
//!   whose devices report `updraft.health=failed: …`; a device that never reports its health fails
//!   the gate;
//! - an auto-assignment with a soak time pauses itself after rollbacks and assigns no further
//!   device until it is set again; without a soak time the same fleet keeps being assigned, as in
//!   hawkBit;
//! - bad gates, gates without a soak time and bad thresholds are refused with hawkBit's error body;
//! - the UI's rollout form takes a gate and the rollout page shows it.
//!
//! Each step waits for a condition (generous deadline) and then runs a scheduler round itself, so
//! nothing depends on speed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fleet::run_fleet;
use support::{Fixture, GW, browser, controller_ids, group_state, totals, ui_form, ui_login};
use updraft_server::store;
use updraft_sim::{DeviceAuth, FleetConfig};

const MINUTE: i64 = 60_000;
const SOAK_SECS: i64 = 600;
const GATE: &str = "attribute.updraft.health==ok";

backend_tests!(
    health_gate_pauses_the_rollout_on_unhealthy_devices,
    health_gate_fails_devices_that_do_not_match_it,
    auto_assignment_with_soak_pauses_itself_after_rollbacks,
    auto_assignment_without_soak_keeps_assigning,
    bad_gates_and_thresholds_are_refused,
    the_ui_rollout_form_takes_a_health_gate,
);

fn fleet_config(f: &Fixture, prefix: &str, devices: usize) -> FleetConfig {
    FleetConfig {
        server: f.srv.url.clone(),
        devices,
        id_prefix: prefix.into(),
        auth: DeviceAuth::GatewayToken(GW.into()),
        poll_interval: Some(Duration::from_millis(100)),
        concurrency: 32,
        rollback_after: Duration::from_millis(200),
        ..FleetConfig::default()
    }
}

fn create_targets(f: &Fixture, ids: &[String]) {
    let body: Vec<Value> = ids.iter().map(|c| json!({ "controllerId": c })).collect();
    let (s, v) = f.post("/rest/v1/targets", Value::Array(body));
    assert_eq!(s, 201, "{v}");
}

fn ids(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:05}")).collect()
}

/// Waits (generously) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn urlencode(q: &str) -> String {
    q.replace('%', "%25")
        .replace('*', "%2A")
        .replace(';', "%3B")
        .replace('=', "%3D")
        .replace(' ', "%20")
}

fn count(f: &Fixture, q: &str) -> i64 {
    let (s, v) = f.get(&format!("/rest/v1/targets?limit=1&q={}", urlencode(q)));
    assert_eq!(s, 200, "{v}");
    v["total"].as_i64().unwrap()
}

/// One scheduler round now (everything due by time swept), as the background loop runs it.
fn sweep(f: &Fixture) {
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
}

/// Moves the server's clock on by `minutes`, a minute at a time; after each step waits until
/// every device of `prefix` polled at the new time, then sweeps.
fn advance(f: &Fixture, prefix: &str, minutes: usize) {
    for _ in 0..minutes {
        f.srv.state.clock.advance(MINUTE);
        // Poll times are stored by the second.
        let since = f.srv.state.now() / 1000 * 1000 - 1000;
        let q = urlencode(&format!(
            "controllerId=={prefix}*;lastControllerRequestAt=lt={since}"
        ));
        wait_until("every device polled at the new time", || {
            let (s, v) = f.get(&format!("/rest/v1/targets?limit=100&q={q}"));
            assert_eq!(s, 200, "{v}");
            controller_ids(&v).is_empty()
        });
        sweep(f);
    }
}

fn get_ok(f: &Fixture, path: &str) -> Value {
    let (s, v) = f.get(path);
    assert_eq!(s, 200, "{v}");
    v
}

/// The rollout's group ids and each group's controller ids, in order.
fn groups_of(f: &Fixture, id: i64) -> Vec<(i64, Vec<String>)> {
    let v = get_ok(f, &format!("/rest/v1/rollouts/{id}/deploygroups?limit=50"));
    v["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let gid = g["id"].as_i64().unwrap();
            let t = get_ok(
                f,
                &format!("/rest/v1/rollouts/{id}/deploygroups/{gid}/targets?limit=100"),
            );
            let mut cids = controller_ids(&t);
            cids.sort();
            (gid, cids)
        })
        .collect()
}

/// Failed soaks of a rollout by reason, as the store keeps them (not shown over HTTP yet).
fn failures(f: &Fixture, id: i64) -> BTreeMap<String, i64> {
    f.srv
        .state
        .db
        .read_blocking(move |c| store::rollouts::soak::failures(c, id, None))
        .unwrap()
        .into_iter()
        .collect()
}

/// A rollout over the targets of `prefix` in `groups` groups, with a soak time and `GATE`.
fn gated_rollout(f: &Fixture, prefix: &str, groups: usize) -> (i64, Vec<(i64, Vec<String>)>) {
    let ds = f.distribution_set(prefix, "gate.bin", &[7u8; 2048]).1;
    let (s, r) = f.post(
        "/rest/v1/rollouts",
        json!({
            "name": prefix, "distributionSetId": ds, "targetFilterQuery": format!("controllerId=={prefix}*"),
            "amountGroups": groups,
            "successCondition": { "condition": "THRESHOLD", "expression": "100" },
            "errorCondition": { "condition": "THRESHOLD", "expression": "10" },
            "soakTime": SOAK_SECS, "healthGate": GATE,
        }),
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["healthGate"], GATE, "{r}");
    assert_eq!(r["soakTime"], SOAK_SECS, "{r}");
    let id = r["id"].as_i64().unwrap();
    assert_eq!(get_ok(f, &format!("/rest/v1/rollouts/{id}"))["healthGate"], GATE);
    (id, groups_of(f, id))
}

fn start(f: &Fixture, id: i64) {
    let (s, v) = support::read(
        f.mgmt(reqwest::Method::POST, &format!("/rest/v1/rollouts/{id}/start"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 204, "{v}");
}

fn health_gate_pauses_the_rollout_on_unhealthy_devices(f: &Fixture) {
    f.set_config("pollingTime", json!("00:01:00"));
    let prefix = "hg-";
    create_targets(f, &ids(prefix, 0..30));
    let (id, groups) = gated_rollout(f, prefix, 3);
    let [(g1, _), (g2, second), (g3, _)] = groups.as_slice() else {
        panic!("three groups");
    };
    // Two devices of the second group fail their health check on the new image.
    let unhealthy = second[..2].to_vec();
    let _fleet = run_fleet(FleetConfig {
        slots: true,
        unhealthy_ids: Some(unhealthy.iter().cloned().collect()),
        ..fleet_config(f, prefix, 30)
    });
    start(f, id);
    let in_sync = || count(f, &format!("controllerId=={prefix}*;updateStatus==in_sync"));
    wait_until("the first group reported success", || in_sync() == 10);
    sweep(f);
    assert_eq!(
        group_state(f, id, *g1),
        ("running".into(), totals(&[("running", 10)]))
    );
    // Healthy and matching the gate for ten minutes: the first group finishes.
    advance(f, prefix, 11);
    assert_eq!(
        group_state(f, id, *g1),
        ("finished".into(), totals(&[("finished", 10)]))
    );
    wait_until("the second group reported success", || in_sync() == 20);
    sweep(f);
    // 2 of 10 failed their health: over the 10 % threshold, the rollout pauses by itself.
    let r = get_ok(f, &format!("/rest/v1/rollouts/{id}"));
    assert_eq!(r["status"], "paused", "{r}");
    assert_eq!(group_state(f, id, *g2).0, "error");
    assert_eq!(group_state(f, id, *g2).1.get("error"), Some(&2));
    assert_eq!(failures(f, id), BTreeMap::from([("health".to_owned(), 2)]));
    assert_eq!(
        group_state(f, id, *g3),
        ("scheduled".into(), totals(&[("scheduled", 10)]))
    );
}

fn health_gate_fails_devices_that_do_not_match_it(f: &Fixture) {
    f.set_config("pollingTime", json!("00:01:00"));
    let prefix = "hn-";
    create_targets(f, &ids(prefix, 0..10));
    let (id, groups) = gated_rollout(f, prefix, 2);
    // Without slot state the devices never report `updraft.health`: the health rule has nothing
    // to say, but the gate wants `ok`.
    let _fleet = run_fleet(fleet_config(f, prefix, 10));
    start(f, id);
    wait_until("the first group reported success", || {
        count(f, &format!("controllerId=={prefix}*;updateStatus==in_sync")) == 5
    });
    sweep(f);
    let r = get_ok(f, &format!("/rest/v1/rollouts/{id}"));
    assert_eq!(r["status"], "paused", "{r}");
    assert_eq!(
        group_state(f, id, groups[0].0),
        ("error".into(), totals(&[("error", 5)]))
    );
    assert_eq!(failures(f, id), BTreeMap::from([("gate".to_owned(), 5)]));
    assert_eq!(group_state(f, id, groups[1].0).0, "scheduled");
}

/// A filter over `prefix` auto-assigning a new set, with the extra `soak` settings.
fn auto_assigning_filter(f: &Fixture, prefix: &str, soak: Value) -> (i64, Value) {
    let ds = f.distribution_set(prefix, "auto.bin", &[9u8; 2048]).1;
    let (s, v) = f.post(
        "/rest/v1/targetfilters",
        json!({ "name": prefix, "query": format!("controllerId=={prefix}*") }),
    );
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let mut body = json!({ "id": ds, "type": "forced" });
    body.as_object_mut()
        .unwrap()
        .extend(soak.as_object().unwrap().clone());
    let (s, v) = f.post(&format!("/rest/v1/targetfilters/{id}/autoAssignDS"), body.clone());
    assert_eq!(s, 200, "{v}");
    (id, body)
}

fn actions_of(f: &Fixture, cid: &str) -> i64 {
    get_ok(f, &format!("/rest/v1/targets/{cid}/actions?limit=1"))["total"]
        .as_i64()
        .unwrap()
}

/// Whether the auto-assignment checked every target that waits for it.
fn nothing_pending(f: &Fixture) -> bool {
    !f.srv
        .state
        .db
        .read_blocking(store::auto_assign::pending)
        .unwrap()
        .targets
}

/// Ten devices auto-assigned; three of them roll back after their success. Returns the fleet.
fn auto_scenario(f: &Fixture, prefix: &str, soak: Value) -> (i64, Value, tokio::runtime::Runtime) {
    f.set_config("pollingTime", json!("00:01:00"));
    create_targets(f, &ids(prefix, 0..10));
    let (id, body) = auto_assigning_filter(f, prefix, soak);
    let rollback = ids(prefix, 0..3);
    let fleet = run_fleet(FleetConfig {
        slots: true,
        rollback_ids: Some(rollback.iter().cloned().collect()),
        ..fleet_config(f, prefix, 10)
    });
    wait_until("every device installed the auto-assigned set", || {
        sweep(f);
        count(f, &format!("controllerId=={prefix}*;updateStatus==in_sync")) == 10
    });
    wait_until("three devices reported their rollback", || {
        rollback.iter().all(|c| {
            get_ok(f, &format!("/rest/v1/targets/{c}/attributes"))["updraft.rollback_reason"] == "watchdog"
        })
    });
    sweep(f);
    (id, body, fleet)
}

fn auto_assignment_with_soak_pauses_itself_after_rollbacks(f: &Fixture) {
    let prefix = "as-";
    let soak = json!({ "soakTime": SOAK_SECS, "healthGate": GATE, "soakErrorThreshold": 20 });
    let (id, body, _fleet) = auto_scenario(f, prefix, soak);
    // 3 failed soaks, counted over at least 5 devices: 60 % > 20 %.
    let v = get_ok(f, &format!("/rest/v1/targetfilters/{id}"));
    assert_eq!(v["autoAssignSoakTime"], SOAK_SECS, "{v}");
    assert_eq!(v["autoAssignHealthGate"], GATE, "{v}");
    assert_eq!(v["autoAssignSoakErrorThreshold"], 20, "{v}");
    assert!(v["autoAssignPausedAt"].as_i64().is_some(), "{v}");
    let reason = v["autoAssignPauseReason"].as_str().unwrap();
    assert!(reason.contains("rollback: 3"), "{reason}");
    // Devices that come later get nothing while it is paused.
    let later = ids(prefix, 10..13);
    create_targets(f, &later);
    wait_until("the new devices were checked", || {
        sweep(f);
        nothing_pending(f)
    });
    for c in &later {
        assert_eq!(
            actions_of(f, c),
            0,
            "{c} was assigned by a paused auto-assignment"
        );
    }
    // Setting it again resumes it: the waiting devices get the set.
    let (s, v) = f.post(&format!("/rest/v1/targetfilters/{id}/autoAssignDS"), body);
    assert_eq!(s, 200, "{v}");
    assert!(v.get("autoAssignPausedAt").is_none(), "{v}");
    wait_until("the new devices were assigned", || {
        sweep(f);
        later.iter().all(|c| actions_of(f, c) == 1)
    });
}

fn auto_assignment_without_soak_keeps_assigning(f: &Fixture) {
    let prefix = "an-";
    let (id, _, _fleet) = auto_scenario(f, prefix, json!({}));
    advance(f, prefix, 2);
    let v = get_ok(f, &format!("/rest/v1/targetfilters/{id}"));
    for field in [
        "autoAssignSoakTime",
        "autoAssignHealthGate",
        "autoAssignSoakErrorThreshold",
        "autoAssignPausedAt",
        "autoAssignPauseReason",
    ] {
        assert!(v.get(field).is_none(), "{field} in {v}");
    }
    let later = ids(prefix, 10..13);
    create_targets(f, &later);
    wait_until("the new devices were assigned", || {
        sweep(f);
        later.iter().all(|c| actions_of(f, c) == 1)
    });
}

fn assert_refused(s: u16, v: &Value, code: &str) {
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["errorCode"], code, "{v}");
    assert!(!v["message"].as_str().unwrap_or_default().is_empty(), "{v}");
}

fn bad_gates_and_thresholds_are_refused(f: &Fixture) {
    create_targets(f, &ids("bad-", 0..2));
    let ds = f.distribution_set("bad", "bad.bin", &[1u8; 64]).1;
    let rollout = |extra: Value| {
        let mut body = json!({
            "name": "bad", "distributionSetId": ds, "targetFilterQuery": "controllerId==bad-*",
            "amountGroups": 1,
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        f.post("/rest/v1/rollouts", body)
    };
    let constraint = "hawkbit.server.error.repo.constraintViolation";
    let (s, v) = rollout(json!({ "healthGate": GATE }));
    assert_refused(s, &v, constraint);
    let (s, v) = rollout(json!({ "soakTime": 60, "healthGate": "attribute.updraft.health=in=(ok" }));
    assert_refused(s, &v, "hawkbit.server.error.rest.param.rsqlParamSyntax");
    let (s, v) = rollout(json!({ "soakTime": 60, "healthGate": "nosuchfield==ok" }));
    assert_refused(s, &v, "hawkbit.server.error.rest.param.rsqlInvalidField");
    let (s, v) = rollout(json!({ "soakTime": 60, "healthGate": " " }));
    assert_refused(s, &v, constraint);
    let (s, v) = f.get("/rest/v1/rollouts");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 0, "a refused rollout was stored: {v}");

    let (s, v) = f.post(
        "/rest/v1/targetfilters",
        json!({ "name": "bad", "query": "controllerId==bad-*" }),
    );
    assert_eq!(s, 201, "{v}");
    let filter = v["id"].as_i64().unwrap();
    let path = format!("/rest/v1/targetfilters/{filter}/autoAssignDS");
    for (body, code) in [
        (json!({ "id": ds, "healthGate": GATE }), constraint),
        (json!({ "id": ds, "soakErrorThreshold": 10 }), constraint),
        (
            json!({ "id": ds, "soakTime": 60, "soakErrorThreshold": 101 }),
            constraint,
        ),
        (json!({ "id": ds, "soakTime": 0 }), constraint),
        (
            json!({ "id": ds, "soakTime": 60, "type": "downloadonly" }),
            constraint,
        ),
        (
            json!({ "id": ds, "soakTime": 60, "healthGate": "attribute.updraft.health=in=(ok" }),
            "hawkbit.server.error.rest.param.rsqlParamSyntax",
        ),
    ] {
        let (s, v) = f.post(&path, body.clone());
        assert_refused(s, &v, code);
    }
    let (s, v) = f.get(&format!("/rest/v1/targetfilters/{filter}"));
    assert_eq!(s, 200, "{v}");
    assert!(v.get("autoAssignDistributionSet").is_none(), "{v}");
}

fn the_ui_rollout_form_takes_a_health_gate(f: &Fixture) {
    create_targets(f, &ids("ui-", 0..2));
    let ds = f.distribution_set("ui", "ui.bin", &[3u8; 64]).1.to_string();
    let cookie = ui_login(f);
    let mut form = vec![
        ("name", "gated"),
        ("ds", ds.as_str()),
        ("q", "controllerId==ui-*"),
        ("groups", "1"),
        ("success", "100"),
        ("error", "10"),
        ("action_type", "forced"),
        ("soak", "10"),
        ("gate", "attribute.updraft.health=in=(ok"),
    ];
    let (s, _, page) = ui_form(f, &cookie, "/ui/rollouts", &form);
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("<h1>New rollout</h1>"), "the form again: {page}");
    assert!(
        page.contains("value=\"attribute.updraft.health=in=(ok\""),
        "{page}"
    );
    form[8].1 = GATE;
    let (s, location, page) = ui_form(f, &cookie, "/ui/rollouts", &form);
    assert_eq!(s, 303, "{page}");
    let id: i64 = location
        .trim_start_matches("/ui/rollouts/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let r = get_ok(f, &format!("/rest/v1/rollouts/{id}"));
    assert_eq!(
        (&r["soakTime"], &r["healthGate"]),
        (&json!(600), &json!(GATE)),
        "{r}"
    );
    let page = browser()
        .get(f.url(&format!("/ui/rollouts/{id}")))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("Health gate") && page.contains(GATE),
        "the rollout page shows the gate: {page}"
    );
}
