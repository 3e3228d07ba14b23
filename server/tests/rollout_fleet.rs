//! Rollouts over a simulated fleet of a thousand devices (`updraft-sim`, real HTTP): every group
//! runs to the end when all devices succeed, and failures above the error threshold pause the
//! rollout with totals that match exactly what the devices reported. Then three server processes
//! on one PostgreSQL share the fleet, one is killed mid-rollout, and every device's result is still
//! counted once; a second run does the same with the artifacts in an S3 bucket (s3s-fs) and no
//! shared directory, an artifact uploaded through one node downloading through another with Range.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::process::Process;
use support::{Fixture, GW};
use updraft_sim::{DeviceAuth, FleetConfig, StopWhen};

const FLEET: usize = 1000;
const GROUPS: i64 = 4;

fn fast(c: &mut updraft_server::config::Config) {
    c.scheduler_interval_ms = 200;
    c.workers = Some(2);
    c.db_pool_size = 8;
}

backend_tests!(
    @tweak super::fast;
    a_thousand_devices_go_through_every_group,
    failures_above_the_threshold_pause_with_exact_totals,
);

/// PostgreSQL sessions die three times while a rollout runs (each time a group starts): the pool
/// replaces them, and every device's result is counted once.
#[test]
fn postgres_sessions_killed_mid_rollout_count_every_result_once() {
    let Some(f) = Fixture::postgres_with(fast) else {
        return;
    };
    let f = std::sync::Arc::new(f);
    let config = fleet(&f.srv.url, Vec::new());
    let ds = prepare(&f, &config);
    let id = start_rollout(&f, ds, json!({}));
    let killer = {
        let f = std::sync::Arc::clone(&f);
        std::thread::spawn(move || {
            let mut kills = 0;
            let mut started = 1;
            // Bounded: the rollout has four groups, and the fleet stops by itself.
            for _ in 0..20_000 {
                let (s, v) = f.get(&format!("/rest/v1/rollouts/{id}/deploygroups"));
                if s == 200 {
                    let now = v["content"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|g| g["status"] != "scheduled" && g["status"] != "ready")
                        .count();
                    if now > started {
                        started = now;
                        support::terminate_backends(&f);
                        kills += 1;
                    }
                    if v["content"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|g| g["status"] == "finished")
                    {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            kills
        })
    };
    let report = updraft_sim::run_blocking(
        config,
        StopWhen::ActionsDone {
            per_device: 1,
            timeout: Duration::from_secs(240),
        },
    );
    let kills = killer.join().unwrap();
    eprintln!("{report}\nsessions killed {kills} times");
    assert_eq!(kills, GROUPS - 1, "a kill as each later group started");
    assert!(!report.timed_out, "{report}");
    assert_eq!(
        (report.succeeded, report.failed, report.hash_mismatches),
        (FLEET as u64, 0, 0)
    );
    let r = settled_rollout(&f, id);
    assert_eq!(r["status"], "finished", "{r}");
    assert_eq!(
        r["totalTargetsPerStatus"],
        json!({ "running": 0, "notstarted": 0, "scheduled": 0, "cancelled": 0, "finished": FLEET, "error": 0 })
    );
    let (_, v) = f.get("/rest/v1/actions?limit=1");
    assert_eq!(v["total"], FLEET, "one action per device: {v}");
}

fn fleet(server: &str, servers: Vec<String>) -> FleetConfig {
    FleetConfig {
        server: server.to_owned(),
        servers,
        devices: FLEET,
        id_prefix: "fleet-".into(),
        auth: DeviceAuth::GatewayToken(GW.into()),
        poll_interval: Some(Duration::from_millis(400)),
        ramp_up: Duration::from_millis(400),
        concurrency: 64,
        ..FleetConfig::default()
    }
}

/// Creates the fleet's targets in id order (so groups are contiguous ranges of ids) and a set.
fn prepare(f: &Fixture, config: &FleetConfig) -> i64 {
    let ids: Vec<String> = config.controller_ids().collect();
    for chunk in ids.chunks(250) {
        let body: Vec<Value> = chunk.iter().map(|c| json!({ "controllerId": c })).collect();
        let (s, v) = f.post("/rest/v1/targets", Value::Array(body));
        assert_eq!(s, 201, "{v}");
    }
    f.distribution_set("fleet", "fleet.bin", &vec![7u8; 64 * 1024]).1
}

fn rollout_of(f: &Fixture, id: i64) -> Value {
    let (s, v) = f.get(&format!("/rest/v1/rollouts/{id}"));
    assert_eq!(s, 200, "{v}");
    v
}

/// The rollout once the scheduler has evaluated the last feedback: the devices' reports are
/// committed when the simulator stops, but the evaluation that finishes or pauses the rollout runs
/// after them, on the scheduler's thread.
fn settled_rollout(f: &Fixture, id: i64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut r = rollout_of(f, id);
    while r["status"] == "running" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        r = rollout_of(f, id);
    }
    r
}

fn group_statuses(f: &Fixture, id: i64) -> Vec<String> {
    let (s, v) = f.get(&format!("/rest/v1/rollouts/{id}/deploygroups"));
    assert_eq!(s, 200, "{v}");
    v["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["status"].as_str().unwrap().to_owned())
        .collect()
}

fn start_rollout(f: &Fixture, ds: i64, conditions: Value) -> i64 {
    let mut body = json!({
        "name": "fleet", "distributionSetId": ds, "targetFilterQuery": "controllerId==fleet-*",
        "amountGroups": GROUPS,
    });
    for (k, v) in conditions.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, r) = f.post("/rest/v1/rollouts", body);
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["totalTargets"], FLEET);
    let id = r["id"].as_i64().unwrap();
    let (s, v) = support::read(
        f.mgmt(reqwest::Method::POST, &format!("/rest/v1/rollouts/{id}/start"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 204, "{v}");
    id
}

fn a_thousand_devices_go_through_every_group(f: &Fixture) {
    let config = fleet(&f.srv.url, Vec::new());
    let ds = prepare(f, &config);
    let id = start_rollout(f, ds, json!({}));
    let report = updraft_sim::run_blocking(
        config,
        StopWhen::ActionsDone {
            per_device: 1,
            timeout: Duration::from_secs(240),
        },
    );
    eprintln!("{report}");
    assert!(!report.timed_out, "{report}");
    assert_eq!(
        (report.succeeded, report.failed, report.hash_mismatches),
        (FLEET as u64, 0, 0)
    );
    let r = settled_rollout(f, id);
    assert_eq!(r["status"], "finished", "{r}");
    assert_eq!(
        r["totalTargetsPerStatus"],
        json!({ "running": 0, "notstarted": 0, "scheduled": 0, "cancelled": 0, "finished": FLEET, "error": 0 })
    );
    assert_eq!(group_statuses(f, id), vec!["finished"; GROUPS as usize]);
    let (_, v) = f.get("/rest/v1/targets?q=updateStatus==in_sync&limit=1");
    assert_eq!(v["total"], FLEET);
}

fn failures_above_the_threshold_pause_with_exact_totals(f: &Fixture) {
    let mut config = fleet(&f.srv.url, Vec::new());
    let ds = prepare(f, &config);
    // The second group (ids 250..500) has 30 % failing devices; the error threshold is 20 %.
    let per_group = FLEET / GROUPS as usize;
    let failing: HashSet<String> = (per_group..per_group + per_group * 3 / 10)
        .map(|i| config.controller_id(i))
        .collect();
    config.fail_ids = Some(failing.clone());
    let id = start_rollout(
        f,
        ds,
        json!({
            "successCondition": { "condition": "THRESHOLD", "expression": "100" },
            "errorCondition": { "condition": "THRESHOLD", "expression": "20" },
            "errorAction": { "action": "PAUSE" },
        }),
    );
    // The first two groups report (the second one past its error threshold); the others never start.
    let report = updraft_sim::run_blocking(
        config,
        StopWhen::Outcomes {
            count: 2 * per_group as u64,
            timeout: Duration::from_secs(240),
        },
    );
    eprintln!("{report}");
    assert!(!report.timed_out, "{report}");
    let r = settled_rollout(f, id);
    assert_eq!(r["status"], "paused", "{r}");
    assert_eq!(
        group_statuses(f, id),
        ["finished", "error", "scheduled", "scheduled"]
    );
    // Paused stops new groups, not devices already updating: all of group 2 reports.
    assert_eq!(report.failed, failing.len() as u64, "{report}");
    assert_eq!(
        report.succeeded,
        (2 * per_group - failing.len()) as u64,
        "{report}"
    );
    let totals = &r["totalTargetsPerStatus"];
    assert_eq!(totals["finished"], report.succeeded, "{r}");
    assert_eq!(totals["error"], report.failed, "{r}");
    assert_eq!(totals["scheduled"], 2 * per_group, "{r}");
    assert_eq!(totals["running"], 0, "{r}");
    // Every failure was reported by a device that was told to fail, and only those.
    for (cid, outcome) in &report.per_device {
        let failed = outcome
            .actions
            .iter()
            .any(|a| a.result == updraft_sim::ActionResult::Failed);
        assert_eq!(failed, failing.contains(cid), "{cid}");
    }
}

/// A server process of its own, on the shared PostgreSQL database, in `data_dir` with `env`; its
/// log is printed if the test fails.
fn start_node(
    db: &str,
    data_dir: &std::path::Path,
    password: &str,
    env: &[(&'static str, String)],
) -> Process {
    std::fs::create_dir_all(data_dir).unwrap();
    support::process::updraft_server(|c| {
        c.env("UPDRAFT_DATABASE_URL", db)
            .env("UPDRAFT_DATA_DIR", data_dir)
            .env("UPDRAFT_ADMIN_PASSWORD", password)
            .env("UPDRAFT_WORKERS", "2")
            .env("UPDRAFT_SCHEDULER_INTERVAL_MS", "300")
            .env("UPDRAFT_POLL_FLUSH_INTERVAL_MS", "500")
            .env("UPDRAFT_MIN_POLLING_TIME", "00:00:01")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    })
}

#[test]
fn three_nodes_finish_a_rollout_when_one_dies_midway() {
    three_nodes(None);
}

#[test]
fn three_nodes_on_s3_finish_a_rollout_when_one_dies_midway() {
    let Some(s3) = support::s3::S3Server::start(support::s3::Kind::S3sFs) else {
        return;
    };
    three_nodes(Some(&s3.bucket()));
}

/// Three nodes share a directory (`s3` None) or an S3 bucket, each then in a directory of its own.
fn three_nodes(s3: Option<&updraft_server::storage::S3Settings>) {
    // Dropped last (declared first), after the nodes, even when an assertion fails.
    let Some((db, _database)) = support::fresh_postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let password = "three-nodes-test-password";
    let env = s3.map(support::s3::S3Server::env).unwrap_or_default();
    // All three start at once on an empty database: one migrates and creates the administrator.
    let starting: Vec<_> = (0..3)
        .map(|i| {
            let (db, env) = (db.clone(), env.clone());
            let dir = match s3 {
                Some(_) => dir.path().join(format!("node-{i}")),
                None => dir.path().to_owned(),
            };
            std::thread::spawn(move || start_node(&db, &dir, password, &env))
        })
        .collect();
    let mut nodes: Vec<Process> = starting.into_iter().map(|t| t.join().unwrap()).collect();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let api = |node: &Process, m: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = http
            .request(m, format!("{}{path}", node.url))
            .basic_auth("admin", Some(password));
        if let Some(b) = body {
            r = r.json(&b);
        }
        support::read(r.send().unwrap())
    };
    for (k, v) in [
        ("authentication.gatewaytoken.enabled", json!(true)),
        ("authentication.gatewaytoken.key", json!(GW)),
    ] {
        let (s, b) = api(
            &nodes[0],
            reqwest::Method::PUT,
            &format!("/rest/v1/system/configs/{k}"),
            Some(json!({ "value": v })),
        );
        assert_eq!(s, 200, "{b}");
    }
    let config = fleet(&nodes[0].url, nodes.iter().map(|n| n.url.clone()).collect());
    let ids: Vec<String> = config.controller_ids().collect();
    for chunk in ids.chunks(250) {
        let body: Vec<Value> = chunk.iter().map(|c| json!({ "controllerId": c })).collect();
        let (s, v) = api(
            &nodes[1],
            reqwest::Method::POST,
            "/rest/v1/targets",
            Some(Value::Array(body)),
        );
        assert_eq!(s, 201, "{v}");
    }
    let (s, sm) = api(
        &nodes[2],
        reqwest::Method::POST,
        "/rest/v1/softwaremodules",
        Some(json!([{ "name": "fleet", "version": "1", "type": "os" }])),
    );
    assert_eq!(s, 201, "{sm}");
    let sm = sm[0]["id"].as_i64().unwrap();
    let artifact: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(artifact.clone()).file_name("fleet.bin"),
    );
    // Uploaded through node A; node C serves it below.
    let r = http
        .post(format!("{}/rest/v1/softwaremodules/{sm}/artifacts", nodes[0].url))
        .basic_auth("admin", Some(password))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let (s, ds) = api(
        &nodes[0],
        reqwest::Method::POST,
        "/rest/v1/distributionsets",
        Some(json!([{ "name": "fleet", "version": "1", "type": "os", "modules": [{ "id": sm }] }])),
    );
    assert_eq!(s, 201, "{ds}");
    let ds = ds[0]["id"].as_i64().unwrap();
    let (s, r) = api(
        &nodes[0],
        reqwest::Method::POST,
        "/rest/v1/rollouts",
        Some(json!({
            "name": "fleet", "distributionSetId": ds, "targetFilterQuery": "controllerId==fleet-*",
            "amountGroups": GROUPS, "successCondition": { "condition": "THRESHOLD", "expression": "100" },
        })),
    );
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    // Started on another node than the one that created it.
    let (s, v) = api(
        &nodes[1],
        reqwest::Method::POST,
        &format!("/rest/v1/rollouts/{id}/start"),
        None,
    );
    assert_eq!(s, 204, "{v}");

    let sim = std::thread::spawn(move || {
        updraft_sim::run_blocking(
            config,
            StopWhen::ActionsDone {
                per_device: 1,
                timeout: Duration::from_secs(300),
            },
        )
    });
    // Kill the middle node while the second group is running.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (_, g) = api(
            &nodes[0],
            reqwest::Method::GET,
            &format!("/rest/v1/rollouts/{id}/deploygroups"),
            None,
        );
        if g["content"][1]["status"] == "running" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second group never started: {g}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nodes[1].kill();
    let report = sim.join().unwrap();
    eprintln!("{report}");
    assert!(!report.timed_out, "{report}");
    assert_eq!((report.succeeded, report.failed), (FLEET as u64, 0), "{report}");
    let (_, r) = api(
        &nodes[2],
        reqwest::Method::GET,
        &format!("/rest/v1/rollouts/{id}"),
        None,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut r = r;
    while r["status"] != "finished" {
        assert!(
            std::time::Instant::now() < deadline,
            "rollout did not finish: {r}"
        );
        std::thread::sleep(Duration::from_millis(100));
        r = api(
            &nodes[0],
            reqwest::Method::GET,
            &format!("/rest/v1/rollouts/{id}"),
            None,
        )
        .1;
    }
    assert_eq!(r["totalTargetsPerStatus"]["finished"], FLEET, "{r}");
    assert_eq!(r["totalTargetsPerStatus"]["error"], 0, "{r}");
    // One action per device, each finished once.
    let (_, a) = api(&nodes[2], reqwest::Method::GET, "/rest/v1/actions?limit=1", None);
    assert_eq!(a["total"], FLEET, "{a}");
    let (_, a) = api(
        &nodes[2],
        reqwest::Method::GET,
        "/rest/v1/actions?q=status==finished&limit=1",
        None,
    );
    assert_eq!(a["total"], FLEET, "{a}");
    // The artifact, uploaded through node A, downloads through node C with Range (a resume).
    let cid = ids[0].clone();
    let r = http
        .get(format!(
            "{}/DEFAULT/controller/v1/{cid}/softwaremodules/{sm}/artifacts/fleet.bin",
            nodes[2].url
        ))
        .header("authorization", format!("GatewayToken {GW}"))
        .header("range", "bytes=40000-")
        .send()
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().unwrap().as_ref(), &artifact[40_000..]);
}
