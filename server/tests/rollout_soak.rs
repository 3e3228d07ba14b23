//! Health-gated rollouts over a simulated fleet (`updraft-sim`, real HTTP), time driven by the
//! server's shiftable clock: with a soak time, a rollout pauses on the group whose devices roll back
//! or go silent after reporting success, with that group's totals equal to what its devices did;
//! the same fleet doing the same things under a rollout without soak time finishes "successfully".
//!
//! The clock moves a minute at a time; after each step the test waits until every device that
//! still polls has polled at the new time, then runs one scheduler round itself, so each step's
//! evaluation is known to have happened before anything is asserted. Nothing depends on speed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fleet::run_fleet;
use support::{Fixture, GW, controller_ids, group_state, totals};
use updraft_sim::{DeviceAuth, FleetConfig};

const FLEET: usize = 60;
const GROUPS: usize = 3;
const MINUTE: i64 = 60_000;
/// Ten minutes, as the scenario has it.
const SOAK_SECS: i64 = 600;

backend_tests!(
    soak_time_pauses_on_the_group_that_rolls_back,
    without_soak_time_the_same_fleet_finishes,
);

/// A started rollout over a running fleet whose second group misbehaves after success.
struct Scenario {
    id: i64,
    /// Each group's id and controller ids, in order.
    groups: Vec<(i64, Vec<String>)>,
    rollback: Vec<String>,
    silent: Vec<String>,
    /// Runs the simulated fleet; dropping it stops every device.
    _fleet: tokio::runtime::Runtime,
}

fn scenario(f: &Fixture, soak: Option<i64>) -> Scenario {
    // Silence limit: three polling intervals, 3 minutes of server time.
    f.set_config("pollingTime", json!("00:01:00"));
    let ids: Vec<String> = (0..FLEET).map(|i| format!("soak-{i:05}")).collect();
    let body: Vec<Value> = ids.iter().map(|c| json!({ "controllerId": c })).collect();
    let (s, v) = f.post("/rest/v1/targets", Value::Array(body));
    assert_eq!(s, 201, "{v}");
    let ds = f.distribution_set("soak", "soak.bin", &[5u8; 4096]).1;
    let mut body = json!({
        "name": "soak", "distributionSetId": ds, "targetFilterQuery": "controllerId==soak-*",
        "amountGroups": GROUPS,
        "successCondition": { "condition": "THRESHOLD", "expression": "100" },
        "errorCondition": { "condition": "THRESHOLD", "expression": "10" },
    });
    if let Some(secs) = soak {
        body["soakTime"] = json!(secs);
    }
    let (s, r) = f.post("/rest/v1/rollouts", body);
    assert_eq!(s, 201, "{r}");
    assert_eq!(r.get("soakTime"), soak.map(|s| json!(s)).as_ref(), "{r}");
    let id = r["id"].as_i64().unwrap();
    let groups = groups_of(f, id);
    assert_eq!(groups.len(), GROUPS);
    // In the second group, three devices roll back and two go silent after their success.
    let second = &groups[1].1;
    let rollback = second[..3].to_vec();
    let silent = second[3..5].to_vec();
    let config = FleetConfig {
        server: f.srv.url.clone(),
        devices: FLEET,
        id_prefix: "soak-".into(),
        auth: DeviceAuth::GatewayToken(GW.into()),
        poll_interval: Some(Duration::from_millis(100)),
        concurrency: 32,
        slots: true,
        rollback_after: Duration::from_millis(200),
        rollback_ids: Some(rollback.iter().cloned().collect()),
        silent_ids: Some(silent.iter().cloned().collect()),
        ..FleetConfig::default()
    };
    let fleet = run_fleet(config);
    let (s, v) = support::read(
        f.mgmt(reqwest::Method::POST, &format!("/rest/v1/rollouts/{id}/start"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 204, "{v}");
    Scenario {
        id,
        groups,
        rollback,
        silent,
        _fleet: fleet,
    }
}

fn groups_of(f: &Fixture, id: i64) -> Vec<(i64, Vec<String>)> {
    let (s, v) = f.get(&format!("/rest/v1/rollouts/{id}/deploygroups?limit=50"));
    assert_eq!(s, 200, "{v}");
    v["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let gid = g["id"].as_i64().unwrap();
            let (s, t) = f.get(&format!(
                "/rest/v1/rollouts/{id}/deploygroups/{gid}/targets?limit=100"
            ));
            assert_eq!(s, 200, "{t}");
            let mut cids: Vec<String> = t["content"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["controllerId"].as_str().unwrap().to_owned())
                .collect();
            cids.sort();
            (gid, cids)
        })
        .collect()
}

fn rollout(f: &Fixture, id: i64) -> Value {
    let (s, v) = f.get(&format!("/rest/v1/rollouts/{id}"));
    assert_eq!(s, 200, "{v}");
    v
}

/// Waits (generously) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(f: &Fixture, q: &str) -> i64 {
    let (s, v) = f.get(&format!("/rest/v1/targets?limit=1&q={}", urlencode(q)));
    assert_eq!(s, 200, "{v}");
    v["total"].as_i64().unwrap()
}

fn urlencode(q: &str) -> String {
    q.replace('%', "%25")
        .replace('*', "%2A")
        .replace(';', "%3B")
        .replace('=', "%3D")
        .replace(' ', "%20")
}

