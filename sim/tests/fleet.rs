//! The simulator against a real in-process updraft-server, checked through the Management API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::{Fixture, content, find_files, wait_until};
use updraft_sim::{ActionResult, DeviceAuth, StopWhen, run_blocking};

const DONE_ONCE: StopWhen = StopWhen::ActionsDone {
    per_device: 1,
    timeout: Duration::from_secs(60),
};

#[test]
fn devices_register_by_polling_with_the_gateway_token() {
    let f = Fixture::start();
    let config = updraft_sim::FleetConfig {
        attributes: Some(BTreeMap::from([("hw.revision".into(), "2".into())])),
        ..f.fleet(50)
    };
    let ids: Vec<String> = config.controller_ids().collect();
    let report = run_blocking(
        config,
        StopWhen::Polls {
            per_device: 2,
            timeout: Duration::from_secs(60),
        },
    );
    assert!(!report.timed_out, "{report}");
    assert_eq!(report.http_errors, 0, "{report}");
    assert!(report.polls >= 100, "{report}");
    assert!(report.config_data_updates >= 50, "{report}");
    assert_eq!(report.per_device.len(), 50);
    assert!(report.per_device.values().all(|d| d.polls >= 2), "{report:?}");

    let targets = f.get("/rest/v1/targets?limit=100&sort=controllerId:ASC");
    assert_eq!(targets["total"], 50, "{targets}");
    let listed: Vec<&str> = targets["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["controllerId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
    assert_eq!(targets["content"][0]["updateStatus"], "registered");
    assert_eq!(
        f.get("/rest/v1/targets/dev-00049/attributes"),
        json!({"hw.revision": "2"})
    );
}

#[test]
fn assigned_artifacts_are_downloaded_verified_and_reported_success() {
    let f = Fixture::start();
    let config = updraft_sim::FleetConfig {
        feedback_delay: Duration::from_millis(100),
        ..f.fleet(20)
    };
    let ids: Vec<String> = config.controller_ids().collect();
    f.create_targets(&ids);
    let files = [
        ("rootfs.img", content(300 * 1024 + 17, 1)),
        ("app.bin", content(3000, 2)),
    ];
    let size: usize = files.iter().map(|(_, c)| c.len()).sum();
    let (ds, _) = f.distribution_set("fleet-os", &files);
    f.assign(ds, &ids);

    let report = run_blocking(config, DONE_ONCE);
    assert!(!report.timed_out, "{report}");
    assert_eq!(
        (
            report.deployments,
            report.succeeded,
            report.failed,
            report.hash_mismatches,
            report.http_errors
        ),
        (20, 20, 0, 0, 0),
        "{report}"
    );
    assert_eq!(report.bytes_downloaded, (20 * size) as u64);
    for id in &ids {
        let action = f.only_action(id);
        assert_eq!(action["status"], "finished", "{id}: {action}");
        let action_id = action["id"].as_u64().unwrap();
        assert_eq!(
            report.per_device[id].result_of(action_id),
            Some(ActionResult::Succeeded),
            "{id}"
        );
        assert_eq!(f.target(id)["updateStatus"], "in_sync", "{id}");
        assert_eq!(f.get(&format!("/rest/v1/targets/{id}/installedDS"))["id"], ds);
    }
}

#[test]
fn failure_rate_fails_exactly_the_devices_it_picks() {
    let f = Fixture::start();
    let config = updraft_sim::FleetConfig {
        failure_rate: 0.3,
        seed: 11,
        download: false,
        ..f.fleet(40)
    };
    let ids: Vec<String> = config.controller_ids().collect();
    let failing: HashSet<String> = ids.iter().filter(|id| config.device_fails(id)).cloned().collect();
    assert!(
        (1..40).contains(&failing.len()),
        "seed 11 picks {}",
        failing.len()
    );
    f.create_targets(&ids);
    let (ds, _) = f.distribution_set("rate", &[("r.bin", content(100, 3))]);
    f.assign(ds, &ids);

    let report = run_blocking(config, DONE_ONCE);
    assert!(!report.timed_out, "{report}");
    assert_eq!(report.failed, failing.len() as u64, "{report}");
    assert_eq!(report.succeeded, (40 - failing.len()) as u64, "{report}");
    assert_eq!(report.bytes_downloaded, 0);
    for id in &ids {
        let (action, update) = if failing.contains(id) {
            ("error", "error")
        } else {
            ("finished", "in_sync")
        };
        assert_eq!(f.only_action(id)["status"], action, "{id}");
        assert_eq!(f.target(id)["updateStatus"], update, "{id}");
    }
}

#[test]
fn fail_ids_fail_exactly_those_devices_whatever_the_rate() {
    let f = Fixture::start();
    let failing = HashSet::from(["dev-00002".to_owned(), "dev-00007".to_owned()]);
    let config = updraft_sim::FleetConfig {
        failure_rate: 1.0,
        fail_ids: Some(failing.clone()),
        ..f.fleet(10)
    };
    let ids: Vec<String> = config.controller_ids().collect();
    f.create_targets(&ids);
    let (ds, _) = f.distribution_set("ids", &[("i.bin", content(5000, 4))]);
    f.assign(ds, &ids);

    let report = run_blocking(config, DONE_ONCE);
    assert_eq!((report.succeeded, report.failed), (8, 2), "{report}");
    let errors: HashSet<String> = ids
        .iter()
        .filter(|id| f.only_action(id)["status"] == "error")
        .cloned()
        .collect();
    assert_eq!(errors, failing);
}

#[test]
fn tampered_artifact_is_a_hash_mismatch_reported_as_failure() {
    let f = Fixture::start();
    let config = f.fleet(3);
    let ids: Vec<String> = config.controller_ids().collect();
    f.create_targets(&ids);
    let original = content(4096, 5);
    let (ds, artifacts) = f.distribution_set("tampered", &[("t.img", original.clone())]);
    // Corrupt the stored blob behind the server's back: same size, one byte flipped, so the
    // server still announces the original hashes.
    let sha256 = artifacts[0]["hashes"]["sha256"].as_str().unwrap();
    let blobs = find_files(&f.srv.data_dir, sha256);
    assert_eq!(blobs.len(), 1, "blob {sha256} under {:?}", f.srv.data_dir);
    let mut tampered = original;
    tampered[100] ^= 0xff;
    std::fs::write(&blobs[0], &tampered).unwrap();
    f.assign(ds, &ids);

    let report = run_blocking(config, DONE_ONCE);
    assert!(!report.timed_out, "{report}");
    assert_eq!(
        (report.hash_mismatches, report.failed, report.succeeded),
        (3, 3, 0),
        "{report}"
    );
    for id in &ids {
        assert_eq!(f.only_action(id)["status"], "error", "{id}");
        let outcome = &report.per_device[id].actions[0];
        assert!(outcome.detail.contains("sha256"), "{outcome:?}");
    }
}

#[test]
fn cancel_during_installation_is_acknowledged_once() {
    let f = Fixture::start();
    let config = updraft_sim::FleetConfig {
        // Devices stay "installing" (and polling) until the cancellation reaches them.
        feedback_delay: Duration::from_secs(600),
        download: false,
        ..f.fleet(5)
    };
    let ids: Vec<String> = config.controller_ids().collect();
    f.create_targets(&ids);
    let (ds, _) = f.distribution_set("cancel", &[("c.bin", content(10, 6))]);
    f.assign(ds, &ids);
    let sim = std::thread::spawn(move || run_blocking(config, DONE_ONCE));
    for id in &ids {
        let action = f.only_action(id)["id"].as_i64().unwrap();
        wait_until(&format!("{id} reports proceeding"), || {
            let st = f.get(&format!("/rest/v1/targets/{id}/actions/{action}/status"));
            st["content"].as_array().unwrap().iter().any(|s| {
                s["messages"]
                    .as_array()
                    .is_some_and(|m| m.contains(&json!("downloading")))
            })
        });
        assert_eq!(f.delete(&format!("/rest/v1/targets/{id}/actions/{action}")), 204);
    }
    let report = sim.join().unwrap();
    assert!(!report.timed_out, "{report}");
    assert_eq!(
        (
            report.deployments,
            report.canceled,
            report.succeeded,
            report.failed,
            report.http_errors
        ),
        (5, 5, 0, 0, 0),
        "{report}"
    );
    for id in &ids {
        let action = f.only_action(id);
        assert_eq!(
            (action["status"].as_str(), action["active"].as_bool()),
            (Some("canceled"), Some(false)),
            "{id}"
        );
        assert_eq!(report.per_device[id].actions.len(), 1, "{id}");
    }
}

#[test]
fn devices_confirm_actions_when_the_consent_flow_is_on() {
    let f = Fixture::start();
    f.set_config("user.confirmation.flow.enabled", json!(true));
    let config = f.fleet(3);
    let ids: Vec<String> = config.controller_ids().collect();
    f.create_targets(&ids);
    let (ds, _) = f.distribution_set("consent", &[("k.bin", content(2048, 7))]);
    f.assign(ds, &ids);
    assert_eq!(f.only_action(&ids[0])["status"], "wait_for_confirmation");

    let report = run_blocking(config, DONE_ONCE);
    assert_eq!(
        (report.confirmations, report.succeeded, report.http_errors),
        (3, 3, 0),
        "{report}"
    );
    for id in &ids {
        assert_eq!(f.only_action(id)["status"], "finished", "{id}");
    }
}

#[test]
fn target_tokens_authenticate_each_device() {
    let f = Fixture::start();
    f.set_config("authentication.gatewaytoken.enabled", json!(false));
    f.set_config("authentication.targettoken.enabled", json!(true));
    let ids: Vec<String> = f.fleet(4).controller_ids().collect();
    let body: Vec<_> = ids.iter().map(|id| json!({ "controllerId": id })).collect();
    let (s, created) = f.post("/rest/v1/targets", serde_json::Value::Array(body));
    assert_eq!(s, 201, "{created}");
    let tokens: BTreeMap<String, String> = created
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["controllerId"].as_str().unwrap().to_owned(),
                t["securityToken"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let config = updraft_sim::FleetConfig {
        auth: DeviceAuth::TargetToken(Arc::new(move |id: &str| tokens[id].clone())),
        ..f.fleet(4)
    };
    let report = run_blocking(
        config,
        StopWhen::Polls {
            per_device: 1,
            timeout: Duration::from_secs(60),
        },
    );
    assert!(!report.timed_out, "{report}");
    assert_eq!(report.http_errors, 0, "{report}");
    for id in &ids {
        // A pre-commissioned target becomes registered at its first authenticated poll.
        assert_eq!(f.target(id)["updateStatus"], "registered", "{id}");
    }
}

#[test]
fn download_only_actions_are_closed_by_downloaded() {
    let f = Fixture::start();
    let config = f.fleet(5);
    let ids: Vec<String> = config.controller_ids().collect();
    f.create_targets(&ids);
    let image = content(64 * 1024, 8);
    let (ds, _) = f.distribution_set("dlonly", &[("d.img", image.clone())]);
    f.assign_with(ds, &ids, &json!({"type": "downloadonly"}));

    let report = run_blocking(config, DONE_ONCE);
    assert_eq!(
        (report.succeeded, report.failed, report.http_errors),
        (5, 0, 0),
        "{report}"
    );
    assert_eq!(report.bytes_downloaded, 5 * image.len() as u64);
    for id in &ids {
        assert_eq!(f.only_action(id)["status"], "downloaded", "{id}");
        assert_eq!(f.target(id)["updateStatus"], "in_sync", "{id}");
    }
}

#[test]
fn devices_wait_for_a_closed_maintenance_window() {
    let f = Fixture::start();
    let config = f.fleet(3);
    let ids: Vec<String> = config.controller_ids().collect();
    f.create_targets(&ids);
    let (ds, _) = f.distribution_set("window", &[("w.img", content(1000, 9))]);
    // A one-minute window every hour, half an hour from now (UTC).
    let minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60
        % 60;
    let schedule = format!("0 {} * * * ?", (minute + 30) % 60);
    f.assign_with(
        ds,
        &ids,
        &json!({"maintenanceWindow": {"schedule": schedule, "duration": "00:01:00", "timezone": "+00:00"}}),
    );

    let report = run_blocking(
        config,
        StopWhen::Polls {
            per_device: 4,
            timeout: Duration::from_secs(60),
        },
    );
    assert!(!report.timed_out, "{report}");
    assert_eq!(
        (
            report.deployments,
            report.finished(),
            report.bytes_downloaded,
            report.http_errors
        ),
        (3, 0, 0, 0),
        "{report}"
    );
    for id in &ids {
        let action = f.only_action(id);
        assert_eq!(action["active"], true, "{id}: {action}");
        let st = f.get(&format!("/rest/v1/targets/{id}/actions/{}/status", action["id"]));
        assert!(
            st["content"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["type"] != "error" && s["type"] != "finished"),
            "{id}: {st}"
        );
    }
}

#[test]
fn failed_downloads_are_retried_then_reported_as_failure() {
    let f = Fixture::start();
    let config = f.fleet(2);
    let ids: Vec<String> = config.controller_ids().collect();
    f.create_targets(&ids);
    let (ds, artifacts) = f.distribution_set("lost", &[("l.img", content(2048, 10))]);
    // The blob vanishes from the store: every download attempt fails on the server.
    let sha256 = artifacts[0]["hashes"]["sha256"].as_str().unwrap();
    for blob in find_files(&f.srv.data_dir, sha256) {
        std::fs::remove_file(blob).unwrap();
    }
    f.assign(ds, &ids);

    let report = run_blocking(config, DONE_ONCE);
    assert!(!report.timed_out, "{report}");
    // Three attempts per device, at three polls, then `closed`/`failure`.
    assert_eq!(
        (
            report.deployments,
            report.failed,
            report.hash_mismatches,
            report.http_errors
        ),
        (2, 2, 0, 6),
        "{report}"
    );
    assert!(
        report.errors.keys().all(|k| k.starts_with("download: HTTP ")),
        "{report}"
    );
    for id in &ids {
        assert_eq!(f.only_action(id)["status"], "error", "{id}");
        assert_eq!(report.per_device[id].http_errors, 3, "{id}");
        assert_eq!(report.per_device[id].actions[0].detail, "download failed 3 times");
    }
}