/// Devices that have not polled since `since` (ms).
fn lagging(f: &Fixture, since: i64) -> Vec<String> {
    let q = urlencode(&format!(
        "controllerId==soak-*;lastControllerRequestAt=lt={since}"
    ));
    let (s, v) = f.get(&format!("/rest/v1/targets?limit=100&q={q}"));
    assert_eq!(s, 200, "{v}");
    controller_ids(&v)
}

/// One scheduler round now (rollouts swept), as the background loop runs it.
fn sweep(f: &Fixture) {
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
}

/// Moves the server's clock on by `minutes`, a minute at a time; after each step waits until every
/// device but `silent` polled at the new time, then sweeps.
fn advance(f: &Fixture, minutes: usize, silent: &[String]) {
    for _ in 0..minutes {
        f.srv.state.clock.advance(MINUTE);
        // Poll times are stored by the second.
        let since = f.srv.state.now() / 1000 * 1000 - 1000;
        wait_until("every device still polling polled at the new time", || {
            lagging(f, since).iter().all(|c| silent.contains(c))
        });
        sweep(f);
    }
}

fn rollback_reason(f: &Fixture, cid: &str) -> Option<String> {
    let (s, v) = f.get(&format!("/rest/v1/targets/{cid}/attributes"));
    assert_eq!(s, 200, "{v}");
    v["updraft.rollback_reason"].as_str().map(str::to_owned)
}

fn in_sync(f: &Fixture) -> i64 {
    count(f, "controllerId==soak-*;updateStatus==in_sync")
}

fn soak_time_pauses_on_the_group_that_rolls_back(f: &Fixture) {
    let s = scenario(f, Some(SOAK_SECS));
    let [(g1, _), (g2, _), (g3, _)] = s.groups.as_slice() else {
        panic!("three groups");
    };
    let none: Vec<String> = Vec::new();
    wait_until("the first group reported success", || in_sync(f) == 20);
    sweep(f);
    // Reported, but soaking: running, and the next group waits.
    assert_eq!(
        group_state(f, s.id, *g1),
        ("running".into(), totals(&[("running", 20)]))
    );
    advance(f, 9, &none);
    assert_eq!(group_state(f, s.id, *g1).1, totals(&[("running", 20)]));
    assert_eq!(group_state(f, s.id, *g2).0, "scheduled");
    // Ten minutes after their success the first group's devices count, and the second starts.
    // Its silent devices stop polling as soon as they report success, which may fall before the
    // next minute's polls: they are not waited for.
    advance(f, 2, &s.silent);
    assert_eq!(
        group_state(f, s.id, *g1),
        ("finished".into(), totals(&[("finished", 20)]))
    );
    wait_until("the second group reported success", || in_sync(f) == 40);
    // The devices roll back shortly after their success (in the simulator's time); the next
    // evaluation counts them as errors: 3 of 20 is over the 10 % threshold.
    wait_until("three devices reported their rollback", || {
        s.rollback
            .iter()
            .all(|c| rollback_reason(f, c).as_deref() == Some("watchdog"))
    });
    sweep(f);
    let r = rollout(f, s.id);
    assert_eq!(r["status"], "paused", "{r}");
    assert_eq!(r["soakTime"], SOAK_SECS);
    assert_eq!(group_state(f, s.id, *g2).0, "error");
    // The soak goes on while paused: the silent devices fail after three polling intervals, the
    // healthy ones pass after ten minutes.
    advance(f, 11, &s.silent);
    assert_eq!(
        group_state(f, s.id, *g2),
        ("error".into(), totals(&[("finished", 15), ("error", 5)])),
        "15 healthy, 3 rolled back, 2 silent"
    );
    // The third group never started: its actions are still scheduled, its devices untouched.
    assert_eq!(
        group_state(f, s.id, *g3),
        ("scheduled".into(), totals(&[("scheduled", 20)]))
    );
    assert_eq!(in_sync(f), 40);
    let r = rollout(f, s.id);
    assert_eq!(r["status"], "paused", "{r}");
    assert_eq!(r["totalTargetsPerStatus"]["finished"], 35, "{r}");
    assert_eq!(r["totalTargetsPerStatus"]["error"], 5, "{r}");
    assert_eq!(r["totalTargetsPerStatus"]["scheduled"], 20, "{r}");
}

fn without_soak_time_the_same_fleet_finishes(f: &Fixture) {
    let s = scenario(f, None);
    wait_until("the rollout finished", || {
        sweep(f);
        rollout(f, s.id)["status"] == "finished"
    });
    // The devices did the same: three rolled back, two went silent; nobody noticed.
    wait_until("three devices reported their rollback", || {
        s.rollback
            .iter()
            .all(|c| rollback_reason(f, c).as_deref() == Some("watchdog"))
    });
    advance(f, 4, &s.silent);
    for (gid, _) in &s.groups {
        assert_eq!(
            group_state(f, s.id, *gid),
            ("finished".into(), totals(&[("finished", 20)]))
        );
    }
    let r = rollout(f, s.id);
    assert_eq!(r["status"], "finished", "{r}");
    assert_eq!(r["totalTargetsPerStatus"]["finished"], 60, "{r}");
    assert!(r.get("soakTime").is_none(), "{r}");
}
